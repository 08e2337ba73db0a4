/*
 * crp-broker-link.c: one broker-channel connection over GIO.
 *
 * One async read at a time feeds the CrpChannel; its events go to the
 * owner. Output is copied out of the channel and written in order, one
 * async write at a time. Every pending GIO operation holds a reference,
 * so the owner may unref at any time; after close() or the end, no event
 * reaches the owner.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-broker-link.h"
#include "crp-address.h"
#include "crp-broker-client.h"

#include <string.h>
#include <sodium.h>
#include "crp/crp-error.h"

/* A broker that accepts the connection but never completes the login. */
#define LINK_LOGIN_TIMEOUT_S 15

struct CrpBrokerLink {
    gint refs;
    CrpUserKey key;                 /* copied; secret wiped at the end */
    char *address;
    const CrpBrokerLinkEvents *events;
    gpointer data;
    GSocketConnection *conn;
    CrpChannel *ch;
    GCancellable *cancel;           /* connecting and reading */
    GCancellable *write_cancel;     /* writing: outlives close() for the BYE */
    guint8 rbuf[16384];
    GQueue out;                     /* GBytes waiting to be written */
    gboolean writing;
    gboolean ready;
    guint32 capabilities;           /* agreed at login */
    gboolean ended;                 /* no more events */
    gboolean clean_end;             /* the broker's final record arrived */
    gboolean closing;               /* close(): hang up once written */
    guint login_timer;
    GError *early_error;            /* a bad address, reported from idle */
};

static void start_read(CrpBrokerLink *link);
static void start_write(CrpBrokerLink *link);

CrpBrokerLink *
crp_broker_link_ref(CrpBrokerLink *link)
{
    g_atomic_int_inc(&link->refs);
    return link;
}

void
crp_broker_link_unref(CrpBrokerLink *link)
{
    if (!link || !g_atomic_int_dec_and_test(&link->refs)) {
        return;
    }
    g_clear_handle_id(&link->login_timer, g_source_remove);
    sodium_memzero(link->key.secret_key, sizeof(link->key.secret_key));
    g_free(link->key.user_id);
    g_free(link->key.broker_address);
    g_free(link->address);
    g_queue_clear_full(&link->out, (GDestroyNotify)g_bytes_unref);
    g_clear_pointer(&link->ch, crp_channel_free);
    g_clear_object(&link->conn);
    g_clear_object(&link->cancel);
    g_clear_object(&link->write_cancel);
    g_clear_error(&link->early_error);
    g_free(link);
}

/* The user-facing error for a login that failed with @why. */
static GError *
login_error(CrpBrokerLink *link, const GError *why)
{
    guint16 refusal = link->ch ? crp_channel_get_refusal(link->ch)
                               : CRP_STATUS_OK;

    switch (refusal) {
    case CRP_STATUS_OK:
    case CRP_STATUS_AUTH_FAILED:
        /* IK: a broker without the pinned key cannot read our HELLO. */
        break;
    case CRP_STATUS_UNKNOWN_KEY:
        return g_error_new(CRP_BROKER_CLIENT_ERROR, refusal,
                           "the broker at %s does not know this key "
                           "(user %s): it was rotated, or the user removed",
                           link->address, link->key.user_id);
    case CRP_STATUS_KEY_REVOKED:
        return g_error_new(CRP_BROKER_CLIENT_ERROR, refusal,
                           "this key (user %s) was revoked or replaced by a "
                           "newer one: ask the operator for a new key file",
                           link->key.user_id);
    case CRP_STATUS_RATE_LIMITED:
        return g_error_new_literal(CRP_BROKER_CLIENT_ERROR, refusal,
                                   "too many failed logins from here: try "
                                   "again in a minute");
    default:
        return g_error_new(CRP_BROKER_CLIENT_ERROR, refusal,
                           "the broker refused the login: %s", why->message);
    }
    if (refusal == CRP_STATUS_AUTH_FAILED ||
        g_error_matches(why, CRP_ERROR, CRP_ERROR_AUTH)) {
        return g_error_new(CRP_BROKER_CLIENT_ERROR, CRP_STATUS_AUTH_FAILED,
                           "the server at %s is not the broker your key "
                           "file names: its key does not match the pinned "
                           "one", link->address);
    }
    if (why->domain == G_IO_ERROR || why->domain == CRP_ERROR) {
        return g_error_new(why->domain, why->code,
                           "login to the broker at %s failed: %s",
                           link->address, why->message);
    }
    return g_error_copy(why);
}

/* Ends the link (once): tells the owner, stops I/O. @why is phrased
 * for a user already unless it happened during the login. */
static void
link_end(CrpBrokerLink *link, const GError *why, gboolean phrased)
{
    g_autoptr(GError) error = NULL;

    if (link->ended) {
        return;
    }
    link->ended = TRUE;
    g_clear_handle_id(&link->login_timer, g_source_remove);
    if (why) {
        error = link->ready || phrased ? g_error_copy(why)
                                       : login_error(link, why);
    }
    if (!link->clean_end) {
        /* After a clean end the connection stays whole: it may be handed
         * over (ATTACH), and a final write may still be draining. */
        g_cancellable_cancel(link->cancel);
        g_cancellable_cancel(link->write_cancel);
    }
    crp_broker_link_ref(link);
    link->events->ended(link, error, link->data);
    crp_broker_link_unref(link);
}

static void
queue_output(CrpBrokerLink *link)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(link->ch, &len);

    if (len > 0) {
        g_queue_push_tail(&link->out, g_bytes_new(data, len));
        crp_channel_consume_output(link->ch, len);
    }
    start_write(link);
}

static void
on_written(GObject *stream, GAsyncResult *res, gpointer user_data)
{
    CrpBrokerLink *link = user_data;
    g_autoptr(GError) error = NULL;

    link->writing = FALSE;
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(stream), res, NULL,
                                          &error)) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_prefix_error(&error, "writing to the broker: ");
            link_end(link, error, FALSE);
        }
        g_queue_clear_full(&link->out, (GDestroyNotify)g_bytes_unref);
    } else {
        g_bytes_unref(g_queue_pop_head(&link->out));
        start_write(link);
    }
    if (link->closing && crp_broker_link_flushed(link)) {
        /* close(): the BYE is out; hang up. */
        g_io_stream_close_async(G_IO_STREAM(link->conn), G_PRIORITY_DEFAULT,
                                NULL, NULL, NULL);
    }
    crp_broker_link_unref(link);
}

static void
start_write(CrpBrokerLink *link)
{
    if (link->writing || g_queue_is_empty(&link->out) ||
        g_cancellable_is_cancelled(link->write_cancel)) {
        return;
    }
    GBytes *next = g_queue_peek_head(&link->out);
    gsize len;
    const guint8 *data = g_bytes_get_data(next, &len);

    link->writing = TRUE;
    g_output_stream_write_all_async(
        g_io_stream_get_output_stream(G_IO_STREAM(link->conn)), data, len,
        G_PRIORITY_DEFAULT, link->write_cancel, on_written,
        crp_broker_link_ref(link));
}

/* Handles what the channel has; FALSE once the link is over. */
static gboolean
process_events(CrpBrokerLink *link)
{
    g_autoptr(GError) error = NULL;
    CrpEvent ev;

    while (!link->ended) {
        switch (crp_channel_next_event(link->ch, &ev, &error)) {
        case CRP_EVENT_NONE:
            queue_output(link);
            return TRUE;
        case CRP_EVENT_READY:
            link->ready = TRUE;
            link->capabilities = ev.capabilities;
            g_clear_handle_id(&link->login_timer, g_source_remove);
            link->events->ready(link, link->data);
            break;
        case CRP_EVENT_MESSAGE:
            if (ev.message.type == CRP_MSG_BYE) {
                if (ev.message.bye.code != CRP_STATUS_OK) {
                    g_autoptr(GError) bye = g_error_new(
                        CRP_BROKER_CLIENT_ERROR, ev.message.bye.code,
                        "the broker ended the connection: %s (%.*s)",
                        crp_status_to_string(ev.message.bye.code),
                        (int)ev.message.bye.reason.len,
                        ev.message.bye.reason.ptr);
                    link_end(link, bye, TRUE);
                }
                break;
            }
            link->events->message(link, &ev.message, link->data);
            break;
        case CRP_EVENT_CLOSED:
            link->clean_end = TRUE;
            queue_output(link);
            link_end(link, NULL, TRUE);
            return FALSE;
        case CRP_EVENT_AUTHORIZE:       /* servers only */
        case CRP_EVENT_ERROR:
            queue_output(link);         /* a farewell, if any */
            link_end(link, error, FALSE);
            return FALSE;
        }
    }
    return FALSE;
}

static void
on_read(GObject *stream, GAsyncResult *res, gpointer user_data)
{
    CrpBrokerLink *link = user_data;
    g_autoptr(GError) error = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(stream), res, &error);

    if (n < 0) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_prefix_error(&error, "reading from the broker: ");
            link_end(link, error, FALSE);
        }
    } else if (n == 0) {
        g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                            link->ready ? "the broker hung up"
                                        : "the broker hung up during login");
        link_end(link, error, FALSE);
    } else if (!link->ended) {
        crp_channel_receive(link->ch, link->rbuf, n);
        if (process_events(link)) {
            start_read(link);
        }
    }
    crp_broker_link_unref(link);
}

static void
start_read(CrpBrokerLink *link)
{
    g_input_stream_read_async(
        g_io_stream_get_input_stream(G_IO_STREAM(link->conn)), link->rbuf,
        sizeof(link->rbuf), G_PRIORITY_DEFAULT, link->cancel, on_read,
        crp_broker_link_ref(link));
}

static gboolean
on_login_timeout(gpointer user_data)
{
    CrpBrokerLink *link = user_data;
    g_autoptr(GError) error = g_error_new(
        CRP_BROKER_CLIENT_ERROR, CRP_STATUS_TIMEOUT,
        "the broker at %s did not complete the login within %d s",
        link->address, LINK_LOGIN_TIMEOUT_S);

    link->login_timer = 0;
    link_end(link, error, TRUE);
    return G_SOURCE_REMOVE;
}

static void
on_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
    CrpBrokerLink *link = user_data;
    g_autoptr(GError) error = NULL;
    GSocketConnection *conn =
        g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res, &error);

    if (!conn) {
        if (!link->ended) {
            g_autoptr(GError) why = g_error_new(
                G_IO_ERROR, error->code, "cannot reach the broker at %s: %s",
                link->address, error->message);
            link_end(link, why, TRUE);
        }
        crp_broker_link_unref(link);
        return;
    }
    link->conn = conn;
    if (link->ended) {
        crp_broker_link_unref(link);
        return;
    }

    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_BROKER,
        .role = CRP_ROLE_CLIENT,
        .static_secret = link->key.secret_key,
        .remote_static_public = link->key.broker_public_key,
        .capabilities = CRP_CAP_BROKER_FILES,
        .software = "crp-client " CRP_CLIENT_VERSION,
    };
    link->ch = crp_channel_new(&cfg, &error);
    if (!link->ch || !crp_channel_start(link->ch, &error)) {
        link_end(link, error, TRUE);
    } else {
        queue_output(link);
        start_read(link);
    }
    crp_broker_link_unref(link);
}

static gboolean
report_early_error(gpointer user_data)
{
    CrpBrokerLink *link = user_data;

    link_end(link, link->early_error, TRUE);
    return G_SOURCE_REMOVE;
}

CrpBrokerLink *
crp_broker_link_new(const CrpUserKey *key, const char *address,
                    const CrpBrokerLinkEvents *events, gpointer data)
{
    CrpBrokerLink *link = g_new0(CrpBrokerLink, 1);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnectable) where = NULL;
    g_autoptr(GError) error = NULL;

    link->refs = 1;
    link->key.user_id = g_strdup(key->user_id);
    link->key.broker_address = g_strdup(key->broker_address);
    memcpy(link->key.secret_key, key->secret_key, sizeof(key->secret_key));
    memcpy(link->key.broker_public_key, key->broker_public_key,
           sizeof(key->broker_public_key));
    link->address = g_strdup(address);
    link->events = events;
    link->data = data;
    link->cancel = g_cancellable_new();
    g_queue_init(&link->out);

    link->write_cancel = g_cancellable_new();
    where = crp_address_parse(address, &error);
    if (!where) {
        /* Reported from the main loop, like every other outcome. */
        link->early_error = g_steal_pointer(&error);
        g_idle_add_full(G_PRIORITY_DEFAULT, report_early_error,
                        crp_broker_link_ref(link),
                        (GDestroyNotify)crp_broker_link_unref);
        return link;
    }
    link->login_timer = g_timeout_add_seconds(LINK_LOGIN_TIMEOUT_S,
                                              on_login_timeout, link);
    g_socket_client_connect_async(client, where, link->cancel, on_connected,
                                  crp_broker_link_ref(link));
    return link;
}

gboolean
crp_broker_link_send(CrpBrokerLink *link, const CrpMessage *msg)
{
    if (link->ended || !link->ready ||
        !crp_channel_send(link->ch, msg, NULL)) {
        return FALSE;
    }
    crp_channel_flush(link->ch);
    queue_output(link);
    return TRUE;
}

gboolean
crp_broker_link_send_final(CrpBrokerLink *link, const CrpMessage *msg)
{
    if (link->ended || !link->ready ||
        !crp_channel_send(link->ch, msg, NULL) ||
        !crp_channel_finish(link->ch, NULL)) {
        return FALSE;
    }
    queue_output(link);
    return TRUE;
}

guint32
crp_broker_link_get_capabilities(CrpBrokerLink *link)
{
    return link->capabilities;
}

gboolean
crp_broker_link_flushed(CrpBrokerLink *link)
{
    return !link->writing && g_queue_is_empty(&link->out);
}

GIOStream *
crp_broker_link_steal_stream(CrpBrokerLink *link, GError **error)
{
    g_autoptr(GBytes) rest = NULL;

    g_return_val_if_fail(link->clean_end && link->conn, NULL);
    rest = crp_channel_steal_input(link->ch);
    if (rest && g_bytes_get_size(rest) > 0) {
        g_set_error_literal(error, CRP_BROKER_CLIENT_ERROR,
                            CRP_STATUS_BAD_REQUEST,
                            "the broker sent data after attaching");
        return NULL;
    }
    return G_IO_STREAM(g_steal_pointer(&link->conn));
}

void
crp_broker_link_close(CrpBrokerLink *link)
{
    if (link->ended) {
        return;
    }
    link->ended = TRUE;
    g_clear_handle_id(&link->login_timer, g_source_remove);
    g_cancellable_cancel(link->cancel);
    if (link->ch && crp_channel_is_ready(link->ch)) {
        /* The BYE goes out on a best-effort write, then we hang up. */
        link->closing = TRUE;
        crp_channel_close(link->ch, CRP_STATUS_OK, "client closed");
        queue_output(link);
    } else {
        g_cancellable_cancel(link->write_cancel);
    }
}
