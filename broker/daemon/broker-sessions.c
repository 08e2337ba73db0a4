/*
 * broker-sessions.c: the session requests (LAUNCH, SESSION_TICKET,
 * SESSION_CLOSE), the start-up reconciliation with QEMUs that outlived a
 * broker, and the watch over sessions changed from outside (crp-admin
 * session terminate, user revoke).
 *
 * A launch decides and allocates in one store transaction (BEGIN
 * IMMEDIATE): subscription, the user's own limits (sessions, vCPUs,
 * memory), compute pool, the app's instance limit, the user's storage
 * quota, then the session row. Two launches racing for the last slot (the
 * host's or the user's) are serialised by the store, in this broker or
 * another one.
 */
#include "broker-sessions.h"
#include "broker-user-storage.h"
#include "broker-gateway.h"
#include "broker-logs.h"
#include "broker-vm.h"
#include "broker-vm-files.h"

/* How often the store is checked for sessions closed from outside. */
#define SESSIONS_WATCH_MS 2000

/* ---- replies to a connection that may have gone ---------------------- */

typedef struct {
    BrokerServer *server;
    guint conn_id;
    guint32 request_id;
    char *session_id;
} Waiter;

static Waiter *
waiter_new(BrokerServer *server, BrokerConnection *c, guint32 request_id,
           const char *session_id)
{
    Waiter *w = g_new0(Waiter, 1);

    w->server = server;
    w->conn_id = broker_connection_id(c);
    w->request_id = request_id;
    w->session_id = g_strdup(session_id);
    return w;
}

static void
on_ticket(BrokerVm *vm, const char *ticket, guint expires_s, guint16 status,
          const char *message, gpointer data)
{
    Waiter *w = data;
    BrokerConnection *c = broker_registry_find(w->server->connections,
                                               w->conn_id);

    if (!c) {
        /* The client left meanwhile; the session lives on and can be
         * attached with SESSION_TICKET. */
        broker_info("event=ticket-unclaimed session=%s", w->session_id);
    } else if (status != CRP_STATUS_OK) {
        broker_connection_send_error(c, w->request_id, status, message);
        broker_connection_flush(c);
    } else {
        CrpMessage reply = {
            .type = CRP_MSG_LAUNCHED,
            .launched = { .request_id = w->request_id,
                          .session_id = crp_str(w->session_id),
                          .ticket = crp_str(ticket),
                          .expires_in_s = expires_s },
        };
        broker_connection_send(c, &reply);
        broker_connection_flush(c);
        broker_message("event=ticket-issued session=%s user=%s",
                       w->session_id, broker_connection_user(c));
    }
    g_free(w->session_id);
    g_free(w);
}

/* ---- LAUNCH ------------------------------------------------------------ */

typedef struct {
    const CrpBrokerConfig *config;
    const char *user;
    const CrpStoreApp *app;
    guint16 status;             /* OK, or why not */
    char *message;
    CrpStoreSession *session;   /* created */
} Launch;

static gboolean
refuse(Launch *l, guint16 status, char *message)
{
    l->status = status;
    l->message = message;
    return TRUE;                /* nothing written: commit is a no-op */
}

/* The user's own limits: QUOTA_EXCEEDED (closing a session helps; waiting
 * does not), checked before the host's pools (NO_CAPACITY: try later).
 * FALSE only when the store fails; a refusal is in l->status. */
static gboolean
check_user_limits(Launch *l, CrpStore *store, GError **error)
{
    const CrpBrokerConfig *config = l->config;
    const CrpStoreApp *app = l->app;
    const CrpStoreUserLimits defaults = {
        config->user_sessions, config->user_vcpus,
        (gint64)config->user_memory_mib,
    };
    g_autoptr(CrpStoreUser) user = crp_store_user_get(store, l->user, error);
    CrpStorePoolTotals mine;
    CrpStoreUserLimits max;

    if (!user || !crp_store_user_totals(store, l->user, &mine, error)) {
        return FALSE;
    }
    max = crp_store_user_limits_effective(user, &defaults);
    if (max.sessions && mine.sessions + 1 > (guint64)max.sessions) {
        return refuse(l, CRP_STATUS_QUOTA_EXCEEDED, g_strdup_printf(
            "you have %" G_GUINT64_FORMAT " session%s open and may have at "
            "most %" G_GINT64_FORMAT " at a time: close one to open %s",
            mine.sessions, mine.sessions == 1 ? "" : "s", max.sessions,
            app->name));
    }
    if (max.vcpus && mine.vcpus + app->vcpus > (guint64)max.vcpus) {
        return refuse(l, CRP_STATUS_QUOTA_EXCEEDED, g_strdup_printf(
            "%s needs %u vCPUs and your sessions hold %" G_GUINT64_FORMAT
            " of your %" G_GINT64_FORMAT ": close one first", app->name,
            app->vcpus, mine.vcpus, max.vcpus));
    }
    if (max.memory_mib &&
        mine.memory_mib + app->memory_mib > (guint64)max.memory_mib) {
        return refuse(l, CRP_STATUS_QUOTA_EXCEEDED, g_strdup_printf(
            "%s needs %u MiB and your sessions hold %" G_GUINT64_FORMAT
            " of your %" G_GINT64_FORMAT " MiB: close one first", app->name,
            app->memory_mib, mine.memory_mib, max.memory_mib));
    }
    return TRUE;
}

static gboolean
launch_txn(CrpStore *store, gpointer data, GError **error)
{
    Launch *l = data;
    const CrpStoreApp *app = l->app;
    gboolean subscribed;
    CrpStorePoolTotals used;
    guint instances;

    if (!crp_store_is_subscribed(store, l->user, app->name, &subscribed,
                                 error) ||
        !crp_store_pool_totals(store, &used, error) ||
        !crp_store_app_live_instances(store, app->name, &instances, error)) {
        return FALSE;
    }
    if (!subscribed) {
        return refuse(l, CRP_STATUS_NOT_SUBSCRIBED,
                      g_strdup_printf("you are not subscribed to %s",
                                      app->name));
    }
    if (!check_user_limits(l, store, error)) {
        return FALSE;
    }
    if (l->status != CRP_STATUS_OK) {
        return TRUE;
    }
    if (used.vcpus + app->vcpus > l->config->vcpus ||
        used.memory_mib + app->memory_mib > l->config->memory_mib) {
        return refuse(l, CRP_STATUS_NO_CAPACITY, g_strdup_printf(
            "no capacity: %s needs %u vCPUs and %u MiB; %" G_GUINT64_FORMAT
            " of %u vCPUs and %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
            " MiB are in use", app->name, app->vcpus, app->memory_mib,
            used.vcpus, l->config->vcpus, used.memory_mib,
            l->config->memory_mib));
    }
    if (app->persistent_storage && app->disk) {
        /* Its disk overlay is the user's own, and one QEMU at a time can
         * write it: a second session would fail inside QEMU. */
        g_autoptr(GPtrArray) live = crp_store_session_list(
            store, l->user, CRP_STORE_SESSIONS_LIVE, error);
        if (!live) {
            return FALSE;
        }
        for (guint i = 0; i < live->len; i++) {
            const CrpStoreSession *s = g_ptr_array_index(live, i);
            if (g_str_equal(s->app, app->name)) {
                return refuse(l, CRP_STATUS_NO_CAPACITY, g_strdup_printf(
                    "%s is already open (its disk keeps your files and takes "
                    "one session at a time): reconnect to it from your "
                    "sessions", app->name));
            }
        }
    }
    if (app->max_instances && instances >= app->max_instances) {
        return refuse(l, CRP_STATUS_NO_CAPACITY, g_strdup_printf(
            "no capacity: %s runs at most %u instances at a time",
            app->name, app->max_instances));
    }
    if (app->disk && l->config->user_quota_mib) {
        guint64 bytes;
        if (!broker_user_storage_used(l->config, store, l->user, NULL, &bytes,
                                      error)) {
            return FALSE;
        }
        if (bytes >= l->config->user_quota_mib << 20) {
            return refuse(l, CRP_STATUS_QUOTA_EXCEEDED, g_strdup_printf(
                "your storage quota is used up (%" G_GUINT64_FORMAT " of %"
                G_GUINT64_FORMAT " MiB)", bytes >> 20,
                l->config->user_quota_mib));
        }
    }
    CrpStoreSession init = { .user = (char *)l->user, .app = app->name };
    l->session = crp_store_session_create(store, &init, error);
    return l->session != NULL;
}

/* The VM is gone: its attached clients are cut off. */
static void
on_vm_ended(BrokerVm *vm, const char *session_id, gpointer data)
{
    BrokerServer *server = data;

    broker_gateway_end_session(server->gateway, session_id);
}

void
broker_request_launch(BrokerServer *server, BrokerConnection *c,
                      const CrpMessage *msg)
{
    guint32 id = msg->request.request_id;
    g_autofree char *name = g_strndup(msg->request.arg.ptr,
                                      msg->request.arg.len);
    g_autoptr(CrpStoreApp) app = NULL;
    g_autoptr(GError) error = NULL;
    Launch l = { .config = server->config, .user = broker_connection_user(c) };
    BrokerVm *vm;

    if (crp_store_app_valid_name(name)) {
        app = crp_store_app_get(server->store, name, &error);
    }
    if (!app || app->unpublished_at) {
        broker_connection_send_error(c, id, CRP_STATUS_NO_SUCH_APP,
                                     "no such app in the catalog");
        return;
    }
    l.app = app;
    if (app->disk) {
        broker_vm_files_refresh_usage(server, l.user);
    }
    if (!crp_store_transaction(server->store, launch_txn, &l, &error)) {
        broker_warning("event=store-error request=LAUNCH user=%s error=\"%s\"",
                       l.user, error->message);
        broker_connection_send_error(c, id, CRP_STATUS_INTERNAL,
                                     "the broker's state store failed; see "
                                     "its log");
        return;
    }
    if (l.status != CRP_STATUS_OK) {
        broker_message("event=launch-refused user=%s app=%s status=%s", l.user,
                       name, broker_status_name(l.status));
        broker_connection_send_error(c, id, l.status, l.message);
        g_free(l.message);
        return;
    }
    broker_message("event=launch session=%s user=%s app=%s vcpus=%u "
                   "memory_mib=%u", l.session->id, l.user, name, l.session->vcpus,
                   l.session->memory_mib);
    vm = broker_vm_launch(server, l.session, app, on_vm_ended, server,
                          &error);
    if (!vm) {
        broker_connection_send_error(c, id, CRP_STATUS_INTERNAL,
                                     "the VM could not be started; see the "
                                     "broker's log");
    } else {
        broker_vm_request_ticket(vm, on_ticket,
                                 waiter_new(server, c, id, l.session->id));
    }
    crp_store_session_free(l.session);
}

/* ---- SESSION_TICKET, SESSION_CLOSE -------------------------------------- */

/* The user's live VM named by the request, or NULL after an ERROR reply.
 * Someone else's session is "no such session": ids are not disclosed. */
static BrokerVm *
user_vm(BrokerServer *server, BrokerConnection *c, const CrpMessage *msg)
{
    g_autofree char *id = g_strndup(msg->request.arg.ptr, msg->request.arg.len);
    BrokerVm *vm = broker_vm_lookup(server, id);
    g_autoptr(CrpStoreSession) s = NULL;

    if (vm && g_str_equal(broker_vm_user(vm), broker_connection_user(c))) {
        return vm;
    }
    s = crp_store_session_get(server->store, id, NULL);
    if (s && g_str_equal(s->user, broker_connection_user(c)) &&
        s->state == CRP_STORE_SESSION_CLOSED) {
        broker_connection_send_error(c, msg->request.request_id,
                                     CRP_STATUS_SESSION_ENDED,
                                     "the session has ended");
    } else {
        broker_connection_send_error(c, msg->request.request_id,
                                     CRP_STATUS_NO_SUCH_SESSION,
                                     "no such session");
    }
    return NULL;
}

void
broker_request_session_ticket(BrokerServer *server, BrokerConnection *c,
                              const CrpMessage *msg)
{
    BrokerVm *vm = user_vm(server, c, msg);

    if (vm) {
        g_autofree char *id = g_strndup(msg->request.arg.ptr,
                                        msg->request.arg.len);
        broker_vm_request_ticket(vm, on_ticket,
                                 waiter_new(server, c, msg->request.request_id,
                                            id));
    }
}

void
broker_request_session_close(BrokerServer *server, BrokerConnection *c,
                             const CrpMessage *msg)
{
    BrokerVm *vm = user_vm(server, c, msg);

    if (vm) {
        broker_vm_close(vm, "user-closed");
        CrpMessage ok = { .type = CRP_MSG_OK,
                          .ok_request_id = msg->request.request_id };
        broker_connection_send(c, &ok);
    }
}

/* ---- start, watch, stop ------------------------------------------------- */

static gboolean
broker_sessions_reconcile(BrokerServer *server, GError **error)
{
    g_autoptr(GPtrArray) live = crp_store_session_list(
        server->store, NULL, CRP_STORE_SESSIONS_LIVE, error);

    if (!live) {
        /* Starting anyway would leave the VMs it should adopt unwatched. */
        g_prefix_error(error, "cannot read the live sessions to adopt: ");
        return FALSE;
    }
    broker_message("event=reconcile live_sessions=%u", live->len);
    for (guint i = 0; i < live->len; i++) {
        broker_vm_adopt(server, g_ptr_array_index(live, i), on_vm_ended,
                        server);
    }
    return TRUE;
}

/* Sessions closed from outside the broker, or whose user was revoked. */
static gboolean
on_watch(gpointer data)
{
    BrokerServer *server = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) live = NULL;

    if (g_hash_table_size(server->vms) == 0) {
        return G_SOURCE_CONTINUE;
    }
    live = crp_store_session_list(server->store, NULL, CRP_STORE_SESSIONS_LIVE,
                                  &error);
    if (!live) {
        broker_warning("event=store-error request=watch error=\"%s\"",
                       error->message);
        return G_SOURCE_CONTINUE;
    }
    for (guint i = 0; i < live->len; i++) {
        const CrpStoreSession *s = g_ptr_array_index(live, i);
        BrokerVm *vm = broker_vm_lookup(server, s->id);
        g_autoptr(CrpStoreUser) user = NULL;

        if (!vm || broker_vm_is_closing(vm)) {
            continue;
        }
        if (s->state == CRP_STORE_SESSION_CLOSING) {
            broker_vm_close(vm, "terminated-by-operator");
            continue;
        }
        user = crp_store_user_get(server->store, s->user, NULL);
        if (user && user->revoked_at) {
            broker_vm_close(vm, "user-revoked");
        }
    }
    return G_SOURCE_CONTINUE;
}

gboolean
broker_sessions_start(BrokerServer *server, GError **error)
{
    server->vms = g_hash_table_new(g_str_hash, g_str_equal);
    broker_logs_start(server);
    if (!broker_sessions_reconcile(server, error)) {
        return FALSE;
    }
    server->sessions_watch = g_timeout_add(SESSIONS_WATCH_MS, on_watch, server);
    return TRUE;
}

void
broker_sessions_stop(BrokerServer *server)
{
    GHashTableIter it;
    gpointer vm;

    g_clear_handle_id(&server->sessions_watch, g_source_remove);
    broker_logs_stop(server);
    if (!server->vms) {
        return;
    }
    /* The VMs run on; the next broker adopts them. */
    g_hash_table_iter_init(&it, server->vms);
    while (g_hash_table_iter_next(&it, NULL, &vm)) {
        g_hash_table_iter_steal(&it);
        broker_vm_detach(vm);
    }
    g_clear_pointer(&server->vms, g_hash_table_unref);
}
