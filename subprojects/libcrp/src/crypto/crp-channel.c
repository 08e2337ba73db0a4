/*
 * crp-channel.c: one CRP connection, sans I/O (see crp-channel.h).
 *
 * Input is parsed lazily in crp_channel_next_event(): frames are taken
 * from the input buffer one at a time, a record is decrypted into `plain`,
 * and its messages are handed out one per call. Message views therefore
 * point into `plain` and stay valid until the next record is pulled.
 */
#include "crp/crp-channel.h"
#include "crp/crp-error.h"
#include "crypto/crp-handshake.h"
#include "crypto/crp-record.h"

#include <string.h>

/* Bytes each of a channel's buffers starts with. */
#define CRP_CHANNEL_INITIAL_BUFFER 1024

typedef enum {
    PHASE_HANDSHAKE,        /* client: HELLO sent or not; server: waiting */
    PHASE_AUTHORIZING,      /* server: HELLO verified, verdict pending */
    PHASE_STREAMING,
    PHASE_FAILED,
} Phase;

struct CrpChannel {
    CrpChannelKind kind;
    CrpRole role;
    Phase phase;
    CrpHandshake hs;
    CrpRecordStream tx, rx;
    gboolean hello_sent;
    gboolean ready_pending;     /* server: report READY at the next call */
    gboolean closed_reported;

    GByteArray *in;             /* received, not yet parsed */
    gsize in_pos;
    GByteArray *plain;          /* current record's plaintext */
    gsize plain_pos;
    GByteArray *pending;        /* queued messages, not yet sealed */
    GByteArray *out;            /* sealed frames, not yet written */
    gsize out_pos;

    GError *failure;            /* why the channel died */
    guint64 bytes_in, bytes_out;
};

static gsize
crp_channel_init_once(void)
{
    static gsize done;
    if (g_once_init_enter(&done)) {
        if (sodium_init() < 0) {
            g_error("libsodium failed to initialise");
        }
        g_once_init_leave(&done, 1);
    }
    return done;
}

CrpChannel *
crp_channel_new(const CrpChannelConfig *config, GError **error)
{
    crp_channel_init_once();

    CrpChannel *ch = g_new0(CrpChannel, 1);
    ch->kind = config->kind;
    ch->role = config->role;
    ch->phase = PHASE_HANDSHAKE;
    if (!crp_handshake_init(&ch->hs, config, error)) {
        g_free(ch);
        return NULL;
    }
    /* Allocated from the start: an empty GByteArray's data is NULL, and
     * the offsets taken into these (data + pos, even with pos 0) would be
     * undefined behaviour on NULL. */
    ch->in = g_byte_array_sized_new(CRP_CHANNEL_INITIAL_BUFFER);
    ch->plain = g_byte_array_sized_new(CRP_CHANNEL_INITIAL_BUFFER);
    ch->pending = g_byte_array_sized_new(CRP_CHANNEL_INITIAL_BUFFER);
    ch->out = g_byte_array_sized_new(CRP_CHANNEL_INITIAL_BUFFER);
    return ch;
}

void
crp_channel_free(CrpChannel *ch)
{
    if (!ch) {
        return;
    }
    crp_handshake_clear(&ch->hs);
    crp_record_clear(&ch->tx);
    crp_record_clear(&ch->rx);
    /* Plaintext may hold keystrokes: wipe before freeing. */
    sodium_memzero(ch->plain->data, ch->plain->len);
    sodium_memzero(ch->pending->data, ch->pending->len);
    g_byte_array_unref(ch->in);
    g_byte_array_unref(ch->plain);
    g_byte_array_unref(ch->pending);
    g_byte_array_unref(ch->out);
    g_clear_error(&ch->failure);
    g_free(ch);
}

/* Appends one cleartext handshake frame. */
static void
put_frame(CrpChannel *ch, const GByteArray *payload)
{
    crp_put_u32(ch->out, payload->len);
    crp_put_bytes(ch->out, payload->data, payload->len);
}

gboolean
crp_channel_start(CrpChannel *ch, GError **error)
{
    if (ch->role != CRP_ROLE_CLIENT || ch->hello_sent) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "only a client starts a channel, once");
        return FALSE;
    }
    g_autoptr(GByteArray) hello = g_byte_array_new();
    if (!crp_handshake_write_hello(&ch->hs, hello, error)) {
        return FALSE;
    }
    put_frame(ch, hello);
    ch->hello_sent = TRUE;
    return TRUE;
}

void
crp_channel_receive(CrpChannel *ch, const guint8 *data, gsize len)
{
    /* Drop what was parsed before growing the buffer. */
    if (ch->in_pos > 0 && ch->in_pos == ch->in->len) {
        g_byte_array_set_size(ch->in, 0);
        ch->in_pos = 0;
    } else if (ch->in_pos > 65536) {
        g_byte_array_remove_range(ch->in, 0, ch->in_pos);
        ch->in_pos = 0;
    }
    g_byte_array_append(ch->in, data, len);
    ch->bytes_in += len;
}

/* Keys both record streams once the handshake has succeeded and sends
 * our stream header. */
static void
start_streams(CrpChannel *ch)
{
    guint8 send_key[CRP_NOISE_KEYLEN], recv_key[CRP_NOISE_KEYLEN];

    crp_handshake_split(&ch->hs, send_key, recv_key);
    crp_record_init(&ch->tx, send_key);
    crp_record_init(&ch->rx, recv_key);
    sodium_memzero(send_key, sizeof(send_key));
    sodium_memzero(recv_key, sizeof(recv_key));
    crp_record_start_push(&ch->tx, ch->out);
    ch->phase = PHASE_STREAMING;
}

static void
seal(CrpChannel *ch, gsize len, gboolean final)
{
    crp_record_push(&ch->tx, ch->pending->data, len, final, ch->out);
    sodium_memzero(ch->pending->data, len);
    g_byte_array_remove_range(ch->pending, 0, len);
}

/* Keeps records within the plaintext cap: if the message appended at
 * @old_len overflowed the pending record, seal what came before it. */
static void
split_if_full(CrpChannel *ch, gsize old_len)
{
    if (ch->pending->len > CRP_MAX_RECORD_PLAINTEXT && old_len > 0) {
        seal(ch, old_len, FALSE);
    }
}

/* Queues a BYE as the stream's final record, if it is still open. */
static void
send_bye(CrpChannel *ch, guint16 status, const char *reason)
{
    if (!ch->tx.started || ch->tx.finished) {
        return;
    }
    gsize len = reason ? MIN(strlen(reason), CRP_MAX_STRING) : 0;
    CrpMessage bye = {
        .type = CRP_MSG_BYE,
        .bye = { .code = status, .reason = { reason ? reason : "", len } },
    };
    gsize old_len = ch->pending->len;
    crp_message_encode(&bye, ch->pending);
    split_if_full(ch, old_len);
    seal(ch, ch->pending->len, TRUE);
}

static guint16
status_for_error(const GError *error)
{
    if (error->domain == CRP_ERROR && error->code == CRP_ERROR_AUTH) {
        return CRP_STATUS_AUTH_FAILED;
    }
    if (error->domain == CRP_ERROR && error->code == CRP_ERROR_VERSION) {
        return CRP_STATUS_VERSION_UNSUPPORTED;
    }
    return CRP_STATUS_BAD_REQUEST;
}

/* Kills the channel: remembers why, queues a farewell for the peer. */
static CrpEventType
fail(CrpChannel *ch, CrpEvent *event, GError *why, guint16 reject_status,
     GError **error)
{
    if (ch->role == CRP_ROLE_SERVER && !ch->tx.started) {
        g_autoptr(GByteArray) reject = g_byte_array_new();
        crp_handshake_write_reject(reject_status, why->message, reject);
        put_frame(ch, reject);
    } else {
        send_bye(ch, status_for_error(why), why->message);
    }
    ch->phase = PHASE_FAILED;
    ch->failure = g_error_copy(why);
    g_propagate_error(error, why);
    event->type = CRP_EVENT_ERROR;
    return CRP_EVENT_ERROR;
}

static void
fill_handshake_info(CrpChannel *ch, CrpEvent *event, CrpEventType type)
{
    event->type = type;
    event->capabilities = ch->hs.capabilities;
    event->peer_minor = ch->hs.minor;
    g_strlcpy(event->peer_software, ch->hs.peer_software,
              sizeof(event->peer_software));
    memcpy(event->peer_static_public, ch->hs.rs, CRP_KEY_BYTES);
}

/* Takes the next whole frame's payload from the input, if there is one.
 * Returns -1 with @error on a frame over @max, 0 if incomplete, 1 if
 * *@payload / *@len were set. */
static int
take_frame(CrpChannel *ch, gsize max, const guint8 **payload, gsize *len,
           GError **error)
{
    gsize avail = ch->in->len - ch->in_pos;
    const guint8 *p = ch->in->data + ch->in_pos;

    if (avail < 4) {
        return 0;
    }
    guint32 flen = ((guint32)p[0] << 24) | ((guint32)p[1] << 16) |
                   ((guint32)p[2] << 8) | p[3];
    if (flen > max) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE,
                    "frame of %u bytes exceeds the %" G_GSIZE_FORMAT
                    " byte cap", flen, max);
        return -1;
    }
    if (avail - 4 < flen) {
        return 0;
    }
    *payload = p + 4;
    *len = flen;
    ch->in_pos += 4 + flen;
    return 1;
}

static CrpEventType
next_handshake_event(CrpChannel *ch, CrpEvent *event, GError **error)
{
    const guint8 *payload;
    gsize len;
    GError *local = NULL;
    guint16 status = CRP_STATUS_BAD_REQUEST;

    if (ch->role == CRP_ROLE_CLIENT && !ch->hello_sent) {
        return CRP_EVENT_NONE;      /* nothing is expected before HELLO */
    }
    int got = take_frame(ch, CRP_MAX_HANDSHAKE_FRAME, &payload, &len, &local);
    if (got <= 0) {
        return got < 0 ? fail(ch, event, local, status, error) : CRP_EVENT_NONE;
    }
    if (ch->role == CRP_ROLE_SERVER) {
        if (!crp_handshake_read_hello(&ch->hs, payload, len, &status, &local)) {
            return fail(ch, event, local, status, error);
        }
        ch->phase = PHASE_AUTHORIZING;
        fill_handshake_info(ch, event, CRP_EVENT_AUTHORIZE);
        return CRP_EVENT_AUTHORIZE;
    }
    if (!crp_handshake_read_response(&ch->hs, payload, len, &local)) {
        return fail(ch, event, local, status, error);
    }
    start_streams(ch);
    fill_handshake_info(ch, event, CRP_EVENT_READY);
    return CRP_EVENT_READY;
}

/* Decodes the next message of the current record, if any is left. */
static CrpEventType
next_message(CrpChannel *ch, CrpEvent *event, GError **error)
{
    GError *local = NULL;
    CrpRole peer = ch->role == CRP_ROLE_CLIENT ? CRP_ROLE_SERVER : CRP_ROLE_CLIENT;

    gsize used = crp_message_decode(ch->plain->data + ch->plain_pos,
                                    ch->plain->len - ch->plain_pos,
                                    &event->message, &local);
    if (!used) {
        return fail(ch, event, local, CRP_STATUS_BAD_REQUEST, error);
    }
    if (!crp_message_type_allowed(ch->kind, peer, event->message.type)) {
        local = g_error_new(CRP_ERROR, CRP_ERROR_PROTOCOL,
                            "%s is not allowed from the %s on this channel",
                            crp_message_type_name(event->message.type),
                            peer == CRP_ROLE_CLIENT ? "client" : "server");
        return fail(ch, event, local, CRP_STATUS_BAD_REQUEST, error);
    }
    ch->plain_pos += used;
    event->message_len = used;
    event->type = CRP_EVENT_MESSAGE;
    return CRP_EVENT_MESSAGE;
}

CrpEventType
crp_channel_next_event(CrpChannel *ch, CrpEvent *event, GError **error)
{
    const guint8 *payload;
    gsize len;
    GError *local = NULL;

    memset(event, 0, sizeof(*event));
    switch (ch->phase) {
    case PHASE_FAILED:
        g_propagate_error(error, g_error_copy(ch->failure));
        event->type = CRP_EVENT_ERROR;
        return CRP_EVENT_ERROR;
    case PHASE_AUTHORIZING:
        return CRP_EVENT_NONE;      /* waiting for crp_channel_authorize() */
    case PHASE_HANDSHAKE:
        return next_handshake_event(ch, event, error);
    case PHASE_STREAMING:
        break;
    }

    if (ch->ready_pending) {
        ch->ready_pending = FALSE;
        fill_handshake_info(ch, event, CRP_EVENT_READY);
        return CRP_EVENT_READY;
    }
    if (ch->plain_pos < ch->plain->len) {
        return next_message(ch, event, error);
    }
    if (ch->rx.finished) {
        if (ch->closed_reported) {
            return CRP_EVENT_NONE;
        }
        ch->closed_reported = TRUE;
        event->type = CRP_EVENT_CLOSED;
        return CRP_EVENT_CLOSED;
    }

    gsize max = ch->rx.started ? CRP_MAX_RECORD_PLAINTEXT + CRP_RECORD_OVERHEAD
                               : CRP_STREAM_HEADER_BYTES;
    int got = take_frame(ch, max, &payload, &len, &local);
    if (got <= 0) {
        return got < 0 ? fail(ch, event, local, 0, error) : CRP_EVENT_NONE;
    }
    if (!ch->rx.started) {
        if (!crp_record_start_pull(&ch->rx, payload, len, &local)) {
            return fail(ch, event, local, 0, error);
        }
        return crp_channel_next_event(ch, event, error);
    }

    gboolean final = FALSE;
    sodium_memzero(ch->plain->data, ch->plain->len);
    ch->plain_pos = 0;
    if (!crp_record_pull(&ch->rx, payload, len, ch->plain, &final, &local)) {
        g_byte_array_set_size(ch->plain, 0);
        return fail(ch, event, local, 0, error);
    }
    if (ch->plain->len == 0 && !final) {
        local = g_error_new_literal(CRP_ERROR, CRP_ERROR_PROTOCOL,
                                    "empty record");
        return fail(ch, event, local, 0, error);
    }
    return crp_channel_next_event(ch, event, error);
}

gboolean
crp_channel_authorize(CrpChannel *ch, guint16 status, const char *message,
                      GError **error)
{
    if (ch->role != CRP_ROLE_SERVER || ch->phase != PHASE_AUTHORIZING) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "authorize is for a server after CRP_EVENT_AUTHORIZE");
        return FALSE;
    }
    g_autoptr(GByteArray) response = g_byte_array_new();
    crp_handshake_write_response(&ch->hs, status, message, response);
    put_frame(ch, response);
    if (status != CRP_STATUS_OK) {
        ch->phase = PHASE_FAILED;
        ch->failure = g_error_new(CRP_ERROR, CRP_ERROR_REJECTED,
                                  "client refused: %s",
                                  crp_status_to_string(status));
        return TRUE;
    }
    start_streams(ch);
    ch->ready_pending = TRUE;
    return TRUE;
}

static gboolean
check_can_send(CrpChannel *ch, guint8 type, GError **error)
{
    if (ch->phase != PHASE_STREAMING || ch->tx.finished) {
        g_set_error(error, CRP_ERROR, ch->tx.finished ? CRP_ERROR_CLOSED :
                    CRP_ERROR_STATE, "channel is not open for sending");
        return FALSE;
    }
    if (!crp_message_type_allowed(ch->kind, ch->role, type)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "%s may not be sent by this side of this channel",
                    crp_message_type_name(type) ? crp_message_type_name(type)
                                                : "unknown type");
        return FALSE;
    }
    return TRUE;
}

gboolean
crp_channel_send(CrpChannel *ch, const CrpMessage *msg, GError **error)
{
    if (!check_can_send(ch, msg->type, error)) {
        return FALSE;
    }
    gsize old_len = ch->pending->len;
    crp_message_encode(msg, ch->pending);
    split_if_full(ch, old_len);
    return TRUE;
}

gboolean
crp_channel_send_encoded(CrpChannel *ch, const guint8 *data, gsize len,
                         GError **error)
{
    CrpReader r;

    /* Check every header first: all of @data is queued, or none of it. */
    crp_reader_init(&r, data, len);
    while (crp_reader_remaining(&r) > 0) {
        guint8 type = crp_reader_u8(&r);
        crp_reader_u8(&r);
        guint32 body = crp_reader_u32(&r);
        if (!crp_reader_ok(&r) || body > CRP_MAX_MESSAGE_BODY ||
            crp_reader_remaining(&r) < body) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                        "crp_channel_send_encoded: not whole messages");
            return FALSE;
        }
        if (!check_can_send(ch, type, error)) {
            return FALSE;
        }
        crp_reader_view(&r, body);
    }

    crp_reader_init(&r, data, len);
    while (crp_reader_remaining(&r) > 0) {
        const guint8 *start = r.data + r.pos;
        crp_reader_view(&r, 2);
        guint32 body = crp_reader_u32(&r);
        crp_reader_view(&r, body);
        gsize old_len = ch->pending->len;
        g_byte_array_append(ch->pending, start, CRP_MESSAGE_HEADER_SIZE + body);
        split_if_full(ch, old_len);
    }
    return TRUE;
}

void
crp_channel_flush(CrpChannel *ch)
{
    if (ch->pending->len > 0 && ch->tx.started && !ch->tx.finished) {
        seal(ch, ch->pending->len, FALSE);
    }
}

guint16
crp_channel_get_refusal(CrpChannel *ch)
{
    return ch->role == CRP_ROLE_CLIENT ? ch->hs.refusal : CRP_STATUS_OK;
}

gboolean
crp_channel_finish(CrpChannel *ch, GError **error)
{
    if (ch->phase != PHASE_STREAMING || ch->tx.finished) {
        g_set_error(error, CRP_ERROR, ch->tx.finished ? CRP_ERROR_CLOSED :
                    CRP_ERROR_STATE, "channel is not open for sending");
        return FALSE;
    }
    seal(ch, ch->pending->len, TRUE);
    return TRUE;
}

void
crp_channel_close(CrpChannel *ch, guint16 status, const char *reason)
{
    if (ch->phase == PHASE_FAILED) {
        return;
    }
    if (!ch->tx.started) {
        /* Still in the handshake: a server says why in a REJECT; a
         * client has nothing it could send, it just gives up. */
        if (ch->role == CRP_ROLE_SERVER) {
            g_autoptr(GByteArray) reject = g_byte_array_new();
            crp_handshake_write_reject(status, reason, reject);
            put_frame(ch, reject);
        }
        ch->phase = PHASE_FAILED;
        ch->failure = g_error_new_literal(CRP_ERROR, CRP_ERROR_CLOSED,
                                          "channel closed");
        return;
    }
    send_bye(ch, status, reason);
}

const guint8 *
crp_channel_peek_output(CrpChannel *ch, gsize *len)
{
    *len = ch->out->len - ch->out_pos;
    return ch->out->data + ch->out_pos;
}

void
crp_channel_consume_output(CrpChannel *ch, gsize n)
{
    g_return_if_fail(n <= ch->out->len - ch->out_pos);
    ch->out_pos += n;
    ch->bytes_out += n;
    if (ch->out_pos == ch->out->len) {
        g_byte_array_set_size(ch->out, 0);
        ch->out_pos = 0;
    } else if (ch->out_pos > 65536) {
        g_byte_array_remove_range(ch->out, 0, ch->out_pos);
        ch->out_pos = 0;
    }
}

gsize
crp_channel_output_pending(CrpChannel *ch)
{
    return ch->out->len - ch->out_pos;
}

gboolean
crp_channel_is_ready(CrpChannel *ch)
{
    return ch->phase == PHASE_STREAMING && !ch->tx.finished;
}

gboolean
crp_channel_is_closed(CrpChannel *ch)
{
    return ch->tx.finished || ch->phase == PHASE_FAILED;
}

GBytes *
crp_channel_steal_input(CrpChannel *ch)
{
    GBytes *rest = g_bytes_new(ch->in->data + ch->in_pos,
                               ch->in->len - ch->in_pos);
    ch->in_pos = ch->in->len;
    return rest;
}

guint64
crp_channel_bytes_in(CrpChannel *ch)
{
    return ch->bytes_in;
}

guint64
crp_channel_bytes_out(CrpChannel *ch)
{
    return ch->bytes_out;
}
