/*
 * broker-vm-files.c: a session's runtime dir, overlay, logs and QEMU
 * command line. See broker-vm-files.h for the layout.
 */
#include "broker-vm-files.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

struct BrokerVmFiles {
    char *session_id;
    char *runtime_dir;
    char *qmp_socket;
    char *display_socket;
    char *heartbeat;
    char *logs_dir;
    char *overlay;                  /* NULL: the app has no disk */
    gboolean overlay_persistent;
};

static BrokerVmFiles *
files_new(BrokerServer *server, const char *session_id)
{
    BrokerVmFiles *f = g_new0(BrokerVmFiles, 1);

    f->session_id = g_strdup(session_id);
    f->runtime_dir = g_build_filename(server->config->state_dir, "run",
                                      session_id, NULL);
    f->qmp_socket = g_build_filename(f->runtime_dir, "qmp.sock", NULL);
    f->display_socket = g_build_filename(f->runtime_dir, "display.sock", NULL);
    f->heartbeat = g_build_filename(f->runtime_dir, "heartbeat", NULL);
    f->logs_dir = g_build_filename(server->config->state_dir, "logs", NULL);
    return f;
}

void
broker_vm_files_free(BrokerVmFiles *f)
{
    if (!f) {
        return;
    }
    g_free(f->session_id);
    g_free(f->runtime_dir);
    g_free(f->qmp_socket);
    g_free(f->display_socket);
    g_free(f->heartbeat);
    g_free(f->logs_dir);
    g_free(f->overlay);
    g_free(f);
}

const char *
broker_vm_files_qmp_socket(BrokerVmFiles *f)
{
    return f->qmp_socket;
}

const char *
broker_vm_files_display_socket(BrokerVmFiles *f)
{
    return f->display_socket;
}

static gboolean
mkdir_private(const char *path, GError **error)
{
    if (g_mkdir_with_parents(path, 0700) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create %s: %s", path, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

/* qemu-img create -f qcow2 -b BASE -F FORMAT OVERLAY */
static gboolean
create_overlay(BrokerServer *server, const char *base, const char *overlay,
               GError **error)
{
    g_autoptr(GHashTable) env = crp_broker_config_read_qemu_env(server->config,
                                                                error);
    const char *qemu_img = env ? g_hash_table_lookup(env, "QEMU_IMG") : NULL;
    /* The base's format from its name: qcow2 images say so, anything
     * else is taken as raw (never probed: probing a guest-written image
     * is how format confusion attacks work). */
    const char *format = g_str_has_suffix(base, ".qcow2") ? "qcow2" : "raw";
    g_autofree char *out = NULL;
    int status = 0;

    if (!env) {
        return FALSE;
    }
    if (!qemu_img) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "%s names no QEMU_IMG", server->config->qemu_env_file);
        return FALSE;
    }
    const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2", "-b", base,
                           "-F", format, overlay, NULL };
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL,
                      NULL, NULL, NULL, &out, &status, error)) {
        return FALSE;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                    "qemu-img create %s failed: %s", overlay,
                    out ? g_strstrip(out) : "");
        return FALSE;
    }
    return TRUE;
}

static guint64
file_bytes(const char *path)
{
    GStatBuf st;

    /* Allocated bytes: what the file really takes from the quota. */
    return g_stat(path, &st) == 0 ? (guint64)st.st_blocks * 512 : 0;
}

static gboolean
prepare_overlay(BrokerVmFiles *f, BrokerServer *server,
                const CrpStoreSession *session, const CrpStoreApp *app,
                GError **error)
{
    g_autofree char *dir = g_build_filename(server->config->overlays_dir,
                                            session->user, NULL);
    g_autofree char *name = g_strdup_printf(
        "%s.qcow2", app->persistent_storage ? app->name : session->id);

    if (!mkdir_private(dir, error)) {
        return FALSE;
    }
    f->overlay = g_build_filename(dir, name, NULL);
    f->overlay_persistent = app->persistent_storage;
    if (!(app->persistent_storage &&
          g_file_test(f->overlay, G_FILE_TEST_IS_REGULAR)) &&
        !create_overlay(server, app->disk, f->overlay, error)) {
        g_clear_pointer(&f->overlay, g_free);
        return FALSE;
    }
    return crp_store_overlay_set(server->store, f->overlay, session->user,
                                 app->name, file_bytes(f->overlay), error);
}

BrokerVmFiles *
broker_vm_files_prepare(BrokerServer *server, const CrpStoreSession *session,
                        const CrpStoreApp *app, GError **error)
{
    BrokerVmFiles *f = files_new(server, session->id);

    if (strlen(f->display_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                    "the state directory %s is too deep for unix socket "
                    "paths (%zu bytes, at most %zu)", server->config->state_dir,
                    strlen(f->display_socket),
                    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    } else if (mkdir_private(f->runtime_dir, error) &&
               mkdir_private(f->logs_dir, error) &&
               (!app->disk || prepare_overlay(f, server, session, app, error)) &&
               crp_store_session_set_paths(server->store, session->id,
                                           f->runtime_dir, f->qmp_socket,
                                           f->display_socket, f->overlay,
                                           error)) {
        return f;
    }
    broker_vm_files_release(f, server->store, session->user, app->name);
    broker_vm_files_free(f);
    return NULL;
}

BrokerVmFiles *
broker_vm_files_reopen(BrokerServer *server, const CrpStoreSession *session)
{
    BrokerVmFiles *f = files_new(server, session->id);

    if (session->overlay) {
        g_autofree char *base = g_path_get_basename(session->overlay);
        g_autofree char *mine = g_strdup_printf("%s.qcow2", session->id);
        f->overlay = g_strdup(session->overlay);
        f->overlay_persistent = !g_str_equal(base, mine);
    }
    return f;
}

static void
child_setup(gpointer data)
{
    /* Its own session: the broker's terminal or service stopping does not
     * signal the VMs, which outlive a broker restart. */
    setsid();
}

static GPtrArray *
qemu_argv(BrokerVmFiles *f, GHashTable *env, const CrpStoreApp *app,
          GError **error)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    const char *firmware = g_hash_table_lookup(env, "QEMU_FIRMWARE_DIRS");
    g_auto(GStrv) extra = NULL;

#define ADD(...) g_ptr_array_add(argv, g_strdup_printf(__VA_ARGS__))
    ADD("%s", (const char *)g_hash_table_lookup(env, "QEMU"));
    if (firmware) {
        g_auto(GStrv) dirs = g_strsplit(firmware, ":", -1);
        for (guint i = 0; dirs[i]; i++) {
            if (*dirs[i]) {
                ADD("-L");
                ADD("%s", dirs[i]);
            }
        }
    }
    ADD("-name");
    ADD("crp-%s", f->session_id);
    ADD("-m");
    ADD("%u", app->memory_mib);
    ADD("-smp");
    ADD("%u", app->vcpus);
    ADD("-display");
    ADD("crp,addr=unix:%s%s", f->display_socket, app->audio ? ",audiodev=snd0" : "");
    ADD("-qmp");
    ADD("unix:%s,server=on,wait=off", f->qmp_socket);
    /* No default NIC (its option ROM is not packaged here); an app that
     * wants networking names its own -nic / -netdev in its options. */
    ADD("-nic");
    ADD("none");
    ADD("-device");
    ADD("virtio-tablet-pci");
    if (app->audio) {
        ADD("-audiodev");
        ADD("crp,id=snd0");
        ADD("-device");
        ADD("intel-hda");
        ADD("-device");
        ADD("hda-duplex,audiodev=snd0");
    }
    if (app->kernel) {
        ADD("-kernel");
        ADD("%s", app->kernel);
    }
    if (app->initrd) {
        ADD("-initrd");
        ADD("%s", app->initrd);
    }
    if (f->overlay) {
        ADD("-drive");
        ADD("file=%s,format=qcow2,if=virtio", f->overlay);
    }
    ADD("-serial");
    ADD("file:%s/console.log", f->runtime_dir);
#undef ADD
    if (app->qemu_options && *app->qemu_options &&
        !g_shell_parse_argv(app->qemu_options, NULL, &extra, error)) {
        g_prefix_error(error, "app %s: its QEMU options: ", app->name);
        g_ptr_array_unref(argv);
        return NULL;
    }
    for (guint i = 0; extra && extra[i]; i++) {
        g_ptr_array_add(argv, g_strdup(extra[i]));
    }
    g_ptr_array_add(argv, NULL);
    return argv;
}

gboolean
broker_vm_files_spawn(BrokerVmFiles *f, BrokerServer *server,
                      const CrpStoreSession *session, const CrpStoreApp *app,
                      GPid *pid, GError **error)
{
    g_autoptr(GHashTable) env = crp_broker_config_read_qemu_env(server->config,
                                                                error);
    g_autoptr(GPtrArray) argv = NULL;
    g_auto(GStrv) envp = NULL;
    g_autofree char *log = NULL;
    int log_fd;
    gboolean ok;

    if (!env) {
        return FALSE;
    }
    if (!g_hash_table_lookup(env, "QEMU")) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "%s names no QEMU", server->config->qemu_env_file);
        return FALSE;
    }
    argv = qemu_argv(f, env, app, error);
    if (!argv) {
        return FALSE;
    }
    envp = g_get_environ();
    if (g_hash_table_lookup(env, "QEMU_MODULE_DIR")) {
        envp = g_environ_setenv(envp, "QEMU_MODULE_DIR",
                                g_hash_table_lookup(env, "QEMU_MODULE_DIR"),
                                TRUE);
    }
    log = g_build_filename(f->runtime_dir, "qemu.log", NULL);
    log_fd = g_open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create %s: %s", log, g_strerror(e));
        return FALSE;
    }
    ok = g_spawn_async_with_pipes_and_fds(
        f->runtime_dir, (const char *const *)argv->pdata,
        (const char *const *)envp,
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
        child_setup, NULL, -1, log_fd, log_fd, NULL, NULL, 0, pid, NULL, NULL,
        NULL, error);
    close(log_fd);
    if (!ok) {
        g_prefix_error(error, "cannot start QEMU: ");
        return FALSE;
    }
    if (!crp_store_session_set_pid(server->store, session->id, *pid, error)) {
        /* Unaccounted for after a restart: not worth running. */
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        g_spawn_close_pid(*pid);
        return FALSE;
    }
    return TRUE;
}

gboolean
broker_vm_files_owns_process(BrokerVmFiles *f, GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *cmdline = NULL;
    gsize len;

    if (!g_file_get_contents(path, &cmdline, &len, NULL)) {
        return FALSE;
    }
    /* Arguments are NUL-separated: look for ours among them. */
    g_autofree char *want = g_strdup_printf("unix:%s,server=on,wait=off",
                                            f->qmp_socket);
    for (gsize i = 0; i < len; i += strlen(cmdline + i) + 1) {
        if (g_str_equal(cmdline + i, want)) {
            return TRUE;
        }
    }
    return FALSE;
}

void
broker_vm_files_heartbeat(BrokerVmFiles *f)
{
    int fd = g_open(f->heartbeat, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
}

gint64
broker_vm_files_last_seen(BrokerVmFiles *f)
{
    GStatBuf st;

    return g_stat(f->heartbeat, &st) == 0 ? (gint64)st.st_mtime : 0;
}

void
broker_vm_files_refresh_usage(BrokerServer *server, const char *user)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) overlays = crp_store_overlay_list(server->store, user,
                                                           &error);

    for (guint i = 0; overlays && i < overlays->len; i++) {
        const CrpStoreOverlay *o = g_ptr_array_index(overlays, i);
        guint64 bytes = file_bytes(o->path);

        if (bytes != o->bytes &&
            !crp_store_overlay_set(server->store, o->path, o->user, o->app,
                                   bytes, &error)) {
            break;
        }
    }
    if (error) {
        broker_warning("event=store-error request=overlay-sizes user=%s "
                       "error=\"%s\"", user, error->message);
    }
}

/* Keeps @name of the runtime dir as STATE/logs/SESSION-NAME. */
static void
keep_log(BrokerVmFiles *f, const char *name)
{
    g_autofree char *from = g_build_filename(f->runtime_dir, name, NULL);
    g_autofree char *base = g_strdup_printf("%s-%s", f->session_id, name);
    g_autofree char *to = g_build_filename(f->logs_dir, base, NULL);

    if (g_file_test(from, G_FILE_TEST_EXISTS) &&
        g_mkdir_with_parents(f->logs_dir, 0700) == 0) {
        g_rename(from, to);
    }
}

void
broker_vm_files_release(BrokerVmFiles *f, CrpStore *store, const char *user,
                        const char *app)
{
    static const char *const runtime_files[] = {
        "qmp.sock", "display.sock", "heartbeat",
    };
    g_autoptr(GError) error = NULL;

    if (!f) {
        return;
    }
    keep_log(f, "qemu.log");
    keep_log(f, "console.log");
    for (guint i = 0; i < G_N_ELEMENTS(runtime_files); i++) {
        g_autofree char *p = g_build_filename(f->runtime_dir, runtime_files[i],
                                              NULL);
        g_unlink(p);
    }
    if (g_file_test(f->runtime_dir, G_FILE_TEST_IS_DIR) &&
        g_rmdir(f->runtime_dir) < 0) {
        broker_warning("event=cleanup-failed session=%s path=%s error=\"%s\"",
                       f->session_id, f->runtime_dir, g_strerror(errno));
    }
    if (!f->overlay) {
        return;
    }
    if (f->overlay_persistent) {
        if (!crp_store_overlay_set(store, f->overlay, user, app,
                                   file_bytes(f->overlay), &error)) {
            broker_warning("event=store-error session=%s error=\"%s\"",
                           f->session_id, error->message);
        }
        return;
    }
    if (g_unlink(f->overlay) < 0 && errno != ENOENT) {
        broker_warning("event=cleanup-failed session=%s path=%s error=\"%s\"",
                       f->session_id, f->overlay, g_strerror(errno));
    }
    if (!crp_store_overlay_remove(store, f->overlay, &error) &&
        !g_error_matches(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND)) {
        broker_warning("event=store-error session=%s error=\"%s\"",
                       f->session_id, error->message);
    }
}
