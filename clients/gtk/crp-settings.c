/*
 * crp-settings.c: see crp-settings.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-settings.h"

#include <errno.h>
#include <glib/gstdio.h>

#define GROUP "login"

static char *settings_path(void)
{
    return g_build_filename(g_get_user_config_dir(), "crp", "client.ini", NULL);
}

char *crp_settings_get_key_file(void)
{
    g_autofree char *path = settings_path();
    g_autoptr(GKeyFile) kf = g_key_file_new();

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL)) {
        return NULL;
    }
    char *key = g_key_file_get_string(kf, GROUP, "key-file", NULL);
    if (key && !*key) {
        g_clear_pointer(&key, g_free);
    }
    return key;
}

gboolean crp_settings_set_key_file(const char *key_path, GError **error)
{
    g_autofree char *path = settings_path();
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *absolute = g_canonicalize_filename(key_path, NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();

    /* Keep whatever else is in the file. */
    g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
    g_key_file_set_string(kf, GROUP, "key-file", absolute);
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    return g_key_file_save_to_file(kf, path, error);
}
