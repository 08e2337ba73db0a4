/*
 * crp-broker-client.c: logged-in broker requests as GTasks.
 *
 * Each request gets the next request id and a GTask kept in a table until
 * its reply (or the end of the link) completes it. Replies may come in any
 * order (protocol section 5.4). Attaching runs a second link of its own.
 *
 * The broker closes a logged-in connection that says nothing for a while
 * ([login] idle-timeout-s, 300 s by default), and a user may keep one open
 * for hours without asking anything (crp-headless does for its whole
 * session). So a client that has sent no request for KEEPALIVE_S asks for
 * its sessions, and drops the answer. That also keeps NAT mappings alive.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-broker-client.h"
#include "crp-broker-link.h"
#include "crp-broker-files.h"

#include <string.h>
#include "crp/crp-error.h"
#include "crp/crp-file-path.h"
#include "crp/crp-keyfile.h"

G_DEFINE_QUARK(crp-broker-client-error-quark, crp_broker_client_error)

/* Longest silence of a logged-in client: well under the broker's idle
 * timeout (docs/operator-guide.md: keep that above 60 s). */
#define KEEPALIVE_S 30

struct _CrpBrokerClient {
    GObject parent;
    CrpUserKey *key;
    char *address;
    CrpBrokerLink *link;
    GTask *login;                   /* until the link is ready */
    GHashTable *pending;            /* request id -> GTask */
    guint32 next_id;
    gint64 last_request;            /* monotonic us */
    guint keepalive_timer;
    CrpBrokerClientClosedFunc closed_func;
    gpointer closed_data;
    gboolean unchecked_paths;       /* tests of the broker's own checks */
};

G_DEFINE_FINAL_TYPE(CrpBrokerClient, crp_broker_client, G_TYPE_OBJECT)

/* What a request's GTask expects back (its task data). */
typedef struct {
    guint8 reply;                   /* CRP_MSG_OK, _APP_LIST, ... */
    gboolean only_mine;             /* APP_LIST: every entry is subscribed */
} Expect;

void
crp_broker_app_free(CrpBrokerApp *app)
{
    if (app) {
        g_free(app->name);
        g_free(app->title);
        g_free(app->description);
        g_free(app);
    }
}

void
crp_broker_session_free(CrpBrokerSession *session)
{
    if (session) {
        g_free(session->id);
        g_free(session->app);
        g_free(session);
    }
}

void
crp_broker_ticket_free(CrpBrokerTicket *ticket)
{
    if (ticket) {
        g_free(ticket->session_id);
        if (ticket->ticket) {
            memset(ticket->ticket, 0, strlen(ticket->ticket));
            g_free(ticket->ticket);
        }
        g_free(ticket);
    }
}

static char *
str_dup(CrpStr s)
{
    return g_strndup(s.ptr, s.len);
}

static void
fail_pending(CrpBrokerClient *client, const GError *error)
{
    /* Taken out first: a callback may free the client or send again. */
    g_autoptr(GList) tasks = g_hash_table_get_values(client->pending);

    g_hash_table_steal_all(client->pending);
    for (GList *l = tasks; l; l = l->next) {
        g_task_return_error(l->data, g_error_copy(error));
        g_object_unref(l->data);
    }
}

/* ---- replies ---------------------------------------------------------- */

static GPtrArray *
apps_from(const CrpListMsg *list)
{
    GPtrArray *apps = g_ptr_array_new_with_free_func(
        (GDestroyNotify)crp_broker_app_free);
    CrpListIter it;
    CrpAppInfo info;

    crp_list_iter_init(&it, list);
    while (crp_list_iter_next_app(&it, &info)) {
        CrpBrokerApp *app = g_new0(CrpBrokerApp, 1);
        app->name = str_dup(info.name);
        app->title = str_dup(info.title);
        app->description = str_dup(info.description);
        app->vcpus = info.vcpus;
        app->memory_mib = info.memory_mib;
        app->subscribed = (info.flags & CRP_APP_SUBSCRIBED) != 0;
        app->audio = (info.flags & CRP_APP_AUDIO) != 0;
        g_ptr_array_add(apps, app);
    }
    return apps;
}

static GPtrArray *
sessions_from(const CrpListMsg *list)
{
    GPtrArray *sessions = g_ptr_array_new_with_free_func(
        (GDestroyNotify)crp_broker_session_free);
    CrpListIter it;
    CrpSessionInfo info;

    crp_list_iter_init(&it, list);
    while (crp_list_iter_next_session(&it, &info)) {
        CrpBrokerSession *s = g_new0(CrpBrokerSession, 1);
        s->id = str_dup(info.session_id);
        s->app = str_dup(info.app);
        s->started_unix = (gint64)MIN(info.started_unix, G_MAXINT64);
        s->state = info.state;
        g_ptr_array_add(sessions, s);
    }
    return sessions;
}

static guint32
reply_id(const CrpMessage *msg)
{
    switch (msg->type) {
    case CRP_MSG_OK: return msg->ok_request_id;
    case CRP_MSG_APP_LIST:
    case CRP_MSG_SESSIONS: return msg->list.request_id;
    case CRP_MSG_LAUNCHED: return msg->launched.request_id;
    case CRP_MSG_ERROR: return msg->error.request_id;
    case CRP_MSG_FILES: return msg->files.request_id;
    case CRP_MSG_UPLOAD_READY: return msg->upload_ready.request_id;
    case CRP_MSG_FILE_DATA: return msg->file_data.request_id;
    default: return 0;
    }
}

static void
on_link_message(CrpBrokerLink *link, const CrpMessage *msg, gpointer data)
{
    CrpBrokerClient *client = data;
    guint32 id = reply_id(msg);
    GTask *task = g_hash_table_lookup(client->pending, GUINT_TO_POINTER(id));
    const Expect *expect = task ? g_task_get_task_data(task) : NULL;

    if (!task || (msg->type != CRP_MSG_ERROR && msg->type != expect->reply)) {
        /* A reply to nothing we asked, or of the wrong kind: the broker is
         * broken; nothing it says can be trusted any more. */
        g_autoptr(GError) error = g_error_new(
            CRP_BROKER_CLIENT_ERROR, CRP_STATUS_BAD_REQUEST,
            "the broker sent an unexpected %s (request %u)",
            crp_message_type_name(msg->type), id);
        fail_pending(client, error);
        crp_broker_link_close(client->link);
        if (client->closed_func) {
            client->closed_func(client->closed_data, error);
        }
        return;
    }
    g_hash_table_steal(client->pending, GUINT_TO_POINTER(id));
    switch (msg->type) {
    case CRP_MSG_ERROR:
        g_task_return_new_error(task, CRP_BROKER_CLIENT_ERROR, msg->error.code,
                                "%.*s", (int)msg->error.message.len,
                                msg->error.message.ptr);
        break;
    case CRP_MSG_OK:
        g_task_return_boolean(task, TRUE);
        break;
    case CRP_MSG_APP_LIST: {
        GPtrArray *apps = apps_from(&msg->list);
        if (expect->only_mine) {
            for (guint i = 0; i < apps->len; i++) {
                ((CrpBrokerApp *)apps->pdata[i])->subscribed = TRUE;
            }
        }
        g_task_return_pointer(task, apps, (GDestroyNotify)g_ptr_array_unref);
        break;
    }
    case CRP_MSG_SESSIONS:
        g_task_return_pointer(task, sessions_from(&msg->list),
                              (GDestroyNotify)g_ptr_array_unref);
        break;
    case CRP_MSG_LAUNCHED: {
        CrpBrokerTicket *t = g_new0(CrpBrokerTicket, 1);
        t->session_id = str_dup(msg->launched.session_id);
        t->ticket = str_dup(msg->launched.ticket);
        t->expires_in_s = msg->launched.expires_in_s;
        g_task_return_pointer(task, t, (GDestroyNotify)crp_broker_ticket_free);
        break;
    }
    case CRP_MSG_FILES:
        g_task_return_pointer(task, crp_broker_file_list_from(msg),
                              (GDestroyNotify)crp_broker_file_list_free);
        break;
    case CRP_MSG_UPLOAD_READY:
        g_task_return_pointer(task, g_memdup2(&msg->upload_ready.offset,
                                              sizeof(guint64)), g_free);
        break;
    case CRP_MSG_FILE_DATA: {
        CrpBrokerFileChunk *c = g_new0(CrpBrokerFileChunk, 1);
        c->size = msg->file_data.size;
        c->mtime_ns = msg->file_data.mtime_ns;
        c->data = g_bytes_new(msg->file_data.data.data,
                              msg->file_data.data.len);
        g_task_return_pointer(task, c,
                              (GDestroyNotify)crp_broker_file_chunk_free);
        break;
    }
    }
    g_object_unref(task);
}

/* ---- the link --------------------------------------------------------- */

static void request(CrpBrokerClient *client, guint8 type, const char *arg,
                    const Expect *expect, gpointer source_tag,
                    GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data);

static gboolean
on_keepalive(gpointer data)
{
    CrpBrokerClient *client = data;
    Expect e = { CRP_MSG_SESSIONS };

    if (g_get_monotonic_time() - client->last_request >=
        (KEEPALIVE_S - 1) * G_USEC_PER_SEC) {
        /* No callback: the answer is dropped with its task. */
        request(client, CRP_MSG_SESSION_LIST, NULL, &e, on_keepalive, NULL,
                NULL, NULL);
    }
    return G_SOURCE_CONTINUE;
}

static void
on_link_ready(CrpBrokerLink *link, gpointer data)
{
    CrpBrokerClient *client = data;
    GTask *login = g_steal_pointer(&client->login);

    client->last_request = g_get_monotonic_time();
    client->keepalive_timer = g_timeout_add_seconds(KEEPALIVE_S, on_keepalive,
                                                    client);

    g_task_return_pointer(login, g_object_ref(client), g_object_unref);
    g_object_unref(login);
}

static void
on_link_ended(CrpBrokerLink *link, const GError *error, gpointer data)
{
    CrpBrokerClient *client = data;
    g_autoptr(GError) why = error ? g_error_copy(error) : g_error_new_literal(
        CRP_BROKER_CLIENT_ERROR, CRP_STATUS_SHUTDOWN,
        "the broker closed the connection");

    if (client->login) {
        /* The login failed: the task owns the client (its finish drops it). */
        GTask *login = g_steal_pointer(&client->login);
        g_task_return_error(login, g_steal_pointer(&why));
        g_object_unref(login);
        return;
    }
    g_clear_handle_id(&client->keepalive_timer, g_source_remove);
    fail_pending(client, why);
    if (client->closed_func) {
        client->closed_func(client->closed_data, why);
    }
}

static const CrpBrokerLinkEvents client_link_events = {
    .ready = on_link_ready,
    .message = on_link_message,
    .ended = on_link_ended,
};

void
crp_broker_client_connect_async(const char *key_path, const char *address,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    g_autoptr(GError) error = NULL;
    CrpUserKey *key = crp_user_key_load(key_path, &error);

    g_task_set_source_tag(task, crp_broker_client_connect_async);
    if (!key) {
        g_task_return_error(task, g_steal_pointer(&error));
        g_object_unref(task);
        return;
    }
    CrpBrokerClient *client = g_object_new(CRP_TYPE_BROKER_CLIENT, NULL);
    client->key = key;
    client->address = g_strdup(address ? address : key->broker_address);
    client->login = task;
    /* Until the login completes, the task owns the client. */
    g_task_set_task_data(task, client, g_object_unref);
    client->link = crp_broker_link_new(key, client->address,
                                       &client_link_events, client);
}

CrpBrokerClient *
crp_broker_client_connect_finish(GAsyncResult *result, GError **error)
{
    GTask *task = G_TASK(result);

    return g_task_propagate_pointer(task, error);
}

static void
crp_broker_client_init(CrpBrokerClient *client)
{
    client->pending = g_hash_table_new_full(NULL, NULL, NULL, g_object_unref);
}

static void
crp_broker_client_finalize(GObject *object)
{
    CrpBrokerClient *client = CRP_BROKER_CLIENT(object);

    /* Pending tasks hold references: none is left by now. */
    g_clear_handle_id(&client->keepalive_timer, g_source_remove);
    crp_broker_link_close(client->link);
    crp_broker_link_unref(client->link);
    g_hash_table_unref(client->pending);
    crp_user_key_free(client->key);
    g_free(client->address);
    G_OBJECT_CLASS(crp_broker_client_parent_class)->finalize(object);
}

static void
crp_broker_client_class_init(CrpBrokerClientClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = crp_broker_client_finalize;
}

void
crp_broker_client_free(CrpBrokerClient *client)
{
    if (!client) {
        return;
    }
    g_autoptr(GError) cancelled = g_error_new_literal(
        G_IO_ERROR, G_IO_ERROR_CANCELLED, "the broker client was closed");
    client->closed_func = NULL;
    g_clear_handle_id(&client->keepalive_timer, g_source_remove);
    crp_broker_link_close(client->link);
    fail_pending(client, cancelled);
    g_object_unref(client);
}

const char *
crp_broker_client_get_user(CrpBrokerClient *client)
{
    return client->key->user_id;
}

void
crp_broker_client_set_closed_func(CrpBrokerClient *client,
                                  CrpBrokerClientClosedFunc func,
                                  gpointer data)
{
    client->closed_func = func;
    client->closed_data = data;
}

/* ---- requests --------------------------------------------------------- */

/* Gives @msg the next request id and sends it; @task completes with the
 * reply. Takes the caller's reference to @task. */
static void
dispatch(CrpBrokerClient *client, GTask *task, CrpMessage *msg)
{
    guint32 id = ++client->next_id;

    /* Every request's id is the first field of its body. */
    if (msg->type >= CRP_MSG_FILE_LIST && msg->type <= CRP_MSG_FILE_DELETE) {
        msg->file.request_id = id;
    } else {
        msg->request.request_id = id;
    }
    client->last_request = g_get_monotonic_time();
    if (!crp_broker_link_send(client->link, msg)) {
        g_task_return_new_error(task, CRP_BROKER_CLIENT_ERROR,
                                CRP_STATUS_SHUTDOWN,
                                "the connection to the broker is closed");
        g_object_unref(task);
        return;
    }
    g_hash_table_insert(client->pending, GUINT_TO_POINTER(id), task);
}

static GTask *
new_task(CrpBrokerClient *client, const Expect *expect, gpointer source_tag,
         GCancellable *cancellable, GAsyncReadyCallback callback,
         gpointer user_data)
{
    GTask *task = g_task_new(client, cancellable, callback, user_data);

    g_task_set_source_tag(task, source_tag);
    g_task_set_task_data(task, g_memdup2(expect, sizeof(*expect)), g_free);
    return task;
}

static void
request(CrpBrokerClient *client, guint8 type, const char *arg,
        const Expect *expect, gpointer source_tag, GCancellable *cancellable,
        GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = new_task(client, expect, source_tag, cancellable, callback,
                           user_data);
    CrpMessage msg = {
        .type = type,
        .request = { .arg = crp_str(arg) },
    };

    if (arg && (!*arg || strlen(arg) > 64)) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                "'%s' is not a valid name", arg);
        g_object_unref(task);
        return;
    }
    dispatch(client, task, &msg);
}

void
crp_broker_client_file_request(CrpBrokerClient *client, CrpMessage *msg,
                               guint8 reply, gpointer source_tag,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
    Expect e = { reply };

    dispatch(client, new_task(client, &e, source_tag, cancellable, callback,
                              user_data), msg);
}

gboolean
crp_broker_client_has_files(CrpBrokerClient *client)
{
    return (crp_broker_link_get_capabilities(client->link) &
            CRP_CAP_BROKER_FILES) != 0;
}

void
crp_broker_client_set_check_paths(CrpBrokerClient *client, gboolean check)
{
    client->unchecked_paths = !check;
}

gboolean
crp_broker_client_check_file_path(CrpBrokerClient *client, const char *path,
                                  gboolean allow_top, GError **error)
{
    g_autoptr(GError) why = NULL;
    gsize len = strlen(path);

    if (!crp_broker_client_has_files(client)) {
        /* Not the broker's refusal: nothing was asked. */
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "this broker does not offer My files");
        return FALSE;
    }
    if (client->unchecked_paths && len <= CRP_MAX_FILE_PATH) {
        /* Longer ones would not fit the message. */
        return TRUE;
    }
    if (!crp_file_path_check(path, len, allow_top, &why)) {
        /* The broker's own answer to such a path, said before sending. */
        g_set_error_literal(error, CRP_BROKER_CLIENT_ERROR,
                            CRP_STATUS_BAD_REQUEST, why->message);
        return FALSE;
    }
    return TRUE;
}

void
crp_broker_client_list_apps_async(CrpBrokerClient *client, gboolean only_mine,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    Expect e = { CRP_MSG_APP_LIST, only_mine };
    request(client, only_mine ? CRP_MSG_MY_APPS : CRP_MSG_CATALOG_LIST, NULL,
            &e, crp_broker_client_list_apps_async, cancellable, callback,
            user_data);
}

GPtrArray *
crp_broker_client_list_apps_finish(CrpBrokerClient *client,
                                   GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

void
crp_broker_client_subscribe_async(CrpBrokerClient *client, const char *app,
                                  gboolean subscribe,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    Expect e = { CRP_MSG_OK };
    request(client, subscribe ? CRP_MSG_SUBSCRIBE : CRP_MSG_UNSUBSCRIBE, app,
            &e, crp_broker_client_subscribe_async, cancellable, callback,
            user_data);
}

gboolean
crp_broker_client_subscribe_finish(CrpBrokerClient *client,
                                   GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

void
crp_broker_client_list_sessions_async(CrpBrokerClient *client,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
    Expect e = { CRP_MSG_SESSIONS };
    request(client, CRP_MSG_SESSION_LIST, NULL, &e,
            crp_broker_client_list_sessions_async, cancellable, callback,
            user_data);
}

GPtrArray *
crp_broker_client_list_sessions_finish(CrpBrokerClient *client,
                                       GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

void
crp_broker_client_launch_async(CrpBrokerClient *client, const char *app,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
    Expect e = { CRP_MSG_LAUNCHED };
    request(client, CRP_MSG_LAUNCH, app, &e, crp_broker_client_launch_async,
            cancellable, callback, user_data);
}

void
crp_broker_client_renew_ticket_async(CrpBrokerClient *client,
                                     const char *session_id,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
    Expect e = { CRP_MSG_LAUNCHED };
    request(client, CRP_MSG_SESSION_TICKET, session_id, &e,
            crp_broker_client_renew_ticket_async, cancellable, callback,
            user_data);
}

CrpBrokerTicket *
crp_broker_client_ticket_finish(CrpBrokerClient *client, GAsyncResult *result,
                                GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

void
crp_broker_client_close_session_async(CrpBrokerClient *client,
                                      const char *session_id,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
    Expect e = { CRP_MSG_OK };
    request(client, CRP_MSG_SESSION_CLOSE, session_id, &e,
            crp_broker_client_close_session_async, cancellable, callback,
            user_data);
}

gboolean
crp_broker_client_close_session_finish(CrpBrokerClient *client,
                                       GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- attach ----------------------------------------------------------- */

/* The attach link: login, ATTACH in the final record, OK in the broker's
 * final record, then the bare connection. */
typedef struct {
    GTask *task;
    CrpBrokerLink *link;
    char *session_id;
    gboolean ok;
} Attach;

/* Completes the attach once; drops the task's creation reference (the
 * task data, and with it the link, go when the result has been taken). */
static void
attach_done(Attach *a, GError *error)
{
    GTask *task = g_steal_pointer(&a->task);

    if (!task) {
        return;
    }
    if (error) {
        g_task_return_error(task, error);
    } else {
        GIOStream *stream = crp_broker_link_steal_stream(a->link, &error);
        if (stream) {
            g_task_return_pointer(task, stream, g_object_unref);
        } else {
            g_task_return_error(task, error);
        }
    }
    g_object_unref(task);
}

static void
on_attach_ready(CrpBrokerLink *link, gpointer data)
{
    Attach *a = data;
    CrpMessage msg = {
        .type = CRP_MSG_ATTACH,
        .request = { .request_id = 1, .arg = crp_str(a->session_id) },
    };

    if (!crp_broker_link_send_final(link, &msg)) {
        attach_done(a, g_error_new_literal(CRP_BROKER_CLIENT_ERROR,
                                           CRP_STATUS_SHUTDOWN,
                                           "the broker closed the connection"));
    }
}

static void
on_attach_message(CrpBrokerLink *link, const CrpMessage *msg, gpointer data)
{
    Attach *a = data;

    if (msg->type == CRP_MSG_OK && msg->ok_request_id == 1) {
        a->ok = TRUE;
    } else if (msg->type == CRP_MSG_ERROR) {
        attach_done(a, g_error_new(CRP_BROKER_CLIENT_ERROR, msg->error.code,
                                   "%.*s", (int)msg->error.message.len,
                                   msg->error.message.ptr));
    } else {
        attach_done(a, g_error_new(CRP_BROKER_CLIENT_ERROR,
                                   CRP_STATUS_BAD_REQUEST,
                                   "the broker answered ATTACH with %s",
                                   crp_message_type_name(msg->type)));
    }
}

static void
on_attach_ended(CrpBrokerLink *link, const GError *error, gpointer data)
{
    Attach *a = data;

    if (error) {
        attach_done(a, g_error_copy(error));
    } else if (!a->ok) {
        attach_done(a, g_error_new_literal(CRP_BROKER_CLIENT_ERROR,
                                           CRP_STATUS_BAD_REQUEST,
                                           "the broker ended the attach "
                                           "without an answer"));
    } else {
        /* The ATTACH record was read by the broker before it said OK,
         * so the connection's output is drained (a hand-over needs a
         * quiet stream). */
        attach_done(a, NULL);
    }
}

static const CrpBrokerLinkEvents attach_link_events = {
    .ready = on_attach_ready,
    .message = on_attach_message,
    .ended = on_attach_ended,
};

static void
attach_free(Attach *a)
{
    crp_broker_link_close(a->link);
    crp_broker_link_unref(a->link);
    g_free(a->session_id);
    g_free(a);
}

void
crp_broker_client_attach_async(CrpBrokerClient *client,
                               const char *session_id,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
    GTask *task = g_task_new(client, cancellable, callback, user_data);
    Attach *a = g_new0(Attach, 1);

    g_task_set_source_tag(task, crp_broker_client_attach_async);
    /* The task keeps the attach state (and its link) alive until the
     * result has been taken. */
    g_task_set_task_data(task, a, (GDestroyNotify)attach_free);
    a->task = task;
    a->session_id = g_strdup(session_id);
    a->link = crp_broker_link_new(client->key, client->address,
                                  &attach_link_events, a);
}

GIOStream *
crp_broker_client_attach_finish(CrpBrokerClient *client, GAsyncResult *result,
                                GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}
