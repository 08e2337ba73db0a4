/*
 * broker-peers.h: what crp-broker allows each source address, and all of
 * them together: connections open, handshakes in progress (connections
 * that have not yet sent their first authenticated record), and failed
 * logins.
 *
 * A peer is a key string: broker_peers_key_for_ip() for an IP (an IPv6
 * client counts by its /64, which one subscriber gets whole), or the
 * connection's own name for unix sockets ("unix:uid=N").
 *
 * Failed logins fill a leaky bucket per peer that drains at
 * max_failures per failure_window_us: a burst of max_failures, then one
 * more each window / max_failures. The table stays bounded: a peer stays
 * in it while it has connections or its bucket is not empty, and at most
 * max_remembered peers without connections are kept (the oldest go
 * first), so rotating source addresses cannot grow it.
 *
 * Times are monotonic microseconds passed in by the caller.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint max_connections;          /* 0: no limit (all caps alike) */
    guint max_connections_per_peer;
    guint max_handshakes;
    guint max_handshakes_per_peer;
    guint max_failures;             /* per window */
    gint64 failure_window_us;
    guint max_remembered;           /* peers kept for their failures alone */
} BrokerPeersLimits;

typedef enum {
    BROKER_ADMIT_OK,
    BROKER_ADMIT_FULL,              /* max_connections */
    BROKER_ADMIT_BUSY,              /* max_handshakes */
    BROKER_ADMIT_RATE_LIMITED,      /* the peer's failures */
    BROKER_ADMIT_PEER_FULL,         /* max_connections_per_peer */
    BROKER_ADMIT_PEER_BUSY,         /* max_handshakes_per_peer */
} BrokerAdmit;

typedef struct _BrokerPeers BrokerPeers;

BrokerPeers *broker_peers_new(const BrokerPeersLimits *limits);
void broker_peers_free(BrokerPeers *peers);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BrokerPeers, broker_peers_free)

/** A short name of @admit for logs ("full", "peer-busy", ...). */
const char *broker_admit_name(BrokerAdmit admit);

/** The peer key of an IP address string (see above); a string that is not
 *  an IP comes back as it is. */
char *broker_peers_key_for_ip(const char *ip);

/**
 * broker_peers_admit:
 *
 * Decides on a new connection from @peer. On BROKER_ADMIT_OK it counts as
 * one connection and one handshake in progress until
 * broker_peers_logged_in() and broker_peers_leave().
 */
BrokerAdmit broker_peers_admit(BrokerPeers *peers, const char *peer,
                               gint64 now);

/** An admitted connection's handshake is over (it logged in). */
void broker_peers_logged_in(BrokerPeers *peers, const char *peer);

/** An admitted connection ended; @handshaking: before logged_in(). */
void broker_peers_leave(BrokerPeers *peers, const char *peer,
                        gboolean handshaking, gint64 now);

/** A failed login from @peer (no-op when max_failures is 0). */
void broker_peers_record_failure(BrokerPeers *peers, const char *peer,
                                 gint64 now);

/** TRUE if one more failure from @peer would go over max_failures. */
gboolean broker_peers_rate_limited(BrokerPeers *peers, const char *peer,
                                   gint64 now);

/** Totals, and how many peers the table holds (for tests and logs). */
guint broker_peers_connections(BrokerPeers *peers);
guint broker_peers_handshakes(BrokerPeers *peers);
guint broker_peers_size(BrokerPeers *peers);

G_END_DECLS
