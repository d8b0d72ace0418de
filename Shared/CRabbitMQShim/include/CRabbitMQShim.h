#ifndef CRABBITMQ_SHIM_H
#define CRABBITMQ_SHIM_H

#include <amqp.h>

/// `amqp_login_with_properties` with PLAIN credentials. rabbitmq-c's login calls are variadic,
/// which Swift cannot call; this fixes the variadic part to user and password.
amqp_rpc_reply_t cobrowse_amqp_login_plain(amqp_connection_state_t state,
                                           const char *vhost,
                                           int channel_max,
                                           int frame_max,
                                           int heartbeat,
                                           const amqp_table_t *client_properties,
                                           const char *user,
                                           const char *password);

/// `amqp_login` with the EXTERNAL mechanism (identity from a TLS client certificate).
amqp_rpc_reply_t cobrowse_amqp_login_external(amqp_connection_state_t state,
                                              const char *vhost,
                                              int channel_max,
                                              int frame_max,
                                              int heartbeat,
                                              const amqp_table_t *client_properties,
                                              const char *identity);

/// A non-blocking, close-on-exec eventfd: how callers wake the connection thread out of poll(2).
/// (Swift's Glibc module does not export <sys/eventfd.h>.)
int cobrowse_wake_fd(void);

#endif
