/*
 * broker-listener.h: crp-broker's listening socket and its accept loop.
 *
 * Accepts every connection waiting (up to a batch per main loop turn)
 * and hands each to the owner's function. When accepting fails for want
 * of resources (out of file descriptors: EMFILE, ENFILE; ENOBUFS, ENOMEM)
 * the listener stops watching the socket for a quarter of a second
 * instead of retrying at once (the waiting connection keeps the socket
 * readable: retrying at once spins), logs event=accept-paused once and
 * event=accept-resumed when a connection gets through again. Waiting
 * connections stay in the kernel's backlog meanwhile.
 */
#pragma once

#include <gio/gio.h>
#include "crp-broker-config.h"

G_BEGIN_DECLS

typedef struct _BrokerListener BrokerListener;

/* @conn: borrowed; take a reference to keep it. */
typedef void (*BrokerAcceptFunc)(GSocketConnection *conn, gpointer data);

/**
 * broker_listener_new:
 * @address: tcp:HOST:PORT or unix:/PATH (crp_broker_address_parse()).
 *
 * Binds and listens (a unix socket left by an earlier run is replaced and
 * the new one is made 0666: the handshake is the access control). Nothing
 * is accepted before broker_listener_start().
 */
BrokerListener *broker_listener_new(const char *address,
                                    BrokerAcceptFunc func, gpointer data,
                                    GError **error);
void broker_listener_start(BrokerListener *listener);
/** Stops accepting, closes the socket and removes a unix socket's file.
 *  Accepts NULL. */
void broker_listener_free(BrokerListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BrokerListener, broker_listener_free)

/** A TCP @address's socket address (its host an IP literal or a name,
 *  resolved now; the first address wins). */
GSocketAddress *broker_listener_resolve(const CrpBrokerAddress *address,
                                        GError **error);

G_END_DECLS
