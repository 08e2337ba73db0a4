/*
 * test-crp-session-stats.c: the stats overlay's figures.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-session-stats.h"

#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_rates_come_from_two_samples(void)
{
    CrpSessionStats stats = { 0 };
    CrpViewerStats s = { .frames = 10, .bytes_in = 1000000, .fps = 29.97 };

    g_autofree char *first = crp_session_stats_format(&stats, &s, 1000000, -1);
    g_assert_nonnull(strstr(first, "30.0 fps"));
    g_assert_nonnull(strstr(first, "0 kbit/s"));    /* no rate from one sample */
    g_assert_nonnull(strstr(first, "round trip –"));
    g_assert_nonnull(strstr(first, "input→screen –"));

    /* 250 kB in half a second: 4 Mbit/s. */
    s.bytes_in += 250000;
    s.frames = 25;
    s.input_latency_ms = 41.6;
    g_autofree char *second = crp_session_stats_format(&stats, &s, 1500000, 0.25);
    g_assert_nonnull(strstr(second, "4.0 Mbit/s"));
    g_assert_nonnull(strstr(second, "round trip 0.2 ms"));
    g_assert_nonnull(strstr(second, "input→screen 42 ms"));
    g_assert_nonnull(strstr(second, "25 frames"));

    /* A new connection's counters start again: never a negative rate. */
    s.bytes_in = 10;
    g_autofree char *third = crp_session_stats_format(&stats, &s, 2500000, -1);
    g_assert_nonnull(strstr(third, " 0 kbit/s"));
}

static void test_tcp_rtt_only_for_tcp(void)
{
    int fds[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
    g_autoptr(GSocket) pair = g_socket_new_from_fd(fds[0], NULL);
    g_autoptr(GSocketConnection) conn = g_socket_connection_factory_create_connection(pair);
    g_assert_cmpfloat(crp_session_stats_tcp_rtt_ms(G_IO_STREAM(conn)), <, 0);
    close(fds[1]);

    /* Loopback TCP: the kernel has a (tiny) figure. */
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(addr);
    g_assert_cmpint(bind(listener, (struct sockaddr *)&addr, len), ==, 0);
    g_assert_cmpint(listen(listener, 1), ==, 0);
    g_assert_cmpint(getsockname(listener, (struct sockaddr *)&addr, &len), ==, 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    g_assert_cmpint(connect(client, (struct sockaddr *)&addr, len), ==, 0);
    int server = accept(listener, NULL, NULL);
    g_autoptr(GSocket) tcp = g_socket_new_from_fd(client, NULL);
    g_autoptr(GSocketConnection) tcp_conn = g_socket_connection_factory_create_connection(tcp);
    double rtt = crp_session_stats_tcp_rtt_ms(G_IO_STREAM(tcp_conn));
    g_assert_cmpfloat(rtt, >=, 0);
    g_assert_cmpfloat(rtt, <, 1000);
    close(server);
    close(listener);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/session-stats/rates", test_rates_come_from_two_samples);
    g_test_add_func("/session-stats/tcp-rtt", test_tcp_rtt_only_for_tcp);
    return g_test_run();
}
