/*
 * test-broker-peers.c: broker/daemon/broker-peers.c, the per source
 * address limits: connection and handshake caps, the failed-login bucket,
 * and the table's bounds (size cap and age) under rotating addresses.
 */
#include <glib.h>

#include "broker-peers.h"

#define S G_USEC_PER_SEC
#define WINDOW (60 * S)

static BrokerPeers *
peers_new(guint max_failures, guint max_remembered)
{
    BrokerPeersLimits lim = {
        .max_connections = 10, .max_connections_per_peer = 4,
        .max_handshakes = 6, .max_handshakes_per_peer = 3,
        .max_failures = max_failures, .failure_window_us = WINDOW,
        .max_remembered = max_remembered,
    };
    return broker_peers_new(&lim);
}

static void
test_connection_caps(void)
{
    g_autoptr(BrokerPeers) peers = peers_new(0, 100);
    gint64 now = 1000 * S;

    /* Handshakes in progress: 3 per peer... */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(broker_peers_admit(peers, "a", now), ==,
                        BROKER_ADMIT_OK);
    }
    g_assert_cmpint(broker_peers_admit(peers, "a", now), ==,
                    BROKER_ADMIT_PEER_BUSY);
    /* ...and 6 in all. */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(broker_peers_admit(peers, "b", now), ==,
                        BROKER_ADMIT_OK);
    }
    g_assert_cmpint(broker_peers_admit(peers, "c", now), ==,
                    BROKER_ADMIT_BUSY);
    g_assert_cmpuint(broker_peers_handshakes(peers), ==, 6);

    /* Logged in: no longer a handshake, still a connection. */
    for (int i = 0; i < 3; i++) {
        broker_peers_logged_in(peers, "a");
    }
    g_assert_cmpint(broker_peers_admit(peers, "a", now), ==, BROKER_ADMIT_OK);
    g_assert_cmpint(broker_peers_admit(peers, "a", now), ==,
                    BROKER_ADMIT_PEER_FULL);       /* 4 connections */
    broker_peers_logged_in(peers, "a");
    for (int i = 0; i < 3; i++) {
        broker_peers_logged_in(peers, "b");
    }
    g_assert_cmpint(broker_peers_admit(peers, "c", now), ==, BROKER_ADMIT_OK);
    g_assert_cmpint(broker_peers_admit(peers, "d", now), ==, BROKER_ADMIT_OK);
    g_assert_cmpint(broker_peers_admit(peers, "e", now), ==, BROKER_ADMIT_OK);
    g_assert_cmpuint(broker_peers_connections(peers), ==, 10);
    g_assert_cmpint(broker_peers_admit(peers, "f", now), ==,
                    BROKER_ADMIT_FULL);

    /* Leaving gives the slots back, and a peer with nothing left and no
     * failures is forgotten. */
    broker_peers_leave(peers, "e", TRUE, now);
    g_assert_cmpint(broker_peers_admit(peers, "f", now), ==, BROKER_ADMIT_OK);
    broker_peers_leave(peers, "f", TRUE, now);
    broker_peers_leave(peers, "d", TRUE, now);
    broker_peers_leave(peers, "c", TRUE, now);
    for (int i = 0; i < 4; i++) {
        broker_peers_leave(peers, "a", FALSE, now);
    }
    for (int i = 0; i < 3; i++) {
        broker_peers_leave(peers, "b", FALSE, now);
    }
    g_assert_cmpuint(broker_peers_connections(peers), ==, 0);
    g_assert_cmpuint(broker_peers_handshakes(peers), ==, 0);
    g_assert_cmpuint(broker_peers_size(peers), ==, 0);
}

static void
test_failures(void)
{
    g_autoptr(BrokerPeers) peers = peers_new(3, 100);
    gint64 now = 1000 * S;

    for (int i = 0; i < 3; i++) {
        g_assert_false(broker_peers_rate_limited(peers, "a", now));
        broker_peers_record_failure(peers, "a", now);
    }
    g_assert_true(broker_peers_rate_limited(peers, "a", now));
    g_assert_cmpint(broker_peers_admit(peers, "a", now), ==,
                    BROKER_ADMIT_RATE_LIMITED);
    g_assert_false(broker_peers_rate_limited(peers, "b", now));
    /* Still limited a little later; one more try once a third of the
     * window has drained one failure. */
    g_assert_true(broker_peers_rate_limited(peers, "a", now + 19 * S));
    g_assert_false(broker_peers_rate_limited(peers, "a", now + 21 * S));
    broker_peers_record_failure(peers, "a", now + 21 * S);
    g_assert_true(broker_peers_rate_limited(peers, "a", now + 22 * S));
    /* After a whole window, the peer is forgotten. */
    g_assert_cmpint(broker_peers_admit(peers, "b", now + 90 * S), ==,
                    BROKER_ADMIT_OK);
    g_assert_false(broker_peers_rate_limited(peers, "a", now + 90 * S));
    g_assert_cmpuint(broker_peers_size(peers), ==, 1);     /* b */
}

static void
test_failures_while_connected(void)
{
    g_autoptr(BrokerPeers) peers = peers_new(2, 100);
    gint64 now = 1000 * S;

    g_assert_cmpint(broker_peers_admit(peers, "a", now), ==, BROKER_ADMIT_OK);
    broker_peers_record_failure(peers, "a", now);
    broker_peers_record_failure(peers, "a", now);
    g_assert_cmpint(broker_peers_admit(peers, "a", now), ==,
                    BROKER_ADMIT_RATE_LIMITED);
    /* Leaving keeps the failures. */
    broker_peers_leave(peers, "a", TRUE, now);
    g_assert_true(broker_peers_rate_limited(peers, "a", now + S));
    g_assert_cmpuint(broker_peers_size(peers), ==, 1);
}

static void
test_rotating_addresses(void)
{
    /* One failure each from 100,000 addresses: the table keeps the newest
     * 500, and a connected peer is never dropped for them. */
    g_autoptr(BrokerPeers) peers = peers_new(5, 500);
    gint64 now = 1000 * S;

    g_assert_cmpint(broker_peers_admit(peers, "steady", now), ==,
                    BROKER_ADMIT_OK);
    broker_peers_logged_in(peers, "steady");
    for (int i = 0; i < 100000; i++) {
        char ip[32];
        g_snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
                   i & 255);
        broker_peers_record_failure(peers, ip, now + i);
        g_assert_cmpuint(broker_peers_size(peers), <=, 501);
    }
    g_assert_cmpuint(broker_peers_size(peers), ==, 501);
    /* The newest are there. */
    broker_peers_record_failure(peers, "10.1.134.159", now + S);
    for (int i = 0; i < 3; i++) {
        broker_peers_record_failure(peers, "10.1.134.159", now + S);
    }
    g_assert_true(broker_peers_rate_limited(peers, "10.1.134.159", now + S));
    broker_peers_leave(peers, "steady", FALSE, now + S);
    /* A window later, all of them have aged out. */
    g_assert_cmpint(broker_peers_admit(peers, "x", now + 2 * WINDOW), ==,
                    BROKER_ADMIT_OK);
    g_assert_cmpuint(broker_peers_size(peers), ==, 1);
}

static void
test_key_for_ip(void)
{
    struct {
        const char *ip, *key;
    } cases[] = {
        { "192.0.2.7", "192.0.2.7" },
        { "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
        { "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64" },
        { "::ffff:192.0.2.7", "192.0.2.7" },
        { "::1", "::/64" },
        { "unix:uid=1000", "unix:uid=1000" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *key = broker_peers_key_for_ip(cases[i].ip);
        g_assert_cmpstr(key, ==, cases[i].key);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/broker-peers/connection-caps", test_connection_caps);
    g_test_add_func("/broker-peers/failures", test_failures);
    g_test_add_func("/broker-peers/failures-while-connected",
                    test_failures_while_connected);
    g_test_add_func("/broker-peers/rotating-addresses",
                    test_rotating_addresses);
    g_test_add_func("/broker-peers/key-for-ip", test_key_for_ip);
    return g_test_run();
}
