/*
 * broker-connection.h: one client connection of crp-broker. Internal to
 * broker/daemon.
 *
 * A leaf: the connection knows nothing of who owns it. It logs the client
 * in (the store says whose key it is; broker-peers.h keeps the limits per
 * address) and reports what it cannot handle itself through the
 * BrokerConnectionEvents its owner set: requests, ATTACH, its end. The
 * owner answers through the functions below.
 *
 *   BrokerConnectionContext *ctx = broker_connection_context_new(&setup);
 *   c = broker_connection_new(ctx, socket);   // NULL: refused at accept
 *   ... events->request(c, msg, data) -> broker_connection_send(c, reply)
 *   ... events->done(c, data): forget it (it frees itself)
 */
#pragma once

#include <gio/gio.h>
#include "crp/crp-channel.h"
#include "crp-store.h"
#include "crp-broker-config.h"
#include "broker-log.h"
#include "broker-peers.h"

G_BEGIN_DECLS

typedef struct _BrokerConnection BrokerConnection;

/* What a client whose key was revoked or rotated away is told. */
#define BROKER_KEY_REVOKED_MESSAGE                                          \
    "this key was revoked or replaced by a newer one; ask your "            \
    "administrator for a new key file"

/**
 * What a connection reports to its owner. Each is called from the main
 * loop, never from inside a call the owner made on the connection (except
 * @done, which may come from broker_connection_close() and the like).
 */
typedef struct {
    /** A request after login (not ATTACH, not BYE): exactly one reply with
     *  its request id, now or later (the connection may have ended by
     *  then: find it again by id). */
    void (*request)(BrokerConnection *c, const CrpMessage *msg,
                    gpointer data);
    /** ATTACH, read up to the client's final record: answer with
     *  broker_connection_refuse_attach() or _accept_attach(). */
    void (*attach)(BrokerConnection *c, guint32 request_id,
                   const char *session_id, gpointer data);
    /** The connection ended (or was handed over): forget it. It frees
     *  itself once no I/O refers to it any more. */
    void (*done)(BrokerConnection *c, gpointer data);
} BrokerConnectionEvents;

/** What every connection shares; the pointers are borrowed and must
 *  outlive the context. */
typedef struct {
    const CrpBrokerConfig *config;
    const guint8 *secret_key;       /* the broker's, CRP_KEY_BYTES */
    CrpStore *store;                /* whose keys log in */
    BrokerPeers *peers;             /* limits per source address */
    const BrokerConnectionEvents *events;
    gpointer data;                  /* for @events */
} BrokerConnectionSetup;

typedef struct _BrokerConnectionContext BrokerConnectionContext;

BrokerConnectionContext *
broker_connection_context_new(const BrokerConnectionSetup *setup);
/** Accepts NULL. */
void broker_connection_context_free(BrokerConnectionContext *ctx);

/** The protocol's name of a status code, for the log (section 6). */
const char *broker_status_name(guint16 status);

/** The gateway takes over a connection: @conn (borrowed: take a reference
 *  to keep it) and the bytes the client sent after its final record; or
 *  @conn NULL when the connection ended before it could be handed over. */
typedef void (*BrokerHandOverFunc)(GIOStream *conn, GBytes *rest,
                                   gpointer data);

/** A new connection: admitted (returned, with a new id), or refused at
 *  once with a REJECT when over a limit (NULL). */
BrokerConnection *broker_connection_new(BrokerConnectionContext *ctx,
                                        GSocketConnection *conn);
/** The same over any byte stream (a WebSocket: broker-ws-stream.h), from
 *  @peer_ip (the limits per address count it with that address's other
 *  connections). */
BrokerConnection *broker_connection_new_stream(BrokerConnectionContext *ctx,
                                               GIOStream *conn,
                                               const char *peer_ip);
/** Ends the connection with a BYE (or a REJECT during the handshake). */
void broker_connection_close(BrokerConnection *c, guint16 status,
                             const char *reason);
/** Frees at once, whatever is in flight: only at exit. */
void broker_connection_free(BrokerConnection *c);
/** Its key was rotated or revoked: a BYE (KEY_REVOKED) and the end. */
void broker_connection_withdraw_key(BrokerConnection *c);
guint broker_connection_id(BrokerConnection *c);
const char *broker_connection_user(BrokerConnection *c);
/** The broker channel capabilities agreed (CRP_CAP_BROKER_*). */
guint32 broker_connection_capabilities(BrokerConnection *c);
const char *broker_connection_peer(BrokerConnection *c);
/** The user's public key once the broker accepted it, else NULL. */
const guint8 *broker_connection_key(BrokerConnection *c);
/** Queues a reply; on failure (cannot happen for well-formed replies) the
 *  connection is closed. */
void broker_connection_send(BrokerConnection *c, const CrpMessage *msg);
void broker_connection_send_error(BrokerConnection *c, guint32 request_id,
                                  guint16 code, const char *message);
/** Seals and writes what was queued (replies sent outside a request). */
void broker_connection_flush(BrokerConnection *c);
/** ATTACH: ERROR in the final record, then the connection ends; or OK in
 *  the final record, then @func gets the socket. */
void broker_connection_refuse_attach(BrokerConnection *c, guint32 request_id,
                                     guint16 status, const char *message);
void broker_connection_accept_attach(BrokerConnection *c, guint32 request_id,
                                     BrokerHandOverFunc func, gpointer data);

G_END_DECLS
