/*
 * broker.h: crp-broker, the daemon. Internal to broker/daemon.
 *
 * broker-main.c    the process: configuration, broker key, store, the
 *                  listener, signals, the failed-login rate limiter.
 * broker-connection.c  one client connection: socket I/O around a
 *                  sans-I/O CrpChannel (broker kind, server role), login
 *                  check, handshake timeout, orderly close.
 * broker-requests.c    one function per broker request (protocol 5.4).
 */
#pragma once

#include <gio/gio.h>
#include "crp/crp-channel.h"
#include "crp-store.h"
#include "crp-broker-config.h"
#include "crp-broker-key.h"

G_BEGIN_DECLS

typedef struct _BrokerConnection BrokerConnection;

typedef struct {
    CrpBrokerConfig *config;
    CrpBrokerKey *key;
    CrpStore *store;
    GSocketService *service;
    char *unix_path;              /* to unlink at exit, or NULL */
    GMainLoop *loop;
    GList *connections;           /* BrokerConnection*, live ones */
    /* Rate limiter: peer -> GArray of gint64 failure times (monotonic us). */
    GHashTable *failures;
    gboolean stopping;
    guint next_conn_id;
} BrokerServer;

/* broker-main.c */
gboolean broker_server_rate_limited(BrokerServer *server, const char *peer);
void broker_server_record_failure(BrokerServer *server, const char *peer);
void broker_server_connection_done(BrokerServer *server, BrokerConnection *c);

/* broker-connection.c */
const char *broker_status_name(guint16 status);
BrokerConnection *broker_connection_new(BrokerServer *server,
                                        GSocketConnection *conn);
/* Ends the connection with a BYE (or a REJECT during the handshake). */
void broker_connection_close(BrokerConnection *c, guint16 status,
                             const char *reason);
void broker_connection_free(BrokerConnection *c);
const char *broker_connection_user(BrokerConnection *c);
const char *broker_connection_peer(BrokerConnection *c);
BrokerServer *broker_connection_server(BrokerConnection *c);
/* Queues a reply; on failure (cannot happen for well-formed replies) the
 * connection is closed. */
void broker_connection_send(BrokerConnection *c, const CrpMessage *msg);
void broker_connection_send_error(BrokerConnection *c, guint32 request_id,
                                  guint16 code, const char *message);

/* broker-requests.c: handles one request message after login. */
void broker_handle_request(BrokerConnection *c, const CrpMessage *msg);

G_END_DECLS
