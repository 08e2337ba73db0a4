/*
 * qmp-test-util.h: main-loop helpers shared by the QMP client tests
 * (header-only).
 */
#pragma once

#include <glib.h>

static gboolean
qmp_test_wake(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

/* Runs the default main context until *@counter reaches @target; fails
 * the test after @timeout_ms. */
static inline void
qmp_test_run_until(const guint *counter, guint target, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    guint wake = g_timeout_add(10, qmp_test_wake, NULL);

    while (*counter < target) {
        if (g_get_monotonic_time() > deadline) {
            g_error("waited %u ms for a callback (%u of %u)", timeout_ms, *counter, target);
        }
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(wake);
}

/* Runs the default main context for @ms, to see that nothing (more)
 * happens. */
static inline void
qmp_test_run_for(guint ms)
{
    guint never = 0;
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    guint wake = g_timeout_add(5, qmp_test_wake, NULL);

    while (!never && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(wake);
}
