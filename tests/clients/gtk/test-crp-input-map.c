/*
 * test-crp-input-map.c: key codes, buttons, the view's geometry and
 * pointer mapping, the set of keys down.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-input-map.h"

static void test_keycodes(void)
{
    g_assert_cmpint(crp_input_map_evdev_from_keycode(38), ==, 30);     /* a */
    g_assert_cmpint(crp_input_map_evdev_from_keycode(9), ==, 1);       /* Escape */
    g_assert_cmpint(crp_input_map_evdev_from_keycode(8), ==, 0);
    g_assert_cmpint(crp_input_map_evdev_from_keycode(7), ==, -1);
    g_assert_cmpint(crp_input_map_evdev_from_keycode(0x2ff + 8), ==, 0x2ff);
    g_assert_cmpint(crp_input_map_evdev_from_keycode(0x300 + 8), ==, -1);
    g_assert_cmpint(crp_input_map_evdev_from_keycode(G_MAXUINT), ==, -1);
}

static void test_buttons(void)
{
    g_assert_cmphex(crp_input_map_button_bit(1), ==, 0x01);
    g_assert_cmphex(crp_input_map_button_bit(2), ==, 0x02);
    g_assert_cmphex(crp_input_map_button_bit(3), ==, 0x04);
    g_assert_cmphex(crp_input_map_button_bit(8), ==, 0x08);
    g_assert_cmphex(crp_input_map_button_bit(9), ==, 0x10);
    g_assert_cmphex(crp_input_map_button_bit(4), ==, 0);   /* X11 wheel "buttons" */
    g_assert_cmphex(crp_input_map_button_bit(0), ==, 0);
}

static void test_geometry_fit(void)
{
    CrpViewGeometry g;
    int x, y;

    /* 1280x800 in 900x700: width limits, scale 0.703125, centred vertically. */
    crp_view_geometry_compute(&g, 900, 700, 1280, 800, TRUE);
    g_assert_cmpfloat_with_epsilon(g.scale, 900.0 / 1280, 1e-9);
    g_assert_cmpfloat(g.x, ==, 0);
    g_assert_cmpfloat(g.y, ==, 68);         /* floor((700 - 562.5) / 2) */
    g_assert_true(crp_view_geometry_to_guest(&g, 0, 68, &x, &y));
    g_assert_cmpint(x, ==, 0);
    g_assert_cmpint(y, ==, 0);
    g_assert_true(crp_view_geometry_to_guest(&g, 450, 68 + 281.25, &x, &y));
    g_assert_cmpint(x, ==, 640);
    g_assert_cmpint(y, ==, 400);
    /* Outside the picture (the bars, beyond the widget): the nearest edge. */
    g_assert_true(crp_view_geometry_to_guest(&g, -50, 10, &x, &y));
    g_assert_cmpint(x, ==, 0);
    g_assert_cmpint(y, ==, 0);
    g_assert_true(crp_view_geometry_to_guest(&g, 5000, 5000, &x, &y));
    g_assert_cmpint(x, ==, 1279);
    g_assert_cmpint(y, ==, 799);

    /* Scaling up keeps the aspect too. */
    crp_view_geometry_compute(&g, 2000, 1000, 640, 400, TRUE);
    g_assert_cmpfloat(g.scale, ==, 2.5);
    g_assert_cmpfloat(g.x, ==, 200);
    g_assert_cmpfloat(g.y, ==, 0);
}

static void test_geometry_one_to_one(void)
{
    CrpViewGeometry g;
    int x, y;

    crp_view_geometry_compute(&g, 1301, 900, 1280, 800, FALSE);
    g_assert_cmpfloat(g.scale, ==, 1);
    g_assert_cmpfloat(g.x, ==, 10);         /* whole pixels: stays sharp */
    g_assert_cmpfloat(g.y, ==, 50);
    g_assert_true(crp_view_geometry_to_guest(&g, 10.9, 50, &x, &y));
    g_assert_cmpint(x, ==, 0);
    g_assert_true(crp_view_geometry_to_guest(&g, 11, 50, &x, &y));
    g_assert_cmpint(x, ==, 1);

    /* Smaller than the guest: anchored top left, the rest cut off. */
    crp_view_geometry_compute(&g, 600, 400, 1280, 800, FALSE);
    g_assert_cmpfloat(g.x, ==, 0);
    g_assert_cmpfloat(g.y, ==, 0);

    /* No picture yet: no mapping. */
    crp_view_geometry_compute(&g, 600, 400, 0, 0, TRUE);
    g_assert_false(crp_view_geometry_to_guest(&g, 1, 1, &x, &y));
    /* A widget not yet sized: 1:1 from its corner, never a division by 0. */
    crp_view_geometry_compute(&g, 0, 0, 1280, 800, TRUE);
    g_assert_true(crp_view_geometry_to_guest(&g, 1, 2, &x, &y));
    g_assert_cmpint(x, ==, 1);
    g_assert_cmpint(y, ==, 2);
}

static void test_key_state(void)
{
    CrpKeyState keys = { 0 };

    g_assert_true(crp_key_state_set(&keys, 30, TRUE));
    g_assert_false(crp_key_state_set(&keys, 30, TRUE));    /* auto-repeat */
    g_assert_true(crp_key_state_set(&keys, 0x2ff, TRUE));
    g_assert_true(crp_key_state_set(&keys, 42, TRUE));
    g_assert_false(crp_key_state_set(&keys, 0x300, TRUE));
    g_assert_false(crp_key_state_set(&keys, -1, TRUE));
    g_assert_false(crp_key_state_set(&keys, 31, FALSE));   /* was not down */
    g_assert_true(crp_key_state_is_down(&keys, 42));

    int k = -1, seen[4], n = 0;
    while ((k = crp_key_state_next(&keys, k + 1)) >= 0 && n < 4) {
        seen[n++] = k;
    }
    g_assert_cmpint(n, ==, 3);
    g_assert_cmpint(seen[0], ==, 30);
    g_assert_cmpint(seen[1], ==, 42);
    g_assert_cmpint(seen[2], ==, 0x2ff);
    g_assert_true(crp_key_state_set(&keys, 30, FALSE));
    g_assert_false(crp_key_state_is_down(&keys, 30));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/input-map/keycodes", test_keycodes);
    g_test_add_func("/input-map/buttons", test_buttons);
    g_test_add_func("/input-map/geometry-fit", test_geometry_fit);
    g_test_add_func("/input-map/geometry-1to1", test_geometry_one_to_one);
    g_test_add_func("/input-map/key-state", test_key_state);
    return g_test_run();
}
