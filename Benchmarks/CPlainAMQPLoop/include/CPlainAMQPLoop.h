#ifndef CPLAIN_AMQP_LOOP_H
#define CPLAIN_AMQP_LOOP_H

#include <stddef.h>

/// Where the plain loops connect. Plain TCP only: the baseline is rabbitmq-c at its simplest.
typedef struct {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *vhost;
} plain_broker;

/// Publishes `count` messages of `size` bytes to `queue` through the default exchange, on one
/// connection, then makes one synchronous round trip (the same fence the Swift run uses).
/// With `confirms`, the channel is in confirm mode and at most `window` messages are unacked
/// (pipelined, the way a careful rabbitmq-c program does it).
/// Returns elapsed seconds, or a negative value with `error` filled in.
double plain_publish(const plain_broker *broker, const char *queue, size_t size, long count,
                     int confirms, long window, char *error, size_t error_size);

/// Consumes `count` messages from `queue` with manual acks and the given prefetch.
/// Returns elapsed seconds, or a negative value with `error` filled in.
double plain_consume(const plain_broker *broker, const char *queue, long count, int prefetch,
                     char *error, size_t error_size);

#endif
