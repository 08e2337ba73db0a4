/*
 * crp-settings.h: what crp-client remembers between runs, in
 * $XDG_CONFIG_HOME/crp/client.ini (a GKeyFile): the key file's path
 * (never the key), the view preference, and per app the window's size,
 * its scaling and whether its sound is muted.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** The key file used last, or NULL. */
char *crp_settings_get_key_file(void);

/** Remembers @path (absolute, or made so) as the key file. */
gboolean crp_settings_set_key_file(const char *path, GError **error);

/** The user's preference: the guest follows the window's size (TRUE, the
 *  default) or keeps its own, scaled to the window. */
gboolean crp_settings_get_fit_guest(void);
gboolean crp_settings_set_fit_guest(gboolean fit, GError **error);

/** What is remembered of one app's window. */
typedef struct {
    int width, height;          /* the window's size; 0: none remembered */
    gboolean one_to_one;        /* 1:1 rather than scaled */
    gboolean muted;             /* the app's sound muted */
    gboolean clipboard_muted;   /* the desktop's clipboard not shared */
} CrpAppSettings;

/**
 * Fills @out with what is remembered of @app (an app name, or a direct
 * mode address: any string); TRUE if something was, FALSE (and the
 * defaults: no size, scaled, not muted) if not.
 */
gboolean crp_settings_get_app(const char *app, CrpAppSettings *out);

/** Remembers @settings for @app; sizes outside 1..16384 are not kept. */
gboolean crp_settings_set_app(const char *app, const CrpAppSettings *settings,
                              GError **error);

G_END_DECLS
