// rabbitmq-c 0.11 as Debian ships it: flat headers.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
