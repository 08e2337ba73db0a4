/*
 * fuzz-common.h: what the fuzz targets (and make-seeds.c) share.
 * Header-only; every target is a single translation unit.
 *
 * Input layout of every target: one flags byte, then chunks. A chunk is a
 * u16 big-endian length and that many bytes (fewer if the input ends
 * first; a lone trailing byte is ignored). What a chunk means (a record's
 * plaintext, a piece of wire bytes, ...) is up to the target and its flags.
 *
 * Channels are made with the configurations of the golden handshakes in
 * tests/libcrp/crypto/test-crp-handshake.c, under the same deterministic RNG
 * reset before every input: every run derives the same keys, so the
 * encrypted seeds make-seeds.c records authenticate and lead the fuzzer
 * past the MAC, and a crash reproduces from its input alone.
 */
#pragma once

#include <crp/crp-channel.h>
#include <crp/crp-error.h>
#include "crp-test-util.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TICKET "golden-ticket"
#define FUZZ_DISPLAY_CLIENT_CAPS 0x3fu
#define FUZZ_DISPLAY_SERVER_CAPS 0x07u

/* The golden broker keys: the bytes 0x01.. (user) and 0x41.. (broker). */
static guint8 fuzz_user_secret[CRP_KEY_BYTES];
static guint8 fuzz_broker_secret[CRP_KEY_BYTES];
static guint8 fuzz_broker_public[CRP_KEY_BYTES];

/* CRP_FUZZ_TRACE=1 prints what each input did, to check that a seed
 * reaches what it was made for. */
static gboolean fuzz_tracing;

#define fuzz_trace(...) \
    do { \
        if (G_UNLIKELY(fuzz_tracing)) { \
            g_printerr(__VA_ARGS__); \
        } \
    } while (0)

static inline void
fuzz_init(void)
{
    static gboolean done;
    if (done) {
        return;
    }
    done = TRUE;
    fuzz_tracing = g_getenv("CRP_FUZZ_TRACE") != NULL;
    /* Let AddressSanitizer see GError and friends freed one by one
     * (effective if nothing used GSlice yet, as under libFuzzer). */
    g_setenv("G_SLICE", "always-malloc", TRUE);
    crp_test_use_deterministic_rng();
    for (int i = 0; i < CRP_KEY_BYTES; i++) {
        fuzz_user_secret[i] = 0x01 + i;
        fuzz_broker_secret[i] = 0x41 + i;
    }
    crypto_scalarmult_base(fuzz_broker_public, fuzz_broker_secret);
}

/* ---- input ------------------------------------------------------------ */

typedef struct {
    const guint8 *p;
    gsize left;
} FuzzInput;

static inline void
fuzz_input_init(FuzzInput *in, const guint8 *data, gsize len)
{
    in->p = data;
    in->left = len;
}

/* Takes the next chunk as a new allocation of exactly its size, so that
 * AddressSanitizer catches a read past its end; g_free() it. */
static inline guint8 *
fuzz_input_next(FuzzInput *in, gsize *len)
{
    if (in->left < 2) {
        return NULL;
    }
    gsize n = MIN((gsize)(in->p[0] << 8 | in->p[1]), in->left - 2);
    guint8 *chunk = g_malloc(MAX(n, 1));
    memcpy(chunk, in->p + 2, n);
    in->p += 2 + n;
    in->left -= 2 + n;
    *len = n;
    return chunk;
}

/* ---- messages --------------------------------------------------------- */

/*
 * Checks what a receiver relies on in a decoded message: every view and
 * string lies within the buffer (encoding reads them all), lists iterate
 * to exactly their count, and encoding gives back the same bytes: @wire
 * if known, otherwise bytes that decode again to the same message.
 */
static inline void
fuzz_check_message(const CrpMessage *msg, const guint8 *wire, gsize wire_len)
{
    CrpMessage copy = *msg;
    g_autofree CrpAppInfo *apps = NULL;
    g_autofree CrpSessionInfo *sessions = NULL;
    g_autofree CrpFileEntry *files = NULL;

    g_assert_nonnull(crp_message_type_name(msg->type));
    if (msg->type == CRP_MSG_FILES) {
        CrpListIter it;
        CrpFileEntry entry;

        g_assert_cmpuint(msg->files.count, <=, CRP_MAX_LIST_ITEMS);
        crp_list_iter_init_files(&it, &msg->files);
        files = g_new0(CrpFileEntry, msg->files.count + 1);
        for (guint i = 0; i < msg->files.count; i++) {
            g_assert_true(crp_list_iter_next_file(&it, &files[i]));
        }
        g_assert_false(crp_list_iter_next_file(&it, &entry));
        g_assert_true(crp_reader_done(&it.reader));
        copy.files.items = files;
    }
    if (msg->type == CRP_MSG_APP_LIST || msg->type == CRP_MSG_SESSIONS) {
        CrpListIter it;
        CrpAppInfo app;
        CrpSessionInfo session;

        g_assert_cmpuint(msg->list.count, <=, CRP_MAX_LIST_ITEMS);
        crp_list_iter_init(&it, &msg->list);
        if (msg->type == CRP_MSG_APP_LIST) {
            apps = g_new0(CrpAppInfo, msg->list.count + 1);
            for (guint i = 0; i < msg->list.count; i++) {
                g_assert_true(crp_list_iter_next_app(&it, &apps[i]));
            }
            g_assert_false(crp_list_iter_next_app(&it, &app));
            copy.list.items = apps;
        } else {
            sessions = g_new0(CrpSessionInfo, msg->list.count + 1);
            for (guint i = 0; i < msg->list.count; i++) {
                g_assert_true(crp_list_iter_next_session(&it, &sessions[i]));
            }
            g_assert_false(crp_list_iter_next_session(&it, &session));
            copy.list.items = sessions;
        }
        g_assert_true(crp_reader_done(&it.reader));
    }

    g_autoptr(GByteArray) out = g_byte_array_new();
    gsize n = crp_message_encode(&copy, out);
    g_assert_cmpuint(n, ==, out->len);
    if (wire) {
        g_assert_cmpmem(out->data, out->len, wire, wire_len);
        return;
    }
    CrpMessage again;
    g_autoptr(GError) error = NULL;
    g_assert_cmpuint(crp_message_decode(out->data, out->len, &again, &error),
                     ==, out->len);
    g_assert_no_error(error);
    g_assert_cmpuint(again.type, ==, msg->type);
    g_assert_cmpuint(again.flags, ==, msg->flags);
}

/* Acts on a checked message as the receiver would; FALSE if the receiver
 * gives up on the connection (say, on bad pixel data). */
typedef gboolean (*FuzzMessageFunc)(const CrpMessage *msg, gpointer user_data);

/*
 * Parses one record's plaintext the way crp-channel.c's next_message()
 * does: messages back to back, each of a type @sender may send on @kind.
 * Returns FALSE where the channel would have failed (it stops there).
 * Checked messages go to @func; when it gives up, *@dead is set.
 */
static inline gboolean
fuzz_parse_record(CrpChannelKind kind, CrpRole sender, const guint8 *rec,
                  gsize len, FuzzMessageFunc func, gpointer user_data,
                  gboolean *dead)
{
    if (len == 0) {
        return FALSE;           /* the channel refuses empty records */
    }
    for (gsize pos = 0; pos < len && !*dead;) {
        CrpMessage msg;
        g_autoptr(GError) error = NULL;
        gsize used = crp_message_decode(rec + pos, len - pos, &msg, &error);
        if (!used) {
            g_assert_nonnull(error);
            g_assert_true(error->domain == CRP_ERROR);
            fuzz_trace("  record: %s\n", error->message);
            return FALSE;
        }
        g_assert_no_error(error);
        g_assert_cmpuint(used, >=, CRP_MESSAGE_HEADER_SIZE);
        g_assert_cmpuint(used, <=, len - pos);
        if (!crp_message_type_allowed(kind, sender, msg.type)) {
            fuzz_trace("  record: %s goes the wrong way\n",
                       crp_message_type_name(msg.type));
            return FALSE;
        }
        fuzz_trace("  message %s\n", crp_message_type_name(msg.type));
        fuzz_check_message(&msg, rec + pos, used);
        if (func && !func(&msg, user_data)) {
            *dead = TRUE;
        }
        pos += used;
    }
    return !*dead;
}

/* ---- channels --------------------------------------------------------- */

static inline CrpChannel *
fuzz_channel_new(CrpChannelKind kind, CrpRole role)
{
    gboolean client = role == CRP_ROLE_CLIENT;
    CrpChannelConfig cfg = { .kind = kind, .role = role };
    g_autoptr(GError) error = NULL;

    if (kind == CRP_CHANNEL_DISPLAY) {
        cfg.ticket = FUZZ_TICKET;
        cfg.capabilities = client ? FUZZ_DISPLAY_CLIENT_CAPS
                                  : FUZZ_DISPLAY_SERVER_CAPS;
        cfg.software = client ? "client" : "server";
    } else {
        cfg.static_secret = client ? fuzz_user_secret : fuzz_broker_secret;
        cfg.remote_static_public = client ? fuzz_broker_public : NULL;
        cfg.software = client ? "client" : "broker";
    }
    CrpChannel *ch = crp_channel_new(&cfg, &error);
    g_assert_no_error(error);
    return ch;
}

/* Drops whatever @ch has queued, as if it had been written. */
static inline void
fuzz_discard_output(CrpChannel *ch)
{
    gsize len;
    crp_channel_peek_output(ch, &len);
    crp_channel_consume_output(ch, len);
}

/* Moves all of @from's output to @to. */
static inline void
fuzz_pump(CrpChannel *from, CrpChannel *to)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(from, &len);
    crp_channel_receive(to, data, len);
    crp_channel_consume_output(from, len);
}

/* Moves only the first frame of @from's output to @to. */
static inline void
fuzz_pump_frame(CrpChannel *from, CrpChannel *to)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(from, &len);
    g_assert_cmpuint(len, >=, 4);
    gsize frame = 4 + ((gsize)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]);
    g_assert_cmpuint(len, >=, frame);
    crp_channel_receive(to, data, frame);
    crp_channel_consume_output(from, frame);
}

static inline void
fuzz_expect_event(CrpChannel *ch, CrpEventType type)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(crp_channel_next_event(ch, &ev, &error), ==, type);
    g_assert_no_error(error);
}

/* Starts @kind's client from a reset RNG and returns it with its HELLO
 * queued: the first step of every golden exchange. */
static inline CrpChannel *
fuzz_start_client(CrpChannelKind kind)
{
    g_autoptr(GError) error = NULL;

    crp_test_rng_reset();
    CrpChannel *client = fuzz_channel_new(kind, CRP_ROLE_CLIENT);
    g_assert_true(crp_channel_start(client, &error));
    return client;
}

/*
 * Runs @kind's golden handshake; both ends are READY. Each side's stream
 * header is still in its output (the server's is the one after its
 * RESPONSE frame), for the caller to pump or drop: dropped, the fuzz input
 * supplies the stream instead.
 */
static inline void
fuzz_connect(CrpChannelKind kind, CrpChannel **client, CrpChannel **server)
{
    g_autoptr(GError) error = NULL;

    *client = fuzz_start_client(kind);
    *server = fuzz_channel_new(kind, CRP_ROLE_SERVER);
    fuzz_pump(*client, *server);
    fuzz_expect_event(*server, CRP_EVENT_AUTHORIZE);
    g_assert_true(crp_channel_authorize(*server, CRP_STATUS_OK, NULL, &error));
    fuzz_expect_event(*server, CRP_EVENT_READY);
    fuzz_pump_frame(*server, *client);
    fuzz_expect_event(*client, CRP_EVENT_READY);
}

static inline void
fuzz_check_handshake_info(const CrpEvent *ev)
{
    gsize len = strlen(ev->peer_software);
    g_assert_cmpuint(len, <=, CRP_MAX_SOFTWARE);
    g_assert_true(g_utf8_validate(ev->peer_software, len, NULL));
}

/*
 * Takes events out of @ch until it needs more input, fails or has
 * reported the end of the peer's stream, discarding its output as a
 * writer would. AUTHORIZE is answered with @verdict. Checked messages go
 * to @func; when it gives up, *@dead is set and draining stops. Returns
 * the last event: CRP_EVENT_NONE, CRP_EVENT_ERROR, CRP_EVENT_CLOSED, or
 * CRP_EVENT_MESSAGE if @func gave up.
 */
static inline CrpEventType
fuzz_drain(CrpChannel *ch, guint16 verdict, FuzzMessageFunc func,
           gpointer user_data, gboolean *dead)
{
    for (;;) {
        CrpEvent ev;
        g_autoptr(GError) error = NULL;
        CrpEventType type = crp_channel_next_event(ch, &ev, &error);
        g_assert_cmpint(ev.type, ==, type);
        fuzz_discard_output(ch);
        fuzz_trace("  event %d%s%s %s\n", type,
                   type == CRP_EVENT_MESSAGE ? " " : "",
                   type == CRP_EVENT_MESSAGE ? crp_message_type_name(ev.message.type) : "",
                   error ? error->message : "");
        switch (type) {
        case CRP_EVENT_ERROR:
            g_assert_nonnull(error);
            g_assert_true(error->domain == CRP_ERROR);
            g_assert_true(crp_channel_is_closed(ch));
            g_assert_false(crp_channel_is_ready(ch));
            return type;
        case CRP_EVENT_NONE:
            g_assert_no_error(error);
            return type;
        case CRP_EVENT_AUTHORIZE:
            g_assert_no_error(error);
            fuzz_check_handshake_info(&ev);
            g_assert_true(crp_channel_authorize(ch, verdict,
                                                verdict ? "fuzz says no" : NULL,
                                                &error));
            g_assert_no_error(error);
            break;
        case CRP_EVENT_READY:
            g_assert_no_error(error);
            fuzz_check_handshake_info(&ev);
            break;
        case CRP_EVENT_MESSAGE:
            g_assert_no_error(error);
            fuzz_check_message(&ev.message, NULL, 0);
            if (func && !func(&ev.message, user_data)) {
                *dead = TRUE;
                return type;
            }
            break;
        case CRP_EVENT_CLOSED: {
            g_assert_no_error(error);
            g_autoptr(GBytes) rest = crp_channel_steal_input(ch);
            (void)rest;
            return type;
        }
        default:
            g_assert_not_reached();
        }
    }
}

/* ---- the parser targets ------------------------------------------------ */

/* Flags byte of fuzz-server-parser and fuzz-client-parser. */
#define FUZZ_PATH_MASK      0x03
#define FUZZ_PATH_PLAIN     0x00    /* each chunk is a record's plaintext */
#define FUZZ_PATH_WIRE      0x01    /* chunks are wire bytes, after the handshake */
#define FUZZ_PATH_SEALED    0x02    /* the real peer seals each chunk as a record */
#define FUZZ_PATH_SEALED_BYE 0x03   /* ... and then closes its stream */
#define FUZZ_FLAG_BROKER    0x04    /* broker channel instead of display */

/*
 * Runs one input of a parser target: what a @receiver of @kind parses from
 * a hostile peer after the handshake, by the path the flags pick.
 */
static inline void
fuzz_run_parser(CrpRole receiver, guint8 flags, const guint8 *data, gsize len,
                FuzzMessageFunc func, gpointer user_data)
{
    CrpChannelKind kind = (flags & FUZZ_FLAG_BROKER) ? CRP_CHANNEL_BROKER
                                                     : CRP_CHANNEL_DISPLAY;
    CrpRole sender = receiver == CRP_ROLE_CLIENT ? CRP_ROLE_SERVER : CRP_ROLE_CLIENT;
    guint path = flags & FUZZ_PATH_MASK;
    gboolean dead = FALSE;
    FuzzInput in;
    guint8 *chunk;
    gsize n;

    fuzz_input_init(&in, data, len);
    if (path == FUZZ_PATH_PLAIN) {
        while (!dead && (chunk = fuzz_input_next(&in, &n))) {
            dead = !fuzz_parse_record(kind, sender, chunk, n, func, user_data, &dead);
            g_free(chunk);
        }
        return;
    }

    CrpChannel *client, *server;
    fuzz_connect(kind, &client, &server);
    CrpChannel *rx = receiver == CRP_ROLE_CLIENT ? client : server;
    CrpChannel *tx = receiver == CRP_ROLE_CLIENT ? server : client;
    CrpEventType last = CRP_EVENT_NONE;

    if (path == FUZZ_PATH_WIRE) {
        /* The input is the peer's stream header and records. */
        fuzz_discard_output(tx);
        while (last == CRP_EVENT_NONE && !dead && (chunk = fuzz_input_next(&in, &n))) {
            crp_channel_receive(rx, chunk, n);
            g_free(chunk);
            last = fuzz_drain(rx, CRP_STATUS_OK, func, user_data, &dead);
        }
    } else {
        /* The input is arbitrary message bodies: the peer only checks the
         * headers (whole messages, allowed types) before sealing them. */
        while (last == CRP_EVENT_NONE && !dead && (chunk = fuzz_input_next(&in, &n))) {
            g_autoptr(GError) error = NULL;
            if (crp_channel_send_encoded(tx, chunk, n, &error)) {
                crp_channel_flush(tx);
            }
            g_free(chunk);
            fuzz_pump(tx, rx);
            last = fuzz_drain(rx, CRP_STATUS_OK, func, user_data, &dead);
        }
        if (path == FUZZ_PATH_SEALED_BYE && last == CRP_EVENT_NONE && !dead) {
            crp_channel_close(tx, CRP_STATUS_SHUTDOWN, "fuzz");
            fuzz_pump(tx, rx);
            last = fuzz_drain(rx, CRP_STATUS_OK, func, user_data, &dead);
            /* After the final record there is nothing left to wait for.
             * (It may still fail: a send_encoded() that failed half-way
             * leaves its first messages queued, unchecked.) */
            g_assert_cmpint(last, !=, CRP_EVENT_NONE);
        }
    }
    crp_channel_free(client);
    crp_channel_free(server);
}

/* ---- the handshake targets --------------------------------------------- */

/* Flags byte of fuzz-display-handshake and fuzz-broker-handshake. */
#define FUZZ_HS_CLIENT  0x01    /* feed a started client, not a fresh server */
#define FUZZ_HS_REFUSE  0x02    /* answer AUTHORIZE with a refusal */
#define FUZZ_HS_CLOSE   0x04    /* close the channel after the input */

/*
 * Runs one input of a handshake target: the chunks are received one at a
 * time by a fresh server (its HELLO, then the client's stream) or by a
 * client that has sent its HELLO (the RESPONSE or REJECT, then the
 * server's stream), and events drained after each.
 */
static inline void
fuzz_run_handshake(CrpChannelKind kind, guint8 flags, const guint8 *data,
                   gsize len)
{
    CrpRole role = (flags & FUZZ_HS_CLIENT) ? CRP_ROLE_CLIENT : CRP_ROLE_SERVER;
    guint16 verdict = (flags & FUZZ_HS_REFUSE) ? CRP_STATUS_NO_CAPACITY
                                               : CRP_STATUS_OK;
    CrpEventType last = CRP_EVENT_NONE;
    gboolean dead = FALSE;
    FuzzInput in;
    guint8 *chunk;
    gsize n;

    /* Either way the golden client starts first, so that the server draws
     * the golden keys from the RNG after it. */
    CrpChannel *ch = fuzz_start_client(kind);
    if (role == CRP_ROLE_SERVER) {
        crp_channel_free(ch);
        ch = fuzz_channel_new(kind, CRP_ROLE_SERVER);
    }
    fuzz_discard_output(ch);

    fuzz_input_init(&in, data, len);
    while (last == CRP_EVENT_NONE && (chunk = fuzz_input_next(&in, &n))) {
        crp_channel_receive(ch, chunk, n);
        g_free(chunk);
        last = fuzz_drain(ch, verdict, NULL, NULL, &dead);
    }

    gboolean ready = crp_channel_is_ready(ch);
    if (ready) {
        g_autoptr(GError) error = NULL;
        CrpMessage bye = { .type = CRP_MSG_BYE, .bye = { CRP_STATUS_OK, crp_str("x") } };
        g_assert_true(crp_channel_send(ch, &bye, &error));
        g_assert_no_error(error);
        crp_channel_flush(ch);
    }
    if (flags & FUZZ_HS_CLOSE) {
        crp_channel_close(ch, CRP_STATUS_SHUTDOWN, "fuzz");
        g_assert_false(crp_channel_is_ready(ch));
        /* (A client still in its handshake has nothing to send: closing
         * it is left to the transport.) */
        if (ready || role == CRP_ROLE_SERVER) {
            g_assert_true(crp_channel_is_closed(ch));
        }
    }
    fuzz_discard_output(ch);
    crp_channel_free(ch);
}

/* ---- the viewer target ------------------------------------------------- */

/* Flags byte of fuzz-viewer. */
#define FUZZ_VIEWER_MANUAL_ACK  0x01    /* acknowledge frames when "presented" */
#define FUZZ_VIEWER_BYE         0x02    /* the server closes after the input */
#define FUZZ_VIEWER_INPUT       0x04    /* the viewer sends input after each chunk */
#define FUZZ_VIEWER_MIC         0x08    /* ... and 20 ms of microphone audio */
