/*
 * crp-qmp-commands.c: one function per QMP command, all alike: build the
 * arguments, execute, turn the reply into C values for a typed callback.
 */
#include "crp-qmp-commands.h"

/* The typed callback a reply goes to. */
typedef struct {
    GCallback func;
    gpointer user_data;
} Call;

static Call *
call_new(GCallback func, gpointer user_data)
{
    Call *call = g_new(Call, 1);
    call->func = func;
    call->user_data = user_data;
    return call;
}

static void
reply_done(CrpQmpClient *client, JsonNode *result, const GError *error, gpointer data)
{
    g_autofree Call *call = data;
    ((CrpQmpDoneFunc)call->func)(client, error, call->user_data);
}

/* ---- reply members -------------------------------------------------------- */

static gboolean
bad_member(GError **error, const char *what, const char *name)
{
    g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                "QMP reply: %s member \"%s\" missing or of the wrong type", what, name);
    return FALSE;
}

static JsonNode *
member_value(JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member(obj, name);
    return node && JSON_NODE_HOLDS_VALUE(node) ? node : NULL;
}

static gboolean
read_bool(JsonObject *obj, const char *what, const char *name, gboolean *out, GError **error)
{
    JsonNode *node = member_value(obj, name);
    if (!node || json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
        return bad_member(error, what, name);
    }
    *out = json_node_get_boolean(node);
    return TRUE;
}

static gboolean
read_int(JsonObject *obj, const char *what, const char *name, gint64 *out, GError **error)
{
    JsonNode *node = member_value(obj, name);
    if (!node || json_node_get_value_type(node) != G_TYPE_INT64) {
        return bad_member(error, what, name);
    }
    *out = json_node_get_int(node);
    return TRUE;
}

/* A QAPI 'number': JSON writes whole ones without a fraction. */
static gboolean
read_number(JsonObject *obj, const char *what, const char *name, double *out, GError **error)
{
    JsonNode *node = member_value(obj, name);
    GType type = node ? json_node_get_value_type(node) : G_TYPE_INVALID;
    if (type == G_TYPE_DOUBLE) {
        *out = json_node_get_double(node);
    } else if (type == G_TYPE_INT64) {
        *out = (double)json_node_get_int(node);
    } else {
        return bad_member(error, what, name);
    }
    return TRUE;
}

/* @out may be NULL for an optional member that is absent. */
static gboolean
read_string(JsonObject *obj, const char *what, const char *name, gboolean optional,
            const char **out, GError **error)
{
    JsonNode *node = json_object_get_member(obj, name);
    *out = NULL;
    if (!node && optional) {
        return TRUE;
    }
    if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_STRING) {
        return bad_member(error, what, name);
    }
    *out = json_node_get_string(node);
    return TRUE;
}

static JsonObject *
result_object(JsonNode *result, const char *command, GError **error)
{
    if (!result || !JSON_NODE_HOLDS_OBJECT(result)) {
        g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                    "QMP reply to %s is not an object", command);
        return NULL;
    }
    return json_node_get_object(result);
}

/* ---- query-status ------------------------------------------------------------ */

static void
reply_status(CrpQmpClient *client, JsonNode *result, const GError *error, gpointer data)
{
    g_autofree Call *call = data;
    g_autoptr(GError) local = NULL;
    JsonObject *obj = NULL;
    gboolean running = FALSE;
    const char *status = NULL;

    if (!error && (!(obj = result_object(result, "query-status", &local)) ||
                   !read_bool(obj, "StatusInfo", "running", &running, &local) ||
                   !read_string(obj, "StatusInfo", "status", FALSE, &status, &local))) {
        error = local;
    }
    ((CrpQmpStatusFunc)call->func)(client, running, error ? NULL : status, error,
                                   call->user_data);
}

void
crp_qmp_query_status(CrpQmpClient *client, CrpQmpStatusFunc callback, gpointer user_data)
{
    crp_qmp_client_execute(client, "query-status", NULL, reply_status,
                           call_new(G_CALLBACK(callback), user_data));
}

/* ---- query-crp ------------------------------------------------------------------ */

void
crp_qmp_crp_info_free(CrpQmpCrpInfo *info)
{
    if (!info) {
        return;
    }
    for (guint i = 0; i < info->n_clients; i++) {
        g_free(info->clients[i].address);
    }
    g_free(info->clients);
    g_free(info->address);
    g_free(info);
}

static gboolean
crp_client_from_json(JsonNode *node, CrpQmpCrpClient *c, GError **error)
{
    static const char what[] = "CrpClientInfo";
    const char *address;

    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                    "QMP reply: a %s is not an object", what);
        return FALSE;
    }
    JsonObject *obj = json_node_get_object(node);
    if (!read_int(obj, what, "id", &c->id, error) ||
        !read_string(obj, what, "address", FALSE, &address, error) ||
        !read_int(obj, what, "connected-since", &c->connected_since, error) ||
        !read_int(obj, what, "bytes-in", &c->bytes_in, error) ||
        !read_int(obj, what, "bytes-out", &c->bytes_out, error) ||
        !read_int(obj, what, "frames-sent", &c->frames_sent, error) ||
        !read_number(obj, what, "fps", &c->fps, error) ||
        !read_number(obj, what, "rtt-ms", &c->rtt_ms, error) ||
        !read_number(obj, what, "input-latency-ms", &c->input_latency_ms, error)) {
        return FALSE;
    }
    c->address = g_strdup(address);
    return TRUE;
}

CrpQmpCrpInfo *
crp_qmp_crp_info_from_json(JsonNode *result, GError **error)
{
    static const char what[] = "CrpInfo";
    g_autoptr(CrpQmpCrpInfo) info = g_new0(CrpQmpCrpInfo, 1);
    JsonObject *obj = result_object(result, "query-crp", error);
    const char *address;

    if (!obj || !read_bool(obj, what, "enabled", &info->enabled, error) ||
        !read_string(obj, what, "address", TRUE, &address, error)) {
        return NULL;
    }
    info->address = g_strdup(address);
    if (json_object_has_member(obj, "bytes-in")) {
        if (!read_int(obj, what, "bytes-in", &info->bytes_in, error) ||
            !read_int(obj, what, "bytes-out", &info->bytes_out, error) ||
            !read_int(obj, what, "frames-sent", &info->frames_sent, error)) {
            return NULL;
        }
        if (info->bytes_in < 0 || info->bytes_out < 0 ||
            info->frames_sent < 0) {
            bad_member(error, what, "bytes-in");
            return NULL;
        }
        info->has_totals = TRUE;
    }

    JsonNode *clients = json_object_get_member(obj, "clients");
    if (!clients) {
        return g_steal_pointer(&info);
    }
    if (!JSON_NODE_HOLDS_ARRAY(clients)) {
        bad_member(error, what, "clients");
        return NULL;
    }
    JsonArray *array = json_node_get_array(clients);
    guint n = json_array_get_length(array);
    info->clients = g_new0(CrpQmpCrpClient, MAX(n, 1));
    for (guint i = 0; i < n; i++) {
        if (!crp_client_from_json(json_array_get_element(array, i), &info->clients[i], error)) {
            return NULL;
        }
        info->n_clients = i + 1;
    }
    return g_steal_pointer(&info);
}

static void
reply_crp_info(CrpQmpClient *client, JsonNode *result, const GError *error, gpointer data)
{
    g_autofree Call *call = data;
    g_autoptr(GError) local = NULL;
    g_autoptr(CrpQmpCrpInfo) info = NULL;

    if (!error && !(info = crp_qmp_crp_info_from_json(result, &local))) {
        error = local;
    }
    ((CrpQmpCrpInfoFunc)call->func)(client, info, error, call->user_data);
}

void
crp_qmp_query_crp(CrpQmpClient *client, CrpQmpCrpInfoFunc callback, gpointer user_data)
{
    crp_qmp_client_execute(client, "query-crp", NULL, reply_crp_info,
                           call_new(G_CALLBACK(callback), user_data));
}

/* ---- crp-set-ticket, crp-disconnect ------------------------------------------- */

void
crp_qmp_crp_set_ticket(CrpQmpClient *client, const char *ticket, guint expires,
                       CrpQmpTicketConnected connected, CrpQmpDoneFunc callback,
                       gpointer user_data)
{
    g_autoptr(JsonObject) args = json_object_new();

    json_object_set_string_member(args, "ticket", ticket);
    if (expires) {
        json_object_set_int_member(args, "expires", expires);
    }
    if (connected != CRP_QMP_TICKET_CONNECTED_DEFAULT) {
        json_object_set_string_member(args, "connected",
                                      connected == CRP_QMP_TICKET_CONNECTED_KEEP ?
                                      "keep" : "disconnect");
    }
    crp_qmp_client_execute(client, "crp-set-ticket", args, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}

void
crp_qmp_crp_disconnect(CrpQmpClient *client, gint64 id, CrpQmpDoneFunc callback,
                       gpointer user_data)
{
    g_autoptr(JsonObject) args = json_object_new();

    if (id >= 0) {
        json_object_set_int_member(args, "id", id);
    }
    crp_qmp_client_execute(client, "crp-disconnect", id >= 0 ? args : NULL, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}

/* ---- block-set-write-threshold, BLOCK_WRITE_THRESHOLD ----------------------- */

void
crp_qmp_block_set_write_threshold(CrpQmpClient *client, const char *node_name,
                                  guint64 threshold, CrpQmpDoneFunc callback,
                                  gpointer user_data)
{
    g_autoptr(JsonObject) args = json_object_new();

    json_object_set_string_member(args, "node-name", node_name);
    json_object_set_int_member(args, "write-threshold",
                               (gint64)MIN(threshold, (guint64)G_MAXINT64));
    crp_qmp_client_execute(client, "block-set-write-threshold", args, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}

gboolean
crp_qmp_write_threshold_from_event(const CrpQmpMessage *event,
                                   CrpQmpWriteThreshold *out, GError **error)
{
    static const char what[] = "BLOCK_WRITE_THRESHOLD";
    gint64 exceeded, threshold;

    if (!read_string(event->data, what, "node-name", FALSE, &out->node_name, error) ||
        !read_int(event->data, what, "amount-exceeded", &exceeded, error) ||
        !read_int(event->data, what, "write-threshold", &threshold, error)) {
        return FALSE;
    }
    if (exceeded < 0 || threshold < 0) {
        return bad_member(error, what, exceeded < 0 ? "amount-exceeded"
                                                    : "write-threshold");
    }
    out->amount_exceeded = (guint64)exceeded;
    out->write_threshold = (guint64)threshold;
    return TRUE;
}

/* ---- BLOCK_IO_ERROR ---------------------------------------------------------------- */

gboolean
crp_qmp_block_io_error_from_event(const CrpQmpMessage *event, CrpQmpBlockIoError *out,
                                  GError **error)
{
    static const char what[] = "BLOCK_IO_ERROR";

    out->nospace = FALSE;
    if (!read_string(event->data, what, "node-name", TRUE, &out->node_name, error) ||
        !read_string(event->data, what, "operation", FALSE, &out->operation, error) ||
        !read_string(event->data, what, "action", FALSE, &out->action, error) ||
        !read_string(event->data, what, "reason", FALSE, &out->reason, error)) {
        return FALSE;
    }
    return !json_object_has_member(event->data, "nospace") ||
           read_bool(event->data, what, "nospace", &out->nospace, error);
}

/* ---- the machine --------------------------------------------------------------- */

void
crp_qmp_stop(CrpQmpClient *client, CrpQmpDoneFunc callback, gpointer user_data)
{
    crp_qmp_client_execute(client, "stop", NULL, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}

void
crp_qmp_cont(CrpQmpClient *client, CrpQmpDoneFunc callback, gpointer user_data)
{
    crp_qmp_client_execute(client, "cont", NULL, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}

void
crp_qmp_system_powerdown(CrpQmpClient *client, CrpQmpDoneFunc callback, gpointer user_data)
{
    crp_qmp_client_execute(client, "system_powerdown", NULL, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}

void
crp_qmp_quit(CrpQmpClient *client, CrpQmpDoneFunc callback, gpointer user_data)
{
    crp_qmp_client_execute(client, "quit", NULL, reply_done,
                           call_new(G_CALLBACK(callback), user_data));
}
