/*
 * headless-keymap.c: characters and key names to Linux evdev codes, for a
 * US keyboard layout (what a guest assumes unless told otherwise).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

#include <string.h>

/* Row by row as on the keyboard: each character with its unshifted and
 * shifted meaning shares one code. */
typedef struct {
    char plain, shifted;
    guint16 code;
} KeyChar;

static const KeyChar key_chars[] = {
    { '`', '~', 41 }, { '1', '!', 2 }, { '2', '@', 3 }, { '3', '#', 4 },
    { '4', '$', 5 }, { '5', '%', 6 }, { '6', '^', 7 }, { '7', '&', 8 },
    { '8', '*', 9 }, { '9', '(', 10 }, { '0', ')', 11 }, { '-', '_', 12 },
    { '=', '+', 13 },
    { 'q', 'Q', 16 }, { 'w', 'W', 17 }, { 'e', 'E', 18 }, { 'r', 'R', 19 },
    { 't', 'T', 20 }, { 'y', 'Y', 21 }, { 'u', 'U', 22 }, { 'i', 'I', 23 },
    { 'o', 'O', 24 }, { 'p', 'P', 25 }, { '[', '{', 26 }, { ']', '}', 27 },
    { '\\', '|', 43 },
    { 'a', 'A', 30 }, { 's', 'S', 31 }, { 'd', 'D', 32 }, { 'f', 'F', 33 },
    { 'g', 'G', 34 }, { 'h', 'H', 35 }, { 'j', 'J', 36 }, { 'k', 'K', 37 },
    { 'l', 'L', 38 }, { ';', ':', 39 }, { '\'', '"', 40 },
    { 'z', 'Z', 44 }, { 'x', 'X', 45 }, { 'c', 'C', 46 }, { 'v', 'V', 47 },
    { 'b', 'B', 48 }, { 'n', 'N', 49 }, { 'm', 'M', 50 }, { ',', '<', 51 },
    { '.', '>', 52 }, { '/', '?', 53 },
    { ' ', 0, 57 }, { '\n', 0, 28 }, { '\t', 0, 15 }, { '\b', 0, 14 },
};

gboolean hl_keymap_char(gunichar c, guint16 *code, gboolean *shift)
{
    for (gsize i = 0; i < G_N_ELEMENTS(key_chars); i++) {
        if (key_chars[i].plain == (char)c && c < 0x80) {
            *code = key_chars[i].code;
            *shift = FALSE;
            return TRUE;
        }
        if (key_chars[i].shifted && key_chars[i].shifted == (char)c && c < 0x80) {
            *code = key_chars[i].code;
            *shift = TRUE;
            return TRUE;
        }
    }
    return FALSE;
}

/* The names people reach for in scripts; anything else by number. */
static const struct {
    const char *name;
    guint16 code;
} key_names[] = {
    { "esc", 1 }, { "escape", 1 }, { "backspace", 14 }, { "tab", 15 },
    { "enter", 28 }, { "return", 28 }, { "leftctrl", 29 }, { "ctrl", 29 },
    { "leftshift", 42 }, { "shift", 42 }, { "rightshift", 54 },
    { "leftalt", 56 }, { "alt", 56 }, { "space", 57 }, { "capslock", 58 },
    { "f1", 59 }, { "f2", 60 }, { "f3", 61 }, { "f4", 62 }, { "f5", 63 },
    { "f6", 64 }, { "f7", 65 }, { "f8", 66 }, { "f9", 67 }, { "f10", 68 },
    { "f11", 87 }, { "f12", 88 }, { "rightctrl", 97 }, { "rightalt", 100 },
    { "home", 102 }, { "up", 103 }, { "pageup", 104 }, { "left", 105 },
    { "right", 106 }, { "end", 107 }, { "down", 108 }, { "pagedown", 109 },
    { "insert", 110 }, { "delete", 111 }, { "leftmeta", 125 }, { "meta", 125 },
    { "super", 125 }, { "rightmeta", 126 }, { "menu", 139 },
};

#define KEY_MAX 0x2ff

gboolean hl_keymap_parse(const char *name, guint16 *code)
{
    char *end;

    if (g_ascii_isdigit(name[0])) {
        guint64 v = g_ascii_strtoull(name, &end, 0);
        if (*end || v > KEY_MAX) {
            return FALSE;
        }
        *code = v;
        return TRUE;
    }
    if (g_ascii_strncasecmp(name, "KEY_", 4) == 0) {
        name += 4;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(key_names); i++) {
        if (g_ascii_strcasecmp(name, key_names[i].name) == 0) {
            *code = key_names[i].code;
            return TRUE;
        }
    }
    /* A single letter or digit names its key: "key a", "KEY_1". */
    gboolean shift;
    if (strlen(name) == 1 && g_ascii_isalnum(name[0])) {
        return hl_keymap_char(g_ascii_tolower(name[0]), code, &shift);
    }
    return FALSE;
}
