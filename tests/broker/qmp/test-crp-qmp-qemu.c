/*
 * test-crp-qmp-qemu.c: the QMP client against a real QEMU with
 * -display crp (no guest: it sits in the firmware). Skipped unless
 * qemu-crp-display/build-qemu has written qemu-build.env ($CRP_CACHE,
 * default ~/.cache/crp).
 */
#include "crp-qmp-commands.h"
#include "qmp-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

/* KEY=VALUE lines of qemu-build.env, NULL if it does not exist. */
static GHashTable *
load_env(void)
{
    const char *cache = g_getenv("CRP_CACHE");
    g_autofree char *dir = cache ? g_strdup(cache)
                                 : g_build_filename(g_get_home_dir(), ".cache", "crp", NULL);
    g_autofree char *path = g_build_filename(dir, "qemu-build.env", NULL);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return NULL;
    }
    GHashTable *env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l);
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq) {
            continue;
        }
        *eq = '\0';
        char *value = g_shell_unquote(eq + 1, NULL);
        g_hash_table_insert(env, g_strdup(line), value ? value : g_strdup(eq + 1));
    }
    return env;
}

typedef struct {
    guint ready;
    GError *ready_error;
    guint closed;
    GError *closed_error;
    guint shutdown;
    guint calls;
    GError *error;
    CrpQmpCrpInfo *info;
    gboolean running;
    char *status;
    guint exited;
} Run;

static void
on_ready(CrpQmpClient *client, const GError *error, gpointer data)
{
    Run *run = data;
    run->ready++;
    run->ready_error = error ? g_error_copy(error) : NULL;
}

static void
on_closed(CrpQmpClient *client, const GError *error, gpointer data)
{
    Run *run = data;
    run->closed++;
    run->closed_error = g_error_copy(error);
}

static void
on_shutdown(CrpQmpClient *client, const CrpQmpMessage *event, gpointer data)
{
    Run *run = data;
    g_assert_cmpstr(json_object_get_string_member(event->data, "reason"), ==, "host-qmp-quit");
    g_assert_cmpint(event->seconds, >, 0);
    run->shutdown++;
}

static void
on_done(CrpQmpClient *client, const GError *error, gpointer data)
{
    Run *run = data;
    g_clear_error(&run->error);
    run->error = error ? g_error_copy(error) : NULL;
    run->calls++;
}

static void
on_reply(CrpQmpClient *client, JsonNode *result, const GError *error, gpointer data)
{
    on_done(client, error, data);
}

static void
on_status(CrpQmpClient *client, gboolean running, const char *status,
          const GError *error, gpointer data)
{
    Run *run = data;
    run->running = running;
    g_free(run->status);
    run->status = g_strdup(status);
    on_done(client, error, data);
}

static void
on_crp_info(CrpQmpClient *client, const CrpQmpCrpInfo *info, const GError *error,
            gpointer data)
{
    Run *run = data;
    g_assert_nonnull(info);
    run->info = g_new0(CrpQmpCrpInfo, 1);
    run->info->enabled = info->enabled;
    run->info->address = g_strdup(info->address);
    run->info->n_clients = info->n_clients;
    on_done(client, error, data);
}

static void
on_exited(GObject *source, GAsyncResult *result, gpointer data)
{
    Run *run = data;
    g_assert_true(g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL));
    run->exited = 1;
}

/* Runs the next command to completion. */
#define RUN(run, call) \
    do { \
        guint before_ = (run)->calls; \
        call; \
        qmp_test_run_until(&(run)->calls, before_ + 1, 20000); \
    } while (0)

static void
test_real_qemu(void)
{
    g_autoptr(GHashTable) env = load_env();
    if (!env) {
        g_test_skip("QEMU not built (no qemu-build.env): run qemu-crp-display/build-qemu");
        return;
    }
    const char *qemu = g_hash_table_lookup(env, "QEMU");
    const char *modules = g_hash_table_lookup(env, "QEMU_MODULE_DIR");
    const char *firmware = g_hash_table_lookup(env, "QEMU_FIRMWARE_DIRS");
    g_assert_nonnull(qemu);
    g_assert_nonnull(modules);
    g_assert_nonnull(firmware);

    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-qmp-qemu-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *qmp_path = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *crp_path = g_build_filename(dir, "crp.sock", NULL);
    g_autofree char *crp_addr = g_strconcat("unix:", crp_path, NULL);
    g_autofree char *display = g_strconcat("crp,addr=", crp_addr, NULL);
    g_autofree char *qmp_opt = g_strconcat("unix:", qmp_path, ",server=on,wait=off", NULL);

    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_auto(GStrv) fw_dirs = g_strsplit(firmware, ":", -1);
    g_ptr_array_add(argv, (char *)qemu);
    for (char **d = fw_dirs; *d; d++) {
        if (**d) {
            g_ptr_array_add(argv, "-L");
            g_ptr_array_add(argv, *d);
        }
    }
    const char *rest[] = { "-accel", "tcg", "-m", "64", "-nic", "none",
                           "-display", display, "-qmp", qmp_opt };
    for (gsize i = 0; i < G_N_ELEMENTS(rest); i++) {
        g_ptr_array_add(argv, (char *)rest[i]);
    }
    g_ptr_array_add(argv, NULL);

    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_setenv(launcher, "QEMU_MODULE_DIR", modules, TRUE);
    g_autoptr(GSubprocess) proc = g_subprocess_launcher_spawnv(launcher,
                                                               (const char *const *)argv->pdata,
                                                               &error);
    g_assert_no_error(error);

    Run run = { 0 };
    static const CrpQmpEventHandler events[] = { { "SHUTDOWN", on_shutdown } };
    CrpQmpClientConfig cfg = {
        .ready = on_ready, .closed = on_closed,
        .events = events, .n_events = G_N_ELEMENTS(events),
        /* QEMU creates the socket a moment after it starts. */
        .connect_timeout_ms = 30000, .command_timeout_ms = 20000,
        .user_data = &run,
    };
    g_subprocess_wait_async(proc, NULL, on_exited, &run);
    CrpQmpClient *client = crp_qmp_client_connect(qmp_path, &cfg);
    qmp_test_run_until(&run.ready, 1, 40000);
    g_assert_no_error(run.ready_error);
    guint major, minor, micro;
    crp_qmp_client_get_version(client, &major, &minor, &micro);
    g_assert_cmpuint(major, >=, 10);

    RUN(&run, crp_qmp_query_crp(client, on_crp_info, &run));
    g_assert_no_error(run.error);
    g_assert_true(run.info->enabled);
    g_assert_cmpstr(run.info->address, ==, crp_addr);
    g_assert_cmpuint(run.info->n_clients, ==, 0);

    RUN(&run, crp_qmp_query_status(client, on_status, &run));
    g_assert_no_error(run.error);
    g_assert_true(run.running);
    g_assert_cmpstr(run.status, ==, "running");

    RUN(&run, crp_qmp_crp_set_ticket(client, "9f86d081884c7d659a2feaa0c55ad015", 60, CRP_QMP_TICKET_CONNECTED_KEEP,
                                     on_done, &run));
    g_assert_no_error(run.error);
    RUN(&run, crp_qmp_crp_set_ticket(client, "", 0, CRP_QMP_TICKET_CONNECTED_DEFAULT,
                                     on_done, &run));
    g_assert_error(run.error, CRP_QMP_ERROR, CRP_QMP_ERROR_GENERIC);
    RUN(&run, crp_qmp_crp_disconnect(client, 99, on_done, &run));
    g_assert_error(run.error, CRP_QMP_ERROR, CRP_QMP_ERROR_GENERIC);
    /* QEMU has no query-pid: the broker knows the pid from spawning it. */
    RUN(&run, crp_qmp_client_execute(client, "query-pid", NULL, on_reply, &run));
    g_assert_error(run.error, CRP_QMP_ERROR, CRP_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_true(crp_qmp_client_is_ready(client));

    /* quit: the reply, then QEMU closes the connection and exits. */
    RUN(&run, crp_qmp_quit(client, on_done, &run));
    g_assert_no_error(run.error);
    qmp_test_run_until(&run.closed, 1, 20000);
    g_assert_error(run.closed_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_assert_cmpuint(run.shutdown, ==, 1);
    qmp_test_run_until(&run.exited, 1, 20000);
    g_assert_true(g_subprocess_get_if_exited(proc));
    g_assert_cmpint(g_subprocess_get_exit_status(proc), ==, 0);

    crp_qmp_client_destroy(client);
    g_clear_error(&run.ready_error);
    g_clear_error(&run.closed_error);
    g_clear_error(&run.error);
    g_free(run.status);
    crp_qmp_crp_info_free(run.info);
    g_unlink(qmp_path);
    g_unlink(crp_path);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-qemu/real-qemu", test_real_qemu);
    return g_test_run();
}
