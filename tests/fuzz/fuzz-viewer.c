/*
 * fuzz-viewer.c: a CrpViewer (the client side of a display channel, as
 * crp-client and crp-headless use it) fed by a hostile server after a
 * real handshake: SURFACEs of every size the wire allows (no 1024 cap
 * here), RECTs through the decoder, FRAME_END, cursor shape and position,
 * AUDIO_FORMAT and AUDIO_OUT through the Opus decoder, PING, BYE, and
 * the clipboard: each grab of text is asked for, and the chunks of the
 * answer go through the reassembly (with FUZZ_VIEWER_INPUT the viewer
 * also grabs, and answers the server's requests).
 *
 * Input: a flags byte (FUZZ_VIEWER_*), then chunks; the real server seals
 * each chunk as one record's messages (crp_channel_send_encoded() checks
 * only the headers), the viewer processes it, and the viewer's output goes
 * back to the server, which checks what the viewer answered: a PONG for
 * each PING and a FRAME_ACK for each FRAME_END, in order and with the
 * same values (or, where a later libcrp coalesces answers to a server
 * that does not keep up, at least for the last of them), and nothing
 * else unasked for.
 */
#include "fuzz-common.h"
#include <crp/crp-opus.h>
#include <crp/crp-viewer.h>

typedef struct {
    CrpViewer *viewer;
    CrpChannel *server;
    gboolean dead;              /* the viewer gave up on the server */
    /* What the server sent and expects answered, oldest first. */
    GArray *pings;              /* CrpPingMsg */
    GArray *frames;             /* guint32 frame ids */
    guint pongs_seen, acks_seen;    /* sent entries answered or skipped */
    guint inputs_sent;          /* KEY, POINTER, WHEEL, RESIZE, CLIPBOARD_GRAB */
    guint clipboard_requests;   /* CLIPBOARD_REQUESTs the viewer made */
} FuzzViewer;

/* Notes the PINGs and FRAME_ENDs in a record the server sent. */
static void
note_sent(FuzzViewer *f, const guint8 *rec, gsize len)
{
    for (gsize pos = 0; pos < len;) {
        CrpMessage msg;
        gsize used = crp_message_decode(rec + pos, len - pos, &msg, NULL);
        if (!used) {
            return;
        }
        if (msg.type == CRP_MSG_PING) {
            g_array_append_val(f->pings, msg.ping);
        } else if (msg.type == CRP_MSG_FRAME_END) {
            g_array_append_val(f->frames, msg.frame_end.frame_id);
        }
        pos += used;
    }
}

/* Moves the viewer's output to the server. */
static void
to_server(FuzzViewer *f)
{
    gsize len;
    const guint8 *out = crp_viewer_peek_output(f->viewer, &len);
    crp_channel_receive(f->server, out, len);
    crp_viewer_consume_output(f->viewer, len);
}

/*
 * The entry of @sent (from *@next on) that an answer matches, by @same;
 * *@next moves past it. Answers come in order. A viewer that coalesces
 * them (CRP_VIEWER_COALESCE_OUTPUT: while the server is behind on
 * reading, only the latest PONG and FRAME_ACK go out) may skip entries;
 * one that does not, never.
 */
static void
match_answer(GArray *sent, guint *next, gconstpointer answer,
             gboolean (*same)(gconstpointer sent_entry, gconstpointer answer))
{
    guint i = *next;
    while (i < sent->len &&
           !same(sent->data + (gsize)i * g_array_get_element_size(sent), answer)) {
#ifndef CRP_VIEWER_COALESCE_OUTPUT
        g_error("answer %u does not match what was sent", i);
#endif
        i++;
    }
    g_assert_cmpuint(i, <, sent->len);
    if (i > *next) {
        fuzz_trace("  answer to %u of %u: %u coalesced\n", i, sent->len, i - *next);
    }
    *next = i + 1;
}

static gboolean
same_ping(gconstpointer sent, gconstpointer answer)
{
    const CrpPingMsg *a = sent, *b = answer;
    return a->id == b->id && a->time_us == b->time_us;
}

static gboolean
same_frame(gconstpointer sent, gconstpointer answer)
{
    return *(const guint32 *)sent == ((const CrpFrameAckMsg *)answer)->frame_id;
}

/* The server reads the viewer's answers, until the viewer has no more. */
static void
check_answers(FuzzViewer *f)
{
    gsize pending;
    while (crp_viewer_peek_output(f->viewer, &pending), pending > 0) {
        to_server(f);
        for (;;) {
            CrpEvent ev;
            g_autoptr(GError) error = NULL;
            CrpEventType type = crp_channel_next_event(f->server, &ev, &error);
            if (type == CRP_EVENT_NONE || type == CRP_EVENT_CLOSED) {
                g_assert_no_error(error);
                break;
            }
            /* A viewer's output is always well-formed. */
            g_assert_no_error(error);
            g_assert_cmpint(type, ==, CRP_EVENT_MESSAGE);
            const CrpMessage *m = &ev.message;
            switch (m->type) {
            case CRP_MSG_PONG:
                match_answer(f->pings, &f->pongs_seen, &m->ping, same_ping);
                break;
            case CRP_MSG_FRAME_ACK:
                match_answer(f->frames, &f->acks_seen, &m->frame_ack, same_frame);
                break;
            case CRP_MSG_KEY:
            case CRP_MSG_POINTER:
            case CRP_MSG_WHEEL:
            case CRP_MSG_RESIZE_REQUEST:
                g_assert_cmpuint(f->inputs_sent, >, 0);
                f->inputs_sent--;
                break;
            case CRP_MSG_CLIPBOARD_GRAB:
                g_assert_cmpuint(f->inputs_sent, >, 0);
                f->inputs_sent--;
                break;
            case CRP_MSG_CLIPBOARD_REQUEST:
                g_assert_cmpuint(f->clipboard_requests, >, 0);
                f->clipboard_requests--;
                break;
            case CRP_MSG_AUDIO_IN:
            case CRP_MSG_CLIPBOARD_DATA:    /* answers; the channel checked them */
            case CRP_MSG_BYE:
                break;
            default:
                g_error("the viewer sent %s", crp_message_type_name(m->type));
            }
        }
    }
}

static void
check_frame(FuzzViewer *f, const CrpViewerUpdate *u)
{
    pixman_image_t *image = crp_viewer_get_image(f->viewer);
    const pixman_box32_t *d = &u->damage;

    if (d->x2 == 0 && d->y2 == 0) {
        return;                 /* nothing drawn since the last FRAME */
    }
    /* Damage lies on the current framebuffer. */
    g_assert_nonnull(image);
    g_assert_cmpint(0, <=, d->x1);
    g_assert_cmpint(d->x1, <, d->x2);
    g_assert_cmpint(0, <=, d->y1);
    g_assert_cmpint(d->y1, <, d->y2);
    g_assert_cmpint(d->x2, <=, pixman_image_get_width(image));
    g_assert_cmpint(d->y2, <=, pixman_image_get_height(image));
}

static void
check_cursor(FuzzViewer *f)
{
    int hot_x, hot_y, x, y;
    gboolean visible;
    pixman_image_t *cursor = crp_viewer_get_cursor(f->viewer, &hot_x, &hot_y);

    if (cursor) {
        int w = pixman_image_get_width(cursor), h = pixman_image_get_height(cursor);
        g_assert_cmpint(w, >=, 1);
        g_assert_cmpint(w, <=, CRP_MAX_CURSOR_DIM);
        g_assert_cmpint(h, >=, 1);
        g_assert_cmpint(h, <=, CRP_MAX_CURSOR_DIM);
        g_assert_cmpint(hot_x, <, w);
        g_assert_cmpint(hot_y, <, h);
    }
    crp_viewer_get_pointer(f->viewer, &x, &y, &visible);
    g_assert_true(visible == TRUE || visible == FALSE);
}

static void
check_audio(FuzzViewer *f)
{
    gsize n;
    int channels;
    g_autofree gint16 *pcm = crp_viewer_take_audio(f->viewer, &n, &channels);

    g_assert_true(channels == 1 || channels == 2);
    /* At most 120 ms per packet. */
    g_assert_cmpuint(n, <=, CRP_OPUS_RATE / 1000 * 120);
    if (n) {
        /* Every sample is there (AddressSanitizer checks the reads). */
        volatile gint16 last = pcm[n * channels - 1];
        (void)last;
    }
}

/* The server's clipboard changed: ask for its text; the answer, when
 * complete, is whole and valid. */
static void
check_clipboard(FuzzViewer *f, const CrpViewerUpdate *u, CrpViewerEvent ev)
{
    if (ev == CRP_VIEWER_CLIPBOARD) {
        g_assert_cmpuint(u->clipboard_formats & ~CRP_CLIPBOARD_ALL, ==, 0);
        if (u->clipboard_formats & CRP_CLIPBOARD_TEXT) {
            g_assert_true(crp_viewer_request_clipboard(f->viewer, CRP_CLIPBOARD_TEXT,
                                                       NULL));
            f->clipboard_requests++;
        }
        return;
    }
    guint8 format;
    g_autoptr(GBytes) content = crp_viewer_take_clipboard(f->viewer, &format);
    g_assert_cmpuint(u->clipboard_format, ==, CRP_CLIPBOARD_TEXT);
    g_assert_true((u->clipboard_status == CRP_CLIPBOARD_OK) == (content != NULL));
    if (content) {
        gsize len;
        const char *text = g_bytes_get_data(content, &len);
        g_assert_cmpuint(len, <=, CRP_MAX_CLIPBOARD);
        g_assert_true(g_utf8_validate_len(text, len, NULL));
    }
}

/* Runs the viewer's events: NONE when it needs more, ERROR when it gave
 * up on the server, CLOSED when the server said goodbye. */
static CrpViewerEvent
process(FuzzViewer *f, guint8 flags)
{
    for (;;) {
        CrpViewerUpdate u;
        g_autoptr(GError) error = NULL;
        CrpViewerEvent ev = crp_viewer_process(f->viewer, &u, &error);

        fuzz_trace("  viewer event %d %s\n", ev, error ? error->message : "");
        switch (ev) {
        case CRP_VIEWER_NONE:
            g_assert_no_error(error);
            return ev;
        case CRP_VIEWER_ERROR:
            g_assert_nonnull(error);
            g_assert_true(error->domain == CRP_ERROR);
            return ev;
        case CRP_VIEWER_SURFACE: {
            pixman_image_t *image = crp_viewer_get_image(f->viewer);
            g_assert_nonnull(image);
            g_assert_cmpint(pixman_image_get_width(image), ==, u.width);
            g_assert_cmpint(pixman_image_get_height(image), ==, u.height);
            break;
        }
        case CRP_VIEWER_FRAME:
            check_frame(f, &u);
            if (flags & FUZZ_VIEWER_MANUAL_ACK) {
                crp_viewer_frame_presented(f->viewer, u.frame_id);
            }
            break;
        case CRP_VIEWER_CURSOR:
            check_cursor(f);
            break;
        case CRP_VIEWER_AUDIO:
            check_audio(f);
            break;
        case CRP_VIEWER_CLIPBOARD:
        case CRP_VIEWER_CLIPBOARD_DATA:
            check_clipboard(f, &u, ev);
            break;
        case CRP_VIEWER_CLOSED:
            g_assert_nonnull(u.reason);
            g_assert_true(g_utf8_validate(u.reason, -1, NULL));
            return ev;
        default:
            g_error("unexpected viewer event %d", ev);
        }
        g_assert_no_error(error);
    }
}

static void
send_input(FuzzViewer *f, const guint8 *chunk, gsize len, guint8 flags)
{
    /* Coordinates from the chunk, so that they vary. */
    int a = len > 0 ? chunk[0] * 40 : 0, b = len > 1 ? chunk[1] * 40 : 0;

    f->inputs_sent += crp_viewer_send_key(f->viewer, 30, len & 1);
    f->inputs_sent += crp_viewer_send_pointer(f->viewer, a - 100, b, len & 7);
    f->inputs_sent += crp_viewer_send_wheel(f->viewer, a - 5000, b);
    f->inputs_sent += crp_viewer_send_resize(f->viewer, a, b);
    if (len > 2) {
        /* Something to answer the server's requests with. */
        g_autoptr(GBytes) text = g_bytes_new_static("fuzz", 4);
        f->inputs_sent += crp_viewer_set_clipboard(f->viewer, text, NULL, NULL);
    }
    if (flags & FUZZ_VIEWER_MIC) {
        gint16 pcm[960 * 2] = { 0 };
        g_autoptr(GError) error = NULL;
        g_assert_true(crp_viewer_send_audio(f->viewer, pcm, 960, &error));
        g_assert_no_error(error);
    }
}

/* Moves the server's output to the viewer. */
static void
to_viewer(FuzzViewer *f)
{
    gsize len;
    const guint8 *out = crp_channel_peek_output(f->server, &len);
    crp_viewer_receive(f->viewer, out, len);
    crp_channel_consume_output(f->server, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    fuzz_init();
    crp_test_rng_reset();

    guint8 flags = data[0];
    CrpViewerConfig vcfg = { .ticket = FUZZ_TICKET, .software = "client" };
    CrpChannelConfig scfg = {
        .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_SERVER,
        .ticket = FUZZ_TICKET, .capabilities = CRP_CAP_DISPLAY_ALL,
        .software = "server",
    };
    g_autoptr(GError) error = NULL;
    FuzzViewer f = {
        .viewer = crp_viewer_new(&vcfg, &error),
        .server = crp_channel_new(&scfg, &error),
        .pings = g_array_new(FALSE, FALSE, sizeof(CrpPingMsg)),
        .frames = g_array_new(FALSE, FALSE, sizeof(guint32)),
    };
    g_assert_no_error(error);
    crp_viewer_set_manual_ack(f.viewer, flags & FUZZ_VIEWER_MANUAL_ACK);

    /* The handshake, both ends real. */
    to_server(&f);
    fuzz_expect_event(f.server, CRP_EVENT_AUTHORIZE);
    g_assert_true(crp_channel_authorize(f.server, CRP_STATUS_OK, NULL, &error));
    g_assert_no_error(error);
    fuzz_expect_event(f.server, CRP_EVENT_READY);
    to_viewer(&f);
    CrpViewerUpdate u;
    g_assert_cmpint(crp_viewer_process(f.viewer, &u, &error), ==, CRP_VIEWER_READY);
    g_assert_no_error(error);
    g_assert_cmpuint(u.capabilities, ==, CRP_CAP_DISPLAY_ALL);

    FuzzInput in;
    guint8 *chunk;
    gsize len;
    CrpViewerEvent last = CRP_VIEWER_NONE;
    fuzz_input_init(&in, data + 1, size - 1);
    while (last == CRP_VIEWER_NONE && (chunk = fuzz_input_next(&in, &len))) {
        g_autoptr(GError) send_error = NULL;
        if (crp_channel_send_encoded(f.server, chunk, len, &send_error)) {
            crp_channel_flush(f.server);
            note_sent(&f, chunk, len);
        } else {
            fuzz_trace("  server: %s\n", send_error->message);
        }
        to_viewer(&f);
        last = process(&f, flags);
        if (last == CRP_VIEWER_NONE && (flags & FUZZ_VIEWER_INPUT)) {
            send_input(&f, chunk, len, flags);
        }
        check_answers(&f);
        g_free(chunk);
    }
    if (last == CRP_VIEWER_NONE && (flags & FUZZ_VIEWER_BYE)) {
        crp_channel_close(f.server, CRP_STATUS_SHUTDOWN, "fuzz");
        to_viewer(&f);
        last = process(&f, flags);
        g_assert_cmpint(last, ==, CRP_VIEWER_CLOSED);
        check_answers(&f);
    }
    /* Unless the viewer gave up half-way through a record, it took every
     * message sent: each PING was answered and each FRAME acknowledged (at
     * once, or when presented), or at least the last of each if it
     * coalesces answers. */
    if (last != CRP_VIEWER_ERROR) {
        g_assert_cmpuint(f.acks_seen, ==, f.frames->len);
        g_assert_cmpuint(f.pongs_seen, ==, f.pings->len);
    }

    crp_viewer_free(f.viewer);
    crp_channel_free(f.server);
    g_array_unref(f.pings);
    g_array_unref(f.frames);
    return 0;
}
