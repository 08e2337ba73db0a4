/*
 * crp-settings.h: what crp-client remembers between runs, in
 * $XDG_CONFIG_HOME/crp/client.ini (a GKeyFile). Only the key file's path
 * is kept there, never the key.
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

G_END_DECLS
