/*
 * broker-vm-files.c: a session's runtime dir, overlay, logs and QEMU
 * command line. See broker-vm-files.h for the layout.
 */
#define _GNU_SOURCE             /* SEEK_DATA, SEEK_HOLE */
#include "broker-vm-files.h"
#include "broker-user-storage.h"
#include "crp-files-area.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
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
    char *console_socket;
    char *heartbeat;
    char *logs_dir;
    char *overlay;                  /* NULL: the app has no disk */
    gboolean overlay_persistent;
    guint64 overlay_cap;            /* QEMU's hard limit on it; 0: none */
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
    f->console_socket = g_build_filename(f->runtime_dir, "console.sock", NULL);
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
    g_free(f->console_socket);
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

const char *
broker_vm_files_console_socket(BrokerVmFiles *f)
{
    return f->console_socket;
}

const char *
broker_vm_files_runtime_dir(BrokerVmFiles *f)
{
    return f->runtime_dir;
}

gboolean
broker_vm_files_overlay_capped(BrokerVmFiles *f)
{
    return f->overlay_cap > 0;
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

/* The fd QEMU finds the console's listening socket on. */
#define CONSOLE_FD 3

/* An optional part of QEMU the broker uses when it is there. */
typedef struct {
    const char *help;       /* the -OPTION whose "help" lists it */
    const char *needle;     /* in that list */
    const char *event;      /* logged once per QEMU binary without it */
    const char *reason;
} QemuFeature;

/* The qemu-vdagent chardev (built only with spice-protocol): without it,
 * an app's VMs run without the clipboard. */
static const QemuFeature qemu_vdagent = {
    "-chardev", "qemu-vdagent", "clipboard-unavailable",
    "no qemu-vdagent chardev (QEMU built without spice-protocol)",
};
/* virtio-9p-pci (built only with --enable-virtfs): without it, VMs run
 * without My files. */
static const QemuFeature qemu_virtfs = {
    "-device", "\"virtio-9p-pci\"", "files-unavailable",
    "no virtio-9p-pci (QEMU built without virtfs)",
};

/*
 * Whether @qemu has @feature. Asked once per QEMU binary and feature; a
 * QEMU without it runs VMs without what it serves, said once in the log,
 * rather than not at all.
 */
static gboolean
qemu_has(const char *qemu, const QemuFeature *feature)
{
    static GHashTable *known;   /* "FEATURE QEMU" -> GINT_TO_POINTER(1 + has) */
    const char *argv[] = { qemu, feature->help, "help", NULL };
    g_autofree char *key = g_strdup_printf("%s %s", feature->event, qemu);
    g_autofree char *out = NULL;
    gpointer seen;
    gboolean has;

    if (!known) {
        known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    if ((seen = g_hash_table_lookup(known, key))) {
        return GPOINTER_TO_INT(seen) - 1;
    }
    has = g_spawn_sync(NULL, (char **)argv, NULL,
                       G_SPAWN_STDIN_FROM_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, &out, NULL, NULL, NULL) &&
          out && strstr(out, feature->needle);
    if (!has) {
        broker_warning("event=%s qemu=%s reason=\"%s\"", feature->event, qemu,
                       feature->reason);
    }
    g_hash_table_insert(known, g_steal_pointer(&key),
                        GINT_TO_POINTER(1 + has));
    return has;
}

/* A comma in a QEMU option value is written twice. */
static char *
qemu_option_value(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    return g_strjoinv(",,", parts);
}

static GPtrArray *
qemu_argv(BrokerVmFiles *f, GHashTable *env, const CrpStoreApp *app,
          const char *accel, const char *my_files, GError **error)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    const char *firmware = g_hash_table_lookup(env, "QEMU_FIRMWARE_DIRS");
    g_auto(GStrv) extra = NULL;
    g_auto(GStrv) accel_args = crp_broker_config_accel_args(accel, error);

    if (!accel_args) {
        g_prefix_error(error, "app %s: accel: ", app->name);
        g_ptr_array_unref(argv);
        return NULL;
    }

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
    for (guint i = 0; accel_args[i]; i++) {
        ADD("%s", accel_args[i]);
    }
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
    if (app->clipboard &&
        qemu_has(g_hash_table_lookup(env, "QEMU"), &qemu_vdagent)) {
        /* QEMU's clipboard agent, on the port a guest's spice-vdagent
         * (the test guest's crp-vdagent) opens; the display's clipboard
         * peer meets it in QEMU's clipboard. Pointer events keep going to
         * the tablet, not through the agent. */
        ADD("-chardev");
        ADD("qemu-vdagent,id=crp-vdagent,clipboard=on,mouse=off");
        ADD("-device");
        ADD("virtio-serial-pci,id=crp-virtio-serial");
        ADD("-device");
        ADD("virtserialport,bus=crp-virtio-serial.0,chardev=crp-vdagent,"
            "name=com.redhat.spice.0");
    }
    if (my_files) {
        /* The user's My files (crp-files-area.h). mapped-xattr: what the
         * guest makes (owners, modes, links, devices) is kept in extended
         * attributes of plain files, so the host never sees a guest's
         * symbolic link or device node as one. */
        g_autofree char *dir = qemu_option_value(my_files);
        ADD("-fsdev");
        ADD("local,id=crp-files,path=%s,security_model=mapped-xattr", dir);
        ADD("-device");
        ADD("virtio-9p-pci,fsdev=crp-files,mount_tag=" BROKER_VM_FILES_TAG);
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
        /* file -> raw (the cap) -> qcow2 -> virtio-blk. Node names of our
         * own: the write threshold is set on the file's node, whose
         * offsets grow with it (the qcow2 node's are the guest's). A write
         * beyond the raw node's size fails with ENOSPC, and werror=enospc
         * stops the guest: QEMU itself keeps the overlay under the cap. */
        g_autofree char *cap = f->overlay_cap
            ? g_strdup_printf(",size=%" G_GUINT64_FORMAT, f->overlay_cap)
            : g_strdup("");
        g_autofree char *filename = qemu_option_value(f->overlay);
        ADD("-blockdev");
        ADD("driver=file,filename=%s,node-name=" BROKER_VM_OVERLAY_NODE,
            filename);
        ADD("-blockdev");
        ADD("driver=raw,file=" BROKER_VM_OVERLAY_NODE "%s,"
            "node-name=crp-overlay-cap", cap);
        ADD("-blockdev");
        ADD("driver=qcow2,file=crp-overlay-cap,node-name="
            BROKER_VM_OVERLAY_DISK_NODE);
        ADD("-device");
        ADD("virtio-blk-pci,drive=" BROKER_VM_OVERLAY_DISK_NODE
            ",werror=enospc");
    }
    /* The serial console: a socket the broker reads (broker-vm-console.h),
     * never a file QEMU writes without limit. */
    ADD("-chardev");
    ADD("socket,id=crp-console,fd=%d,server=on,wait=off", CONSOLE_FD);
    ADD("-serial");
    ADD("chardev:crp-console");
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

/*
 * The overlay's hard cap: what the user's quota leaves it now. QEMU's raw
 * driver only caps within the file's length, so the file is extended
 * (sparse: no blocks, nothing against the quota) to the cap; release()
 * trims that tail again.
 */
static gboolean
cap_overlay(BrokerVmFiles *f, BrokerServer *server, const char *user,
            GError **error)
{
    guint64 used, allowed;
    GStatBuf st;

    if (!broker_vm_files_overlay_room(f, server, user, &used, &allowed) ||
        g_stat(f->overlay, &st) < 0) {
        return TRUE;
    }
    /* A launch is refused at the quota, so the overlay is below it; a
     * file longer than that (not trimmed after a crash) keeps its length. */
    f->overlay_cap = MAX(allowed & ~G_GUINT64_CONSTANT(511),
                         (guint64)st.st_size);
    if ((guint64)st.st_size < f->overlay_cap &&
        truncate(f->overlay, (off_t)f->overlay_cap) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot extend %s: %s", f->overlay, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

/* Cuts the file after its last data: the sparse tail cap_overlay() added
 * (qcow2 never leaves a hole at its end otherwise: discard is off). */
static void
trim_overlay(const char *path)
{
    int fd = g_open(path, O_RDWR | O_CLOEXEC, 0);
    off_t pos = 0, data, end = 0, size;

    if (fd < 0) {
        return;
    }
    size = lseek(fd, 0, SEEK_END);
    while ((data = lseek(fd, pos, SEEK_DATA)) >= 0) {
        end = lseek(fd, data, SEEK_HOLE);
        if (end <= data) {
            break;
        }
        pos = end;
    }
    end = (end + 511) & ~(off_t)511;
    if (size > 0 && end < size && ftruncate(fd, end) < 0) {
        broker_warning("event=cleanup-failed path=%s error=\"%s\"", path,
                       g_strerror(errno));
    }
    close(fd);
}

/*
 * The console's socket, listening, with our own connection already queued
 * on it: QEMU gets the listening socket (so that a broker that restarts
 * can connect again by its path) and accepts us as soon as it runs, so no
 * byte the guest writes from its first is lost. Returns the listening fd
 * and our end in @client, or -1.
 */
static int
console_socket(BrokerVmFiles *f, int *client, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    /* As long as the display socket's path, which was checked. */
    g_strlcpy(addr.sun_path, f->console_socket, sizeof(addr.sun_path));
    g_unlink(f->console_socket);
    if (lfd < 0 || cfd < 0 ||
        bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 1) < 0 ||
        connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                    "cannot set up the console socket %s: %s",
                    f->console_socket, g_strerror(e));
        if (lfd >= 0) {
            close(lfd);
        }
        if (cfd >= 0) {
            close(cfd);
        }
        return -1;
    }
    *client = cfd;
    return lfd;
}

gboolean
broker_vm_files_spawn(BrokerVmFiles *f, BrokerServer *server,
                      const CrpStoreSession *session, const CrpStoreApp *app,
                      GPid *pid, int *console_fd, GError **error)
{
    g_autoptr(GHashTable) env = crp_broker_config_read_qemu_env(server->config,
                                                                error);
    g_autoptr(GPtrArray) argv = NULL;
    g_autoptr(CrpFilesArea) area = NULL;
    g_auto(GStrv) envp = NULL;
    g_autofree char *log = NULL;
    int log_fd, listen_fd, client_fd = -1;
    gboolean ok;

    if (!env) {
        return FALSE;
    }
    if (!g_hash_table_lookup(env, "QEMU")) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "%s names no QEMU", server->config->qemu_env_file);
        return FALSE;
    }
    if (!cap_overlay(f, server, session->user, error)) {
        return FALSE;
    }
    if (app->files &&
        qemu_has(g_hash_table_lookup(env, "QEMU"), &qemu_virtfs)) {
        area = crp_files_area_open(server->config->files_dir, session->user,
                                   error);
        if (!area) {
            return FALSE;
        }
    }
    argv = qemu_argv(f, env, app,
                     app->accel ? app->accel : server->config->accel,
                     area ? crp_files_area_dir(area) : NULL, error);
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
    listen_fd = console_socket(f, &client_fd, error);
    if (listen_fd < 0) {
        close(log_fd);
        return FALSE;
    }
    const int source_fds[] = { listen_fd };
    const int target_fds[] = { CONSOLE_FD };
    ok = g_spawn_async_with_pipes_and_fds(
        f->runtime_dir, (const char *const *)argv->pdata,
        (const char *const *)envp,
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
        child_setup, NULL, -1, log_fd, log_fd, source_fds, target_fds, 1, pid,
        NULL, NULL, NULL, error);
    close(log_fd);
    close(listen_fd);
    if (!ok) {
        close(client_fd);
        g_prefix_error(error, "cannot start QEMU: ");
        return FALSE;
    }
    if (!crp_store_session_set_pid(server->store, session->id, *pid, error)) {
        /* Unaccounted for after a restart: not worth running. */
        close(client_fd);
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        g_spawn_close_pid(*pid);
        return FALSE;
    }
    *console_fd = client_fd;
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

gboolean
broker_vm_files_overlay_room(BrokerVmFiles *f, BrokerServer *server,
                             const char *user, guint64 *size,
                             guint64 *allowed)
{
    guint64 quota = server->config->user_quota_mib << 20;
    guint64 others = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) overlays = NULL;

    if (!f->overlay || !quota) {
        return FALSE;
    }
    broker_vm_files_refresh_usage(server, user);
    overlays = crp_store_overlay_list(server->store, user, &error);
    for (guint i = 0; overlays && i < overlays->len; i++) {
        const CrpStoreOverlay *o = g_ptr_array_index(overlays, i);
        if (!g_str_equal(o->path, f->overlay)) {
            others += o->bytes;
        }
    }
    if (!overlays) {
        broker_warning("event=store-error request=overlay-room user=%s "
                       "error=\"%s\"", user, error->message);
    }
    /* My files share the quota: what the user keeps there is room the
     * overlay does not have. */
    others += broker_user_storage_files(server->config, user);
    *size = file_bytes(f->overlay);
    *allowed = others >= quota ? 0 : quota - others;
    return TRUE;
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
        "qmp.sock", "display.sock", "console.sock", "heartbeat",
    };
    g_autoptr(GError) error = NULL;

    if (!f) {
        return;
    }
    keep_log(f, "qemu.log");
    keep_log(f, "console.log");
    keep_log(f, "console.log.1");
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
        trim_overlay(f->overlay);
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
