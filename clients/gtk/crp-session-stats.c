/*
 * crp-session-stats.c: see crp-session-stats.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-session-stats.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static char *format_bitrate(double bits_per_s)
{
    if (bits_per_s >= 1e6) {
        return g_strdup_printf("%.1f Mbit/s", bits_per_s / 1e6);
    }
    return g_strdup_printf("%.0f kbit/s", bits_per_s / 1e3);
}

static char *format_ms(double ms)
{
    /* 0 means "no sample yet" in CrpViewerStats. */
    return ms > 0 ? g_strdup_printf("%.0f ms", ms) : g_strdup("–");
}

char *crp_session_stats_format(CrpSessionStats *s, const CrpViewerStats *sample,
                               gint64 now_us, double rtt_ms)
{
    double seconds = s->have_previous ? (now_us - s->previous_us) / 1e6 : 0;
    double bits = 0;

    if (seconds > 0 && sample->bytes_in >= s->previous.bytes_in) {
        bits = (sample->bytes_in - s->previous.bytes_in) * 8.0 / seconds;
    }
    g_autofree char *rate = format_bitrate(bits);
    g_autofree char *input = format_ms(sample->input_latency_ms);
    g_autofree char *rtt = rtt_ms < 0 ? g_strdup("–") :
                           g_strdup_printf("%.1f ms", rtt_ms);
    s->previous = *sample;
    s->previous_us = now_us;
    s->have_previous = TRUE;
    return g_strdup_printf("%.1f fps   %s\nround trip %s   input→screen %s\n"
                           "%" G_GUINT64_FORMAT " frames, %.1f MiB in",
                           sample->fps, rate, rtt, input, sample->frames,
                           sample->bytes_in / (1024.0 * 1024.0));
}

double crp_session_stats_tcp_rtt_ms(GIOStream *stream)
{
    if (!G_IS_SOCKET_CONNECTION(stream)) {
        return -1;
    }
    GSocket *socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream));
    if (g_socket_get_family(socket) != G_SOCKET_FAMILY_IPV4 &&
        g_socket_get_family(socket) != G_SOCKET_FAMILY_IPV6) {
        return -1;
    }
    struct tcp_info info;
    socklen_t len = sizeof(info);
    if (getsockopt(g_socket_get_fd(socket), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
        return -1;
    }
    return info.tcpi_rtt / 1000.0;
}
