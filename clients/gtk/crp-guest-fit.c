/*
 * crp-guest-fit.c: see crp-guest-fit.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-guest-fit.h"

struct CrpGuestFit {
    CrpGuestFitEvents events;
    gpointer data;
    guint debounce_ms, wait_ms;

    gboolean enabled;
    CrpGuestFitState state;
    int view_w, view_h;
    int guest_w, guest_h;
    int asked_w, asked_h;
    guint debounce_timer, wait_timer;
};

static void set_state(CrpGuestFit *fit, CrpGuestFitState state)
{
    if (fit->state != state) {
        fit->state = state;
        if (fit->events.state_changed) {
            fit->events.state_changed(fit->data, state);
        }
    }
}

/* The size to ask for: the view's, within what the protocol carries;
 * FALSE if there is nothing to ask (no view or guest yet, a collapsed
 * view, or the guest has it already). */
static gboolean wanted(CrpGuestFit *fit, int *w, int *h)
{
    if (!fit->guest_w || fit->view_w < CRP_GUEST_FIT_MIN_SIDE ||
        fit->view_h < CRP_GUEST_FIT_MIN_SIDE) {
        return FALSE;
    }
    *w = MIN(fit->view_w, CRP_GUEST_FIT_MAX_SIDE);
    *h = MIN(fit->view_h, CRP_GUEST_FIT_MAX_SIDE);
    return *w != fit->guest_w || *h != fit->guest_h;
}

static gboolean on_wait(gpointer data)
{
    CrpGuestFit *fit = data;

    fit->wait_timer = 0;
    set_state(fit, CRP_GUEST_FIT_FIXED);
    return G_SOURCE_REMOVE;
}

static gboolean on_debounce(gpointer data)
{
    CrpGuestFit *fit = data;
    int w, h;

    fit->debounce_timer = 0;
    if (!fit->enabled || !wanted(fit, &w, &h)) {
        return G_SOURCE_REMOVE;
    }
    fit->asked_w = w;
    fit->asked_h = h;
    fit->events.request(fit->data, w, h);
    /* A guest already known not to follow stays FIXED (its picture is
     * scaled meanwhile) until a SURFACE of the asked size says otherwise;
     * asking again is cheap, and its driver may have come up since. */
    if (fit->state != CRP_GUEST_FIT_FIXED) {
        set_state(fit, CRP_GUEST_FIT_WAITING);
    }
    g_clear_handle_id(&fit->wait_timer, g_source_remove);
    fit->wait_timer = g_timeout_add(fit->wait_ms, on_wait, fit);
    return G_SOURCE_REMOVE;
}

static void schedule(CrpGuestFit *fit)
{
    g_clear_handle_id(&fit->debounce_timer, g_source_remove);
    if (fit->enabled) {
        fit->debounce_timer = g_timeout_add(fit->debounce_ms, on_debounce, fit);
    }
}

CrpGuestFit *crp_guest_fit_new(const CrpGuestFitEvents *events, gpointer data,
                               guint debounce_ms, guint wait_ms)
{
    CrpGuestFit *fit = g_new0(CrpGuestFit, 1);

    fit->events = *events;
    fit->data = data;
    fit->debounce_ms = debounce_ms;
    fit->wait_ms = wait_ms;
    fit->state = CRP_GUEST_FIT_OFF;
    return fit;
}

void crp_guest_fit_free(CrpGuestFit *fit)
{
    if (!fit) {
        return;
    }
    g_clear_handle_id(&fit->debounce_timer, g_source_remove);
    g_clear_handle_id(&fit->wait_timer, g_source_remove);
    g_free(fit);
}

void crp_guest_fit_set_enabled(CrpGuestFit *fit, gboolean enabled)
{
    fit->enabled = !!enabled;
    if (!enabled) {
        g_clear_handle_id(&fit->debounce_timer, g_source_remove);
        g_clear_handle_id(&fit->wait_timer, g_source_remove);
        set_state(fit, CRP_GUEST_FIT_OFF);
        return;
    }
    if (fit->state == CRP_GUEST_FIT_OFF) {
        set_state(fit, CRP_GUEST_FIT_FOLLOWING);
    }
    schedule(fit);
}

void crp_guest_fit_view_changed(CrpGuestFit *fit, int width, int height)
{
    if (width == fit->view_w && height == fit->view_h) {
        return;
    }
    fit->view_w = width;
    fit->view_h = height;
    schedule(fit);
}

void crp_guest_fit_surface_changed(CrpGuestFit *fit, int width, int height)
{
    fit->guest_w = width;
    fit->guest_h = height;
    if (fit->state == CRP_GUEST_FIT_OFF) {
        return;
    }
    if (fit->asked_w && width == fit->asked_w && height == fit->asked_h) {
        g_clear_handle_id(&fit->wait_timer, g_source_remove);
        set_state(fit, CRP_GUEST_FIT_FOLLOWING);
    }
    /* The guest may have changed on its own, or the view again meanwhile. */
    if (!fit->wait_timer) {
        schedule(fit);
    }
}

void crp_guest_fit_reset(CrpGuestFit *fit)
{
    g_clear_handle_id(&fit->debounce_timer, g_source_remove);
    g_clear_handle_id(&fit->wait_timer, g_source_remove);
    fit->guest_w = fit->guest_h = 0;
    fit->asked_w = fit->asked_h = 0;
    set_state(fit, fit->enabled ? CRP_GUEST_FIT_FOLLOWING : CRP_GUEST_FIT_OFF);
}

CrpGuestFitState crp_guest_fit_get_state(CrpGuestFit *fit)
{
    return fit->state;
}

void crp_guest_fit_get_requested(CrpGuestFit *fit, int *width, int *height)
{
    *width = fit->asked_w;
    *height = fit->asked_h;
}
