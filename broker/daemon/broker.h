/*
 * broker.h: crp-broker, the daemon. Internal to broker/daemon.
 *
 * broker-main.c    the process: configuration, broker key, store, signals,
 *                  keys withdrawn under live connections.
 * broker-listener.c    the listening socket and its accept loop.
 * broker-peers.c   limits per source address: connections, handshakes in
 *                  progress, failed logins.
 * broker-log.c     key=value log lines with every value escaped.
 * broker-connection.c  one client connection: socket I/O around a
 *                  sans-I/O CrpChannel (broker kind, server role), login
 *                  check, handshake and idle timeouts, orderly close.
 * broker-requests.c    one function per broker request (protocol 5.4).
 * broker-sessions.c    LAUNCH, SESSION_TICKET, SESSION_CLOSE; restart
 *                  reconciliation; sessions closed from outside.
 * broker-vm.c, broker-vm-files.c   one session's QEMU (broker-vm.h).
 * broker-gateway.c     ATTACH: splicing a client to a VM's display.
 * broker-logs.c        STATE/logs kept within its age and size limits.
 */
#pragma once

#include <gio/gio.h>
#include "crp/crp-channel.h"
#include "crp-store.h"
#include "crp-broker-config.h"
#include "crp-broker-key.h"
#include "broker-listener.h"
#include "broker-log.h"
#include "broker-peers.h"

G_BEGIN_DECLS

typedef struct _BrokerConnection BrokerConnection;

/* What a client whose key was revoked or rotated away is told. */
#define BROKER_KEY_REVOKED_MESSAGE                                          \
    "this key was revoked or replaced by a newer one; ask your "            \
    "administrator for a new key file"

typedef struct {
    CrpBrokerConfig *config;
    CrpBrokerKey *key;
    CrpStore *store;
    BrokerListener *listener;
    GMainLoop *loop;
    GList *connections;           /* BrokerConnection*, live ones */
    BrokerPeers *peers;           /* limits per source address */
    /* Connections refused at accept: the REJECT frames (by BrokerAdmit),
     * and how their log lines are thinned out under a flood. */
    GBytes *refusals[BROKER_ADMIT_PEER_BUSY + 1];
    gint64 refused_logged_at;
    guint refused_unlogged;
    gboolean stopping;
    guint next_conn_id;
    GHashTable *vms;              /* session id -> BrokerVm (broker-vm.h) */
    guint sessions_watch;
    GList *splices;               /* the gateway's attached clients */
    int lock_fd;                  /* flock on STATE/broker.lock, or 0 */
    guint logs_timer;             /* broker-logs.c */
} BrokerServer;

/* The gateway takes over a connection: @conn (borrowed: take a reference
 * to keep it) and the bytes the client sent after its final record; or
 * @conn NULL when the connection ended before it could be handed over. */
typedef void (*BrokerHandOverFunc)(GSocketConnection *conn, GBytes *rest,
                                   gpointer data);

/* broker-main.c */
void broker_server_connection_done(BrokerServer *server, BrokerConnection *c);
/* The live connection with this id, or NULL (it may have gone). */
BrokerConnection *broker_server_find_connection(BrokerServer *server, guint id);
/* Ends the connections and attached displays of keys that no longer log
 * in (rotated or revoked by crp-admin). Called by the sessions watch. */
void broker_server_check_keys(BrokerServer *server);
/* Whether @key (CRP_KEY_BYTES) still logs in; @verdicts caches answers
 * within one check. A store failure counts as valid. */
gboolean broker_server_key_valid(BrokerServer *server, const guint8 *key,
                                 GHashTable *verdicts);

/* broker-connection.c */
const char *broker_status_name(guint16 status);
/* A new connection: admitted (returned), or refused at once with a REJECT
 * when over a limit (NULL). */
BrokerConnection *broker_connection_new(BrokerServer *server,
                                        GSocketConnection *conn);
/* Ends the connection with a BYE (or a REJECT during the handshake). */
void broker_connection_close(BrokerConnection *c, guint16 status,
                             const char *reason);
void broker_connection_free(BrokerConnection *c);
/* Its key was rotated or revoked: a BYE (KEY_REVOKED) and the end. */
void broker_connection_withdraw_key(BrokerConnection *c);
guint broker_connection_id(BrokerConnection *c);
const char *broker_connection_user(BrokerConnection *c);
const char *broker_connection_peer(BrokerConnection *c);
BrokerServer *broker_connection_server(BrokerConnection *c);
/* The user's public key once the broker accepted it, else NULL. */
const guint8 *broker_connection_key(BrokerConnection *c);
/* Queues a reply; on failure (cannot happen for well-formed replies) the
 * connection is closed. */
void broker_connection_send(BrokerConnection *c, const CrpMessage *msg);
void broker_connection_send_error(BrokerConnection *c, guint32 request_id,
                                  guint16 code, const char *message);
/* Seals and writes what was queued (replies sent outside a request). */
void broker_connection_flush(BrokerConnection *c);
/* ATTACH: ERROR in the final record, then the connection ends; or OK in
 * the final record, then @func gets the socket. */
void broker_connection_refuse_attach(BrokerConnection *c, guint32 request_id,
                                     guint16 status, const char *message);
void broker_connection_accept_attach(BrokerConnection *c, guint32 request_id,
                                     BrokerHandOverFunc func, gpointer data);

/* broker-requests.c: handles one request message after login. */
void broker_handle_request(BrokerConnection *c, const CrpMessage *msg);

/* broker-sessions.c */
void broker_request_launch(BrokerConnection *c, const CrpMessage *msg);
void broker_request_session_ticket(BrokerConnection *c, const CrpMessage *msg);
void broker_request_session_close(BrokerConnection *c, const CrpMessage *msg);
/* At start: adopt or clean up the sessions a previous broker left. */
gboolean broker_sessions_start(BrokerServer *server, GError **error);
/* At exit: stop watching the VMs, which run on. */
void broker_sessions_stop(BrokerServer *server);

/* broker-logs.c: expires STATE/logs now and from then on every hour. */
void broker_logs_start(BrokerServer *server);
void broker_logs_stop(BrokerServer *server);
/* Expires STATE/logs now (after a session's logs were added). */
void broker_logs_expire(BrokerServer *server);

/* broker-gateway.c */
void broker_gateway_attach(BrokerConnection *c, guint32 request_id,
                           const char *session_id);
/* A session ended: cut off its attached clients. */
void broker_gateway_end_session(BrokerServer *server, const char *session_id);
/* Cuts off the clients attached with keys that no longer log in. */
void broker_gateway_check_keys(BrokerServer *server, GHashTable *verdicts);

G_END_DECLS
