/*
 * admin-files.c: crp-admin files list / clean: a user's My files
 * (broker/files/crp-files-area.h), for an operator who answers a user's
 * question or frees space. Works on the area directly: the broker need
 * not run, and nothing here follows a link a guest made.
 */
#include "admin.h"
#include "admin-format.h"
#include "crp-files-area.h"

#include "crp/crp-file-path.h"
#include "crp/crp-message.h"
#include <string.h>

/* The user must exist: a typo must not create an empty area. */
static CrpFilesArea *
open_area(CrpAdmin *admin, const char *user, int *status)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStoreUser) u = NULL;
    const CrpBrokerConfig *config;
    CrpStore *store;
    CrpFilesArea *area;

    if (!(config = crp_admin_config(admin, &error)) ||
        !(store = crp_admin_store(admin, &error)) ||
        !(u = crp_store_user_get(store, user, &error)) ||
        !(area = crp_files_area_open(config->files_dir, user, &error))) {
        *status = crp_admin_fail_error(g_steal_pointer(&error));
        return NULL;
    }
    return area;
}

/* Adds @dir's entries (and theirs, depth first) to @table. */
static gboolean
add_tree(CrpAdminTable *table, CrpFilesArea *area, const char *dir,
         GError **error)
{
    gboolean truncated = FALSE;
    g_autoptr(GPtrArray) entries = crp_files_area_list(
        area, dir, CRP_MAX_LIST_ITEMS, &truncated, error);

    if (!entries) {
        return FALSE;
    }
    if (truncated) {
        crp_admin_warn("%s holds more than %u entries; the first are shown",
                       *dir ? dir : "the top", CRP_MAX_LIST_ITEMS);
    }
    for (guint i = 0; i < entries->len; i++) {
        const CrpFilesEntry *e = g_ptr_array_index(entries, i);
        g_autofree char *path = *dir ? g_strconcat(dir, "/", e->name, NULL)
                                     : g_strdup(e->name);

        crp_admin_table_add_row(table);
        crp_admin_table_add_text(table, path);
        crp_admin_table_add_text(table, e->is_dir ? "folder" : "file");
        crp_admin_table_add_uint(table, e->size);
        crp_admin_table_add_time(table, (gint64)(e->mtime_ns / 1000000000));
        if (!e->is_dir) {
            continue;
        }
        /* Only a guest nests deeper than a path may name: said, not
         * walked, and the rest is still listed. */
        if (!crp_file_path_check(path, strlen(path), FALSE, NULL)) {
            crp_admin_warn("%s: not listed further (deeper or longer than a "
                           "path may be)", path);
            continue;
        }
        if (!add_tree(table, area, path, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static const CrpAdminColumn file_columns[] = {
    { "path", "PATH", CRP_ADMIN_COL_TEXT, 0 },
    { "type", "TYPE", CRP_ADMIN_COL_TEXT, 0 },
    { "bytes", "BYTES", CRP_ADMIN_COL_UINT, 0 },
    { "modified", "MODIFIED", CRP_ADMIN_COL_TIME, 0 },
};

int
crp_admin_cmd_files_list(CrpAdmin *admin, int argc, char **argv)
{
    g_autofree char *user = NULL;
    const GOptionEntry entries[] = {
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user,
          "Whose files (required)", "ID" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpFilesArea) area = NULL;
    g_autoptr(CrpAdminTable) table = NULL;
    CrpAdminFormat format;
    guint64 uploads = 0, used;
    int status;

    if (!crp_admin_parse_list(admin, entries,
                              "Lists a user's My files, every folder, and "
                              "what they hold (the quota\ncounts it with "
                              "the user's disk overlays).",
                              &argc, &argv, &format, &status)) {
        return status;
    }
    if (!user) {
        return crp_admin_usage_error(admin, "--user is required");
    }
    if (!(area = open_area(admin, user, &status))) {
        return status;
    }
    table = crp_admin_table_new();
    crp_admin_table_add_columns(table, file_columns,
                                G_N_ELEMENTS(file_columns));
    if (!add_tree(table, area, "", &error)) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    used = crp_files_area_usage(area, &uploads);
    if (format == CRP_ADMIN_FORMAT_TABLE) {
        g_autofree char *total = g_format_size_full(used,
                                                    G_FORMAT_SIZE_IEC_UNITS);
        g_autofree char *pending = g_format_size_full(
            uploads, G_FORMAT_SIZE_IEC_UNITS);
        printf("My files of %s (%s): %s, of which uploads under way %s\n",
               user, crp_files_area_dir(area), total, pending);
    }
    crp_admin_table_print(table, format, stdout);
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_files_clean(CrpAdmin *admin, int argc, char **argv)
{
    gboolean uploads_only = FALSE;
    const GOptionEntry entries[] = {
        { "uploads-only", 0, 0, G_OPTION_ARG_NONE, &uploads_only,
          "Only discard the uploads under way", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpFilesArea) area = NULL;
    guint64 before, after;
    int status;

    if (!crp_admin_parse(admin, entries,
                         "Removes everything in a user's My files (every "
                         "app VM of the user sees it\ngo at once), or with "
                         "--uploads-only the uploads not yet complete.",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    if (!(area = open_area(admin, argv[1], &status))) {
        return status;
    }
    before = crp_files_area_usage(area, NULL);
    if (uploads_only) {
        crp_files_area_expire_uploads(area, -1);
    } else if (!crp_files_area_clean(area, &error)) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    after = crp_files_area_usage(area, NULL);
    g_autofree char *freed = g_format_size_full(before - MIN(after, before),
                                                G_FORMAT_SIZE_IEC_UNITS);
    printf("cleaned %s of %s: %s freed\n",
           uploads_only ? "the uploads under way" : "My files", argv[1],
           freed);
    return CRP_ADMIN_EXIT_OK;
}
