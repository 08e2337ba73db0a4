/*
 * admin-usage.c: crp-admin usage: sums of the usage records.
 *
 * A session counts wholly in the range it started in. Dates: YYYY-MM-DD
 * (UTC; --to includes that whole day), a full ISO 8601 time
 * (2025-01-31T12:00:00Z; UTC when no zone is given; --to excludes that
 * instant), or Unix seconds.
 */
#include "admin.h"

#include <stdio.h>
#include <string.h>

/* Parses a date option into Unix seconds. @end: a bare date means the
 * end of that day (the next midnight). */
static gboolean
parse_date(CrpAdmin *admin, const char *name, const char *text, gboolean end,
           gint64 *out, int *status)
{
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    guint64 seconds = 0;
    int y, m, d, n = 0;

    if (g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64 / 2, &seconds,
                                   NULL)) {
        *out = (gint64)seconds;
        return TRUE;
    }
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 &&
        n == (int)strlen(text) && n == 10 &&
        g_date_valid_dmy(d, m, y)) {
        g_autoptr(GDateTime) day = g_date_time_new_utc(y, m, d, 0, 0, 0);
        g_autoptr(GDateTime) next = day && end ? g_date_time_add_days(day, 1)
                                               : NULL;
        if (day) {
            *out = g_date_time_to_unix(end ? next : day);
            return TRUE;
        }
    }
    {
        g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(text, utc);
        if (dt && g_date_time_to_unix(dt) >= 0) {
            *out = g_date_time_to_unix(dt);
            return TRUE;
        }
    }
    *status = crp_admin_usage_error(admin, "--%s: '%s' is not a date "
                                    "(YYYY-MM-DD, ISO 8601 time, or Unix "
                                    "seconds)", name, text);
    return FALSE;
}

static gboolean
parse_group(const char *text, CrpStoreGroupBy *out)
{
    static const struct {
        const char *name;
        CrpStoreGroupBy group;
    } groups[] = {
        { "none", CRP_STORE_GROUP_NONE },
        { "user", CRP_STORE_GROUP_USER },
        { "app", CRP_STORE_GROUP_APP },
        { "user,app", CRP_STORE_GROUP_USER_APP },
        { "app,user", CRP_STORE_GROUP_USER_APP },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(groups); i++) {
        if (g_str_equal(text, groups[i].name)) {
            *out = groups[i].group;
            return TRUE;
        }
    }
    return FALSE;
}

/* usage's columns after the groups (user, app). */
static const CrpAdminColumn usage_columns[] = {
    { "sessions", "SESSIONS", CRP_ADMIN_COL_UINT, 0 },
    { "duration_s", "DURATION S", CRP_ADMIN_COL_UINT, 0 },
    { "vcpu_seconds", "VCPU S", CRP_ADMIN_COL_UINT, 0 },
    { "mib_seconds", "MIB S", CRP_ADMIN_COL_UINT, 0 },
    { "bytes_in", "BYTES IN", CRP_ADMIN_COL_UINT, 0 },
    { "bytes_out", "BYTES OUT", CRP_ADMIN_COL_UINT, 0 },
    { "frames", "FRAMES", CRP_ADMIN_COL_UINT, 0 },
};

int
crp_admin_cmd_usage(CrpAdmin *admin, int argc, char **argv)
{
    g_autofree char *user = NULL, *app = NULL, *from = NULL, *to = NULL;
    g_autofree char *by = NULL;
    const GOptionEntry entries[] = {
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "Only this user", "U" },
        { "app", 'a', 0, G_OPTION_ARG_STRING, &app, "Only this app", "A" },
        { "from", 0, 0, G_OPTION_ARG_STRING, &from,
          "Sessions started at or after DATE", "DATE" },
        { "to", 0, 0, G_OPTION_ARG_STRING, &to,
          "Sessions started before DATE (a whole day: up to its end)",
          "DATE" },
        { "by", 0, 0, G_OPTION_ARG_STRING, &by,
          "Group rows by user, app, user,app (default) or none", "GROUPS" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = NULL;
    g_autoptr(CrpAdminTable) table = NULL;
    CrpStoreUsageQuery query = { 0 };
    CrpAdminFormat format;
    CrpStore *store;
    int status;

    if (!crp_admin_parse_list(admin, entries,
                              "DATE is YYYY-MM-DD (UTC), an ISO 8601 time "
                              "(2025-01-31T12:00:00Z; UTC without a zone)\nor "
                              "Unix seconds. A session counts wholly in the "
                              "range it started in.\nDurations are seconds; "
                              "vcpu_seconds and mib_seconds are vCPUs and MiB "
                              "times seconds.", &argc, &argv, &format,
                              &status)) {
        return status;
    }
    query.group_by = CRP_STORE_GROUP_USER_APP;
    if (by && !parse_group(by, &query.group_by)) {
        return crp_admin_usage_error(admin, "--by: '%s' is not user, app, "
                                     "user,app or none", by);
    }
    if ((from && !parse_date(admin, "from", from, FALSE, &query.from,
                             &status)) ||
        (to && !parse_date(admin, "to", to, TRUE, &query.to, &status))) {
        return status;
    }
    if (query.from && query.to && query.from >= query.to) {
        return crp_admin_usage_error(admin, "--from must come before --to");
    }
    query.user = user;
    query.app = app;

    if (!(store = crp_admin_store(admin, &error)) ||
        !(rows = crp_store_usage_report(store, &query, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }

    gboolean by_user = query.group_by == CRP_STORE_GROUP_USER ||
                       query.group_by == CRP_STORE_GROUP_USER_APP;
    gboolean by_app = query.group_by == CRP_STORE_GROUP_APP ||
                      query.group_by == CRP_STORE_GROUP_USER_APP;
    table = crp_admin_table_new();
    if (by_user) {
        crp_admin_table_add_column(table, "user", "USER", CRP_ADMIN_COL_TEXT,
                                   0);
    }
    if (by_app) {
        crp_admin_table_add_column(table, "app", "APP", CRP_ADMIN_COL_TEXT, 0);
    }
    crp_admin_table_add_columns(table, usage_columns,
                                G_N_ELEMENTS(usage_columns));
    for (guint i = 0; i < rows->len; i++) {
        CrpStoreUsageRow *row = g_ptr_array_index(rows, i);

        crp_admin_table_add_row(table);
        if (by_user) {
            crp_admin_table_add_text(table, row->user);
        }
        if (by_app) {
            crp_admin_table_add_text(table, row->app);
        }
        crp_admin_table_add_uint(table, row->sessions);
        crp_admin_table_add_uint(table, row->duration_s);
        crp_admin_table_add_uint(table, row->vcpu_seconds);
        crp_admin_table_add_uint(table, row->mib_seconds);
        crp_admin_table_add_uint(table, row->bytes_in);
        crp_admin_table_add_uint(table, row->bytes_out);
        crp_admin_table_add_uint(table, row->frames);
    }
    if (format == CRP_ADMIN_FORMAT_TABLE) {
        g_autofree char *f = query.from ? crp_admin_format_time(query.from)
                                        : g_strdup("the beginning");
        g_autofree char *t = query.to ? crp_admin_format_time(query.to)
                                      : g_strdup("now");
        printf("Sessions started from %s to %s\n\n", f, t);
    }
    crp_admin_table_print(table, format, stdout);
    return CRP_ADMIN_EXIT_OK;
}
