/*
 * broker-gateway.c: ATTACH (protocol section 7). The client's broker
 * connection becomes its display channel: the broker connects to the
 * session VM's display socket, answers OK in its final record, and from
 * then on copies bytes both ways without looking at them. The display
 * handshake and everything after it are end to end between client and
 * QEMU; the client never learns where the VM runs.
 *
 * Splices are remembered per session, so that a session's end cuts its
 * clients off even if they would keep their side open, and with the key
 * the client logged in with, so that rotating or revoking it cuts them off
 * too (a leaked key's holder must not keep watching).
 */
#include "broker-gateway.h"
#include "broker-vm.h"

#include <string.h>
#include <gio/gunixsocketaddress.h>

struct _BrokerGateway {
    BrokerServer *server;
    GList *splices;                 /* Splice*, the attached clients */
};

typedef struct {
    BrokerGateway *gw;
    guint conn_id;
    guint32 request_id;
    char *session_id;
    char *user;
    guint8 key[CRP_KEY_BYTES];      /* the key the client logged in with */
    gboolean withdrawn;             /* cut off for that key */
    GSocketConnection *vm;          /* the display socket, once connected */
    GCancellable *cancel;
} Splice;

static void
splice_free(Splice *s)
{
    s->gw->splices = g_list_remove(s->gw->splices, s);
    g_clear_object(&s->vm);
    g_clear_object(&s->cancel);
    g_free(s->session_id);
    g_free(s->user);
    g_free(s);
}

static void
on_spliced(GObject *source, GAsyncResult *res, gpointer data)
{
    Splice *s = data;
    g_autoptr(GError) error = NULL;

    if (!g_io_stream_splice_finish(res, &error) &&
        !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        broker_info("event=gateway-error session=%s error=\"%s\"",
                    s->session_id, error->message);
    }
    broker_message("event=detach session=%s user=%s", s->session_id, s->user);
    splice_free(s);
}

/* The client's connection, drained of the broker channel: start copying.
 * @rest: what the client sent after its final record (its display HELLO
 * may already be there). */
static void
on_handed_over(GIOStream *client, GBytes *rest, gpointer data)
{
    Splice *s = data;
    g_autoptr(GError) error = NULL;
    gsize len;
    const guint8 *bytes;

    if (!client) {
        broker_info("event=attach-abandoned session=%s user=%s", s->session_id,
                    s->user);
        g_io_stream_close(G_IO_STREAM(s->vm), NULL, NULL);
        splice_free(s);
        return;
    }
    bytes = g_bytes_get_data(rest, &len);

    /* A HELLO is small and the socket is fresh: a blocking write of it
     * cannot stall the broker. */
    if (len > 0 &&
        !g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(s->vm)),
                                   bytes, len, NULL, NULL, &error)) {
        broker_info("event=gateway-error session=%s error=\"%s\"", s->session_id,
                    error->message);
        g_io_stream_close(client, NULL, NULL);
        splice_free(s);
        return;
    }
    broker_message("event=attach session=%s user=%s", s->session_id, s->user);
    g_io_stream_splice_async(client, G_IO_STREAM(s->vm),
                             G_IO_STREAM_SPLICE_CLOSE_STREAM1 |
                             G_IO_STREAM_SPLICE_CLOSE_STREAM2 |
                             G_IO_STREAM_SPLICE_WAIT_FOR_BOTH,
                             G_PRIORITY_DEFAULT, s->cancel, on_spliced, s);
}

static void
on_vm_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    Splice *s = data;
    g_autoptr(GError) error = NULL;
    BrokerConnection *c;

    s->vm = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res, &error);
    c = broker_registry_find(s->gw->server->connections, s->conn_id);
    if (!c) {
        splice_free(s);             /* the client gave up meanwhile */
        return;
    }
    if (!s->vm && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* broker_gateway_end_session(): the session ended meanwhile. */
        broker_connection_refuse_attach(c, s->request_id,
                                        CRP_STATUS_SESSION_ENDED,
                                        "the session has ended");
        splice_free(s);
        return;
    }
    if (!s->vm) {
        broker_warning("event=gateway-error session=%s error=\"%s\"", s->session_id,
                       error->message);
        broker_connection_refuse_attach(c, s->request_id, CRP_STATUS_INTERNAL,
                                        "the session's display is not "
                                        "reachable; see the broker's log");
        splice_free(s);
        return;
    }
    broker_connection_accept_attach(c, s->request_id, on_handed_over, s);
}

BrokerGateway *
broker_gateway_new(BrokerServer *server)
{
    BrokerGateway *gw = g_new0(BrokerGateway, 1);

    gw->server = server;
    return gw;
}

void
broker_gateway_free(BrokerGateway *gw)
{
    if (!gw) {
        return;
    }
    g_list_free(gw->splices);
    g_free(gw);
}

void
broker_gateway_attach(BrokerGateway *gw, BrokerConnection *c,
                      guint32 request_id, const char *session_id)
{
    BrokerVm *vm = broker_vm_lookup(gw->server, session_id);
    g_autoptr(GSocketClient) client = NULL;
    g_autoptr(GSocketAddress) where = NULL;
    Splice *s;

    if (!vm || !g_str_equal(broker_vm_user(vm), broker_connection_user(c))) {
        broker_connection_refuse_attach(c, request_id,
                                        CRP_STATUS_NO_SUCH_SESSION,
                                        "no such session");
        return;
    }
    if (!broker_vm_is_running(vm)) {
        broker_connection_refuse_attach(
            c, request_id, broker_vm_is_closing(vm) ? CRP_STATUS_SESSION_ENDED
                                                    : CRP_STATUS_NO_SUCH_SESSION,
            broker_vm_is_closing(vm) ? "the session is closing"
                                     : "the session is still starting");
        return;
    }
    s = g_new0(Splice, 1);
    s->gw = gw;
    s->conn_id = broker_connection_id(c);
    s->request_id = request_id;
    s->session_id = g_strdup(session_id);
    s->user = g_strdup(broker_connection_user(c));
    memcpy(s->key, broker_connection_key(c), CRP_KEY_BYTES);
    s->cancel = g_cancellable_new();
    gw->splices = g_list_prepend(gw->splices, s);
    client = g_socket_client_new();
    where = g_unix_socket_address_new(broker_vm_display_socket(vm));
    g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(where),
                                  s->cancel, on_vm_connected, s);
}

void
broker_gateway_end_session(BrokerGateway *gw, const char *session_id)
{
    for (GList *l = gw->splices; l; l = l->next) {
        Splice *s = l->data;
        if (g_str_equal(s->session_id, session_id)) {
            g_cancellable_cancel(s->cancel);
        }
    }
}

void
broker_gateway_check_keys(BrokerGateway *gw, BrokerKeyValidFunc valid,
                          gpointer data)
{
    for (GList *l = gw->splices; l; l = l->next) {
        Splice *s = l->data;
        if (!s->withdrawn && !valid(s->key, data)) {
            s->withdrawn = TRUE;
            broker_message("event=key-withdrawn session=%s user=%s",
                           s->session_id, s->user);
            g_cancellable_cancel(s->cancel);
        }
    }
}
