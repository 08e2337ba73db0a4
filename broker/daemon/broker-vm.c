/*
 * broker-vm.c: one session's QEMU, from spawn (or adoption) to its end.
 * See broker-vm.h for the lifecycle. Process handling and the QMP side
 * live here; the files a VM needs (runtime dir, overlay, command line)
 * are broker-vm-files.c's.
 */
#include "broker-vm.h"
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
};

static void vm_poll(BrokerVm *vm);
static void vm_finish(BrokerVm *vm, gint64 ended);

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
vm_new(BrokerServer *server, const CrpStoreSession *s)
{
    BrokerVm *vm = g_new0(BrokerVm, 1);

    vm->server = server;
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
    g_clear_pointer(&vm->qmp, crp_qmp_client_destroy);
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
    if (vm->qmp && crp_qmp_client_is_ready(vm->qmp)) {
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
    vm->close_timer = g_timeout_add(grace_ms, on_grace_over, vm);
}

/* The process is gone: write the end, give everything back. */
static void
vm_finish(BrokerVm *vm, gint64 ended)
{
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&vm->qmp, crp_qmp_client_destroy);
    answer_ticket_requests(vm, vm->state == VM_STARTING ? CRP_STATUS_INTERNAL
                                                        : CRP_STATUS_SESSION_ENDED,
                           vm->state == VM_STARTING
                               ? "the VM stopped while starting; see the "
                                 "broker's log"
                               : "the session ended");
    broker_gateway_end_session(vm->server, vm->id);
    if (!crp_store_session_close(vm->server->store, vm->id, ended, &error)) {
        /* The row stays live and the files stay (the heartbeat says when
         * the VM was last seen): the next start's reconciliation closes
         * it with the right end time. */
        broker_warning("event=store-error session=%s error=\"%s\"", vm->id,
                       error->message);
    } else {
        broker_vm_files_release(vm->files, vm->server->store, vm->user,
                                vm->app);
    }
    broker_message("event=session-closed session=%s user=%s app=%s", vm->id,
                   vm->user, vm->app);
    g_hash_table_remove(vm->server->vms, vm->id);
    vm_free(vm);
}

/* ---- starting --------------------------------------------------------- */

BrokerVm *
broker_vm_launch(BrokerServer *server, const CrpStoreSession *session,
                 const CrpStoreApp *app, GError **error)
{
    BrokerVm *vm = vm_new(server, session);
    g_autoptr(GError) local = NULL;

    vm->files = broker_vm_files_prepare(server, session, app, &local);
    if (vm->files &&
        broker_vm_files_spawn(vm->files, server, session, app, &vm->pid,
                              &local)) {
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

BrokerVm *
broker_vm_adopt(BrokerServer *server, const CrpStoreSession *session)
{
    BrokerVm *vm = vm_new(server, session);
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
