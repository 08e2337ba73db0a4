/*
 * crp-session-stats.h: the stats overlay's text, from successive
 * CrpViewerStats samples (rates need two).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <crp/crp-viewer.h>

G_BEGIN_DECLS

typedef struct {
    gboolean have_previous;
    CrpViewerStats previous;
    gint64 previous_us;
} CrpSessionStats;

/**
 * Takes a sample taken at @now_us and returns the overlay text: frames
 * per second, received bitrate, round-trip time (@rtt_ms < 0: unknown)
 * and input-to-screen latency.
 */
char *crp_session_stats_format(CrpSessionStats *stats, const CrpViewerStats *sample,
                               gint64 now_us, double rtt_ms);

/** The kernel's smoothed round-trip time of @stream's TCP connection, in
 *  milliseconds; -1 for anything else (a unix socket has none to speak of). */
double crp_session_stats_tcp_rtt_ms(GIOStream *stream);
G_END_DECLS
