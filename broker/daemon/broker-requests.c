/*
 * broker-requests.c: the broker requests of protocol section 5.5, one
 * function each (My files, section 5.6: broker-file-requests.c). Every request gets exactly one reply with its request id.
 * ERROR replies carry a stable status code and a fixed message (plus the
 * name the client sent, where that helps); store failures are logged and
 * answered with INTERNAL, never with the store's own text.
 *
 * The session requests are broker-sessions.c's; ATTACH never arrives here
 * (it ends the broker channel: the connection reports it to its owner,
 * broker-main.c, which hands it to the gateway).
 */
#include "broker-requests.h"
#include "broker-file-requests.h"
#include "broker-sessions.h"

#define BROKER_STORE_FAILED "the broker's state store failed; see its log"

static char *
arg_string(const CrpMessage *msg)
{
    return g_strndup(msg->request.arg.ptr, msg->request.arg.len);
}

static void
store_failed(BrokerConnection *c, const CrpMessage *msg, const char *what,
             const GError *error)
{
    broker_warning("event=store-error request=%s user=%s error=\"%s\"", what,
                   broker_connection_user(c), error->message);
    broker_connection_send_error(c, msg->request.request_id,
                                 CRP_STATUS_INTERNAL, BROKER_STORE_FAILED);
}

/* Sends @apps (CrpStoreApp) as an APP_LIST; @subscribed (nullable) holds
 * the names to flag CRP_APP_SUBSCRIBED, or NULL to flag every entry. */
static void
send_app_list(BrokerConnection *c, guint32 request_id, GPtrArray *apps,
              GHashTable *subscribed)
{
    guint count = MIN(apps->len, CRP_MAX_LIST_ITEMS);
    g_autofree CrpAppInfo *items = g_new0(CrpAppInfo, MAX(count, 1));

    for (guint i = 0; i < count; i++) {
        const CrpStoreApp *app = g_ptr_array_index(apps, i);
        CrpAppInfo *info = &items[i];

        info->name = crp_str(app->name);
        info->title = crp_str(app->title);
        info->description = crp_str(app->description);
        info->vcpus = (guint16)MIN(app->vcpus, G_MAXUINT16);
        info->memory_mib = app->memory_mib;
        if (!subscribed || g_hash_table_contains(subscribed, app->name)) {
            info->flags |= CRP_APP_SUBSCRIBED;
        }
        if (app->audio) {
            info->flags |= CRP_APP_AUDIO;
        }
    }
    if (apps->len > count) {
        broker_warning("event=list-truncated user=%s apps=%u",
                       broker_connection_user(c), apps->len);
    }
    CrpMessage reply = {
        .type = CRP_MSG_APP_LIST,
        .list = { .request_id = request_id, .count = (guint16)count,
                  .items = items },
    };
    broker_connection_send(c, &reply);
}

static void
send_ok(BrokerConnection *c, guint32 request_id)
{
    CrpMessage reply = { .type = CRP_MSG_OK, .ok_request_id = request_id };
    broker_connection_send(c, &reply);
}

static void
request_catalog_list(BrokerServer *server, BrokerConnection *c,
                     const CrpMessage *msg)
{
    CrpStore *store = server->store;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) apps = crp_store_app_list(store, FALSE, &error);
    g_autoptr(GPtrArray) mine = NULL;
    g_autoptr(GHashTable) subscribed = NULL;

    if (apps) {
        mine = crp_store_subscription_list(store, broker_connection_user(c),
                                           &error);
    }
    if (!apps || !mine) {
        store_failed(c, msg, "CATALOG_LIST", error);
        return;
    }
    subscribed = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < mine->len; i++) {
        const CrpStoreApp *app = g_ptr_array_index(mine, i);
        g_hash_table_add(subscribed, app->name);
    }
    send_app_list(c, msg->request.request_id, apps, subscribed);
}

static void
request_my_apps(BrokerServer *server, BrokerConnection *c,
                     const CrpMessage *msg)
{
    CrpStore *store = server->store;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) mine =
        crp_store_subscription_list(store, broker_connection_user(c), &error);

    if (!mine) {
        store_failed(c, msg, "MY_APPS", error);
        return;
    }
    send_app_list(c, msg->request.request_id, mine, NULL);
}

/* SUBSCRIBE and UNSUBSCRIBE. */
static void
request_subscription(BrokerServer *server, BrokerConnection *c,
                     const CrpMessage *msg, gboolean subscribe)
{
    CrpStore *store = server->store;
    const char *what = subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE";
    g_autoptr(GError) error = NULL;
    g_autofree char *app = arg_string(msg);
    g_autofree char *text = NULL;
    gboolean ok;

    if (!crp_store_app_valid_name(app)) {
        ok = FALSE;
        g_set_error_literal(&error, CRP_STORE_ERROR,
                            CRP_STORE_ERROR_NOT_FOUND, "invalid app name");
    } else if (subscribe) {
        ok = crp_store_subscribe(store, broker_connection_user(c), app,
                                 &error);
    } else {
        ok = crp_store_unsubscribe(store, broker_connection_user(c), app,
                                   &error);
    }
    if (ok) {
        broker_message("event=%s user=%s app=%s",
                       subscribe ? "subscribe" : "unsubscribe",
                       broker_connection_user(c), app);
        send_ok(c, msg->request.request_id);
    } else if (g_error_matches(error, CRP_STORE_ERROR,
                               CRP_STORE_ERROR_NOT_FOUND)) {
        /* The user exists (it logged in): the app is what is missing.
         * The name is echoed only when it is a valid one. */
        text = crp_store_app_valid_name(app)
                   ? g_strdup_printf("no such app in the catalog: %s", app)
                   : g_strdup("no such app in the catalog");
        broker_connection_send_error(c, msg->request.request_id,
                                     CRP_STATUS_NO_SUCH_APP, text);
    } else if (g_error_matches(error, CRP_STORE_ERROR,
                               CRP_STORE_ERROR_CONSTRAINT)) {
        /* The user was revoked since it logged in. */
        broker_connection_send_error(c, msg->request.request_id,
                                     CRP_STATUS_KEY_REVOKED,
                                     "this user was revoked");
    } else {
        store_failed(c, msg, what, error);
    }
}

static void
request_session_list(BrokerServer *server, BrokerConnection *c,
                     const CrpMessage *msg)
{
    CrpStore *store = server->store;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) sessions = crp_store_session_list(
        store, broker_connection_user(c), CRP_STORE_SESSIONS_LIVE, &error);

    if (!sessions) {
        store_failed(c, msg, "SESSION_LIST", error);
        return;
    }
    guint count = MIN(sessions->len, CRP_MAX_LIST_ITEMS);
    g_autofree CrpSessionInfo *items = g_new0(CrpSessionInfo, MAX(count, 1));
    for (guint i = 0; i < count; i++) {
        const CrpStoreSession *s = g_ptr_array_index(sessions, i);
        items[i].session_id = crp_str(s->id);
        items[i].app = crp_str(s->app);
        items[i].started_unix = (guint64)MAX(s->started, 0);
        items[i].state = (guint8)s->state;     /* 1..3 match the protocol */
    }
    CrpMessage reply = {
        .type = CRP_MSG_SESSIONS,
        .list = { .request_id = msg->request.request_id,
                  .count = (guint16)count, .items = items },
    };
    broker_connection_send(c, &reply);
}

void
broker_handle_request(BrokerServer *server, BrokerConnection *c,
                      const CrpMessage *msg)
{
    /* The channel only lets through what a client may send on a broker
     * channel; anything else closed it with a BYE already. */
    switch (msg->type) {
    case CRP_MSG_CATALOG_LIST:
        request_catalog_list(server, c, msg);
        break;
    case CRP_MSG_SUBSCRIBE:
        request_subscription(server, c, msg, TRUE);
        break;
    case CRP_MSG_UNSUBSCRIBE:
        request_subscription(server, c, msg, FALSE);
        break;
    case CRP_MSG_MY_APPS:
        request_my_apps(server, c, msg);
        break;
    case CRP_MSG_SESSION_LIST:
        request_session_list(server, c, msg);
        break;
    case CRP_MSG_LAUNCH:
        broker_request_launch(server, c, msg);
        break;
    case CRP_MSG_SESSION_TICKET:
        broker_request_session_ticket(server, c, msg);
        break;
    case CRP_MSG_SESSION_CLOSE:
        broker_request_session_close(server, c, msg);
        break;
    case CRP_MSG_FILE_LIST:
    case CRP_MSG_UPLOAD_BEGIN:
    case CRP_MSG_UPLOAD_DATA:
    case CRP_MSG_DOWNLOAD:
    case CRP_MSG_FILE_DELETE:
        if (!(broker_connection_capabilities(c) & CRP_CAP_BROKER_FILES)) {
            broker_connection_close(c, CRP_STATUS_BAD_REQUEST,
                                    "My files requests need the FILES "
                                    "capability");
            break;
        }
        broker_handle_file_request(server, c, msg);
        break;
    default:
        broker_connection_close(c, CRP_STATUS_BAD_REQUEST,
                                "unexpected message");
        break;
    }
}
