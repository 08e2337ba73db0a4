/*
 * broker-vm.c: one session's QEMU, from spawn (or adoption) to its end.
 * See broker-vm.h for the lifecycle. Process handling and the QMP side
 * live here; the files a VM needs (runtime dir, overlay, command line)
 * are broker-vm-files.c's.
 */
#include "broker-vm.h"
#include "broker-logs.h"
#include "broker-vm-console.h"
#include "broker-vm-files.h"
#include "crp-qmp-commands.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sodium.h>
#include <glib/gstdio.h>

/* How often a running VM's counters and clients are read. */
#define VM_POLL_MS 2000
/* QMP: time for QEMU to create its socket and greet; per command. */
#define VM_QMP_CONNECT_MS 30000
#define VM_QMP_COMMAND_MS 10000
/* After quit, how long QEMU gets before SIGKILL. */
#define VM_QUIT_WAIT_MS 5000
/* Adopted QEMUs are not our children: how often we look for them. */
#define VM_PID_POLL_MS 500
/* The overlay's write threshold moves up in steps of at least this (and
 * of half the room left), so a guest writing fast causes few events. */
#define VM_STORAGE_STEP (G_GUINT64_CONSTANT(1) << 20)

typedef enum {
    VM_STARTING,
    VM_ADOPTING,        /* found running after a restart; QMP not back yet */
    VM_RUNNING,
    VM_CLOSING,
} VmState;

typedef struct {
    BrokerVmTicketFunc func;
    gpointer data;
} TicketRequest;

struct BrokerVm {
    BrokerServer *server;
    BrokerVmEndedFunc ended;        /* the owner's */
    gpointer ended_data;
    char *id;
    char *user;
    char *app;
    VmState state;
    BrokerVmFiles *files;
    GPid pid;
    gboolean our_child;             /* else adopted: polled with kill(0) */
    gboolean gone;                  /* the process has exited */
    guint child_watch, pid_poll;
    CrpQmpClient *qmp;
    GQueue ticket_requests;         /* TicketRequest*, until RUNNING */
    guint poll_timer, close_timer;
    gboolean polling;               /* a query-crp is in flight */
    gint64 idle_since;              /* monotonic µs; 0: a client is there */
    char *close_reason;             /* adopted: close once QMP is back */
    BrokerVmConsole *console;       /* the serial console's reader */
    gboolean storage_warned;        /* the 90% warning was logged */
    guint64 storage_allowed;        /* the overlay's room when last armed */
    guint storage_idle;             /* accounting after an event */
    guint64 storage_written_to;     /* the events' furthest write since */
    gboolean guest_stopped;         /* paused by us: no powerdown to wait for */
};

static void vm_poll(BrokerVm *vm);
static void vm_finish(BrokerVm *vm, gint64 ended);
static void vm_watch_storage(BrokerVm *vm, guint64 written_to);

BrokerVm *
broker_vm_lookup(BrokerServer *server, const char *session_id)
{
    return g_hash_table_lookup(server->vms, session_id);
}

const char *
broker_vm_user(BrokerVm *vm)
{
    return vm->user;
}

const char *
broker_vm_display_socket(BrokerVm *vm)
{
    return broker_vm_files_display_socket(vm->files);
}

gboolean
broker_vm_is_running(BrokerVm *vm)
{
    return vm->state == VM_RUNNING;
}

gboolean
broker_vm_is_closing(BrokerVm *vm)
{
    return vm->state == VM_CLOSING;
}

static BrokerVm *
vm_new(BrokerServer *server, const CrpStoreSession *s,
       BrokerVmEndedFunc ended, gpointer data)
{
    BrokerVm *vm = g_new0(BrokerVm, 1);

    vm->server = server;
    vm->ended = ended;
    vm->ended_data = data;
    vm->id = g_strdup(s->id);
    vm->user = g_strdup(s->user);
    vm->app = g_strdup(s->app);
    vm->idle_since = g_get_monotonic_time();
    g_queue_init(&vm->ticket_requests);
    g_hash_table_insert(server->vms, vm->id, vm);
    return vm;
}

static void
vm_free(BrokerVm *vm)
{
    g_clear_handle_id(&vm->child_watch, g_source_remove);
    g_clear_handle_id(&vm->pid_poll, g_source_remove);
    g_clear_handle_id(&vm->poll_timer, g_source_remove);
    g_clear_handle_id(&vm->close_timer, g_source_remove);
    g_clear_handle_id(&vm->storage_idle, g_source_remove);
    g_clear_pointer(&vm->qmp, crp_qmp_client_destroy);
    g_clear_pointer(&vm->console, broker_vm_console_free);
    broker_vm_files_free(vm->files);
    g_free(vm->close_reason);
    g_free(vm->id);
    g_free(vm->user);
    g_free(vm->app);
    g_free(vm);
}

/* ---- tickets ---------------------------------------------------------- */

static void
answer_ticket_requests(BrokerVm *vm, guint16 status, const char *message)
{
    TicketRequest *r;

    while ((r = g_queue_pop_head(&vm->ticket_requests))) {
        r->func(vm, NULL, 0, status, message, r->data);
        g_free(r);
    }
}

typedef struct {
    BrokerVm *vm;
    char *ticket;
    TicketRequest request;
} TicketSet;

static void
on_ticket_set(CrpQmpClient *qmp, const GError *error, gpointer data)
{
    TicketSet *t = data;
    BrokerVm *vm = t->vm;

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* The VM is going away. */
        t->request.func(vm, NULL, 0, CRP_STATUS_SESSION_ENDED,
                        "the session ended", t->request.data);
    } else if (error) {
        broker_warning("event=ticket-failed session=%s error=\"%s\"", vm->id,
                       error->message);
        t->request.func(vm, NULL, 0, CRP_STATUS_INTERNAL,
                        "the VM did not take a ticket; see the broker's log",
                        t->request.data);
    } else {
        t->request.func(vm, t->ticket, vm->server->config->ticket_lifetime_s,
                        CRP_STATUS_OK, NULL, t->request.data);
    }
    sodium_memzero(t->ticket, strlen(t->ticket));
    g_free(t->ticket);
    g_free(t);
}

/* A ticket is 32 random bytes, URL-safe base64 (43 characters). */
static char *
new_ticket(void)
{
    guint8 raw[32];
    char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(text, sizeof(text), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    return g_strdup(text);
}

static void
set_ticket(BrokerVm *vm, BrokerVmTicketFunc func, gpointer data)
{
    TicketSet *t = g_new0(TicketSet, 1);

    t->vm = vm;
    t->ticket = new_ticket();
    t->request = (TicketRequest){ func, data };
    /* Clients already attached keep their session: a reconnect must not
     * cut off a second window of the same user. */
    crp_qmp_crp_set_ticket(vm->qmp, t->ticket,
                           vm->server->config->ticket_lifetime_s,
                           CRP_QMP_TICKET_CONNECTED_KEEP, on_ticket_set, t);
}

static gboolean
answer_closed(gpointer data)
{
    TicketRequest *r = data;

    r->func(NULL, NULL, 0, CRP_STATUS_SESSION_ENDED,
            "the session is closing", r->data);
    g_free(r);
    return G_SOURCE_REMOVE;
}

void
broker_vm_request_ticket(BrokerVm *vm, BrokerVmTicketFunc func, gpointer data)
{
    if (vm->state == VM_RUNNING) {
        set_ticket(vm, func, data);
    } else if (vm->state == VM_STARTING || vm->state == VM_ADOPTING) {
        TicketRequest *r = g_new0(TicketRequest, 1);
        *r = (TicketRequest){ func, data };
        g_queue_push_tail(&vm->ticket_requests, r);
    } else {
        TicketRequest *r = g_new0(TicketRequest, 1);
        *r = (TicketRequest){ func, data };
        g_idle_add(answer_closed, r);
    }
}

/* ---- usage counters --------------------------------------------------- */

/* query-crp's totals count every client since QEMU started, so storing
 * the latest is all accounting needs, across broker restarts too. */
static void
account(BrokerVm *vm, const CrpQmpCrpInfo *info)
{
    g_autoptr(GError) error = NULL;
    guint idle_s = vm->server->config->idle_timeout_s;
    gint64 now = g_get_monotonic_time();

    if (!info->has_totals) {
        broker_warning("event=no-usage-counters session=%s: this QEMU's "
                       "query-crp has no totals", vm->id);
    } else if (!crp_store_session_update_counters(
                   vm->server->store, vm->id, (guint64)info->bytes_in,
                   (guint64)info->bytes_out, (guint64)info->frames_sent,
                   &error)) {
        broker_warning("event=store-error session=%s error=\"%s\"", vm->id,
                       error->message);
    }
    broker_vm_files_heartbeat(vm->files);

    if (info->n_clients > 0) {
        vm->idle_since = 0;
    } else if (!vm->idle_since) {
        vm->idle_since = now;
    } else if (idle_s && vm->state == VM_RUNNING &&
               now - vm->idle_since >= (gint64)idle_s * G_USEC_PER_SEC) {
        broker_vm_close(vm, "idle");
    }
}

static void
on_polled(CrpQmpClient *qmp, const CrpQmpCrpInfo *info, const GError *error,
          gpointer data)
{
    BrokerVm *vm = data;

    vm->polling = FALSE;
    if (error) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            broker_info("event=poll-failed session=%s error=\"%s\"", vm->id,
                        error->message);
        }
        return;
    }
    account(vm, info);
}

static void
vm_poll(BrokerVm *vm)
{
    if (!vm->polling && vm->qmp && crp_qmp_client_is_ready(vm->qmp)) {
        vm->polling = TRUE;
        crp_qmp_query_crp(vm->qmp, on_polled, vm);
    }
}

static gboolean
on_poll_timer(gpointer data)
{
    vm_poll(data);
    return G_SOURCE_CONTINUE;
}

/* ---- the process ------------------------------------------------------ */

static void
process_gone(BrokerVm *vm, const char *how)
{
    if (vm->gone) {
        return;
    }
    vm->gone = TRUE;
    broker_message("event=qemu-exited session=%s how=\"%s\"", vm->id, how);
    vm_finish(vm, 0);
}

static void
on_child_exit(GPid pid, gint status, gpointer data)
{
    BrokerVm *vm = data;
    g_autofree char *how = WIFEXITED(status)
        ? g_strdup_printf("exit %d", WEXITSTATUS(status))
        : g_strdup_printf("signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);

    vm->child_watch = 0;
    g_spawn_close_pid(pid);
    process_gone(vm, how);
}

static gboolean
on_pid_poll(gpointer data)
{
    BrokerVm *vm = data;

    if (kill(vm->pid, 0) < 0 && errno == ESRCH) {
        vm->pid_poll = 0;
        process_gone(vm, "gone");
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void
watch_process(BrokerVm *vm)
{
    if (vm->our_child) {
        vm->child_watch = g_child_watch_add(vm->pid, on_child_exit, vm);
    } else {
        vm->pid_poll = g_timeout_add(VM_PID_POLL_MS, on_pid_poll, vm);
    }
}

static void
kill_now(BrokerVm *vm)
{
    if (!vm->gone && vm->pid > 0) {
        kill(vm->pid, SIGKILL);
    }
}

/* ---- the overlay against the storage quota ----------------------------- */

/*
 * The quota is checked at launch; while the guest runs, two things hold
 * its overlay to what the user has left:
 *
 * - QEMU's write threshold: block-set-write-threshold on the overlay
 *   file's node sends BLOCK_WRITE_THRESHOLD when a write goes past an
 *   offset, which for a qcow2 file growing at its end is its size. Each
 *   event re-reads the sizes of all the user's overlays and sets the next
 *   threshold: halfway to the room left but no further than 90% of it,
 *   then the room itself. At 90% the broker warns; at the room it stops
 *   the guest (QMP stop) and closes the session. This one follows the
 *   user's other sessions: when their overlays grow, this one's room
 *   shrinks. But QEMU reports a write before doing it, and the writes the
 *   guest queued complete on stop: measured, from a few KiB (a guest
 *   writing synchronously) to 10 MiB (virtio-blk merges queued writes
 *   into requests of MiBs) past the room.
 * - Hence a hard cap (broker-vm-files.c): the room at launch as the size
 *   of a raw node under the image. A write past it fails with ENOSPC and
 *   QEMU stops the guest itself (werror=enospc, BLOCK_IO_ERROR); the
 *   broker closes the session.
 *
 * A guest stopped at its quota is closed, not kept paused: nothing could
 * give it room again, and it would hold its vCPUs and memory for nobody.
 */

static void
on_threshold_set(CrpQmpClient *qmp, const GError *error, gpointer data)
{
    BrokerVm *vm = data;

    if (error && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        broker_warning("event=storage-watch-failed session=%s error=\"%s\"",
                       vm->id, error->message);
    }
}

/* The reply to stop or cont. */
static void
on_stop_or_cont(CrpQmpClient *qmp, const GError *error, gpointer data)
{
    BrokerVm *vm = data;

    if (error && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        broker_warning("event=stop-or-cont-failed session=%s error=\"%s\"", vm->id,
                       error->message);
    }
}

static void
log_storage_stop(BrokerVm *vm, const char *event, guint64 size,
                 guint64 allowed, const char *action)
{
    broker_message("event=%s session=%s user=%s overlay_bytes=%" G_GUINT64_FORMAT
                   " allowed_bytes=%" G_GUINT64_FORMAT " quota_mib=%"
                   G_GUINT64_FORMAT " action=%s", event, vm->id, vm->user, size,
                   allowed, vm->server->config->user_quota_mib, action);
}

static void
bad_event(BrokerVm *vm, const GError *error)
{
    broker_warning("event=qmp-bad-event session=%s error=\"%s\"", vm->id,
                   error->message);
}

/*
 * @written_to: where a write of this guest's ends (its event's), or 0 when
 * another of the user's overlays changed: then a guest at its limit is not
 * stopped (it wrote nothing) but armed to be at its next write.
 */
static void
vm_watch_storage(BrokerVm *vm, guint64 written_to)
{
    guint64 size, allowed, warn_at, next;

    if (vm->state != VM_RUNNING || !vm->qmp ||
        !crp_qmp_client_is_ready(vm->qmp) ||
        !broker_vm_files_overlay_room(vm->files, vm->server, vm->user, &size,
                                      &allowed)) {
        return;
    }
    size = MAX(size, written_to);
    if (size >= allowed && !written_to) {
        crp_qmp_block_set_write_threshold(vm->qmp, BROKER_VM_OVERLAY_NODE,
                                          MAX(size, 1), on_threshold_set, vm);
        return;
    }
    if (size >= allowed) {
        log_storage_stop(vm, "storage-quota-exceeded", size, allowed,
                         "stop-and-close");
        if (!vm->guest_stopped) {
            vm->guest_stopped = TRUE;
            crp_qmp_stop(vm->qmp, on_stop_or_cont, vm);
        }
        broker_vm_close(vm, "storage-quota");
        return;
    }
    if (vm->guest_stopped) {
        /* Stopped on the room it had, which has grown since (another of
         * the user's overlays went away). */
        broker_message("event=storage-quota-resumed session=%s", vm->id);
        vm->guest_stopped = FALSE;
        crp_qmp_cont(vm->qmp, on_stop_or_cont, vm);
    }
    vm->storage_allowed = allowed;
    warn_at = allowed - allowed / 10;
    if (size < warn_at) {
        next = MIN(warn_at, size + MAX((allowed - size) / 2, VM_STORAGE_STEP));
    } else {
        next = allowed;
        if (!vm->storage_warned) {
            vm->storage_warned = TRUE;
            broker_warning("event=storage-quota-warning session=%s user=%s "
                           "overlay_bytes=%" G_GUINT64_FORMAT " allowed_bytes=%"
                           G_GUINT64_FORMAT " quota_mib=%" G_GUINT64_FORMAT,
                           vm->id, vm->user, size, allowed,
                           vm->server->config->user_quota_mib);
        }
    }
    crp_qmp_block_set_write_threshold(vm->qmp, BROKER_VM_OVERLAY_NODE, next,
                                      on_threshold_set, vm);
}

/* One user's overlays share the quota: when one grows, the others' room
 * shrinks, so every running VM of the user looks again. */
static void
user_storage_changed(BrokerVm *vm)
{
    GHashTableIter it;
    gpointer other;

    g_hash_table_iter_init(&it, vm->server->vms);
    while (g_hash_table_iter_next(&it, NULL, &other)) {
        BrokerVm *o = other;
        if (o != vm && g_str_equal(o->user, vm->user)) {
            vm_watch_storage(o, 0);
        }
    }
}

static gboolean
on_storage_idle(gpointer data)
{
    BrokerVm *vm = data;
    guint64 written_to = vm->storage_written_to;

    vm->storage_idle = 0;
    vm->storage_written_to = 0;
    vm_watch_storage(vm, written_to);
    user_storage_changed(vm);
    return G_SOURCE_REMOVE;
}

static void
on_write_threshold(CrpQmpClient *qmp, const CrpQmpMessage *event,
                   gpointer data)
{
    BrokerVm *vm = data;
    g_autoptr(GError) error = NULL;
    CrpQmpWriteThreshold wt;
    guint64 written_to;

    if (!crp_qmp_write_threshold_from_event(event, &wt, &error)) {
        bad_event(vm, error);
        return;
    }
    if (!g_str_equal(wt.node_name, BROKER_VM_OVERLAY_NODE)) {
        return;                 /* an app's own drive */
    }
    written_to = wt.write_threshold + wt.amount_exceeded;
    broker_info("event=storage-threshold session=%s written_to=%" G_GUINT64_FORMAT,
                vm->id, written_to);
    if (vm->storage_allowed && written_to >= vm->storage_allowed &&
        !vm->guest_stopped && vm->state == VM_RUNNING) {
        /* Stop first, count after: while it runs, it writes on. */
        vm->guest_stopped = TRUE;
        crp_qmp_stop(vm->qmp, on_stop_or_cont, vm);
    }
    /* Counting reads files and writes the store: after the main loop has
     * sent the stop (QMP output goes out from the loop). */
    vm->storage_written_to = MAX(vm->storage_written_to, written_to);
    if (!vm->storage_idle) {
        vm->storage_idle = g_idle_add(on_storage_idle, vm);
    }
}

/* The overlay's hard cap (broker-vm-files.h): QEMU stopped the guest on
 * ENOSPC, and says so for every write that failed. */
static void
on_block_io_error(CrpQmpClient *qmp, const CrpQmpMessage *event,
                  gpointer data)
{
    BrokerVm *vm = data;
    g_autoptr(GError) error = NULL;
    CrpQmpBlockIoError e;
    guint64 size = 0, allowed = 0;
    gboolean capped;

    if (!crp_qmp_block_io_error_from_event(event, &e, &error)) {
        bad_event(vm, error);
        return;
    }
    if (g_strcmp0(e.node_name, BROKER_VM_OVERLAY_DISK_NODE) != 0 ||
        !e.nospace || !g_str_equal(e.action, "stop")) {
        broker_info("event=block-io-error session=%s node=%s reason=\"%s\"",
                    vm->id, e.node_name ? e.node_name : "-", e.reason);
        return;
    }
    vm->guest_stopped = TRUE;       /* by QEMU */
    if (vm->state == VM_CLOSING) {
        return;
    }
    broker_vm_files_overlay_room(vm->files, vm->server, vm->user, &size,
                                 &allowed);
    /* ENOSPC under the cap is the user's quota; without one (or should
     * the host's disk have filled first) it is the host's. */
    capped = broker_vm_files_overlay_capped(vm->files);
    log_storage_stop(vm, capped ? "storage-quota-exceeded" : "storage-full",
                     size, allowed, "stopped-by-qemu-and-close");
    broker_vm_close(vm, capped ? "storage-quota" : "host-disk-full");
}

/* ---- QMP -------------------------------------------------------------- */

static void
on_close_requested(CrpQmpClient *qmp, const CrpQmpMessage *event,
                   gpointer data)
{
    broker_vm_close(data, "client-closed-app");
}

static void
on_shutdown(CrpQmpClient *qmp, const CrpQmpMessage *event, gpointer data)
{
    BrokerVm *vm = data;

    /* QEMU exits after this (no -no-shutdown); the exit finishes the
     * session. Mark it closing so nobody attaches meanwhile. */
    if (vm->state != VM_CLOSING) {
        broker_vm_close(vm, "guest-shutdown");
    }
}

static void
on_client_change(CrpQmpClient *qmp, const CrpQmpMessage *event, gpointer data)
{
    vm_poll(data);          /* counters while they are fresh */
}

static const CrpQmpEventHandler vm_events[] = {
    { "CRP_CLOSE_REQUESTED", on_close_requested },
    { "SHUTDOWN", on_shutdown },
    { "CRP_CONNECTED", on_client_change },
    { "CRP_DISCONNECTED", on_client_change },
    { "BLOCK_WRITE_THRESHOLD", on_write_threshold },
    { "BLOCK_IO_ERROR", on_block_io_error },
};

static void
on_first_ticket(BrokerVm *vm, const char *ticket, guint expires_s,
                guint16 status, const char *message, gpointer data)
{
    TicketRequest *first = data;

    /* The first request gets this ticket; any further waiter gets one of
     * its own (QEMU holds one ticket at a time: see broker-vm.h). */
    first->func(vm, ticket, expires_s, status, message, first->data);
    g_free(first);
    if (status == CRP_STATUS_OK) {
        TicketRequest *r;
        while ((r = g_queue_pop_head(&vm->ticket_requests))) {
            set_ticket(vm, r->func, r->data);
            g_free(r);
        }
    } else {
        /* A VM that takes no ticket is of no use to anybody. */
        answer_ticket_requests(vm, status, message);
        broker_vm_close(vm, "ticket-failed");
    }
}

/* RUNNING at last: the waiting ticket requests are served. */
static void
serve_ticket_requests(BrokerVm *vm)
{
    TicketRequest *first = g_queue_pop_head(&vm->ticket_requests);

    if (first) {
        set_ticket(vm, on_first_ticket, first);
    }
}

static void
on_qmp_ready(CrpQmpClient *qmp, const GError *error, gpointer data)
{
    BrokerVm *vm = data;
    g_autoptr(GError) store_error = NULL;

    if (error) {
        broker_warning("event=qmp-failed session=%s error=\"%s\"", vm->id,
                       error->message);
        g_clear_pointer(&vm->qmp, crp_qmp_client_destroy);
        broker_vm_close(vm, "qmp-failed");
        return;
    }
    vm->poll_timer = g_timeout_add(VM_POLL_MS, on_poll_timer, vm);
    if (vm->close_reason) {
        /* Adopted with a close to finish. */
        g_autofree char *reason = g_steal_pointer(&vm->close_reason);
        broker_vm_close(vm, reason);
        return;
    }
    if (vm->state == VM_ADOPTING) {
        vm->state = VM_RUNNING;
        vm_poll(vm);
        /* Watched again; past its room already (it wrote while nobody
         * watched), it stops at its next write. */
        vm_watch_storage(vm, 0);
        serve_ticket_requests(vm);
        return;
    }
    if (vm->state == VM_CLOSING) {
        return;             /* closed while starting; the close goes on */
    }
    if (!crp_store_session_set_state(vm->server->store, vm->id,
                                     CRP_STORE_SESSION_RUNNING, &store_error)) {
        broker_warning("event=store-error session=%s error=\"%s\"", vm->id,
                       store_error->message);
    }
    vm->state = VM_RUNNING;
    broker_message("event=session-running session=%s user=%s app=%s", vm->id,
                   vm->user, vm->app);
    vm_watch_storage(vm, 0);
    serve_ticket_requests(vm);
}

static void
on_qmp_closed(CrpQmpClient *qmp, const GError *error, gpointer data)
{
    BrokerVm *vm = data;

    broker_info("event=qmp-closed session=%s reason=\"%s\"", vm->id,
                error ? error->message : "-");
    g_clear_pointer(&vm->qmp, crp_qmp_client_destroy);
    /* QEMU is quitting or gone; the process watch finishes the session.
     * Should it linger without QMP, the close sequence kills it. */
    if (vm->state != VM_CLOSING) {
        broker_vm_close(vm, "qmp-lost");
    }
}

static void
connect_qmp(BrokerVm *vm)
{
    CrpQmpClientConfig cfg = {
        .ready = on_qmp_ready,
        .closed = on_qmp_closed,
        .events = vm_events,
        .n_events = G_N_ELEMENTS(vm_events),
        .connect_timeout_ms = VM_QMP_CONNECT_MS,
        .command_timeout_ms = VM_QMP_COMMAND_MS,
        .user_data = vm,
    };

    vm->qmp = crp_qmp_client_connect(broker_vm_files_qmp_socket(vm->files),
                                     &cfg);
}

/* ---- closing ---------------------------------------------------------- */

static gboolean
on_kill_timer(gpointer data)
{
    BrokerVm *vm = data;

    vm->close_timer = 0;
    broker_message("event=qemu-kill session=%s", vm->id);
    kill_now(vm);
    return G_SOURCE_REMOVE;
}

static void
on_quit_sent(CrpQmpClient *qmp, const GError *error, gpointer data)
{
}

static gboolean
on_grace_over(gpointer data)
{
    BrokerVm *vm = data;

    vm->close_timer = g_timeout_add(VM_QUIT_WAIT_MS, on_kill_timer, vm);
    if (vm->qmp && crp_qmp_client_is_ready(vm->qmp)) {
        broker_info("event=qemu-quit session=%s", vm->id);
        crp_qmp_quit(vm->qmp, on_quit_sent, vm);
    } else if (vm->pid > 0 && !vm->gone) {
        kill(vm->pid, SIGTERM);
    }
    return G_SOURCE_REMOVE;
}

static void
on_powerdown_sent(CrpQmpClient *qmp, const GError *error, gpointer data)
{
}

static void
on_final_counters(CrpQmpClient *qmp, const CrpQmpCrpInfo *info,
                  const GError *error, gpointer data)
{
    BrokerVm *vm = data;

    if (!error) {
        account(vm, info);
    }
    /* A guest we stopped cannot answer the power button. */
    if (!vm->guest_stopped && vm->qmp && crp_qmp_client_is_ready(vm->qmp)) {
        crp_qmp_system_powerdown(vm->qmp, on_powerdown_sent, vm);
    }
}

void
broker_vm_close(BrokerVm *vm, const char *reason)
{
    g_autoptr(GError) error = NULL;
    guint grace_ms = vm->server->config->shutdown_grace_s * 1000;

    if (vm->state == VM_CLOSING) {
        return;
    }
    broker_message("event=session-closing session=%s user=%s app=%s reason=%s",
                   vm->id, vm->user, vm->app, reason);
    vm->state = VM_CLOSING;
    answer_ticket_requests(vm, CRP_STATUS_SESSION_ENDED,
                           "the session ended before it was ready");
    if (!crp_store_session_set_state(vm->server->store, vm->id,
                                     CRP_STORE_SESSION_CLOSING, &error)) {
        broker_warning("event=store-error session=%s error=\"%s\"", vm->id,
                       error->message);
    }
    g_clear_handle_id(&vm->poll_timer, g_source_remove);
    if (vm->gone) {
        return;
    }
    if (vm->qmp && crp_qmp_client_is_ready(vm->qmp)) {
        /* Counters first: the clients are still there to be counted. */
        crp_qmp_query_crp(vm->qmp, on_final_counters, vm);
    } else {
        grace_ms = 0;       /* nobody to ask politely */
    }
    if (vm->guest_stopped) {
        grace_ms = 0;
    }
    vm->close_timer = g_timeout_add(grace_ms, on_grace_over, vm);
}

/* The process is gone: write the end, give everything back. */
static void
vm_finish(BrokerVm *vm, gint64 ended)
{
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&vm->qmp, crp_qmp_client_destroy);
    /* Its last lines, before its log is kept. */
    g_clear_pointer(&vm->console, broker_vm_console_free);
    answer_ticket_requests(vm, vm->state == VM_STARTING ? CRP_STATUS_INTERNAL
                                                        : CRP_STATUS_SESSION_ENDED,
                           vm->state == VM_STARTING
                               ? "the VM stopped while starting; see the "
                                 "broker's log"
                               : "the session ended");
    vm->ended(vm, vm->id, vm->ended_data);
    if (!crp_store_session_close(vm->server->store, vm->id, ended, &error)) {
        /* The row stays live and the files stay (the heartbeat says when
         * the VM was last seen): the next start's reconciliation closes
         * it with the right end time. */
        broker_warning("event=store-error session=%s error=\"%s\"", vm->id,
                       error->message);
    } else {
        broker_vm_files_release(vm->files, vm->server->store, vm->user,
                                vm->app);
        broker_logs_expire(vm->server);
    }
    broker_message("event=session-closed session=%s user=%s app=%s", vm->id,
                   vm->user, vm->app);
    g_hash_table_remove(vm->server->vms, vm->id);
    vm_free(vm);
}

/* ---- starting --------------------------------------------------------- */

BrokerVm *
broker_vm_launch(BrokerServer *server, const CrpStoreSession *session,
                 const CrpStoreApp *app, BrokerVmEndedFunc ended,
                 gpointer data, GError **error)
{
    BrokerVm *vm = vm_new(server, session, ended, data);
    g_autoptr(GError) local = NULL;
    int console_fd = -1;

    vm->files = broker_vm_files_prepare(server, session, app, &local);
    if (vm->files &&
        broker_vm_files_spawn(vm->files, server, session, app, &vm->pid,
                              &console_fd, &local)) {
        vm->console = broker_vm_console_new(
            console_fd, vm->id, broker_vm_files_runtime_dir(vm->files),
            (guint64)server->config->console_max_kib << 10);
        vm->our_child = TRUE;
        watch_process(vm);
        connect_qmp(vm);
        broker_message("event=qemu-started session=%s pid=%d", vm->id, vm->pid);
        return vm;
    }
    broker_warning("event=launch-failed session=%s app=%s error=\"%s\"", vm->id,
                   app->name, local->message);
    vm->gone = TRUE;
    vm_finish(vm, 0);
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
}

static void
adopt_console(BrokerVm *vm)
{
    g_autoptr(GError) error = NULL;

    vm->console = broker_vm_console_connect(
        broker_vm_files_console_socket(vm->files), vm->id,
        broker_vm_files_runtime_dir(vm->files),
        (guint64)vm->server->config->console_max_kib << 10, &error);
    if (!vm->console) {
        /* A QEMU from before the console socket, or it is going away. */
        broker_info("event=console-lost session=%s error=\"%s\"", vm->id,
                    error->message);
    }
}

BrokerVm *
broker_vm_adopt(BrokerServer *server, const CrpStoreSession *session,
                BrokerVmEndedFunc ended, gpointer data)
{
    BrokerVm *vm = vm_new(server, session, ended, data);
    gint64 last_seen = 0;

    vm->files = broker_vm_files_reopen(server, session);
    vm->pid = (GPid)session->qemu_pid;
    if (vm->pid > 0 && broker_vm_files_owns_process(vm->files, vm->pid)) {
        vm->state = VM_ADOPTING;
        if (session->state != CRP_STORE_SESSION_RUNNING) {
            /* A launch nobody got the ticket of, or a close under way:
             * close once QMP is back (counters, then powerdown). */
            vm->close_reason = g_strdup(
                session->state == CRP_STORE_SESSION_STARTING
                    ? "interrupted-launch" : "closing-before-restart");
        }
        if (vm->close_reason) {
            broker_message("event=session-adopted session=%s pid=%d "
                           "then=close reason=%s", vm->id, vm->pid,
                           vm->close_reason);
        } else {
            broker_message("event=session-adopted session=%s pid=%d", vm->id,
                           vm->pid);
        }
        adopt_console(vm);
        watch_process(vm);
        connect_qmp(vm);
        return vm;
    }
    /* It died while we were away: it ended when it was last seen. */
    last_seen = broker_vm_files_last_seen(vm->files);
    broker_message("event=session-lost session=%s pid=%d", vm->id, vm->pid);
    vm->gone = TRUE;
    vm_finish(vm, last_seen);
    return NULL;
}

void
broker_vm_detach(BrokerVm *vm)
{
    answer_ticket_requests(vm, CRP_STATUS_SHUTDOWN,
                           "the broker is shutting down");
    g_hash_table_remove(vm->server->vms, vm->id);
    vm_free(vm);
}
