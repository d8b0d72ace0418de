#include "CRabbitMQShim.h"

#include <sys/eventfd.h>

amqp_rpc_reply_t cobrowse_amqp_login_plain(amqp_connection_state_t state,
                                           const char *vhost,
                                           int channel_max,
                                           int frame_max,
                                           int heartbeat,
                                           const amqp_table_t *client_properties,
                                           const char *user,
                                           const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      client_properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

amqp_rpc_reply_t cobrowse_amqp_login_external(amqp_connection_state_t state,
                                              const char *vhost,
                                              int channel_max,
                                              int frame_max,
                                              int heartbeat,
                                              const amqp_table_t *client_properties,
                                              const char *identity) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      client_properties, AMQP_SASL_METHOD_EXTERNAL, identity);
}

int cobrowse_wake_fd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}
