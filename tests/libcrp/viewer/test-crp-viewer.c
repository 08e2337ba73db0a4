/*
 * test-crp-viewer.c: the client-side viewer against a scripted server
 * (a real server CrpChannel driven by the test).
 */
#include <crp/crp-clipboard.h>
#include <crp/crp-error.h>
#include <crp/crp-opus.h>
#include <crp/crp-viewer.h>
#include <math.h>
#include <string.h>

typedef struct {
    CrpViewer *viewer;
    CrpChannel *server;
} Fixture;

static void
to_server(Fixture *f)
{
    gsize len;
    const guint8 *data = crp_viewer_peek_output(f->viewer, &len);
    crp_channel_receive(f->server, data, len);
    crp_viewer_consume_output(f->viewer, len);
}

static void
to_viewer(Fixture *f)
{
    gsize len;
    crp_channel_flush(f->server);
    const guint8 *data = crp_channel_peek_output(f->server, &len);
    crp_viewer_receive(f->viewer, data, len);
    crp_channel_consume_output(f->server, len);
}

static CrpViewerEvent
viewer_event(Fixture *f, CrpViewerUpdate *u)
{
    g_autoptr(GError) error = NULL;
    CrpViewerEvent ev = crp_viewer_process(f->viewer, u, &error);
    g_assert_no_error(error);
    return ev;
}

static void
server_send(Fixture *f, const CrpMessage *m)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_channel_send(f->server, m, &error));
}

/* Returns the next message the server received (asserting there is one). */
static CrpMessage
server_next(Fixture *f)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(crp_channel_next_event(f->server, &ev, &error), ==, CRP_EVENT_MESSAGE);
    return ev.message;
}

/* A viewer connected to a server that offers @server_caps. */
static void
setup_with_caps(Fixture *f, guint32 server_caps)
{
    CrpViewerConfig vcfg = { .ticket = "t", .software = "test viewer" };
    CrpChannelConfig scfg = { .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_SERVER,
                              .ticket = "t", .capabilities = server_caps };
    g_autoptr(GError) error = NULL;
    CrpEvent ev;
    CrpViewerUpdate u;

    f->viewer = crp_viewer_new(&vcfg, &error);
    f->server = crp_channel_new(&scfg, &error);
    g_assert_no_error(error);
    to_server(f);
    g_assert_cmpint(crp_channel_next_event(f->server, &ev, &error), ==, CRP_EVENT_AUTHORIZE);
    crp_channel_authorize(f->server, CRP_STATUS_OK, NULL, &error);
    g_assert_cmpint(crp_channel_next_event(f->server, &ev, &error), ==, CRP_EVENT_READY);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_READY);
    g_assert_cmpuint(u.capabilities, ==, server_caps);
    to_server(f);
}

static void
setup(Fixture *f, gconstpointer data)
{
    setup_with_caps(f, CRP_CAP_DISPLAY_ALL);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    crp_viewer_free(f->viewer);
    crp_channel_free(f->server);
}

static void
test_frames(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    CrpMessage surface = { .type = CRP_MSG_SURFACE, .surface = { 320, 200 } };
    CrpMessage fill = { .type = CRP_MSG_RECT, .rect = { .x = 64, .y = 10, .width = 32,
        .height = 20, .encoding = CRP_ENCODING_FILL, .fill = 0x00ff00 } };
    CrpMessage end = { .type = CRP_MSG_FRAME_END, .frame_end = { .frame_id = 1 } };

    server_send(f, &surface);
    server_send(f, &fill);
    server_send(f, &end);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_SURFACE);
    g_assert_cmpint(u.width, ==, 320);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_FRAME);
    g_assert_cmpint(u.damage.x1, ==, 64);
    g_assert_cmpint(u.damage.y2, ==, 30);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_NONE);

    pixman_image_t *img = crp_viewer_get_image(f->viewer);
    guint32 *px = pixman_image_get_data(img);
    int stride = pixman_image_get_stride(img) / 4;
    g_assert_cmphex(px[15 * stride + 70] & 0xffffff, ==, 0x00ff00);
    g_assert_cmphex(px[0] & 0xffffff, ==, 0);

    /* The frame was acknowledged on its own. */
    to_server(f);
    CrpMessage ack = server_next(f);
    g_assert_cmpuint(ack.type, ==, CRP_MSG_FRAME_ACK);
    g_assert_cmpuint(ack.frame_ack.frame_id, ==, 1);

    CrpViewerStats stats;
    crp_viewer_get_stats(f->viewer, &stats);
    g_assert_cmpuint(stats.frames, ==, 1);
    g_assert_cmpuint(stats.rects, ==, 1);
    g_assert_cmpuint(stats.bytes_in, >, 0);
}

static void
test_manual_ack(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    CrpEvent ev;
    crp_viewer_set_manual_ack(f->viewer, TRUE);
    CrpMessage end = { .type = CRP_MSG_FRAME_END, .frame_end = { .frame_id = 9 } };
    server_send(f, &end);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_FRAME);
    to_server(f);
    g_assert_cmpint(crp_channel_next_event(f->server, &ev, NULL), ==, CRP_EVENT_NONE);
    crp_viewer_frame_presented(f->viewer, 9);
    to_server(f);
    g_assert_cmpuint(server_next(f).frame_ack.frame_id, ==, 9);
}

static void
test_input_and_latency(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    g_assert_true(crp_viewer_send_key(f->viewer, 30, TRUE));
    g_assert_true(crp_viewer_send_pointer(f->viewer, 10, 20, CRP_BUTTON_LEFT));
    g_assert_true(crp_viewer_send_wheel(f->viewer, 0, 1));
    to_server(f);
    CrpMessage key = server_next(f);
    g_assert_cmpuint(key.type, ==, CRP_MSG_KEY);
    g_assert_cmpuint(key.key.serial, ==, 1);
    g_assert_cmpuint(key.key.code, ==, 30);
    CrpMessage ptr = server_next(f);
    g_assert_cmpuint(ptr.pointer.serial, ==, 2);
    g_assert_cmpuint(ptr.pointer.buttons, ==, CRP_BUTTON_LEFT);
    g_assert_cmpuint(server_next(f).wheel.dy, ==, 1);

    g_usleep(2000);
    /* The server has applied input up to serial 2; the wheel (3) is not
     * on screen yet. */
    CrpMessage end = { .type = CRP_MSG_FRAME_END,
                       .frame_end = { .frame_id = 1, .input_serial = 2 } };
    server_send(f, &end);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_FRAME);
    CrpViewerStats stats;
    crp_viewer_get_stats(f->viewer, &stats);
    g_assert_cmpfloat(stats.input_latency_ms, >=, 2.0);
    g_assert_cmpfloat(stats.input_latency_ms, <, 10000.0);
}

static void
test_ping_and_bye(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    CrpMessage ping = { .type = CRP_MSG_PING, .ping = { 77, 123456 } };
    server_send(f, &ping);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_NONE);
    to_server(f);
    CrpMessage pong = server_next(f);
    g_assert_cmpuint(pong.type, ==, CRP_MSG_PONG);
    g_assert_cmpuint(pong.ping.id, ==, 77);
    g_assert_cmpuint(pong.ping.time_us, ==, 123456);

    crp_channel_close(f->server, CRP_STATUS_SHUTDOWN, "guest powered off");
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CLOSED);
    g_assert_cmpuint(u.status, ==, CRP_STATUS_SHUTDOWN);
    g_assert_cmpstr(u.reason, ==, "guest powered off");
}

typedef struct {
    Fixture *f;
    guint n;
} AudioCtx;

static void
send_packet(const guint8 *p, gsize len, guint64 ts, gpointer data)
{
    AudioCtx *ctx = data;
    CrpMessage m = { .type = CRP_MSG_AUDIO_OUT, .audio = { ts, { p, len } } };
    server_send(ctx->f, &m);
    ctx->n++;
}

static void
test_audio(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc = crp_opus_encoder_new(2, 20, 0, &error);
    gint16 pcm[960 * 2];
    for (int i = 0; i < 960; i++) {
        pcm[2 * i] = pcm[2 * i + 1] = (gint16)(8000 * sin(2 * G_PI * 1000 * i / 48000.0));
    }
    CrpMessage fmt = { .type = CRP_MSG_AUDIO_FORMAT, .audio_format = {
        CRP_AUDIO_CODEC_OPUS, 2, 48000 } };
    server_send(f, &fmt);
    AudioCtx ctx = { f, 0 };
    for (int i = 0; i < 3; i++) {
        g_assert_true(crp_opus_encoder_push(enc, pcm, 960, send_packet, &ctx, &error));
    }
    g_assert_cmpuint(ctx.n, ==, 3);
    to_viewer(f);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_AUDIO);
    }
    gsize n;
    int channels;
    g_autofree gint16 *got = crp_viewer_take_audio(f->viewer, &n, &channels);
    g_assert_cmpint(channels, ==, 2);
    g_assert_cmpuint(n, ==, 3 * 960);

    /* Microphone: 40 ms of PCM make two AUDIO_IN packets. */
    gint16 mic[1920 * 2] = { 0 };
    g_assert_true(crp_viewer_send_audio(f->viewer, mic, 1920, &error));
    g_assert_no_error(error);
    to_server(f);
    g_assert_cmpuint(server_next(f).type, ==, CRP_MSG_AUDIO_IN);
    CrpMessage second = server_next(f);
    g_assert_cmpuint(second.type, ==, CRP_MSG_AUDIO_IN);
    g_assert_cmpuint(second.audio.timestamp_us, ==, 20000);
}

static void
test_hostile_rect(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    g_autoptr(GError) error = NULL;
    CrpMessage surface = { .type = CRP_MSG_SURFACE, .surface = { 64, 64 } };
    CrpMessage outside = { .type = CRP_MSG_RECT, .rect = { .x = 60, .y = 0,
        .width = 16, .height = 16, .encoding = CRP_ENCODING_FILL } };
    server_send(f, &surface);
    server_send(f, &outside);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_SURFACE);
    g_assert_cmpint(crp_viewer_process(f->viewer, &u, &error), ==, CRP_VIEWER_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
    /* Input after the failure is refused, and the server is told why. */
    g_assert_false(crp_viewer_send_key(f->viewer, 30, TRUE));
    to_server(f);
    CrpMessage bye = server_next(f);
    g_assert_cmpuint(bye.type, ==, CRP_MSG_BYE);
    g_assert_cmpuint(bye.bye.code, ==, CRP_STATUS_BAD_REQUEST);
}

/* Messages that only a capability allows, with the capability. */
static const guint8 one_pixel[4] = { 0xff, 0x10, 0x20, 0x30 };
static const guint8 opus_silence[3] = { 0xfc, 0xff, 0xfe };
static const guint8 not_zlib[3] = { 0xaa, 0xbb, 0xcc };
static const guint8 not_jpeg[4] = { 0xff, 0xd8, 0xff, 0xd9 };
static const struct {
    guint32 cap;
    CrpMessage msg;
} needs_cap[] = {
    { CRP_CAP_AUDIO_OUT, { .type = CRP_MSG_AUDIO_FORMAT,
                           .audio_format = { CRP_AUDIO_CODEC_OPUS, 2, 48000 } } },
    { CRP_CAP_AUDIO_OUT, { .type = CRP_MSG_AUDIO_OUT,
                           .audio = { 0, { opus_silence, sizeof(opus_silence) } } } },
    { CRP_CAP_CURSOR, { .type = CRP_MSG_CURSOR_SHAPE,
                        .cursor_shape = { 1, 1, 0, 0, { one_pixel, 4 } } } },
    { CRP_CAP_CURSOR, { .type = CRP_MSG_CURSOR_POS, .cursor_pos = { 5, 6, 1 } } },
    { CRP_CAP_ZLIB, { .type = CRP_MSG_RECT, .rect = { .width = 1, .height = 1,
        .encoding = CRP_ENCODING_ZLIB, .data = { not_zlib, sizeof(not_zlib) } } } },
    { CRP_CAP_JPEG, { .type = CRP_MSG_RECT, .rect = { .width = 8, .height = 8,
        .encoding = CRP_ENCODING_JPEG, .data = { not_jpeg, sizeof(not_jpeg) } } } },
    { CRP_CAP_ZSTD, { .type = CRP_MSG_RECT, .rect = { .width = 1, .height = 1,
        .encoding = CRP_ENCODING_ZSTD, .data = { not_zlib, sizeof(not_zlib) } } } },
    { CRP_CAP_H264, { .type = CRP_MSG_RECT, .rect = { .width = 16, .height = 16,
        .encoding = CRP_ENCODING_H264, .data = { not_zlib, sizeof(not_zlib) } } } },
    { CRP_CAP_CLIPBOARD, { .type = CRP_MSG_CLIPBOARD_GRAB,
                           .clipboard_grab = { 1, CRP_CLIPBOARD_TEXT } } },
};

static const char *
cap_name(guint32 cap)
{
    switch (cap) {
    case CRP_CAP_AUDIO_OUT: return "AUDIO_OUT";
    case CRP_CAP_CURSOR: return "CURSOR";
    case CRP_CAP_ZLIB: return "ZLIB";
    case CRP_CAP_ZSTD: return "ZSTD";
    case CRP_CAP_H264: return "H264";
    case CRP_CAP_CLIPBOARD: return "CLIPBOARD";
    default: return "JPEG";
    }
}

/* A server may send what a capability covers only if the capability was
 * agreed: the viewer does not run a decoder (Opus, zlib, JPEG) or keep a
 * cursor the client never asked for. It is a protocol error, the server
 * is told why (BYE BAD_REQUEST), and nothing of it is applied. */
static void
test_message_without_its_capability(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(needs_cap); i++) {
        Fixture f;
        CrpViewerUpdate u;
        g_autoptr(GError) error = NULL;
        CrpMessage surface = { .type = CRP_MSG_SURFACE, .surface = { 64, 64 } };

        g_test_message("%s without %s", crp_message_type_name(needs_cap[i].msg.type),
                       cap_name(needs_cap[i].cap));
        setup_with_caps(&f, CRP_CAP_DISPLAY_ALL & ~needs_cap[i].cap);
        server_send(&f, &surface);
        server_send(&f, &needs_cap[i].msg);
        to_viewer(&f);
        g_assert_cmpint(viewer_event(&f, &u), ==, CRP_VIEWER_SURFACE);
        g_assert_cmpint(crp_viewer_process(f.viewer, &u, &error), ==, CRP_VIEWER_ERROR);
        g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
        g_autofree char *cap = g_strdup_printf("the %s capability", cap_name(needs_cap[i].cap));
        g_assert_nonnull(strstr(error->message, cap));
        g_assert_nonnull(strstr(error->message,
                                crp_message_type_name(needs_cap[i].msg.type)));

        int x, y, hot_x, hot_y;
        gboolean visible;
        crp_viewer_get_pointer(f.viewer, &x, &y, &visible);
        g_assert_false(visible);
        g_assert_null(crp_viewer_get_cursor(f.viewer, &hot_x, &hot_y));
        to_server(&f);
        CrpMessage bye = server_next(&f);
        g_assert_cmpuint(bye.type, ==, CRP_MSG_BYE);
        g_assert_cmpuint(bye.bye.code, ==, CRP_STATUS_BAD_REQUEST);
        teardown(&f, NULL);
    }
}

/* With the capability, the cursor messages are the viewer's. */
static void
test_cursor(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    int x, y, hot_x, hot_y;
    gboolean visible;

    server_send(f, &needs_cap[2].msg);
    server_send(f, &needs_cap[3].msg);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CURSOR);
    pixman_image_t *cursor = crp_viewer_get_cursor(f->viewer, &hot_x, &hot_y);
    g_assert_nonnull(cursor);
    g_assert_cmphex(pixman_image_get_data(cursor)[0], ==, 0xff102030);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CURSOR);
    crp_viewer_get_pointer(f->viewer, &x, &y, &visible);
    g_assert_cmpint(x, ==, 5);
    g_assert_cmpint(y, ==, 6);
    g_assert_true(visible);
}

/* Queues @n PINGs and FRAME_ENDs, numbered from @first, and hands them
 * to the viewer, which answers each; what it answers stays queued (the
 * server does not read). */
static void
flood(Fixture *f, guint32 first, guint n)
{
    CrpViewerUpdate u;

    for (guint32 i = first; i < first + n; i++) {
        CrpMessage ping = { .type = CRP_MSG_PING, .ping = { i, i * 10 } };
        CrpMessage end = { .type = CRP_MSG_FRAME_END, .frame_end = { .frame_id = i } };
        server_send(f, &ping);
        server_send(f, &end);
    }
    to_viewer(f);
    for (guint i = 0; i < n; i++) {
        g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_FRAME);
    }
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_NONE);
}

/* The server reads again: everything the viewer queued reaches it. Returns
 * the last PONG's id and the last FRAME_ACK's frame id; counts them. */
static void
drain(Fixture *f, guint *pongs, guint32 *last_pong, guint *acks, guint32 *last_ack)
{
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    gsize len;

    *pongs = *acks = 0;
    /* Consuming may release held answers: drain until nothing is left. */
    while (crp_viewer_peek_output(f->viewer, &len), len > 0) {
        to_server(f);
    }
    while (crp_channel_next_event(f->server, &ev, &error) == CRP_EVENT_MESSAGE) {
        if (ev.message.type == CRP_MSG_PONG) {
            (*pongs)++;
            *last_pong = ev.message.ping.id;
            g_assert_cmpuint(ev.message.ping.time_us, ==, ev.message.ping.id * 10);
        } else if (ev.message.type == CRP_MSG_FRAME_ACK) {
            (*acks)++;
            *last_ack = ev.message.frame_ack.frame_id;
        }
    }
    g_assert_no_error(error);
}

/*
 * A server that floods PINGs and frames but does not read: each PING and
 * FRAME_END asks for an answer (PONG, FRAME_ACK), and the answers are
 * larger than what asked for them. Past a threshold the viewer holds them
 * back and keeps only the latest of each (FRAME_ACK is cumulative), so
 * its output stays bounded; once the server reads again, the latest PING
 * and frame are still answered: a slow link stays alive.
 */
static void
test_flood_is_coalesced(Fixture *f, gconstpointer data)
{
    gsize queued, most = 0;
    guint pongs, acks;
    guint32 last_pong = 0, last_ack = 0;

    for (guint32 first = 1; first <= 60000; first += 2000) {
        flood(f, first, 2000);
        crp_viewer_peek_output(f->viewer, &queued);
        most = MAX(most, queued);
    }
    /* 60000 answers of ~40 bytes would be 2.4 MB. */
    g_test_message("most output queued: %" G_GSIZE_FORMAT " bytes", most);
    g_assert_cmpuint(most, <=, CRP_VIEWER_COALESCE_OUTPUT + 4096);

    drain(f, &pongs, &last_pong, &acks, &last_ack);
    g_assert_cmpuint(last_pong, ==, 60000);
    g_assert_cmpuint(last_ack, ==, 60000);
    g_assert_cmpuint(pongs, <, 60000 / 10);
    g_assert_cmpuint(acks, <, 60000 / 10);

    /* Caught up: every PING is answered again, at once. */
    flood(f, 70000, 3);
    drain(f, &pongs, &last_pong, &acks, &last_ack);
    g_assert_cmpuint(pongs, ==, 3);
    g_assert_cmpuint(acks, ==, 3);
    g_assert_cmpuint(last_pong, ==, 70002);
}

/*
 * A server that reads nothing while the user types: our own input cannot
 * be coalesced, so there is a hard cap. Past it the viewer refuses more,
 * fails with an error that says why, and says goodbye.
 */
static void
test_server_that_stopped_reading_is_dropped(Fixture *f, gconstpointer data)
{
    CrpViewerUpdate u;
    g_autoptr(GError) error = NULL;
    gsize queued;
    guint sent = 0;

    g_assert_null(crp_viewer_get_failure(f->viewer));
    while (sent < 200000 && crp_viewer_send_key(f->viewer, 30, sent % 2 == 0)) {
        sent++;
    }
    crp_viewer_peek_output(f->viewer, &queued);
    g_test_message("%u keys queued in %" G_GSIZE_FORMAT " bytes", sent, queued);
    g_assert_cmpuint(sent, <, 200000);
    g_assert_cmpuint(queued, <=, CRP_VIEWER_MAX_OUTPUT + 4096);
    g_assert_false(crp_viewer_send_pointer(f->viewer, 1, 1, 0));
    gint16 mic[960 * 2] = { 0 };
    g_assert_false(crp_viewer_send_audio(f->viewer, mic, 960, NULL));
    g_assert_nonnull(crp_viewer_get_failure(f->viewer));

    g_assert_cmpint(crp_viewer_process(f->viewer, &u, &error), ==, CRP_VIEWER_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE);
    g_assert_nonnull(strstr(error->message, "stopped reading"));
    g_clear_error(&error);
    /* The error stays: the viewer is done. */
    g_assert_cmpint(crp_viewer_process(f->viewer, &u, &error), ==, CRP_VIEWER_ERROR);
}

static GBytes *
big_text(gsize len)
{
    char *s = g_malloc(len);
    for (gsize i = 0; i < len; i++) {
        s[i] = 'a' + i % 26;
    }
    return g_bytes_new_take(s, len);
}

/* The server's clipboard: its grab is reported, a request names the
 * grab, and 3 MiB of text arrive whole in chunks; chunks of an older
 * grab are dropped. */
static void
test_clipboard_from_server(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) text = big_text(3 * 1024 * 1024 + 5);
    g_autoptr(GError) error = NULL;
    CrpMessage grab = { .type = CRP_MSG_CLIPBOARD_GRAB,
                        .clipboard_grab = { 4, CRP_CLIPBOARD_TEXT } };
    CrpViewerUpdate u;
    CrpMessage m;
    guint8 format;

    g_assert_false(crp_viewer_request_clipboard(f->viewer, CRP_CLIPBOARD_TEXT, &error));
    g_clear_error(&error);
    server_send(f, &grab);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CLIPBOARD);
    g_assert_cmpuint(u.clipboard_formats, ==, CRP_CLIPBOARD_TEXT);
    g_assert_false(crp_viewer_request_clipboard(f->viewer, CRP_CLIPBOARD_PNG, &error));
    g_clear_error(&error);
    g_assert_true(crp_viewer_request_clipboard(f->viewer, CRP_CLIPBOARD_TEXT, &error));
    to_server(f);
    m = server_next(f);
    g_assert_cmpuint(m.type, ==, CRP_MSG_CLIPBOARD_REQUEST);
    g_assert_cmpuint(m.clipboard_request.serial, ==, 4);
    g_assert_cmpuint(m.clipboard_request.format, ==, CRP_CLIPBOARD_TEXT);

    g_autoptr(CrpClipboardOut) stale = crp_clipboard_out_new(3, CRP_CLIPBOARD_TEXT, text);
    while (crp_clipboard_out_next(stale, &m)) {
        server_send(f, &m);
    }
    g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(4, CRP_CLIPBOARD_TEXT, text);
    while (crp_clipboard_out_next(out, &m)) {
        server_send(f, &m);
        to_viewer(f);
    }
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CLIPBOARD_DATA);
    g_assert_cmpuint(u.clipboard_status, ==, CRP_CLIPBOARD_OK);
    g_assert_cmpuint(u.clipboard_format, ==, CRP_CLIPBOARD_TEXT);
    g_autoptr(GBytes) got = crp_viewer_take_clipboard(f->viewer, &format);
    g_assert_true(g_bytes_equal(got, text));
    g_assert_null(crp_viewer_take_clipboard(f->viewer, &format));
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_NONE);
}

/* A refusal ends the request too. */
static void
test_clipboard_refused(Fixture *f, gconstpointer data)
{
    CrpMessage grab = { .type = CRP_MSG_CLIPBOARD_GRAB,
                        .clipboard_grab = { 9, CRP_CLIPBOARD_TEXT } };
    CrpViewerUpdate u;
    CrpMessage m;
    guint8 format;

    server_send(f, &grab);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CLIPBOARD);
    g_assert_true(crp_viewer_request_clipboard(f->viewer, CRP_CLIPBOARD_TEXT, NULL));
    g_autoptr(CrpClipboardOut) out =
        crp_clipboard_out_new_refusal(9, CRP_CLIPBOARD_TEXT, CRP_CLIPBOARD_TOO_LARGE);
    g_assert_true(crp_clipboard_out_next(out, &m));
    server_send(f, &m);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CLIPBOARD_DATA);
    g_assert_cmpuint(u.clipboard_status, ==, CRP_CLIPBOARD_TOO_LARGE);
    g_assert_null(crp_viewer_take_clipboard(f->viewer, &format));
}

/* A server whose chunks come out of order broke the protocol. */
static void
test_clipboard_out_of_order(Fixture *f, gconstpointer data)
{
    static const guint8 ab[] = { 'a', 'b' };
    CrpMessage grab = { .type = CRP_MSG_CLIPBOARD_GRAB,
                        .clipboard_grab = { 2, CRP_CLIPBOARD_TEXT } };
    CrpMessage chunk = { .type = CRP_MSG_CLIPBOARD_DATA, .clipboard_data = {
        .serial = 2, .format = CRP_CLIPBOARD_TEXT, .total = 6, .offset = 4,
        .data = { ab, 2 } } };
    g_autoptr(GError) error = NULL;
    CrpViewerUpdate u;

    server_send(f, &grab);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_CLIPBOARD);
    g_assert_true(crp_viewer_request_clipboard(f->viewer, CRP_CLIPBOARD_TEXT, NULL));
    server_send(f, &chunk);
    to_viewer(f);
    g_assert_cmpint(crp_viewer_process(f->viewer, &u, &error), ==, CRP_VIEWER_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
    to_server(f);
    g_assert_cmpuint(server_next(f).type, ==, CRP_MSG_CLIPBOARD_REQUEST);
    g_assert_cmpuint(server_next(f).type, ==, CRP_MSG_BYE);
}

/* Sends the server's @request and collects the viewer's answer the way a
 * server reads it: the viewer never has more than a chunk past
 * CRP_VIEWER_COALESCE_OUTPUT waiting. */
static CrpClipboardStatus
server_request(Fixture *f, guint32 serial, guint8 format, GBytes **content)
{
    CrpMessage req = { .type = CRP_MSG_CLIPBOARD_REQUEST,
                       .clipboard_request = { serial, format } };
    g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
    CrpViewerUpdate u;
    guint8 got_format;

    server_send(f, &req);
    to_viewer(f);
    g_assert_cmpint(viewer_event(f, &u), ==, CRP_VIEWER_NONE);
    crp_clipboard_in_expect(in, serial, format);
    for (;;) {
        gsize len;
        crp_viewer_peek_output(f->viewer, &len);
        g_assert_cmpuint(len, <=, CRP_VIEWER_COALESCE_OUTPUT + CRP_CLIPBOARD_CHUNK + 1024);
        g_assert_cmpuint(len, >, 0);
        to_server(f);
        CrpEvent ev;
        CrpClipboardInResult r = CRP_CLIPBOARD_IN_MORE;
        while (crp_channel_next_event(f->server, &ev, NULL) == CRP_EVENT_MESSAGE) {
            g_assert_cmpuint(ev.message.type, ==, CRP_MSG_CLIPBOARD_DATA);
            r = crp_clipboard_in_feed(in, &ev.message.clipboard_data, NULL);
            g_assert_cmpint(r, !=, CRP_CLIPBOARD_IN_ERROR);
        }
        if (r == CRP_CLIPBOARD_IN_DONE) {
            return crp_clipboard_in_take(in, &got_format, content);
        }
    }
}

/* Our clipboard: announced, served in paced chunks, NONE for what we do
 * not hold or an older grab, OFF when muted. */
static void
test_clipboard_to_server(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) text = big_text(2 * 1024 * 1024 + 7);
    g_autoptr(GBytes) got = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) bad = g_bytes_new("a\xff", 2);

    g_assert_false(crp_viewer_set_clipboard(f->viewer, bad, NULL, &error));
    g_clear_error(&error);
    g_assert_true(crp_viewer_set_clipboard(f->viewer, text, NULL, &error));
    to_server(f);
    CrpMessage grab = server_next(f);
    g_assert_cmpuint(grab.type, ==, CRP_MSG_CLIPBOARD_GRAB);
    g_assert_cmpuint(grab.clipboard_grab.formats, ==, CRP_CLIPBOARD_TEXT);
    guint32 serial = grab.clipboard_grab.serial;

    g_assert_cmpint(server_request(f, serial, CRP_CLIPBOARD_TEXT, &got), ==,
                    CRP_CLIPBOARD_OK);
    g_assert_true(g_bytes_equal(got, text));
    g_clear_pointer(&got, g_bytes_unref);
    g_assert_cmpint(server_request(f, serial, CRP_CLIPBOARD_PNG, &got), ==,
                    CRP_CLIPBOARD_NONE);
    g_assert_cmpint(server_request(f, serial - 1, CRP_CLIPBOARD_TEXT, &got), ==,
                    CRP_CLIPBOARD_NONE);

    crp_viewer_set_clipboard_muted(f->viewer, TRUE);
    g_assert_cmpint(server_request(f, serial, CRP_CLIPBOARD_TEXT, &got), ==,
                    CRP_CLIPBOARD_OFF);
    g_assert_false(crp_viewer_set_clipboard(f->viewer, text, NULL, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
}

/* A server that keeps asking for the clipboard without reading the
 * answers makes the viewer give up, not queue without bound. */
static void
test_clipboard_request_flood(Fixture *f, gconstpointer data)
{
    g_autoptr(GBytes) text = big_text(CRP_MAX_CLIPBOARD);
    g_autoptr(GError) error = NULL;
    CrpViewerUpdate u;
    CrpViewerEvent ev = CRP_VIEWER_NONE;

    g_assert_true(crp_viewer_set_clipboard(f->viewer, text, NULL, NULL));
    CrpMessage req = { .type = CRP_MSG_CLIPBOARD_REQUEST,
                       .clipboard_request = { 1, CRP_CLIPBOARD_TEXT } };
    for (guint i = 0; i < 1000 && ev != CRP_VIEWER_ERROR; i++) {
        server_send(f, &req);
        to_viewer(f);
        while ((ev = crp_viewer_process(f->viewer, &u, &error)) > CRP_VIEWER_NONE) {
        }
    }
    g_assert_cmpint(ev, ==, CRP_VIEWER_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE);
}

/* Without the capability, the clipboard calls refuse. */
static void
test_clipboard_not_agreed(void)
{
    Fixture f;
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = g_bytes_new_static("x", 1);

    setup_with_caps(&f, CRP_CAP_DISPLAY_ALL & ~CRP_CAP_CLIPBOARD);
    g_assert_false(crp_viewer_set_clipboard(f.viewer, text, NULL, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    teardown(&f, NULL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/viewer/frames", test_frames);
    ADD("/viewer/manual-ack", test_manual_ack);
    ADD("/viewer/input-and-latency", test_input_and_latency);
    ADD("/viewer/ping-and-bye", test_ping_and_bye);
    ADD("/viewer/audio", test_audio);
    ADD("/viewer/hostile-rect", test_hostile_rect);
    ADD("/viewer/cursor", test_cursor);
    ADD("/viewer/flood-is-coalesced", test_flood_is_coalesced);
    ADD("/viewer/server-that-stopped-reading-is-dropped",
        test_server_that_stopped_reading_is_dropped);
    ADD("/viewer/clipboard/from-server", test_clipboard_from_server);
    ADD("/viewer/clipboard/refused", test_clipboard_refused);
    ADD("/viewer/clipboard/out-of-order", test_clipboard_out_of_order);
    ADD("/viewer/clipboard/to-server", test_clipboard_to_server);
    ADD("/viewer/clipboard/request-flood", test_clipboard_request_flood);
    g_test_add_func("/viewer/clipboard/not-agreed", test_clipboard_not_agreed);
    g_test_add_func("/viewer/message-without-its-capability",
                    test_message_without_its_capability);
    return g_test_run();
}
