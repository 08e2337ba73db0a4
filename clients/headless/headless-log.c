/*
 * headless-log.c: crp-headless's --verbose log, every line with the
 * seconds since the program started.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

static gboolean verbose;
static gint64 start_us;

void hl_log_start_clock(void)
{
    start_us = g_get_monotonic_time();
}

void hl_log_set_verbose(gboolean on)
{
    verbose = on;
}

double hl_log_elapsed_s(void)
{
    return (g_get_monotonic_time() - start_us) / 1e6;
}

void hl_log(const char *fmt, ...)
{
    va_list ap;

    if (!verbose) {
        return;
    }
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("[%8.3f] %s\n", hl_log_elapsed_s(), msg);
}
