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

/* The submenu's mnemonics are the digits 1..9; F10..F12 have none. */
#define CTRL_ALT_F(n, mnemonic, code) \
    { "ctrl-alt-f" #n, "Ctrl+Alt+F" #n, "Ctrl+Alt+F" mnemonic, 3, \
      { KEY_LEFTCTRL, KEY_LEFTALT, code } }

static const CrpSpecialKeys table[] = {
    { "ctrl-alt-del", "Ctrl+Alt+Del", "Send Ctrl+Alt+_Del", 3,
      { KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE } },
    /* PrintScreen is KEY_SYSRQ in evdev: one key, both names. */
    { "print", "PrintScreen", "Send _PrintScreen", 1, { KEY_SYSRQ } },
    /* F1..F10 are consecutive codes; F11 and F12 are not. */
    CTRL_ALT_F(1, "_1", KEY_F1), CTRL_ALT_F(2, "_2", KEY_F1 + 1),
    CTRL_ALT_F(3, "_3", KEY_F1 + 2), CTRL_ALT_F(4, "_4", KEY_F1 + 3),
    CTRL_ALT_F(5, "_5", KEY_F1 + 4), CTRL_ALT_F(6, "_6", KEY_F1 + 5),
    CTRL_ALT_F(7, "_7", KEY_F1 + 6), CTRL_ALT_F(8, "_8", KEY_F1 + 7),
    CTRL_ALT_F(9, "_9", KEY_F1 + 8), CTRL_ALT_F(10, "10", KEY_F1 + 9),
    CTRL_ALT_F(11, "11", KEY_F11), CTRL_ALT_F(12, "12", KEY_F12),
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
