/*
 * crp-guest-fit.h: the guest follows the window. Told the view's size
 * (in device pixels) and the guest's, it asks the guest for the view's
 * size once the view has stopped changing for a moment (a window being
 * dragged larger would otherwise ask for every size on the way), and
 * finds out whether the guest can follow: a guest that has not switched
 * to the asked size after a while cannot (std VGA, a guest without a
 * driver that listens), and its picture is scaled instead.
 *
 * No GTK: it runs on GLib timeouts in the thread-default main context,
 * so tests drive it without a display. The owner does the asking
 * (crp_viewer_send_resize()) through the events it gives.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* protocol.md: RESIZE_REQUEST sides are 1..8192; smaller than this is a
 * window being collapsed, not a size anyone wants a guest in. */
#define CRP_GUEST_FIT_MIN_SIDE 64
#define CRP_GUEST_FIT_MAX_SIDE 8192

typedef enum {
    /** Not asking: switched off, 1:1, or a server that cannot resize. */
    CRP_GUEST_FIT_OFF,
    /** The guest has the view's size (or nothing was needed yet). */
    CRP_GUEST_FIT_FOLLOWING,
    /** Asked; waiting for the guest's new size. */
    CRP_GUEST_FIT_WAITING,
    /** The guest did not follow: its picture is scaled. */
    CRP_GUEST_FIT_FIXED,
} CrpGuestFitState;

typedef struct CrpGuestFit CrpGuestFit;

typedef struct {
    /** Ask the guest for @width x @height. */
    void (*request)(gpointer data, int width, int height);
    /** crp_guest_fit_get_state() changed. */
    void (*state_changed)(gpointer data, CrpGuestFitState state);
} CrpGuestFitEvents;

/**
 * @debounce_ms: how long the view must keep its size before the guest is
 * asked; @wait_ms: how long the guest has to follow.
 */
CrpGuestFit *crp_guest_fit_new(const CrpGuestFitEvents *events, gpointer data,
                               guint debounce_ms, guint wait_ms);
void crp_guest_fit_free(CrpGuestFit *fit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpGuestFit, crp_guest_fit_free)

/** Whether to ask at all (the preference, scaled rather than 1:1, and a
 *  server that offers RESIZE). Switching on checks the view again. */
void crp_guest_fit_set_enabled(CrpGuestFit *fit, gboolean enabled);

/** The view is now @width x @height device pixels. */
void crp_guest_fit_view_changed(CrpGuestFit *fit, int width, int height);

/** The guest's screen is now @width x @height (a SURFACE). */
void crp_guest_fit_surface_changed(CrpGuestFit *fit, int width, int height);

/** A new connection: nothing is known of the guest. */
void crp_guest_fit_reset(CrpGuestFit *fit);

CrpGuestFitState crp_guest_fit_get_state(CrpGuestFit *fit);

/** The size last asked for (0 x 0 before any). */
void crp_guest_fit_get_requested(CrpGuestFit *fit, int *width, int *height);

G_END_DECLS
