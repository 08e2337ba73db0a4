/*
 * crp-input-map.h: how local input becomes CRP input, without GTK
 * widgets: key codes, button masks, the view's geometry (where the guest's
 * screen sits in the widget, at what scale) and which keys are down.
 * Pure functions, so that tests can check them without a display.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* protocol.md 5.2: KEY codes go up to KEY_MAX. */
#define CRP_INPUT_KEY_MAX 0x2ff

/**
 * The evdev code of a GDK hardware keycode: on Linux both X11 (through
 * xkb's evdev rules) and Wayland number keys evdev + 8. -1 for a keycode
 * that maps to no evdev code.
 */
int crp_input_map_evdev_from_keycode(guint keycode);

/** The protocol's button mask bit (0x01 left, 0x02 middle, 0x04 right,
 *  0x08 side, 0x10 extra) of GDK button @button; 0 for other buttons. */
guint32 crp_input_map_button_bit(guint button);

/** Where the guest's screen is drawn in a widget. */
typedef struct {
    double scale;           /* widget pixels per guest pixel */
    double x, y;            /* the guest's (0, 0) in the widget */
    int fb_width, fb_height;
} CrpViewGeometry;

/**
 * Lays a @fb_width x @fb_height screen out in a @widget_width x
 * @widget_height widget: scaled to fit keeping the aspect ratio and
 * centred, or (@fit FALSE) 1:1, centred if there is room and anchored
 * at the top left if not. Offsets are whole pixels so that 1:1 stays
 * sharp.
 */
void crp_view_geometry_compute(CrpViewGeometry *geom, int widget_width,
                               int widget_height, int fb_width, int fb_height,
                               gboolean fit);

/** The guest pixel under widget point (@wx, @wy), clamped to the screen
 *  (a drag that leaves the view still moves the guest's pointer to the
 *  edge). FALSE, and nothing set, with no screen. */
gboolean crp_view_geometry_to_guest(const CrpViewGeometry *geom, double wx,
                                    double wy, int *gx, int *gy);

/** The set of keys that are down, so that all can be released when the
 *  window loses focus (the guest would otherwise see a key stuck). */
typedef struct {
    guint32 bits[(CRP_INPUT_KEY_MAX + 1 + 31) / 32];
} CrpKeyState;

/** Records a press or release; TRUE if it changed the state (a repeated
 *  press of a key already down does not: the guest repeats on its own). */
gboolean crp_key_state_set(CrpKeyState *keys, int evdev, gboolean down);
gboolean crp_key_state_is_down(const CrpKeyState *keys, int evdev);
/** The next key down at or after @from, or -1; for releasing them all. */
int crp_key_state_next(const CrpKeyState *keys, int from);

G_END_DECLS
