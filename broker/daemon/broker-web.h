/*
 * broker-web.h: crp-broker's web listener ([web] in the configuration):
 * HTTP(S) with libsoup 3 on the broker's main loop. Internal to
 * broker/daemon.
 *
 *   GET /crp/broker   a WebSocket upgrade (its Origin must be allowed, else
 *                     403): the connection becomes a byte stream
 *                     (broker-ws-stream.h) handed to the owner's function,
 *                     which makes it a broker connection like any other.
 *   anything else     a file under [web] root, with a strict
 *                     Content-Security-Policy; 404 for what is not a
 *                     regular file there ("..", directories, a missing
 *                     root).
 *
 * The listener knows nothing of connections, limits or the protocol: the
 * owner's function gets the stream and the client's IP.
 */
#pragma once

#include <gio/gio.h>
#include "crp-broker-config.h"

G_BEGIN_DECLS

typedef struct _BrokerWeb BrokerWeb;

/* @stream: borrowed (take a reference to keep it); @peer_ip: the client's
 * IP address as text. */
typedef void (*BrokerWebAcceptFunc)(GIOStream *stream, const char *peer_ip,
                                    gpointer data);

/**
 * broker_web_new:
 * @config: [web] listen (set), certificate, private-key, root,
 *   allowed-origins; borrowed, must outlive the listener.
 *
 * Binds and listens at once (with TLS when a certificate is configured).
 */
BrokerWeb *broker_web_new(const CrpBrokerConfig *config,
                          BrokerWebAcceptFunc func, gpointer data,
                          GError **error);
/** Stops listening; WebSockets already handed over live on. Accepts NULL. */
void broker_web_free(BrokerWeb *web);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BrokerWeb, broker_web_free)

G_END_DECLS
