/*
 * crp-special-keys.h: the key combinations the session window's menu
 * sends to the guest, because the local desktop would act on them first
 * (Ctrl+Alt+Del, Ctrl+Alt+F1..F12, PrintScreen). As data: a name per
 * combination (the menu's action target) and its evdev codes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_SPECIAL_KEYS_MAX 3

typedef struct {
    const char *name;           /* "ctrl-alt-del", "ctrl-alt-f1", "print" */
    const char *label;          /* "Ctrl+Alt+Del", for messages */
    const char *menu_label;     /* with its mnemonic: "Send Ctrl+Alt+_Del" */
    int n_codes;
    guint16 codes[CRP_SPECIAL_KEYS_MAX];    /* pressed in order, released in reverse */
} CrpSpecialKeys;

/** The combination called @name, or NULL. */
const CrpSpecialKeys *crp_special_keys_lookup(const char *name);

/** All of them, in menu order; @n_out gets how many. */
const CrpSpecialKeys *crp_special_keys_all(gsize *n_out);

G_END_DECLS
