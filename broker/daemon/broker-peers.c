/*
 * broker-peers.c: per source address limits of crp-broker (see the
 * header).
 *
 * One table, peer key -> Peer. Peers with connections are bounded by
 * max_connections; the others sit in a queue ordered by their last
 * failure, oldest first, from which drained ones are dropped as time
 * passes and the oldest when the queue is over max_remembered.
 */
#include "broker-peers.h"

#include <gio/gio.h>
#include <string.h>

typedef struct {
    char *key;
    guint connections;
    guint handshakes;
    double level;               /* failures, draining since level_at */
    gint64 level_at;
    GList link;                 /* in remembered while connections == 0 */
    gboolean remembered;
} Peer;

struct _BrokerPeers {
    BrokerPeersLimits limits;
    GHashTable *table;          /* key -> Peer (owned) */
    GQueue remembered;          /* Peer, oldest failure first */
    guint connections;
    guint handshakes;
};

static void
peer_free(Peer *p)
{
    g_free(p->key);
    g_free(p);
}

BrokerPeers *
broker_peers_new(const BrokerPeersLimits *limits)
{
    BrokerPeers *peers = g_new0(BrokerPeers, 1);

    peers->limits = *limits;
    if (peers->limits.failure_window_us <= 0) {
        peers->limits.failure_window_us = 60 * G_USEC_PER_SEC;
    }
    peers->table = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)peer_free);
    g_queue_init(&peers->remembered);
    return peers;
}

void
broker_peers_free(BrokerPeers *peers)
{
    if (!peers) {
        return;
    }
    g_hash_table_unref(peers->table);
    g_free(peers);
}

const char *
broker_admit_name(BrokerAdmit admit)
{
    switch (admit) {
    case BROKER_ADMIT_OK: return "ok";
    case BROKER_ADMIT_FULL: return "full";
    case BROKER_ADMIT_BUSY: return "busy";
    case BROKER_ADMIT_RATE_LIMITED: return "rate-limited";
    case BROKER_ADMIT_PEER_FULL: return "peer-full";
    case BROKER_ADMIT_PEER_BUSY: return "peer-busy";
    }
    return "?";
}

char *
broker_peers_key_for_ip(const char *ip)
{
    g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(ip);
    guint8 bytes[16];

    if (!addr || g_inet_address_get_family(addr) != G_SOCKET_FAMILY_IPV6) {
        return g_strdup(ip);
    }
    memcpy(bytes, g_inet_address_to_bytes(addr), 16);
    static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
                                       0xff };
    if (memcmp(bytes, mapped, 12) == 0) {
        /* An IPv4 client of a dual-stack listener. */
        g_autoptr(GInetAddress) v4 =
            g_inet_address_new_from_bytes(bytes + 12, G_SOCKET_FAMILY_IPV4);
        return g_inet_address_to_string(v4);
    }
    memset(bytes + 8, 0, 8);
    g_autoptr(GInetAddress) prefix =
        g_inet_address_new_from_bytes(bytes, G_SOCKET_FAMILY_IPV6);
    g_autofree char *text = g_inet_address_to_string(prefix);
    return g_strconcat(text, "/64", NULL);
}

/* ---- failures ---------------------------------------------------------- */

static double
level_now(const BrokerPeers *peers, const Peer *p, gint64 now)
{
    double drained = (double)(now - p->level_at) *
                     peers->limits.max_failures /
                     (double)peers->limits.failure_window_us;

    return MAX(p->level - MAX(drained, 0), 0);
}

static void
forget(BrokerPeers *peers, Peer *p)
{
    if (p->remembered) {
        g_queue_unlink(&peers->remembered, &p->link);
        p->remembered = FALSE;
    }
    g_hash_table_remove(peers->table, p->key);
}

/* Drops the drained peers at the head of the queue, and the oldest beyond
 * the cap. */
static void
prune(BrokerPeers *peers, gint64 now)
{
    GList *head;

    while ((head = g_queue_peek_head_link(&peers->remembered))) {
        Peer *p = head->data;
        if (level_now(peers, p, now) > 0 &&
            peers->remembered.length <= peers->limits.max_remembered) {
            break;
        }
        forget(peers, p);
    }
}

/* @p has no connection left: keep it for its failures, or drop it. */
static void
remember(BrokerPeers *peers, Peer *p, gint64 now)
{
    if (p->remembered) {
        g_queue_unlink(&peers->remembered, &p->link);
        p->remembered = FALSE;
    }
    if (peers->limits.max_failures == 0 || level_now(peers, p, now) <= 0) {
        g_hash_table_remove(peers->table, p->key);
        return;
    }
    p->link.data = p;
    g_queue_push_tail_link(&peers->remembered, &p->link);
    p->remembered = TRUE;
    prune(peers, now);
}

static Peer *
lookup(BrokerPeers *peers, const char *key, gboolean create)
{
    Peer *p = g_hash_table_lookup(peers->table, key);

    if (!p && create) {
        p = g_new0(Peer, 1);
        p->key = g_strdup(key);
        g_hash_table_insert(peers->table, p->key, p);
    }
    return p;
}

void
broker_peers_record_failure(BrokerPeers *peers, const char *peer, gint64 now)
{
    Peer *p;

    if (peers->limits.max_failures == 0) {
        return;
    }
    p = lookup(peers, peer, TRUE);
    p->level = level_now(peers, p, now) + 1;
    p->level_at = now;
    if (p->connections == 0) {
        remember(peers, p, now);    /* to the tail: the newest failure */
    }
}

gboolean
broker_peers_rate_limited(BrokerPeers *peers, const char *peer, gint64 now)
{
    Peer *p = lookup(peers, peer, FALSE);

    return peers->limits.max_failures && p &&
           level_now(peers, p, now) + 1 > peers->limits.max_failures;
}

/* ---- connections ------------------------------------------------------- */

BrokerAdmit
broker_peers_admit(BrokerPeers *peers, const char *peer, gint64 now)
{
    const BrokerPeersLimits *lim = &peers->limits;
    Peer *p;

    prune(peers, now);
    if (lim->max_connections && peers->connections >= lim->max_connections) {
        return BROKER_ADMIT_FULL;
    }
    if (lim->max_handshakes && peers->handshakes >= lim->max_handshakes) {
        return BROKER_ADMIT_BUSY;
    }
    if (broker_peers_rate_limited(peers, peer, now)) {
        return BROKER_ADMIT_RATE_LIMITED;
    }
    p = lookup(peers, peer, FALSE);
    if (p && lim->max_connections_per_peer &&
        p->connections >= lim->max_connections_per_peer) {
        return BROKER_ADMIT_PEER_FULL;
    }
    if (p && lim->max_handshakes_per_peer &&
        p->handshakes >= lim->max_handshakes_per_peer) {
        return BROKER_ADMIT_PEER_BUSY;
    }
    p = lookup(peers, peer, TRUE);
    if (p->remembered) {
        g_queue_unlink(&peers->remembered, &p->link);
        p->remembered = FALSE;
    }
    p->connections++;
    p->handshakes++;
    peers->connections++;
    peers->handshakes++;
    return BROKER_ADMIT_OK;
}

void
broker_peers_logged_in(BrokerPeers *peers, const char *peer)
{
    Peer *p = lookup(peers, peer, FALSE);

    g_return_if_fail(p && p->handshakes > 0);
    p->handshakes--;
    peers->handshakes--;
}

void
broker_peers_leave(BrokerPeers *peers, const char *peer, gboolean handshaking,
                   gint64 now)
{
    Peer *p = lookup(peers, peer, FALSE);

    g_return_if_fail(p && p->connections > 0);
    if (handshaking) {
        broker_peers_logged_in(peers, peer);
    }
    p->connections--;
    peers->connections--;
    if (p->connections == 0) {
        remember(peers, p, now);
    }
}

guint
broker_peers_connections(BrokerPeers *peers)
{
    return peers->connections;
}

guint
broker_peers_handshakes(BrokerPeers *peers)
{
    return peers->handshakes;
}

guint
broker_peers_size(BrokerPeers *peers)
{
    return g_hash_table_size(peers->table);
}
