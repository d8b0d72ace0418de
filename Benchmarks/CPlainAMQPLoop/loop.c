#include "CPlainAMQPLoop.h"
#include "CRabbitMQShim.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static amqp_connection_state_t open_connection(const plain_broker *broker, char *error, size_t error_size) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    struct timeval timeout = {5, 0};
    int status = amqp_socket_open_noblock(socket, broker->host, broker->port, &timeout);
    if (status != AMQP_STATUS_OK) {
        snprintf(error, error_size, "connect: %s", amqp_error_string2(status));
        amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_rpc_reply_t reply = cobrowse_amqp_login_plain(conn, broker->vhost, 0, 131072, 30, &amqp_empty_table,
                                                       broker->user, broker->password);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(error, error_size, "login failed");
        amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_channel_open(conn, 1);
    if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(error, error_size, "channel.open failed");
        amqp_destroy_connection(conn);
        return NULL;
    }
    return conn;
}

static void close_connection(amqp_connection_state_t conn) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/// Reads frames until at most `limit` confirms are outstanding. Returns 0, or -1 on error.
static int wait_confirms(amqp_connection_state_t conn, long *acked, long published, long limit) {
    while (published - *acked > limit) {
        amqp_frame_t frame;
        struct timeval timeout = {10, 0};
        int status = amqp_simple_wait_frame_noblock(conn, &frame, &timeout);
        if (status != AMQP_STATUS_OK) return -1;
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            long tag = (long)ack->delivery_tag;
            *acked = ack->multiple ? tag : *acked + 1;
        } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            return -1;
        }
        amqp_maybe_release_buffers(conn);
    }
    return 0;
}

double plain_publish(const plain_broker *broker, const char *queue, size_t size, long count,
                     int confirms, long window, char *error, size_t error_size) {
    amqp_connection_state_t conn = open_connection(broker, error, error_size);
    if (!conn) return -1;
    if (confirms) {
        amqp_confirm_select(conn, 1);
        if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL) {
            snprintf(error, error_size, "confirm.select failed");
            close_connection(conn);
            return -1;
        }
    }
    char *body = malloc(size);
    memset(body, 'x', size);
    amqp_bytes_t message = {size, body};
    amqp_bytes_t routing_key = amqp_cstring_bytes(queue);
    long acked = 0;
    double start = now_seconds();
    for (long i = 0; i < count; i++) {
        if (amqp_basic_publish(conn, 1, amqp_empty_bytes, routing_key, 0, 0, NULL, message) != AMQP_STATUS_OK) {
            snprintf(error, error_size, "publish failed at %ld", i);
            free(body);
            close_connection(conn);
            return -1;
        }
        if (confirms && wait_confirms(conn, &acked, i + 1, window) != 0) {
            snprintf(error, error_size, "confirm wait failed at %ld", i);
            free(body);
            close_connection(conn);
            return -1;
        }
    }
    if (confirms && wait_confirms(conn, &acked, count, 0) != 0) {
        snprintf(error, error_size, "final confirm wait failed");
        free(body);
        close_connection(conn);
        return -1;
    }
    amqp_queue_declare(conn, 1, routing_key, 1, 0, 0, 0, amqp_empty_table); /* fence */
    double elapsed = now_seconds() - start;
    free(body);
    close_connection(conn);
    return elapsed;
}

double plain_consume(const plain_broker *broker, const char *queue, long count, int prefetch,
                     char *error, size_t error_size) {
    amqp_connection_state_t conn = open_connection(broker, error, error_size);
    if (!conn) return -1;
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(error, error_size, "basic.consume failed");
        close_connection(conn);
        return -1;
    }
    double start = now_seconds();
    for (long received = 0; received < count; received++) {
        amqp_envelope_t envelope;
        struct timeval timeout = {10, 0};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, &timeout, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            snprintf(error, error_size, "consume failed after %ld messages", received);
            close_connection(conn);
            return -1;
        }
        amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);
        amqp_destroy_envelope(&envelope);
    }
    double elapsed = now_seconds() - start;
    close_connection(conn);
    return elapsed;
}
