/*
 * crp-qmp-client.c: the QMP transport: socket, greeting, ids, events.
 *
 * All I/O goes through GSources on a non-blocking GSocket, never through
 * GIO async operations: destroying the client destroys its sources, and
 * nothing of it can run afterwards. The one thing that can outlive a
 * destroy is the callback frame that called it; a reference held around
 * every callback keeps the memory until that frame unwinds.
 */
#include "crp-qmp-client.h"
#include "crp-qmp-error.h"

#include <gio/gunixsocketaddress.h>
#include <stdlib.h>
#include <string.h>

/* How often a socket that is not there yet is tried again. */
#define CONNECT_RETRY_MS 50
#define READ_CHUNK 65536

typedef enum {
    STATE_CONNECTING,
    STATE_GREETING,
    STATE_NEGOTIATING,
    STATE_READY,
    STATE_CLOSED,
} ClientState;

typedef struct {
    CrpQmpClient *client;
    guint64 seq;
    char *id;
    char *command;
    CrpQmpReplyFunc callback;
    gpointer user_data;
    GSource *timeout;
    /* Set on a call that fails without being sent (deferred). */
    GError *error;
} Pending;

struct CrpQmpClient {
    gint refs;
    gboolean destroyed;
    ClientState state;
    /* The connection was ready once: later commands get "connection lost". */
    gboolean was_ready;
    CrpQmpClientConfig config;
    CrpQmpEventHandler *events;
    char *path;
    GMainContext *context;

    GSocket *socket;
    GSource *connect_source;
    GSource *deadline_source;
    GSource *read_source;
    GSource *write_source;
    GSource *idle_source;
    GError *connect_error;

    CrpQmpParser *parser;
    guint8 *read_buf;
    GByteArray *out;
    guint64 next_seq;
    /* id -> Pending sent and not answered */
    GHashTable *pending;
    /* Pending that failed before being sent, called back from idle */
    GQueue deferred;
    guint version[3];
};

static void client_fail(CrpQmpClient *client, const GError *error);
static void connect_attempt(CrpQmpClient *client);

/* ---- lifetime ----------------------------------------------------------- */

static void
pending_free(Pending *p)
{
    if (p->timeout) {
        g_source_destroy(p->timeout);
        g_source_unref(p->timeout);
    }
    g_clear_error(&p->error);
    g_free(p->id);
    g_free(p->command);
    g_free(p);
}

/* Calls @p back and frees it; @p is no longer in any table. */
static void
pending_finish(Pending *p, JsonNode *result, const GError *error)
{
    CrpQmpClient *client = p->client;
    CrpQmpReplyFunc callback = p->callback;
    gpointer user_data = p->user_data;

    /* Free first: the callback may destroy the client. */
    p->callback = NULL;
    g_autoptr(GError) own = g_steal_pointer(&p->error);
    pending_free(p);
    callback(client, result, error ? error : own, user_data);
}

/* The oldest call not yet called back, taken out of its table. */
static Pending *
take_oldest(CrpQmpClient *client)
{
    Pending *oldest = g_queue_pop_head(&client->deferred);
    if (oldest) {
        return oldest;
    }
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, client->pending);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Pending *p = value;
        if (!oldest || p->seq < oldest->seq) {
            oldest = p;
        }
    }
    if (oldest) {
        g_hash_table_steal(client->pending, oldest->id);
    }
    return oldest;
}

/*
 * Calls back every call not called back yet with @error; deferred calls
 * keep their own error unless @override. Stops if a callback destroys the
 * client (destroy then cancels the rest), unless destroyed already.
 */
static void
fail_all(CrpQmpClient *client, const GError *error, gboolean override)
{
    gboolean destroyed = client->destroyed;
    Pending *p;

    while (client->destroyed == destroyed && (p = take_oldest(client))) {
        pending_finish(p, NULL, (override || !p->error) ? error : NULL);
    }
}

static void
clear_source(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_source_unref(*source);
        *source = NULL;
    }
}

static GSource *
attach(CrpQmpClient *client, GSource *source, GSourceFunc func, gpointer data)
{
    g_source_set_callback(source, func, data, NULL);
    g_source_attach(source, client->context);
    return source;
}

static void
client_close_io(CrpQmpClient *client)
{
    clear_source(&client->connect_source);
    clear_source(&client->deadline_source);
    clear_source(&client->read_source);
    clear_source(&client->write_source);
    if (client->socket) {
        g_socket_close(client->socket, NULL);
        g_clear_object(&client->socket);
    }
    g_byte_array_set_size(client->out, 0);
}

static CrpQmpClient *
client_ref(CrpQmpClient *client)
{
    client->refs++;
    return client;
}

static void
client_unref(CrpQmpClient *client)
{
    if (--client->refs > 0) {
        return;
    }
    /* Calls made after destroy, from a callback still running. */
    g_autoptr(GError) cancelled = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                      "QMP client destroyed");
    client->refs = 1;
    fail_all(client, cancelled, TRUE);
    clear_source(&client->idle_source);
    client_close_io(client);
    g_hash_table_unref(client->pending);
    g_byte_array_unref(client->out);
    crp_qmp_parser_free(client->parser);
    g_clear_error(&client->connect_error);
    g_main_context_unref(client->context);
    g_free(client->read_buf);
    g_free(client->events);
    g_free(client->path);
    g_free(client);
}

void
crp_qmp_client_destroy(CrpQmpClient *client)
{
    if (!client || client->destroyed) {
        return;
    }
    g_autoptr(GError) cancelled = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                      "QMP client destroyed");
    client->destroyed = TRUE;
    client->state = STATE_CLOSED;
    clear_source(&client->idle_source);
    client_close_io(client);
    fail_all(client, cancelled, TRUE);
    client_unref(client);
}

/* ---- events ------------------------------------------------------------- */

static int
compare_handlers(const void *a, const void *b)
{
    return strcmp(((const CrpQmpEventHandler *)a)->name,
                  ((const CrpQmpEventHandler *)b)->name);
}

static void
dispatch_event(CrpQmpClient *client, const CrpQmpMessage *msg)
{
    CrpQmpEventHandler key = { .name = msg->event };
    const CrpQmpEventHandler *h = bsearch(&key, client->events, client->config.n_events,
                                          sizeof(key), compare_handlers);
    if (h && h->func) {
        h->func(client, msg, client->config.user_data);
    }
}

/* ---- writing ------------------------------------------------------------ */

static gboolean
on_writable(GSocket *socket, GIOCondition condition, gpointer data)
{
    CrpQmpClient *client = data;
    g_autoptr(GError) error = NULL;

    gssize n = g_socket_send(socket, (const char *)client->out->data,
                             client->out->len, NULL, &error);
    if (n < 0) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            return G_SOURCE_CONTINUE;
        }
        client_fail(client, error);
        return G_SOURCE_REMOVE;
    }
    g_byte_array_remove_range(client->out, 0, (guint)n);
    if (client->out->len > 0) {
        return G_SOURCE_CONTINUE;
    }
    clear_source(&client->write_source);
    return G_SOURCE_REMOVE;
}

static void
client_write(CrpQmpClient *client, const char *line, gsize len)
{
    g_byte_array_append(client->out, (const guint8 *)line, (guint)len);
    g_byte_array_append(client->out, (const guint8 *)"\n", 1);
    if (!client->write_source && client->socket) {
        client->write_source = attach(client,
                                      g_socket_create_source(client->socket, G_IO_OUT, NULL),
                                      G_SOURCE_FUNC(on_writable), client);
    }
}

/* ---- commands ----------------------------------------------------------- */

static gboolean
on_idle(gpointer data)
{
    CrpQmpClient *client = data;
    Pending *p;

    client_ref(client);
    clear_source(&client->idle_source);
    while (!client->destroyed && (p = g_queue_pop_head(&client->deferred))) {
        pending_finish(p, NULL, NULL);
    }
    client_unref(client);
    return G_SOURCE_REMOVE;
}

static void
defer(CrpQmpClient *client, Pending *p, GError *error)
{
    p->error = error;
    g_queue_push_tail(&client->deferred, p);
    if (!client->idle_source && !client->destroyed) {
        client->idle_source = attach(client, g_idle_source_new(), on_idle, client);
    }
}

static gboolean
on_command_timeout(gpointer data)
{
    Pending *p = data;
    CrpQmpClient *client = p->client;
    g_autoptr(GError) error = g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          "QMP command %s got no reply within %u ms",
                                          p->command, client->config.command_timeout_ms);

    g_hash_table_steal(client->pending, p->id);
    client_ref(client);
    pending_finish(p, NULL, error);
    client_unref(client);
    return G_SOURCE_REMOVE;
}

static char *
command_line(const char *command, JsonObject *arguments, const char *id, gsize *len)
{
    g_autoptr(JsonObject) obj = json_object_new();
    g_autoptr(JsonNode) root = json_node_alloc();
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_object_set_string_member(obj, "execute", command);
    if (arguments) {
        json_object_set_object_member(obj, "arguments", json_object_ref(arguments));
    }
    json_object_set_string_member(obj, "id", id);
    json_node_init_object(root, obj);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, len);
}

static void
client_submit(CrpQmpClient *client, const char *command, JsonObject *arguments,
              CrpQmpReplyFunc callback, gpointer user_data, gboolean need_ready)
{
    Pending *p = g_new0(Pending, 1);

    p->client = client;
    p->seq = ++client->next_seq;
    p->id = g_strdup_printf("crp-%" G_GUINT64_FORMAT, p->seq);
    p->command = g_strdup(command);
    p->callback = callback;
    p->user_data = user_data;

    if (client->destroyed) {
        defer(client, p, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             "QMP client destroyed"));
        return;
    }
    if (client->state == STATE_CLOSED ||
        (need_ready && client->state != STATE_READY)) {
        defer(client, p, client->was_ready ?
              g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                          "QMP connection lost before %s", command) :
              g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                          "QMP not connected for %s", command));
        return;
    }

    gsize len;
    g_autofree char *line = command_line(command, arguments, p->id, &len);
    if (!g_utf8_validate(line, (gssize)len, NULL)) {
        defer(client, p, g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                     "QMP command %s: arguments are not UTF-8", command));
        return;
    }
    client_write(client, line, len);
    if (client->config.command_timeout_ms) {
        p->timeout = attach(client, g_timeout_source_new(client->config.command_timeout_ms),
                            on_command_timeout, p);
    }
    g_hash_table_insert(client->pending, p->id, p);
}

void
crp_qmp_client_execute(CrpQmpClient *client, const char *command,
                       JsonObject *arguments, CrpQmpReplyFunc callback,
                       gpointer user_data)
{
    g_return_if_fail(client && command && callback);
    client_submit(client, command, arguments, callback, user_data, TRUE);
}

/* ---- reading ------------------------------------------------------------ */

static void
fail_protocol(CrpQmpClient *client, const char *what)
{
    g_autoptr(GError) error = g_error_new(CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                                          "QMP: %s", what);
    client_fail(client, error);
}

/* The reply to qmp_capabilities (no capability enabled: no out-of-band),
 * sent here rather than by crp-qmp-commands.c: the transport needs it
 * before it is ready, and calls nothing above itself. */
static void
on_capabilities(CrpQmpClient *client, JsonNode *result, const GError *error,
                gpointer user_data)
{
    if (client->destroyed || client->state != STATE_NEGOTIATING) {
        return;
    }
    if (error) {
        g_autoptr(GError) failed = g_error_new(error->domain, error->code,
                                               "qmp_capabilities failed: %s",
                                               error->message);
        client_fail(client, failed);
        return;
    }
    client->state = STATE_READY;
    client->was_ready = TRUE;
    clear_source(&client->deadline_source);
    if (client->config.ready) {
        client->config.ready(client, NULL, client->config.user_data);
    }
}

static void
handle_reply(CrpQmpClient *client, const CrpQmpMessage *msg)
{
    if (!msg->id) {
        /* QEMU could not parse a command of ours: we cannot tell which. */
        g_autoptr(GError) error = g_error_new(CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                                              "QMP refused a command it could not read: %s",
                                              msg->error_desc);
        client_fail(client, error);
        return;
    }
    Pending *p = g_hash_table_lookup(client->pending, msg->id);
    if (!p) {
        /* The reply of a command that timed out. */
        return;
    }
    g_hash_table_steal(client->pending, msg->id);
    if (msg->type == CRP_QMP_MSG_RETURN) {
        pending_finish(p, msg->ret, NULL);
    } else {
        g_autoptr(GError) error = g_error_new_literal(CRP_QMP_ERROR,
                                                      crp_qmp_error_code_from_class(msg->error_class),
                                                      msg->error_desc);
        pending_finish(p, NULL, error);
    }
}

static void
handle_message(CrpQmpClient *client, CrpQmpMessageType type,
               const CrpQmpMessage *msg, const GError *error)
{
    if (type == CRP_QMP_MSG_INVALID) {
        client_fail(client, error);
        return;
    }
    if (client->state == STATE_GREETING) {
        if (type != CRP_QMP_MSG_GREETING) {
            fail_protocol(client, "the first message is not a greeting");
            return;
        }
        client->version[0] = (guint)CLAMP(msg->version_major, 0, G_MAXUINT);
        client->version[1] = (guint)CLAMP(msg->version_minor, 0, G_MAXUINT);
        client->version[2] = (guint)CLAMP(msg->version_micro, 0, G_MAXUINT);
        client->state = STATE_NEGOTIATING;
        /* Without the readiness check: the client is not ready yet. */
        client_submit(client, "qmp_capabilities", NULL, on_capabilities,
                      NULL, FALSE);
        return;
    }
    switch (type) {
    case CRP_QMP_MSG_GREETING:
        fail_protocol(client, "a second greeting");
        break;
    case CRP_QMP_MSG_RETURN:
    case CRP_QMP_MSG_ERROR:
        handle_reply(client, msg);
        break;
    case CRP_QMP_MSG_EVENT:
        dispatch_event(client, msg);
        break;
    default:
        g_assert_not_reached();
    }
}

static gboolean
on_readable(GSocket *socket, GIOCondition condition, gpointer data)
{
    CrpQmpClient *client = data;
    g_autoptr(GError) error = NULL;

    gssize n = g_socket_receive(socket, (char *)client->read_buf, READ_CHUNK, NULL, &error);
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        if (n == 0) {
            error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                        "QEMU closed the QMP connection");
        }
        client_fail(client, error);
        return G_SOURCE_REMOVE;
    }

    crp_qmp_parser_feed(client->parser, client->read_buf, (gsize)n);
    client_ref(client);
    while (client->state != STATE_CLOSED) {
        CrpQmpMessage msg;
        g_autoptr(GError) msg_error = NULL;
        CrpQmpMessageType type = crp_qmp_parser_next(client->parser, &msg, &msg_error);
        if (type == CRP_QMP_MSG_NONE) {
            break;
        }
        handle_message(client, type, &msg, msg_error);
    }
    gboolean open = client->state != STATE_CLOSED;
    client_unref(client);
    return open ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- connecting --------------------------------------------------------- */

static void
client_connected(CrpQmpClient *client)
{
    client->state = STATE_GREETING;
    client->read_source = attach(client,
                                 g_socket_create_source(client->socket, G_IO_IN, NULL),
                                 G_SOURCE_FUNC(on_readable), client);
}

static gboolean
on_connect_writable(GSocket *socket, GIOCondition condition, gpointer data)
{
    CrpQmpClient *client = data;
    g_autoptr(GError) error = NULL;

    clear_source(&client->connect_source);
    if (!g_socket_check_connect_result(socket, &error)) {
        client_fail(client, error);
    } else {
        client_connected(client);
    }
    return G_SOURCE_REMOVE;
}

static gboolean
on_connect_retry(gpointer data)
{
    CrpQmpClient *client = data;

    clear_source(&client->connect_source);
    connect_attempt(client);
    return G_SOURCE_REMOVE;
}

static gboolean
connect_error_is_transient(const GError *error)
{
    /* No socket yet, nobody listening yet, or a full backlog. */
    return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
           g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
           g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

static void
connect_attempt(CrpQmpClient *client)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketAddress) address = g_unix_socket_address_new(client->path);
    g_autoptr(GSocket) socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_DEFAULT, &error);
    if (!socket) {
        client_fail(client, error);
        return;
    }
    g_socket_set_blocking(socket, FALSE);
    if (g_socket_connect(socket, address, NULL, &error)) {
        client->socket = g_steal_pointer(&socket);
        client_connected(client);
    } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_PENDING)) {
        client->socket = g_steal_pointer(&socket);
        client->connect_source = attach(client,
                                        g_socket_create_source(client->socket, G_IO_OUT, NULL),
                                        G_SOURCE_FUNC(on_connect_writable), client);
    } else if (client->config.connect_timeout_ms && connect_error_is_transient(error)) {
        g_clear_error(&client->connect_error);
        client->connect_error = g_steal_pointer(&error);
        client->connect_source = attach(client, g_timeout_source_new(CONNECT_RETRY_MS),
                                        on_connect_retry, client);
    } else {
        client_fail(client, error);
    }
}

static gboolean
on_deadline(gpointer data)
{
    CrpQmpClient *client = data;
    const char *step = client->state == STATE_CONNECTING ? "connecting to" :
                       client->state == STATE_GREETING ? "waiting for the greeting on" :
                       "negotiating capabilities on";
    g_autoptr(GError) error = g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          "timed out after %u ms %s QMP socket %s%s%s",
                                          client->config.connect_timeout_ms, step,
                                          client->path,
                                          client->connect_error ? ": " : "",
                                          client->connect_error ?
                                          client->connect_error->message : "");

    clear_source(&client->deadline_source);
    client_fail(client, error);
    return G_SOURCE_REMOVE;
}

CrpQmpClient *
crp_qmp_client_connect(const char *socket_path, const CrpQmpClientConfig *config)
{
    g_return_val_if_fail(socket_path && config, NULL);

    CrpQmpClient *client = g_new0(CrpQmpClient, 1);
    client->refs = 1;
    client->state = STATE_CONNECTING;
    client->config = *config;
    client->path = g_strdup(socket_path);
    client->context = g_main_context_ref_thread_default();
    client->parser = crp_qmp_parser_new(0);
    client->read_buf = g_malloc(READ_CHUNK);
    client->out = g_byte_array_new();
    client->pending = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify)pending_free);
    g_queue_init(&client->deferred);

    client->events = g_new0(CrpQmpEventHandler, MAX(config->n_events, 1));
    if (config->n_events) {
        memcpy(client->events, config->events, config->n_events * sizeof(*config->events));
        qsort(client->events, config->n_events, sizeof(*client->events), compare_handlers);
    }
    for (gsize i = 1; i < config->n_events; i++) {
        g_warn_if_fail(strcmp(client->events[i - 1].name, client->events[i].name) != 0);
    }
    client->config.events = client->events;

    /* The first attempt runs from the main loop, so that a failure is
     * never reported from inside this function. */
    client->connect_source = attach(client, g_timeout_source_new(0), on_connect_retry, client);
    if (config->connect_timeout_ms) {
        client->deadline_source = attach(client,
                                         g_timeout_source_new(config->connect_timeout_ms),
                                         on_deadline, client);
    }
    return client;
}

/* ---- failing ------------------------------------------------------------ */

static void
client_fail(CrpQmpClient *client, const GError *error)
{
    if (client->state == STATE_CLOSED) {
        return;
    }
    gboolean was_ready = client->state == STATE_READY;
    client->state = STATE_CLOSED;
    client_close_io(client);

    g_autoptr(GError) lost = g_error_new(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                         "QMP connection lost: %s", error->message);
    client_ref(client);
    fail_all(client, lost, FALSE);
    if (!client->destroyed) {
        if (was_ready && client->config.closed) {
            client->config.closed(client, error, client->config.user_data);
        } else if (!was_ready && client->config.ready) {
            client->config.ready(client, error, client->config.user_data);
        }
    }
    client_unref(client);
}

/* ---- state -------------------------------------------------------------- */

gboolean
crp_qmp_client_is_ready(const CrpQmpClient *client)
{
    return client && client->state == STATE_READY;
}

void
crp_qmp_client_get_version(const CrpQmpClient *client, guint *major,
                           guint *minor, guint *micro)
{
    *major = client->version[0];
    *minor = client->version[1];
    *micro = client->version[2];
}

guint
crp_qmp_client_pending(const CrpQmpClient *client)
{
    return g_hash_table_size(client->pending);
}
