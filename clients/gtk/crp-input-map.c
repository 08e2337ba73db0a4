/*
 * crp-input-map.c: see crp-input-map.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-input-map.h"

#include <math.h>

int crp_input_map_evdev_from_keycode(guint keycode)
{
    if (keycode < 8 || keycode - 8 > CRP_INPUT_KEY_MAX) {
        return -1;
    }
    return (int)keycode - 8;
}

guint32 crp_input_map_button_bit(guint button)
{
    switch (button) {
    case 1: return 0x01;        /* GDK_BUTTON_PRIMARY */
    case 2: return 0x02;        /* GDK_BUTTON_MIDDLE */
    case 3: return 0x04;        /* GDK_BUTTON_SECONDARY */
    case 8: return 0x08;        /* back: evdev BTN_SIDE */
    case 9: return 0x10;        /* forward: evdev BTN_EXTRA */
    default: return 0;
    }
}

void crp_view_geometry_compute(CrpViewGeometry *geom, int widget_width,
                               int widget_height, int fb_width, int fb_height,
                               gboolean fit)
{
    geom->fb_width = fb_width;
    geom->fb_height = fb_height;
    geom->scale = 1.0;
    geom->x = geom->y = 0;
    if (fb_width <= 0 || fb_height <= 0 || widget_width <= 0 || widget_height <= 0) {
        return;
    }
    if (fit) {
        geom->scale = MIN((double)widget_width / fb_width,
                          (double)widget_height / fb_height);
    }
    geom->x = MAX(0, floor((widget_width - fb_width * geom->scale) / 2));
    geom->y = MAX(0, floor((widget_height - fb_height * geom->scale) / 2));
}

gboolean crp_view_geometry_to_guest(const CrpViewGeometry *geom, double wx,
                                    double wy, int *gx, int *gy)
{
    if (geom->fb_width <= 0 || geom->fb_height <= 0 || geom->scale <= 0) {
        return FALSE;
    }
    double x = floor((wx - geom->x) / geom->scale);
    double y = floor((wy - geom->y) / geom->scale);
    *gx = (int)CLAMP(x, 0, geom->fb_width - 1);
    *gy = (int)CLAMP(y, 0, geom->fb_height - 1);
    return TRUE;
}

gboolean crp_key_state_set(CrpKeyState *keys, int evdev, gboolean down)
{
    if (evdev < 0 || evdev > CRP_INPUT_KEY_MAX) {
        return FALSE;
    }
    guint32 bit = 1u << (evdev % 32);
    guint32 *word = &keys->bits[evdev / 32];
    gboolean was = (*word & bit) != 0;
    if (down) {
        *word |= bit;
    } else {
        *word &= ~bit;
    }
    return was != !!down;
}

gboolean crp_key_state_is_down(const CrpKeyState *keys, int evdev)
{
    return evdev >= 0 && evdev <= CRP_INPUT_KEY_MAX &&
           (keys->bits[evdev / 32] & (1u << (evdev % 32)));
}

int crp_key_state_next(const CrpKeyState *keys, int from)
{
    for (int k = MAX(from, 0); k <= CRP_INPUT_KEY_MAX; k++) {
        if (keys->bits[k / 32] & (1u << (k % 32))) {
            return k;
        }
    }
    return -1;
}
