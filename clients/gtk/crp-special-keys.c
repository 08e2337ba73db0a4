/*
 * crp-special-keys.c: see crp-special-keys.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-special-keys.h"

#include <string.h>

/* evdev codes (linux/input-event-codes.h) */
enum {
    KEY_LEFTCTRL = 29, KEY_LEFTALT = 56, KEY_DELETE = 111, KEY_SYSRQ = 99,
    KEY_F1 = 59, KEY_F11 = 87, KEY_F12 = 88,
};

#define CTRL_ALT_F(n, code) \
    { "ctrl-alt-f" #n, "Ctrl+Alt+F" #n, 3, { KEY_LEFTCTRL, KEY_LEFTALT, code } }

static const CrpSpecialKeys table[] = {
    { "ctrl-alt-del", "Ctrl+Alt+Del", 3, { KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE } },
    /* PrintScreen is KEY_SYSRQ in evdev: one key, both names. */
    { "print", "PrintScreen", 1, { KEY_SYSRQ } },
    /* F1..F10 are consecutive codes; F11 and F12 are not. */
    CTRL_ALT_F(1, KEY_F1), CTRL_ALT_F(2, KEY_F1 + 1), CTRL_ALT_F(3, KEY_F1 + 2),
    CTRL_ALT_F(4, KEY_F1 + 3), CTRL_ALT_F(5, KEY_F1 + 4), CTRL_ALT_F(6, KEY_F1 + 5),
    CTRL_ALT_F(7, KEY_F1 + 6), CTRL_ALT_F(8, KEY_F1 + 7), CTRL_ALT_F(9, KEY_F1 + 8),
    CTRL_ALT_F(10, KEY_F1 + 9), CTRL_ALT_F(11, KEY_F11), CTRL_ALT_F(12, KEY_F12),
};

const CrpSpecialKeys *crp_special_keys_lookup(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
        if (name && strcmp(table[i].name, name) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

const CrpSpecialKeys *crp_special_keys_all(gsize *n_out)
{
    *n_out = G_N_ELEMENTS(table);
    return table;
}
