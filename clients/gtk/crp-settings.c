/*
 * crp-settings.c: see crp-settings.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-settings.h"

#include <errno.h>
#include <glib/gstdio.h>

#define GROUP "login"
#define VIEW_GROUP "view"
/* One group per app: "app NAME", NAME escaped so that any string (an
 * address with brackets, say) makes a valid group name. */
#define APP_GROUP_PREFIX "app "
#define MAX_SIDE 16384

static char *settings_path(void)
{
    return g_build_filename(g_get_user_config_dir(), "crp", "client.ini", NULL);
}

/* The file as it is; empty if missing or unreadable (a broken file is
 * nothing remembered, and is replaced on the next save). */
static GKeyFile *load(void)
{
    g_autofree char *path = settings_path();
    GKeyFile *kf = g_key_file_new();

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL)) {
        g_key_file_free(kf);
        kf = g_key_file_new();
    }
    return kf;
}

static gboolean save(GKeyFile *kf, GError **error)
{
    g_autofree char *path = settings_path();
    g_autofree char *dir = g_path_get_dirname(path);

    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    return g_key_file_save_to_file(kf, path, error);
}

char *crp_settings_get_key_file(void)
{
    g_autoptr(GKeyFile) kf = load();

    char *key = g_key_file_get_string(kf, GROUP, "key-file", NULL);
    if (key && !*key) {
        g_clear_pointer(&key, g_free);
    }
    return key;
}

gboolean crp_settings_set_key_file(const char *key_path, GError **error)
{
    g_autofree char *absolute = g_canonicalize_filename(key_path, NULL);
    g_autoptr(GKeyFile) kf = load();

    /* Keep whatever else is in the file. */
    g_key_file_set_string(kf, GROUP, "key-file", absolute);
    return save(kf, error);
}

gboolean crp_settings_get_fit_guest(void)
{
    g_autoptr(GKeyFile) kf = load();
    g_autoptr(GError) error = NULL;

    gboolean fit = g_key_file_get_boolean(kf, VIEW_GROUP, "fit-guest", &error);
    return error ? TRUE : fit;
}

gboolean crp_settings_set_fit_guest(gboolean fit, GError **error)
{
    g_autoptr(GKeyFile) kf = load();

    g_key_file_set_boolean(kf, VIEW_GROUP, "fit-guest", fit);
    return save(kf, error);
}

static char *app_group(const char *app)
{
    g_autofree char *escaped = g_uri_escape_string(app, ":/@.-_", FALSE);
    return g_strconcat(APP_GROUP_PREFIX, escaped, NULL);
}

/* An integer key, or 0 if missing, malformed or out of range. */
static int get_side(GKeyFile *kf, const char *group, const char *key)
{
    g_autoptr(GError) error = NULL;
    int v = g_key_file_get_integer(kf, group, key, &error);
    return !error && v > 0 && v <= MAX_SIDE ? v : 0;
}

gboolean crp_settings_get_app(const char *app, CrpAppSettings *out)
{
    g_autoptr(GKeyFile) kf = load();
    g_autofree char *group = app_group(app);

    *out = (CrpAppSettings){ 0 };
    if (!g_key_file_has_group(kf, group)) {
        return FALSE;
    }
    out->width = get_side(kf, group, "width");
    out->height = get_side(kf, group, "height");
    if (!out->width || !out->height) {
        out->width = out->height = 0;
    }
    out->one_to_one = g_key_file_get_boolean(kf, group, "one-to-one", NULL);
    out->muted = g_key_file_get_boolean(kf, group, "muted", NULL);
    out->clipboard_muted = g_key_file_get_boolean(kf, group, "clipboard-muted",
                                                  NULL);
    return TRUE;
}

gboolean crp_settings_set_app(const char *app, const CrpAppSettings *s, GError **error)
{
    g_autoptr(GKeyFile) kf = load();
    g_autofree char *group = app_group(app);

    if (s->width > 0 && s->width <= MAX_SIDE && s->height > 0 && s->height <= MAX_SIDE) {
        g_key_file_set_integer(kf, group, "width", s->width);
        g_key_file_set_integer(kf, group, "height", s->height);
    }
    g_key_file_set_boolean(kf, group, "one-to-one", s->one_to_one);
    g_key_file_set_boolean(kf, group, "muted", s->muted);
    g_key_file_set_boolean(kf, group, "clipboard-muted", s->clipboard_muted);
    return save(kf, error);
}
