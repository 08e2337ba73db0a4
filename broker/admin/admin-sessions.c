/*
 * admin-sessions.c: crp-admin session list|terminate.
 *
 * The contract with the broker daemon for terminate: crp-admin does not
 * touch the VM. It moves the session to CLOSING in the store, and the
 * broker, which watches for sessions in that state (polling the store, at
 * least every few seconds, and at start-up), closes them the way it closes
 * any session: system_powerdown, [sessions] shutdown-grace-s, quit, kill;
 * then it records usage (crp_store_session_close()) and releases the
 * pools. A session stays CLOSING in the store until the broker has done so.
 */
#include "admin.h"

static const char *
state_name(CrpStoreSessionState state)
{
    switch (state) {
    case CRP_STORE_SESSION_STARTING:
        return "starting";
    case CRP_STORE_SESSION_RUNNING:
        return "running";
    case CRP_STORE_SESSION_CLOSING:
        return "closing";
    case CRP_STORE_SESSION_CLOSED:
        return "closed";
    }
    return NULL;
}

int
crp_admin_cmd_session_list(CrpAdmin *admin, int argc, char **argv)
{
    gboolean all = FALSE;
    g_autofree char *user = NULL;
    const GOptionEntry entries[] = {
        { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
          "Include ended sessions", NULL },
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user,
          "Only this user's sessions", "U" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) sessions = NULL;
    g_autoptr(CrpAdminTable) table = NULL;
    CrpAdminFormat format;
    CrpStore *store;
    int status;

    if (!crp_admin_parse_list(admin, entries, NULL, &argc, &argv, &format,
                              &status)) {
        return status;
    }
    if (!(store = crp_admin_store(admin, &error)) ||
        !(sessions = crp_store_session_list(
              store, user,
              all ? CRP_STORE_SESSIONS_ALL : CRP_STORE_SESSIONS_LIVE,
              &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    /* ENDED is worth a column for people only with --all. */
    const CrpAdminColumn columns[] = {
        { "id", "SESSION", CRP_ADMIN_COL_TEXT, 0 },
        { "user", "USER", CRP_ADMIN_COL_TEXT, 0 },
        { "app", "APP", CRP_ADMIN_COL_TEXT, 0 },
        { "state", "STATE", CRP_ADMIN_COL_TEXT, 0 },
        { "started", "STARTED", CRP_ADMIN_COL_TIME, 0 },
        { "ended", "ENDED", CRP_ADMIN_COL_TIME,
          all ? 0 : CRP_ADMIN_COL_MACHINE },
        { "vcpus", "VCPUS", CRP_ADMIN_COL_UINT, 0 },
        { "memory_mib", "MEMORY MIB", CRP_ADMIN_COL_UINT, 0 },
        { "qemu_pid", "PID", CRP_ADMIN_COL_UINT, 0 },
        { "bytes_in", "BYTES IN", CRP_ADMIN_COL_UINT, CRP_ADMIN_COL_MACHINE },
        { "bytes_out", "BYTES OUT", CRP_ADMIN_COL_UINT, CRP_ADMIN_COL_MACHINE },
        { "frames", "FRAMES", CRP_ADMIN_COL_UINT, CRP_ADMIN_COL_MACHINE },
        { "runtime_dir", "RUNTIME DIR", CRP_ADMIN_COL_TEXT,
          CRP_ADMIN_COL_MACHINE },
        { "overlay", "OVERLAY", CRP_ADMIN_COL_TEXT, CRP_ADMIN_COL_MACHINE },
    };
    table = crp_admin_table_new();
    crp_admin_table_add_columns(table, columns, G_N_ELEMENTS(columns));
    for (guint i = 0; i < sessions->len; i++) {
        CrpStoreSession *s = g_ptr_array_index(sessions, i);

        crp_admin_table_add_row(table);
        crp_admin_table_add_text(table, s->id);
        crp_admin_table_add_text(table, s->user);
        crp_admin_table_add_text(table, s->app);
        crp_admin_table_add_text(table, state_name(s->state));
        crp_admin_table_add_time(table, s->started);
        crp_admin_table_add_time(table, s->ended);
        crp_admin_table_add_uint(table, s->vcpus);
        crp_admin_table_add_uint(table, s->memory_mib);
        if (s->qemu_pid > 0) {
            crp_admin_table_add_uint(table, (guint64)s->qemu_pid);
        } else {
            crp_admin_table_add_null(table);
        }
        crp_admin_table_add_uint(table, s->bytes_in);
        crp_admin_table_add_uint(table, s->bytes_out);
        crp_admin_table_add_uint(table, s->frames);
        crp_admin_table_add_text(table, s->runtime_dir);
        crp_admin_table_add_text(table, s->overlay);
    }
    crp_admin_table_print(table, format, stdout);
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_session_terminate(CrpAdmin *admin, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStoreSession) session = NULL;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, NULL,
                         "Marks the session 'closing'. The broker watches for "
                         "such sessions and shuts\ntheir VM down "
                         "(system_powerdown, grace period, quit, kill), "
                         "records usage\nand releases the pools; the VM may "
                         "take up to [sessions] shutdown-grace-s\nto stop.",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    const char *id = argv[1];
    if (!(store = crp_admin_store(admin, &error)) ||
        !(session = crp_store_session_get(store, id, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    switch (session->state) {
    case CRP_STORE_SESSION_CLOSED:
        printf("session %s has already ended\n", id);
        return CRP_ADMIN_EXIT_OK;
    case CRP_STORE_SESSION_CLOSING:
        printf("session %s is already closing\n", id);
        return CRP_ADMIN_EXIT_OK;
    default:
        break;
    }
    if (!crp_store_session_set_state(store, id, CRP_STORE_SESSION_CLOSING,
                                     &error)) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    printf("session %s (user %s, app %s) marked closing; the broker will shut "
           "its VM down\nand record its usage\n", id, session->user,
           session->app);
    return CRP_ADMIN_EXIT_OK;
}
