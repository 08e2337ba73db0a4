/*
 * test-crp-special-keys.c: the menu's key combinations are the evdev
 * codes a PC keyboard sends for them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-special-keys.h"

#include <linux/input-event-codes.h>

static void check(const char *name, int n, const int *codes)
{
    const CrpSpecialKeys *k = crp_special_keys_lookup(name);
    g_assert_nonnull(k);
    g_assert_cmpint(k->n_codes, ==, n);
    for (int i = 0; i < n; i++) {
        g_assert_cmpint(k->codes[i], ==, codes[i]);
    }
}

static void test_codes(void)
{
    check("ctrl-alt-del", 3, (int[]){ KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE });
    check("print", 1, (int[]){ KEY_SYSRQ });
    static const int f[] = { KEY_F1, KEY_F2, KEY_F3, KEY_F4, KEY_F5, KEY_F6, KEY_F7,
                             KEY_F8, KEY_F9, KEY_F10, KEY_F11, KEY_F12 };
    for (int i = 0; i < 12; i++) {
        g_autofree char *name = g_strdup_printf("ctrl-alt-f%d", i + 1);
        check(name, 3, (int[]){ KEY_LEFTCTRL, KEY_LEFTALT, f[i] });
    }
    g_assert_cmpstr(crp_special_keys_lookup("ctrl-alt-f2")->menu_label, ==, "Ctrl+Alt+F_2");
    g_assert_null(crp_special_keys_lookup("ctrl-alt-f13"));
    g_assert_null(crp_special_keys_lookup(NULL));

    /* Every entry has a label and unique name: the menu shows them all. */
    gsize n;
    const CrpSpecialKeys *all = crp_special_keys_all(&n);
    g_assert_cmpuint(n, ==, 14);
    for (gsize i = 0; i < n; i++) {
        g_assert_true(crp_special_keys_lookup(all[i].name) == &all[i]);
        g_assert_nonnull(all[i].label);
        g_assert_nonnull(all[i].menu_label);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/special-keys/codes", test_codes);
    return g_test_run();
}
