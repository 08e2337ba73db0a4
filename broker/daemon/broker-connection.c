/*
 * broker-connection.c: one client connection of crp-broker.
 *
 * The socket side of a sans-I/O CrpChannel (broker kind, server role): one
 * async read at a time feeds crp_channel_receive(), events are handled as
 * they come out, output is copied and written with one async write at a
 * time. Closing is orderly: the farewell (BYE, or REJECT during the
 * handshake) is written, the write side is shut down, and input is drained
 * until the peer hangs up (or a short grace period ends), so that the peer
 * reads the farewell instead of a reset.
 *
 * Login is not over when the handshake is: Noise IK's first message can be
 * replayed by anyone who recorded it, and the broker answers a replay as
 * it would the real client. Only the client's first authenticated record
 * proves it holds the key, so the handshake timeout runs until that record
 * and only then is the connection counted and logged as a login. From then
 * on a connection that says nothing for [login] idle-timeout-s is closed.
 *
 * Connections over a cap (broker-peers.h) are refused at accept with a
 * REJECT written straight to the socket, without a BrokerConnection.
 */
#include "broker-connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include "crp/crp-error.h"

/* How long a closing connection waits for the peer to hang up. */
#define BROKER_CLOSE_GRACE_MS 2000
/* Replies waiting to be written beyond which the connection stops reading
 * requests (a client that sends without reading cannot grow them). */
#define BROKER_MAX_BACKLOG (1024 * 1024)
#define BROKER_RATE_LIMITED_MESSAGE                                         \
    "too many failed logins from this address; try again in a minute"

struct _BrokerConnectionContext {
    const CrpBrokerConfig *config;
    const guint8 *secret_key;
    CrpStore *store;
    BrokerPeers *peers;
    BrokerConnectionEvents events;
    gpointer data;
    guint next_id;
    /* Connections refused at accept: the REJECT frames (by BrokerAdmit),
     * and how their log lines are thinned out under a flood. */
    GBytes *refusals[BROKER_ADMIT_PEER_BUSY + 1];
    gint64 refused_logged_at;
    guint refused_unlogged;
};

struct _BrokerConnection {
    BrokerConnectionContext *ctx;
    guint id;
    GIOStream *conn;            /* a socket, or a WebSocket (broker-web.c) */
    CrpChannel *ch;
    char *peer;                 /* "unix:uid=N" ("unix"), or the client's IP */
    char *bucket;               /* its key in the shared BrokerPeers */
    char *claimed_user;         /* the key's owner, once it is accepted */
    char *user;                 /* ... once the first record proved it */
    guint8 key[CRP_KEY_BYTES];  /* the user's public key, then */
    char *software;             /* what the client calls itself */
    guint32 caps;               /* agreed at READY */
    GCancellable *cancel;
    guint8 rbuf[16384];
    GBytes *wbuf;               /* the write in flight */
    gboolean reading, writing;
    gboolean authorized;        /* the key was accepted */
    gboolean ready;             /* handshake completed */
    gboolean logged_in;         /* the client's first record arrived */
    gboolean closing;           /* farewell queued; draining */
    gboolean shut_wr, eof, done;
    guint timer;                /* handshake timeout, idle timeout or close
                                 * grace */
    gint64 last_activity;       /* monotonic us of the last record either
                                 * way, once logged in */
    /* ATTACH (protocol section 7): the request, read until the client's
     * final record; then no more reading until the gateway decides. */
    char *attach_session;
    guint32 attach_request_id;
    gboolean attaching;
    BrokerHandOverFunc hand_over;   /* set once OK is queued */
    gpointer hand_over_data;
    gboolean handed_over;       /* the socket belongs to the gateway now */
    int holds;                  /* > 0: a caller still uses @c; not freed */
};

static void start_read(BrokerConnection *c);

BrokerConnectionContext *
broker_connection_context_new(const BrokerConnectionSetup *setup)
{
    BrokerConnectionContext *ctx = g_new0(BrokerConnectionContext, 1);

    ctx->config = setup->config;
    ctx->secret_key = setup->secret_key;
    ctx->store = setup->store;
    ctx->peers = setup->peers;
    ctx->events = *setup->events;
    ctx->data = setup->data;
    return ctx;
}

void
broker_connection_context_free(BrokerConnectionContext *ctx)
{
    if (!ctx) {
        return;
    }
    for (guint i = 0; i < G_N_ELEMENTS(ctx->refusals); i++) {
        g_clear_pointer(&ctx->refusals[i], g_bytes_unref);
    }
    g_free(ctx);
}

const char *
broker_status_name(guint16 status)
{
    static const char *const names[] = {
        "OK", "BAD_REQUEST", "VERSION_UNSUPPORTED", "AUTH_FAILED",
        "UNKNOWN_KEY", "KEY_REVOKED", "RATE_LIMITED", "NO_SUCH_APP",
        "NOT_SUBSCRIBED", "NO_CAPACITY", "QUOTA_EXCEEDED", "NO_SUCH_SESSION",
        "SESSION_ENDED", "INTERNAL", "TIMEOUT", "SHUTDOWN", "REPLACED",
        "NO_SUCH_FILE",
    };
    return status < G_N_ELEMENTS(names) ? names[status] : "UNKNOWN";
}
static void start_write(BrokerConnection *c);
static void process_events(BrokerConnection *c);

guint
broker_connection_id(BrokerConnection *c)
{
    return c->id;
}

guint32
broker_connection_capabilities(BrokerConnection *c)
{
    return c->caps;
}

const char *
broker_connection_user(BrokerConnection *c)
{
    return c->user;
}

const char *
broker_connection_peer(BrokerConnection *c)
{
    return c->peer;
}

const guint8 *
broker_connection_key(BrokerConnection *c)
{
    return c->authorized ? c->key : NULL;
}

void
broker_connection_free(BrokerConnection *c)
{
    g_clear_handle_id(&c->timer, g_source_remove);
    g_clear_pointer(&c->ch, crp_channel_free);
    g_clear_object(&c->conn);
    g_clear_object(&c->cancel);
    g_clear_pointer(&c->wbuf, g_bytes_unref);
    g_free(c->peer);
    g_free(c->bucket);
    g_free(c->claimed_user);
    g_free(c->user);
    g_free(c->software);
    g_free(c->attach_session);
    g_free(c);
}

/* Frees @c once no async operation refers to it any more. */
static void
maybe_free(BrokerConnection *c)
{
    if (c->done && !c->reading && !c->writing && !c->holds) {
        broker_connection_free(c);
    }
}

/* The end: closes the socket and tells the owner. */
static void
finish(BrokerConnection *c)
{
    if (c->done) {
        return;
    }
    c->done = TRUE;
    g_clear_handle_id(&c->timer, g_source_remove);
    g_cancellable_cancel(c->cancel);
    if (c->ready && !c->logged_in && !c->handed_over) {
        /* The handshake's work was done, and nobody proved the key: a
         * replayed HELLO, or a client that gave up. */
        broker_peers_record_failure(c->ctx->peers, c->bucket,
                                    g_get_monotonic_time());
    }
    broker_peers_leave(c->ctx->peers, c->bucket, !c->logged_in,
                       g_get_monotonic_time());
    if (c->hand_over) {
        /* Ended before the OK was out: the gateway lets go of the VM. */
        BrokerHandOverFunc func = g_steal_pointer(&c->hand_over);
        func(NULL, NULL, c->hand_over_data);
    }
    if (!c->handed_over) {
        g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    }
    broker_info("event=%s conn=%u peer=%s user=%s",
                c->handed_over ? "handed-over" : "disconnect", c->id, c->peer,
                c->user);
    c->ctx->events.done(c, c->ctx->data);
    maybe_free(c);
}

static gboolean
on_close_grace(gpointer data)
{
    BrokerConnection *c = data;

    c->timer = 0;
    finish(c);
    return G_SOURCE_REMOVE;
}

/* The channel has queued its farewell (or failed): write it, then drain. */
static void
begin_closing(BrokerConnection *c)
{
    if (c->closing) {
        return;
    }
    c->closing = TRUE;
    g_clear_handle_id(&c->timer, g_source_remove);
    c->timer = g_timeout_add(BROKER_CLOSE_GRACE_MS, on_close_grace, c);
    start_write(c);
}

void
broker_connection_close(BrokerConnection *c, guint16 status,
                        const char *reason)
{
    if (c->closing || c->done) {
        return;
    }
    crp_channel_close(c->ch, status, reason);
    begin_closing(c);
}

void
broker_connection_send(BrokerConnection *c, const CrpMessage *msg)
{
    g_autoptr(GError) error = NULL;

    if (c->closing || c->done) {
        return;
    }
    c->last_activity = g_get_monotonic_time();
    if (!crp_channel_send(c->ch, msg, &error)) {
        broker_warning("event=send-failed conn=%u user=%s error=\"%s\"",
                       c->id, c->user, error->message);
        broker_connection_close(c, CRP_STATUS_INTERNAL,
                                "the broker could not encode a reply");
    }
}

void
broker_connection_flush(BrokerConnection *c)
{
    if (!c->done) {
        crp_channel_flush(c->ch);
        start_write(c);
    }
}

void
broker_connection_refuse_attach(BrokerConnection *c, guint32 request_id,
                                guint16 status, const char *message)
{
    broker_message("event=attach-refused conn=%u user=%s status=%s", c->id,
                   c->user, broker_status_name(status));
    broker_connection_send_error(c, request_id, status, message);
    /* The answer is the stream's final record; then the client hangs up. */
    crp_channel_finish(c->ch, NULL);
    c->attaching = FALSE;
    begin_closing(c);
}

void
broker_connection_accept_attach(BrokerConnection *c, guint32 request_id,
                                BrokerHandOverFunc func, gpointer data)
{
    CrpMessage ok = { .type = CRP_MSG_OK, .ok_request_id = request_id };

    c->hand_over = func;
    c->hand_over_data = data;
    if (c->closing || c->done || !crp_channel_send(c->ch, &ok, NULL) ||
        !crp_channel_finish(c->ch, NULL)) {
        finish(c);          /* calls @func without a connection */
        return;
    }
    start_write(c);         /* hands over once the OK is written */
}

void
broker_connection_send_error(BrokerConnection *c, guint32 request_id,
                             guint16 code, const char *message)
{
    CrpMessage msg = {
        .type = CRP_MSG_ERROR,
        .error = { .request_id = request_id, .code = code,
                   .message = crp_str(message) },
    };
    broker_connection_send(c, &msg);
}

/* ------------------------------------------------------------------------ */
/* Writing */

static void
on_written(GObject *source, GAsyncResult *res, gpointer data)
{
    BrokerConnection *c = data;
    g_autoptr(GError) error = NULL;

    c->writing = FALSE;
    g_clear_pointer(&c->wbuf, g_bytes_unref);
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL,
                                          &error)) {
        if (!c->done) {
            broker_info("event=write-failed conn=%u peer=%s error=\"%s\"",
                        c->id, c->peer, error->message);
            finish(c);          /* frees @c unless a read is pending */
        } else {
            maybe_free(c);
        }
        return;
    }
    if (c->done) {
        maybe_free(c);
        return;
    }
    /* start_write() may hand the socket over and finish @c: keep it
     * allocated until we are done with it here. */
    c->holds++;
    start_write(c);
    if (!c->done) {
        process_events(c);  /* requests that waited for the backlog */
    }
    start_read(c);          /* if it waited for the backlog to shrink */
    c->holds--;
    maybe_free(c);
}

/* The farewell is out: the peer reads the end of the stream after it. A
 * WebSocket's output stream sends its Close frame when closed. */
static void
shutdown_write(GIOStream *conn)
{
    if (G_IS_SOCKET_CONNECTION(conn)) {
        g_socket_shutdown(g_socket_connection_get_socket(
                              G_SOCKET_CONNECTION(conn)), FALSE, TRUE, NULL);
    } else {
        g_output_stream_close(g_io_stream_get_output_stream(conn), NULL, NULL);
    }
}

static void
start_write(BrokerConnection *c)
{
    gsize len;
    const guint8 *data;

    if (c->writing || c->done) {
        return;
    }
    data = crp_channel_peek_output(c->ch, &len);
    if (len == 0 && c->hand_over) {
        g_autoptr(GBytes) rest = crp_channel_steal_input(c->ch);
        BrokerHandOverFunc func = c->hand_over;

        c->hand_over = NULL;
        c->handed_over = TRUE;
        func(c->conn, rest, c->hand_over_data);
        finish(c);
        return;
    }
    if (len == 0) {
        if (c->closing) {
            if (!c->shut_wr) {
                c->shut_wr = TRUE;
                shutdown_write(c->conn);
            }
            if (c->eof) {
                finish(c);
            }
        }
        return;
    }
    /* A copy: the channel's buffer may move while the write is in flight. */
    c->wbuf = g_bytes_new(data, len);
    crp_channel_consume_output(c->ch, len);
    c->writing = TRUE;
    g_output_stream_write_all_async(
        g_io_stream_get_output_stream(G_IO_STREAM(c->conn)),
        g_bytes_get_data(c->wbuf, NULL), len, G_PRIORITY_DEFAULT, c->cancel,
        on_written, c);
}

/* ------------------------------------------------------------------------ */
/* Login */

static gboolean on_idle_check(gpointer data);

static void
authorize(BrokerConnection *c, const CrpEvent *ev)
{
    BrokerConnectionContext *ctx = c->ctx;
    g_autoptr(GError) error = NULL;
    g_autofree char *user = NULL;
    CrpStoreLogin result;
    guint16 status;
    const char *message;

    if (!crp_store_user_get_by_key(ctx->store, ev->peer_static_public,
                                   &result, &user, &error)) {
        broker_warning("event=login-error conn=%u peer=%s error=\"%s\"",
                       c->id, c->peer, error->message);
        crp_channel_authorize(c->ch, CRP_STATUS_INTERNAL,
                              "the broker cannot check keys right now; "
                              "try again later", NULL);
        begin_closing(c);
        return;
    }
    switch (result) {
    case CRP_STORE_LOGIN_OK:
        if (!crp_channel_authorize(c->ch, CRP_STATUS_OK, NULL, &error)) {
            broker_warning("event=login-error conn=%u peer=%s error=\"%s\"",
                           c->id, c->peer, error->message);
            finish(c);
            return;
        }
        /* Not logged in yet: a replayed HELLO gets this far too. */
        c->authorized = TRUE;
        c->claimed_user = g_steal_pointer(&user);
        memcpy(c->key, ev->peer_static_public, CRP_KEY_BYTES);
        c->software = g_strdup(ev->peer_software);
        return;
    case CRP_STORE_LOGIN_KEY_REVOKED:
        status = CRP_STATUS_KEY_REVOKED;
        message = BROKER_KEY_REVOKED_MESSAGE;
        break;
    case CRP_STORE_LOGIN_UNKNOWN_KEY:
    default:
        status = CRP_STATUS_UNKNOWN_KEY;
        message = "this broker does not know this key";
        break;
    }
    broker_message("event=login-refused conn=%u user=%s peer=%s status=%s",
                   c->id, user, c->peer, broker_status_name(status));
    broker_peers_record_failure(ctx->peers, c->bucket,
                                g_get_monotonic_time());
    crp_channel_authorize(c->ch, status, message, NULL);
    begin_closing(c);
}

/* The client's first record arrived: it holds the key. */
static void
logged_in(BrokerConnection *c)
{
    guint idle_s = c->ctx->config->login_idle_timeout_s;

    c->logged_in = TRUE;
    c->user = g_steal_pointer(&c->claimed_user);
    broker_peers_logged_in(c->ctx->peers, c->bucket);
    g_clear_handle_id(&c->timer, g_source_remove);
    c->last_activity = g_get_monotonic_time();
    if (idle_s) {
        c->timer = g_timeout_add_seconds(idle_s, on_idle_check, c);
    }
    broker_message("event=login conn=%u user=%s peer=%s software=%s", c->id,
                   c->user, c->peer, c->software);
}

/* The idle timer fires at the earliest moment the connection could have
 * been silent long enough; a record since then moves it on. */
static gboolean
on_idle_check(gpointer data)
{
    BrokerConnection *c = data;
    gint64 idle_us = (gint64)c->ctx->config->login_idle_timeout_s *
                     G_USEC_PER_SEC;
    gint64 silent = g_get_monotonic_time() - c->last_activity;

    c->timer = 0;
    if (silent < idle_us || c->attaching || c->hand_over) {
        gint64 left_ms = MAX((idle_us - silent) / 1000, 1000);
        c->timer = g_timeout_add(left_ms, on_idle_check, c);
        return G_SOURCE_REMOVE;
    }
    broker_message("event=idle-timeout conn=%u user=%s peer=%s idle_s=%"
                   G_GINT64_FORMAT, c->id, c->user, c->peer,
                   silent / G_USEC_PER_SEC);
    broker_connection_close(c, CRP_STATUS_TIMEOUT,
                            "the connection was idle for too long");
    return G_SOURCE_REMOVE;
}

void
broker_connection_withdraw_key(BrokerConnection *c)
{
    if (c->closing || c->done) {
        return;
    }
    broker_message("event=key-withdrawn conn=%u user=%s peer=%s", c->id,
                   c->user ? c->user : c->claimed_user, c->peer);
    broker_connection_close(c, CRP_STATUS_KEY_REVOKED,
                            BROKER_KEY_REVOKED_MESSAGE);
}

/* ------------------------------------------------------------------------ */
/* Reading */

static void
process_events(BrokerConnection *c)
{
    CrpEvent ev;

    /* Requests wait while the replies already queued are over the backlog
     * (a client asking for many 1 MiB chunks at once): on_written() comes
     * back here as the socket drains. */
    while (!c->closing && !c->done && !c->attaching &&
           crp_channel_output_pending(c->ch) <= BROKER_MAX_BACKLOG) {
        g_autoptr(GError) error = NULL;
        CrpEventType t = crp_channel_next_event(c->ch, &ev, &error);

        if ((t == CRP_EVENT_MESSAGE || t == CRP_EVENT_CLOSED) && c->ready) {
            if (!c->logged_in) {
                logged_in(c);
            }
            c->last_activity = g_get_monotonic_time();
        }
        switch (t) {
        case CRP_EVENT_NONE:
            goto out;
        case CRP_EVENT_AUTHORIZE:
            authorize(c, &ev);
            break;
        case CRP_EVENT_READY:
            /* The handshake timer runs on until the first record. */
            c->ready = TRUE;
            c->caps = ev.capabilities;
            break;
        case CRP_EVENT_MESSAGE:
            if (c->attach_session) {
                broker_connection_close(c, CRP_STATUS_BAD_REQUEST,
                                        "ATTACH must be the last message "
                                        "of the stream");
            } else if (ev.message.type == CRP_MSG_ATTACH) {
                c->attach_request_id = ev.message.request.request_id;
                c->attach_session = g_strndup(ev.message.request.arg.ptr,
                                              ev.message.request.arg.len);
            } else if (ev.message.type == CRP_MSG_BYE) {
                broker_info("event=bye conn=%u user=%s code=%s", c->id,
                            c->user, broker_status_name(ev.message.bye.code));
            } else {
                c->ctx->events.request(c, &ev.message, c->ctx->data);
                /* Sealed now, so the backlog gate above counts it. */
                crp_channel_flush(c->ch);
            }
            break;
        case CRP_EVENT_CLOSED:
            if (c->attach_session) {
                /* Reading stops here: what follows is the display
                 * channel, for the VM. */
                c->attaching = TRUE;
                c->ctx->events.attach(c, c->attach_request_id,
                                      c->attach_session, c->ctx->data);
                break;
            }
            crp_channel_close(c->ch, CRP_STATUS_OK, "goodbye");
            begin_closing(c);
            break;
        case CRP_EVENT_ERROR:
        default:
            broker_message("event=%s conn=%u peer=%s user=%s error=\"%s\"",
                           c->logged_in ? "protocol-error"
                                        : "handshake-failed",
                           c->id, c->peer, c->user,
                           error ? error->message : "?");
            if (!c->ready) {
                /* After READY, finish() counts it. */
                broker_peers_record_failure(c->ctx->peers, c->bucket,
                                            g_get_monotonic_time());
            }
            begin_closing(c);      /* the farewell is queued */
            break;
        }
    }
out:
    if (!c->done) {
        crp_channel_flush(c->ch);
        start_write(c);
    }
}

static void
on_read(GObject *source, GAsyncResult *res, gpointer data)
{
    BrokerConnection *c = data;
    g_autoptr(GError) error = NULL;
    gssize n;

    c->reading = FALSE;
    n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);
    if (c->done) {
        maybe_free(c);
        return;
    }
    if (n < 0) {
        broker_info("event=read-failed conn=%u peer=%s error=\"%s\"", c->id,
                    c->peer, error->message);
        finish(c);
        return;
    }
    if (n == 0) {
        c->eof = TRUE;
        if (!c->closing && !c->logged_in) {
            broker_info("event=hangup-in-handshake conn=%u peer=%s", c->id,
                        c->peer);
        }
        /* Nothing more can come in: whatever is still queued goes out,
         * then the connection ends. */
        if (!c->writing && crp_channel_output_pending(c->ch) == 0) {
            finish(c);
        } else {
            c->closing = TRUE;     /* finish when the last write completes */
            g_clear_handle_id(&c->timer, g_source_remove);
            c->timer = g_timeout_add(BROKER_CLOSE_GRACE_MS, on_close_grace,
                                     c);
            start_write(c);
        }
        return;
    }
    if (!c->closing && !c->authorized && !c->ready &&
        broker_peers_rate_limited(c->ctx->peers, c->bucket,
                                  g_get_monotonic_time())) {
        /* Failures from this address since it connected (its other
         * connections): no handshake work for this one either. */
        broker_message("event=rate-limited conn=%u peer=%s", c->id, c->peer);
        broker_connection_close(c, CRP_STATUS_RATE_LIMITED,
                                BROKER_RATE_LIMITED_MESSAGE);
    }
    if (!c->closing) {
        crp_channel_receive(c->ch, c->rbuf, n);
        process_events(c);
    }
    if (!c->done) {
        start_read(c);
    }
}

static void
start_read(BrokerConnection *c)
{
    if (c->reading || c->done || c->eof || c->attaching || c->hand_over) {
        return;
    }
    if (!c->closing && c->writing &&
        crp_channel_output_pending(c->ch) > BROKER_MAX_BACKLOG) {
        return;             /* on_written() reads again */
    }
    c->reading = TRUE;
    g_input_stream_read_async(
        g_io_stream_get_input_stream(G_IO_STREAM(c->conn)), c->rbuf,
        sizeof c->rbuf, G_PRIORITY_DEFAULT, c->cancel, on_read, c);
}

static gboolean
on_handshake_timeout(gpointer data)
{
    BrokerConnection *c = data;

    c->timer = 0;
    broker_message("event=handshake-timeout conn=%u peer=%s waiting-for=%s",
                   c->id, c->peer, c->ready ? "first-record" : "hello");
    broker_connection_close(c, CRP_STATUS_TIMEOUT,
                            "the handshake took too long");
    return G_SOURCE_REMOVE;
}

static char *
peer_name(GSocketConnection *conn)
{
    g_autoptr(GSocketAddress) addr =
        g_socket_connection_get_remote_address(conn, NULL);

    if (addr && G_IS_INET_SOCKET_ADDRESS(addr)) {
        GInetAddress *ip =
            g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr));
        return g_inet_address_to_string(ip);
    }
    /* Unix sockets: one bucket per local user (the kernel vouches for the
     * uid), so that one user's failures do not lock out the others. */
    g_autoptr(GCredentials) creds = g_socket_get_credentials(
        g_socket_connection_get_socket(conn), NULL);
    if (creds) {
        uid_t uid = g_credentials_get_unix_user(creds, NULL);
        if (uid != (uid_t)-1) {
            return g_strdup_printf("unix:uid=%u", (unsigned)uid);
        }
    }
    return g_strdup("unix");
}

/* ------------------------------------------------------------------------ */
/* Refusing at accept */

/* What a refused client is told, by BrokerAdmit. */
static const struct {
    guint16 status;
    const char *reason;
} refusals[] = {
    [BROKER_ADMIT_FULL] = { CRP_STATUS_NO_CAPACITY,
        "the broker has too many connections; try again later" },
    [BROKER_ADMIT_BUSY] = { CRP_STATUS_NO_CAPACITY,
        "the broker has too many logins in progress; try again later" },
    [BROKER_ADMIT_RATE_LIMITED] = { CRP_STATUS_RATE_LIMITED,
        BROKER_RATE_LIMITED_MESSAGE },
    [BROKER_ADMIT_PEER_FULL] = { CRP_STATUS_RATE_LIMITED,
        "too many connections from this address" },
    [BROKER_ADMIT_PEER_BUSY] = { CRP_STATUS_RATE_LIMITED,
        "too many logins in progress from this address; try again later" },
};

/* The REJECT frame for @why, encoded once by a channel of its own. */
static GBytes *
refusal_frame(BrokerConnectionContext *ctx, BrokerAdmit why)
{
    if (!ctx->refusals[why]) {
        CrpChannelConfig cfg = {
            .kind = CRP_CHANNEL_BROKER,
            .role = CRP_ROLE_SERVER,
            .static_secret = ctx->secret_key,
        };
        g_autoptr(CrpChannel) ch = crp_channel_new(&cfg, NULL);
        gsize len = 0;
        const guint8 *data;

        crp_channel_close(ch, refusals[why].status, refusals[why].reason);
        data = crp_channel_peek_output(ch, &len);
        ctx->refusals[why] = g_bytes_new(data, len);
    }
    return ctx->refusals[why];
}

/* Under a flood, one line a second says how many were refused. */
static void
log_refusal(BrokerConnectionContext *ctx, const char *peer, BrokerAdmit why)
{
    gint64 now = g_get_monotonic_time();

    if (ctx->refused_logged_at &&
        now - ctx->refused_logged_at < G_USEC_PER_SEC) {
        ctx->refused_unlogged++;
        return;
    }
    broker_message("event=%s peer=%s reason=%s connections=%u handshakes=%u "
                   "also_refused=%u",
                   why == BROKER_ADMIT_RATE_LIMITED ? "rate-limited"
                                                    : "refused",
                   peer, broker_admit_name(why),
                   broker_peers_connections(ctx->peers),
                   broker_peers_handshakes(ctx->peers),
                   ctx->refused_unlogged);
    ctx->refused_logged_at = now;
    ctx->refused_unlogged = 0;
}

/* A REJECT and the end, without waiting: what could not be written at
 * once (a full socket buffer) is dropped with the connection. */
static void
on_refusal_written(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GIOStream) conn = data;

    g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, NULL);
    g_io_stream_close(conn, NULL, NULL);
}

static void
refuse(BrokerConnectionContext *ctx, GIOStream *stream, const char *peer,
       BrokerAdmit why)
{
    GSocket *sock;
    gsize len;
    const guint8 *frame = g_bytes_get_data(refusal_frame(ctx, why), &len);
    char drain[4096];

    log_refusal(ctx, peer, why);
    if (!G_IS_SOCKET_CONNECTION(stream)) {
        /* A WebSocket: the frame is queued in its stream, which closes
         * itself after a grace period if the peer does not read. The
         * frame lives as long as @ctx. */
        g_output_stream_write_all_async(g_io_stream_get_output_stream(stream),
                                        frame, len, G_PRIORITY_DEFAULT, NULL,
                                        on_refusal_written,
                                        g_object_ref(stream));
        return;
    }
    sock = g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream));
    g_socket_set_blocking(sock, FALSE);
    g_socket_send(sock, (const char *)frame, len, NULL, NULL);
    g_socket_shutdown(sock, FALSE, TRUE, NULL);
    /* What the client already sent is read, so that closing sends a FIN
     * after the REJECT rather than a reset that could destroy it. */
    for (int i = 0; i < 4 &&
         g_socket_receive(sock, drain, sizeof drain, NULL, NULL) > 0; i++) {
    }
    g_socket_close(sock, NULL);
}

BrokerConnection *
broker_connection_new(BrokerConnectionContext *ctx, GSocketConnection *conn)
{
    g_autofree char *peer = peer_name(conn);

    if (!g_str_has_prefix(peer, "unix")) {
        /* Replies are small, and once attached, input latency is what
         * users feel: no Nagle delay. */
        g_socket_set_option(g_socket_connection_get_socket(conn), IPPROTO_TCP,
                            TCP_NODELAY, 1, NULL);
    }
    return broker_connection_new_stream(ctx, G_IO_STREAM(conn), peer);
}

BrokerConnection *
broker_connection_new_stream(BrokerConnectionContext *ctx, GIOStream *conn,
                             const char *peer_ip)
{
    BrokerConnection *c;
    g_autoptr(GError) error = NULL;
    g_autofree char *peer = g_strdup(peer_ip);
    g_autofree char *bucket = g_str_has_prefix(peer, "unix")
                                  ? g_strdup(peer)
                                  : broker_peers_key_for_ip(peer);
    BrokerAdmit admit = broker_peers_admit(ctx->peers, bucket,
                                           g_get_monotonic_time());
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_BROKER,
        .role = CRP_ROLE_SERVER,
        .static_secret = ctx->secret_key,
        .capabilities = CRP_CAP_BROKER_FILES,
        .software = "crp-broker " CRP_VERSION,
    };

    if (admit != BROKER_ADMIT_OK) {
        refuse(ctx, conn, peer, admit);
        return NULL;
    }
    c = g_new0(BrokerConnection, 1);
    c->ctx = ctx;
    c->id = ++ctx->next_id;
    c->conn = g_object_ref(conn);
    c->cancel = g_cancellable_new();
    c->peer = g_steal_pointer(&peer);
    c->bucket = g_steal_pointer(&bucket);
    c->ch = crp_channel_new(&cfg, &error);
    if (!c->ch) {
        /* Only an incomplete config fails; the key is always there. */
        broker_critical("event=channel-failed error=\"%s\"", error->message);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        broker_peers_leave(ctx->peers, c->bucket, TRUE,
                           g_get_monotonic_time());
        c->done = TRUE;
        broker_connection_free(c);
        return NULL;
    }
    broker_info("event=connect conn=%u peer=%s", c->id, c->peer);
    c->timer = g_timeout_add_seconds(ctx->config->handshake_timeout_s,
                                     on_handshake_timeout, c);
    start_read(c);
    return c;
}
