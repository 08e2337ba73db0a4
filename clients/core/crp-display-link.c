/*
 * crp-display-link.c: a CrpViewer on a non-blocking GSocket: the display
 * channel of crp-headless and crp-client.
 *
 * The viewer is sans-I/O; this file is its I/O: connect with
 * GSocketClient, feed every received byte to the viewer and hand its
 * events on, write its output whenever the socket takes it, and turn
 * every way a connection can end into one ended() call with an exit code.
 *
 * Ending: whoever ends the session first decides the outcome. We then
 * write what is queued (our BYE), shut down our sending side and wait
 * briefly for the server's end of the stream, so that the server reads
 * all of ours before either side closes (closing with unread input would
 * reset a TCP connection and could lose our farewell).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-display-link.h"
#include "crp-address.h"

#include <crp/crp-error.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <string.h>

#define HANDSHAKE_TIMEOUT_S 10
/* How long our farewell may take to drain and the server to close. */
#define LINGER_MS 2000
#define READ_CHUNK 65536
/* Reads per wake-up, so that a flood of frames cannot starve timers. */
#define READS_PER_WAKEUP 16

typedef enum {
    CONN_CONNECTING,
    CONN_HANDSHAKE,
    CONN_READY,
    CONN_CLOSING,
    CONN_DONE,
} ConnState;

struct CrpDisplayLink {
    CrpDisplayLinkEvents events;
    gpointer data;
    CrpViewer *viewer;
    char *address_text;
    GSocketConnectable *address;
    gboolean is_tcp;

    GCancellable *cancel;
    GSocketConnection *stream;
    GSocket *socket;
    GSource *in_source, *out_source;
    guint handshake_timer, linger_timer, process_idle;
    ConnState state;
    gboolean write_failed;
    char *write_error;
    gboolean shut_down;
    guint8 *buf;

    /* The outcome, reported by ended() once the connection is done. */
    int code;
    gboolean server_bye;
    char *message;
};

static void flush_output(CrpDisplayLink *c);

/* Says what happened, to the owner's log (optional: --verbose). */
static void G_GNUC_PRINTF(2, 3) link_log(CrpDisplayLink *c, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;

    if (!c->events.log) {
        return;
    }
    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->events.log(c->data, text);
}

/* What the handshake tells servers we are (QEMU logs it). */
static const char *software_name = "crp " CRP_CLIENT_VERSION;

void crp_display_link_set_software(const char *name)
{
    software_name = name;
}

/* CRP_CAP_* later connections offer; 0: all the viewer decodes. */
static guint32 offered_capabilities;

void crp_display_link_set_capabilities(guint32 capabilities)
{
    offered_capabilities = capabilities;
}

static void done(CrpDisplayLink *c)
{
    if (c->state == CONN_DONE) {
        return;
    }
    c->state = CONN_DONE;
    g_clear_handle_id(&c->handshake_timer, g_source_remove);
    g_clear_handle_id(&c->linger_timer, g_source_remove);
    g_clear_handle_id(&c->process_idle, g_source_remove);
    if (c->in_source) {
        g_source_destroy(c->in_source);
        g_clear_pointer(&c->in_source, g_source_unref);
    }
    if (c->out_source) {
        g_source_destroy(c->out_source);
        g_clear_pointer(&c->out_source, g_source_unref);
    }
    g_cancellable_cancel(c->cancel);
    if (c->stream) {
        g_io_stream_close(G_IO_STREAM(c->stream), NULL, NULL);
    }
    c->events.ended(c->data, c->code, c->server_bye, c->message);
}

static gboolean on_linger_timeout(gpointer data)
{
    CrpDisplayLink *c = data;

    c->linger_timer = 0;
    link_log(c, "the server did not close in time; closing anyway");
    done(c);
    return G_SOURCE_REMOVE;
}

/*
 * Starts ending the connection with this outcome, unless an outcome was
 * already set. @message may be NULL (a quiet success); it is taken.
 */
static void end_with(CrpDisplayLink *c, int code, gboolean server_bye,
                     char *message)
{
    if (c->state >= CONN_CLOSING) {
        g_free(message);
        return;
    }
    c->code = code;
    c->server_bye = server_bye;
    c->message = message;
    c->state = CONN_CLOSING;
    g_clear_handle_id(&c->handshake_timer, g_source_remove);
    if (!c->socket || c->write_failed) {
        done(c);
        return;
    }
    c->linger_timer = g_timeout_add(LINGER_MS, on_linger_timeout, c);
    flush_output(c);
}

static void end_printf(CrpDisplayLink *c, int code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void end_printf(CrpDisplayLink *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    end_with(c, code, FALSE, message);
}

/* A viewer error: who is to blame decides the exit code. */
static void end_with_error(CrpDisplayLink *c, const GError *error)
{
    gboolean handshake = c->state == CONN_HANDSHAKE;

    if (g_error_matches(error, CRP_ERROR, CRP_ERROR_AUTH) && handshake) {
        end_printf(c, CRP_DISPLAY_LINK_AUTH, "authentication refused: %s%s",
                   error->message, strstr(error->message, "ticket") ? "" :
                   " (is the ticket wrong, expired or already used?)");
    } else if (g_error_matches(error, CRP_ERROR, CRP_ERROR_REJECTED)) {
        end_printf(c, CRP_DISPLAY_LINK_AUTH, "the server refused the session: %s",
                   error->message);
    } else if (g_error_matches(error, CRP_ERROR, CRP_ERROR_VERSION)) {
        end_printf(c, CRP_DISPLAY_LINK_PROTOCOL, "protocol version mismatch: %s",
                   error->message);
    } else {
        end_printf(c, CRP_DISPLAY_LINK_PROTOCOL, "protocol error%s: %s",
                   handshake ? " during the handshake" : "", error->message);
    }
}

/* The server's BYE: its status says whether it blames us. */
static void end_with_server_bye(CrpDisplayLink *c, const CrpViewerUpdate *u)
{
    gboolean blames_us = u->status == CRP_STATUS_BAD_REQUEST ||
                         u->status == CRP_STATUS_VERSION_UNSUPPORTED ||
                         u->status == CRP_STATUS_AUTH_FAILED;
    char *message = g_strdup_printf("the server closed the session: %s%s%s%s",
                                    crp_status_to_string(u->status),
                                    *u->reason ? " (" : "", u->reason,
                                    *u->reason ? ")" : "");

    /* Answer with our own final record, as the protocol asks. */
    crp_viewer_close(c->viewer, "goodbye");
    end_with(c, blames_us ? CRP_DISPLAY_LINK_PROTOCOL : CRP_DISPLAY_LINK_CLOSED, TRUE, message);
}

static gboolean on_handshake_timeout(gpointer data)
{
    CrpDisplayLink *c = data;

    c->handshake_timer = 0;
    /* The handshake cannot be cut short politely: just go. */
    c->write_failed = TRUE;
    end_printf(c, CRP_DISPLAY_LINK_ERROR, "%s within %d s (handshake timeout)",
               c->state == CONN_CONNECTING ? "could not connect to the server"
                                           : "the server did not answer",
               HANDSHAKE_TIMEOUT_S);
    return G_SOURCE_REMOVE;
}

/* Runs the viewer over what has arrived and passes its events on. The
 * callbacks may end the connection; then we stop. */
static void process(CrpDisplayLink *c)
{
    while (c->state == CONN_HANDSHAKE || c->state == CONN_READY) {
        g_autoptr(GError) error = NULL;
        CrpViewerUpdate u;
        CrpViewerEvent ev = crp_viewer_process(c->viewer, &u, &error);

        switch (ev) {
        case CRP_VIEWER_NONE:
            return;
        case CRP_VIEWER_ERROR:
            end_with_error(c, error);
            return;
        case CRP_VIEWER_READY:
            c->state = CONN_READY;
            g_clear_handle_id(&c->handshake_timer, g_source_remove);
            c->events.ready(c->data, u.capabilities);
            break;
        case CRP_VIEWER_SURFACE:
            c->events.surface(c->data, u.width, u.height);
            break;
        case CRP_VIEWER_FRAME:
            c->events.frame(c->data, &u);
            break;
        case CRP_VIEWER_AUDIO:
            c->events.audio(c->data);
            break;
        case CRP_VIEWER_CURSOR:
            if (c->events.cursor) {
                c->events.cursor(c->data);
            }
            break;
        case CRP_VIEWER_CLIPBOARD:
            if (c->events.clipboard) {
                c->events.clipboard(c->data, u.clipboard_formats);
            }
            break;
        case CRP_VIEWER_CLIPBOARD_DATA:
            if (c->events.clipboard_data) {
                c->events.clipboard_data(c->data, u.clipboard_format,
                                         u.clipboard_status);
            }
            break;
        case CRP_VIEWER_CLOSED:
            end_with_server_bye(c, &u);
            return;
        }
    }
}

static void on_eof(CrpDisplayLink *c, const char *why)
{
    c->write_failed = TRUE;     /* nothing we write now would be read */
    switch (c->state) {
    case CONN_HANDSHAKE:
        end_printf(c, CRP_DISPLAY_LINK_CLOSED, "the server closed the connection "
                   "during the handshake%s%s", why ? ": " : "", why ? why : "");
        break;
    case CONN_READY:
        end_printf(c, CRP_DISPLAY_LINK_CLOSED, "the server closed the connection "
                   "without ending the session%s%s", why ? ": " : "",
                   why ? why : " (no final record)");
        break;
    case CONN_CLOSING:
        done(c);
        break;
    default:
        break;
    }
}

/* Reads what the socket has (a bounded amount) and processes it. */
static void read_input(CrpDisplayLink *c)
{
    for (int i = 0; i < READS_PER_WAKEUP && c->state != CONN_DONE; i++) {
        g_autoptr(GError) error = NULL;
        gssize n = g_socket_receive(c->socket, (char *)c->buf, READ_CHUNK,
                                    NULL, &error);
        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            return;
        }
        if (n <= 0) {
            on_eof(c, error ? error->message : c->write_error);
            return;
        }
        /* Once we are leaving, input only tells us when the server is. */
        if (c->state == CONN_CLOSING) {
            continue;
        }
        crp_viewer_receive(c->viewer, c->buf, n);
        process(c);
    }
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer data)
{
    CrpDisplayLink *c = data;

    read_input(c);
    flush_output(c);            /* acks, pongs, a BYE after an error */
    return G_SOURCE_CONTINUE;
}

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer data)
{
    flush_output(data);
    return G_SOURCE_CONTINUE;
}

static void flush_output(CrpDisplayLink *c)
{
    if (!c->socket || c->write_failed || c->state == CONN_DONE) {
        return;
    }
    for (;;) {
        g_autoptr(GError) error = NULL;
        gsize len;
        const guint8 *data = crp_viewer_peek_output(c->viewer, &len);
        if (len == 0) {
            break;
        }
        gssize n = g_socket_send(c->socket, (const char *)data, len, NULL, &error);
        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            if (!c->out_source) {
                c->out_source = g_socket_create_source(c->socket, G_IO_OUT, NULL);
                g_source_set_callback(c->out_source, G_SOURCE_FUNC(on_writable),
                                      c, NULL);
                g_source_attach(c->out_source, NULL);
            }
            return;
        }
        if (n < 0) {
            /* The server went away; what it sent last (a REJECT, a BYE)
             * may still be waiting to be read, and explains more. */
            link_log(c, "write failed: %s", error->message);
            c->write_failed = TRUE;
            c->write_error = g_strdup(error->message);
            if (c->state == CONN_CLOSING) {
                done(c);
                return;
            }
            read_input(c);
            end_printf(c, CRP_DISPLAY_LINK_CLOSED, "lost the connection to the "
                       "server: %s", error->message);
            return;
        }
        crp_viewer_consume_output(c->viewer, n);
    }
    if (c->out_source) {
        g_source_destroy(c->out_source);
        g_clear_pointer(&c->out_source, g_source_unref);
    }
    if (c->state == CONN_CLOSING && !c->shut_down) {
        c->shut_down = TRUE;
        g_socket_shutdown(c->socket, FALSE, TRUE, NULL);
    }
}

static void start_handshake(CrpDisplayLink *c, GSocketConnection *stream);

static void on_connected(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    GSocketConnection *stream =
        g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);

    if (!stream && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;                 /* @data may be gone */
    }
    CrpDisplayLink *c = data;
    if (!stream) {
        end_printf(c, CRP_DISPLAY_LINK_ERROR, "cannot connect to %s: %s",
                   c->address_text, error->message);
        return;
    }
    start_handshake(c, stream);
}

/* Connected (directly, or attached through a broker): say HELLO. */
static void start_handshake(CrpDisplayLink *c, GSocketConnection *stream)
{
    c->stream = stream;
    c->socket = g_socket_connection_get_socket(stream);
    g_socket_set_blocking(c->socket, FALSE);
    if (c->is_tcp) {
        /* Input events are tiny and latency is what we measure. */
        g_socket_set_option(c->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    }
    c->state = CONN_HANDSHAKE;
    crp_display_link_set_reading(c, TRUE);
    link_log(c, "connected to %s", c->address_text);
    flush_output(c);            /* the HELLO */
}

void crp_display_link_set_reading(CrpDisplayLink *c, gboolean reading)
{
    if (!c->socket || c->state == CONN_DONE || reading == !!c->in_source) {
        return;
    }
    if (!reading) {
        g_source_destroy(c->in_source);
        g_source_unref(c->in_source);
        c->in_source = NULL;
        return;
    }
    c->in_source = g_socket_create_source(c->socket, G_IO_IN, NULL);
    g_source_set_callback(c->in_source, G_SOURCE_FUNC(on_readable), c, NULL);
    g_source_attach(c->in_source, NULL);
}

static CrpDisplayLink *connection_new(const char *address_text,
                                    const char *ticket,
                                    const CrpDisplayLinkEvents *events,
                                    gpointer data, GError **error)
{
    CrpViewerConfig config = {
        .ticket = ticket,
        .software = software_name,
        .capabilities = offered_capabilities,
    };
    CrpViewer *viewer = crp_viewer_new(&config, error);
    if (!viewer) {
        return NULL;
    }

    CrpDisplayLink *c = g_new0(CrpDisplayLink, 1);
    c->events = *events;
    c->data = data;
    c->viewer = viewer;
    c->address_text = g_strdup(address_text);
    c->cancel = g_cancellable_new();
    c->buf = g_malloc(READ_CHUNK);
    c->state = CONN_CONNECTING;
    c->handshake_timer = g_timeout_add_seconds(HANDSHAKE_TIMEOUT_S,
                                               on_handshake_timeout, c);
    return c;
}

CrpDisplayLink *crp_display_link_new(const char *address, const char *ticket,
                                const CrpDisplayLinkEvents *events,
                                gpointer data, GError **error)
{
    g_autoptr(GSocketConnectable) addr = crp_address_parse(address, error);
    if (!addr) {
        return NULL;
    }
    if (!*ticket && !crp_address_allows_no_ticket(address, error)) {
        return NULL;
    }
    CrpDisplayLink *c = connection_new(address, ticket, events, data, error);
    if (!c) {
        return NULL;
    }
    c->address = g_steal_pointer(&addr);
    c->is_tcp = crp_address_is_tcp(address);

    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_connect_async(client, c->address, c->cancel, on_connected, c);
    return c;
}

CrpDisplayLink *crp_display_link_new_for_stream(GIOStream *stream,
                                           const char *label,
                                           const char *ticket,
                                           const CrpDisplayLinkEvents *events,
                                           gpointer data, GError **error)
{
    if (!G_IS_SOCKET_CONNECTION(stream)) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "not a socket connection");
        return NULL;
    }
    CrpDisplayLink *c = connection_new(label, ticket, events, data, error);
    if (!c) {
        return NULL;
    }
    GSocket *socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream));
    c->is_tcp = g_socket_get_family(socket) != G_SOCKET_FAMILY_UNIX;
    start_handshake(c, G_SOCKET_CONNECTION(g_object_ref(stream)));
    return c;
}

void crp_display_link_free(CrpDisplayLink *c)
{
    if (!c) {
        return;
    }
    /* Quietly: nobody listens for ended() any more. */
    c->state = CONN_DONE;
    g_clear_handle_id(&c->handshake_timer, g_source_remove);
    g_clear_handle_id(&c->linger_timer, g_source_remove);
    g_clear_handle_id(&c->process_idle, g_source_remove);
    if (c->in_source) {
        g_source_destroy(c->in_source);
        g_source_unref(c->in_source);
    }
    if (c->out_source) {
        g_source_destroy(c->out_source);
        g_source_unref(c->out_source);
    }
    g_cancellable_cancel(c->cancel);
    g_clear_object(&c->cancel);
    if (c->stream) {
        g_io_stream_close(G_IO_STREAM(c->stream), NULL, NULL);
        g_object_unref(c->stream);
    }
    g_clear_object(&c->address);
    crp_viewer_free(c->viewer);
    g_free(c->address_text);
    g_free(c->write_error);
    g_free(c->message);
    g_free(c->buf);
    g_free(c);
}

CrpViewer *crp_display_link_get_viewer(CrpDisplayLink *c)
{
    return c->viewer;
}

static gboolean on_process_idle(gpointer data)
{
    CrpDisplayLink *c = data;

    c->process_idle = 0;
    process(c);
    flush_output(c);
    return G_SOURCE_REMOVE;
}

void crp_display_link_flush(CrpDisplayLink *c)
{
    flush_output(c);
    /* Sending can fail the viewer (the server stopped reading us): let
     * process() end the connection from the main loop, rather than from
     * inside the caller, and even if the server never writes again. */
    if (c->state == CONN_READY && crp_viewer_get_failure(c->viewer) &&
        !c->process_idle) {
        c->process_idle = g_idle_add(on_process_idle, c);
    }
}

void crp_display_link_close(CrpDisplayLink *c, const char *reason)
{
    switch (c->state) {
    case CONN_CONNECTING:
    case CONN_HANDSHAKE:
        /* A client has nothing it could send mid-handshake. */
        c->write_failed = TRUE;
        end_with(c, CRP_DISPLAY_LINK_OK, FALSE, NULL);
        break;
    case CONN_READY:
        crp_viewer_close(c->viewer, reason);
        end_with(c, CRP_DISPLAY_LINK_OK, FALSE, NULL);
        break;
    default:
        break;
    }
}
