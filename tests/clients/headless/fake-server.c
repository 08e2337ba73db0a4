/*
 * fake-server: a scripted CRP display server for crp-headless's tests.
 *
 * Built from the same libcrp pieces as the real one (a server CrpChannel
 * and a CrpEncoder), but with a scene the tests can predict instead of a
 * guest:
 *
 *   - a 320x200 surface: background PALETTE[key presses % 4], a red
 *     square at (20,20) 40x40, a green block at (240,140) 60x40, and a
 *     white 7x7 marker centred on every left click;
 *   - a FRAME_END every 33 ms (input serial echoed), at most 4 unacked
 *     (FRAME_ACK is cumulative);
 *   - AUDIO_FORMAT and a 440 Hz tone as Opus AUDIO_OUT in real time;
 *   - a PING every 500 ms;
 *   - AUDIO_IN decoded and, at the end, its dominant frequency reported.
 *
 * With --flood N it is a hostile server instead: once the session is up
 * it stops reading and sends N PINGs and N FRAME_ENDs as fast as the
 * client takes them, each of which asks for an answer the client cannot
 * get out; then it drops the connection, or with --then-read reads again
 * and ends the session (BYE) once the last PING and frame are answered.
 *
 * It accepts one client, then prints a report and exits. Everything it
 * sees goes to stdout, one event per line, for the test to check:
 *
 *   listening unix PATH | listening tcp PORT
 *   ready caps 0xNN / auth-failed MESSAGE / error MESSAGE
 *   key CODE 1|0, pointer X Y BUTTONS, wheel DX DY, close-app,
 *   client-bye STATUS REASON
 *   flooded N / caught-up
 *   report frames N acks N pongs N pongs-total N last-pong N last-ack N
 *          mic-ms N mic-frequency F mic-rms R
 *
 * Usage: fake-server (--socket PATH | --tcp) --ticket T [--channels 1|2]
 *                    [--cut-after-frames N] [--bye-after-frames N]
 *                    [--bad-rect-after-frames N] [--flood N [--then-read]]
 *
 * PATH may be @NAME for an abstract socket; T may be "" (no-ticket mode).
 */
#include <crp/crp-channel.h>
#include <crp/crp-encoder.h>
#include <crp/crp-error.h>
#include <crp/crp-opus.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "headless-spectrum.h"

#define WIDTH 320
#define HEIGHT 200
#define FRAME_MS 33
#define MAX_UNACKED 4
#define TONE_HZ 440.0
#define PING_MS 500
/* Nothing in a test takes this long; a hung client must not hang CI. */
#define SAFETY_TIMEOUT_S 60

static const guint32 palette[4] = { 0x204080, 0x20a040, 0xa02040, 0xc0c000 };

typedef struct {
    int x, y;
} Mark;

typedef struct {
    GMainLoop *loop;
    GSocketListener *listener;
    GSocketConnection *conn;
    GSocket *socket;
    GSource *in_source;
    CrpChannel *ch;
    char *ticket;
    int channels;
    int cut_after_frames, bye_after_frames, bad_rect_after_frames;
    int flood;
    gboolean then_read, flooded;
    gboolean ready, ended;

    CrpEncoder *encoder;
    pixman_image_t *prev, *cur;
    guint32 frame_id, acked_frame_id, last_serial, acks;
    guint key_presses;
    guint32 buttons;
    GArray *marks;
    guint frame_timer;

    CrpOpusEncoder *opus_out;
    CrpOpusDecoder *opus_in;
    gint64 audio_start_us;
    guint64 tone_samples;
    GArray *mic;                /* gint16 mono */
    guint audio_timer;

    guint32 ping_id, last_pong;
    guint pongs, pongs_total;
    guint ping_timer;
} Server;

static void finish(Server *s);
static void check_caught_up(Server *s);

/* Pseudo-blocking write: the fake's output is small, so waiting for the
 * socket is simpler than queueing, and the client always reads. */
static gboolean flush(Server *s)
{
    crp_channel_flush(s->ch);
    for (;;) {
        g_autoptr(GError) error = NULL;
        gsize len;
        const guint8 *data = crp_channel_peek_output(s->ch, &len);
        if (len == 0) {
            return TRUE;
        }
        gssize n = g_socket_send(s->socket, (const char *)data, len, NULL, &error);
        if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            g_socket_condition_timed_wait(s->socket, G_IO_OUT, G_USEC_PER_SEC,
                                          NULL, NULL);
            continue;
        }
        if (n < 0) {
            g_print("write-error %s\n", error->message);
            return FALSE;
        }
        crp_channel_consume_output(s->ch, n);
    }
}

static void send_msg(Server *s, const CrpMessage *m)
{
    g_autoptr(GError) error = NULL;
    if (!crp_channel_send(s->ch, m, &error)) {
        g_print("send-error %s\n", error->message);
    }
}

static void fill(pixman_image_t *img, int x, int y, int w, int h, guint32 rgb)
{
    pixman_color_t c = {
        .red = ((rgb >> 16) & 0xff) * 0x101,
        .green = ((rgb >> 8) & 0xff) * 0x101,
        .blue = (rgb & 0xff) * 0x101,
        .alpha = 0xffff,
    };
    pixman_image_t *solid = pixman_image_create_solid_fill(&c);
    pixman_image_composite32(PIXMAN_OP_SRC, solid, NULL, img, 0, 0, 0, 0,
                             x, y, w, h);
    pixman_image_unref(solid);
}

static void render(Server *s, pixman_image_t *img)
{
    fill(img, 0, 0, WIDTH, HEIGHT, palette[s->key_presses % 4]);
    fill(img, 20, 20, 40, 40, 0xff0000);
    fill(img, 240, 140, 60, 40, 0x00ff00);
    for (guint i = 0; i < s->marks->len; i++) {
        Mark *m = &g_array_index(s->marks, Mark, i);
        fill(img, m->x - 3, m->y - 3, 7, 7, 0xffffff);
    }
}

static gboolean on_frame(gpointer data)
{
    Server *s = data;
    g_autoptr(GByteArray) out = g_byte_array_new();
    gint64 capture_us = g_get_monotonic_time();

    /* A slow client gets fewer frames, as the protocol asks. */
    if (s->frame_id - s->acked_frame_id >= MAX_UNACKED) {
        return G_SOURCE_CONTINUE;
    }
    render(s, s->cur);
    crp_encoder_encode_frame(s->encoder, s->frame_id ? s->prev : NULL, s->cur,
                             NULL, capture_us, out, NULL);
    CrpMessage end = { .type = CRP_MSG_FRAME_END, .frame_end = {
        .frame_id = ++s->frame_id, .input_serial = s->last_serial,
        .capture_us = capture_us,
        .encode_us = g_get_monotonic_time() - capture_us } };
    g_autoptr(GError) error = NULL;
    if (!crp_channel_send_encoded(s->ch, out->data, out->len, &error)) {
        g_print("send-error %s\n", error->message);
    }
    send_msg(s, &end);
    pixman_image_t *tmp = s->prev;
    s->prev = s->cur;
    s->cur = tmp;
    flush(s);

    if (s->cut_after_frames && (int)s->frame_id >= s->cut_after_frames) {
        g_print("cut\n");
        finish(s);
        return G_SOURCE_REMOVE;
    }
    if (s->bad_rect_after_frames && (int)s->frame_id == s->bad_rect_after_frames) {
        CrpMessage bad = { .type = CRP_MSG_RECT, .rect = { .x = WIDTH - 8, .y = 0,
            .width = 16, .height = 16, .encoding = CRP_ENCODING_FILL } };
        g_print("bad-rect\n");
        send_msg(s, &bad);
        flush(s);
    }
    if (s->bye_after_frames && (int)s->frame_id >= s->bye_after_frames) {
        g_print("bye\n");
        crp_channel_close(s->ch, CRP_STATUS_SHUTDOWN, "guest powered off");
        flush(s);
        s->frame_timer = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void send_audio_packet(const guint8 *packet, gsize len,
                              guint64 timestamp_us, gpointer data)
{
    Server *s = data;
    CrpMessage m = { .type = CRP_MSG_AUDIO_OUT,
                     .audio = { timestamp_us, { packet, len } } };
    send_msg(s, &m);
}

/* Keeps the tone 20 ms ahead of real time. */
static gboolean on_audio(gpointer data)
{
    Server *s = data;
    gint16 pcm[960 * 2];
    guint64 due = (g_get_monotonic_time() - s->audio_start_us) * 48 / 1000 + 960;

    while (s->tone_samples < due) {
        for (int i = 0; i < 960; i++) {
            double t = (double)(s->tone_samples + i) / 48000.0;
            gint16 v = (gint16)(8000 * sin(2 * G_PI * TONE_HZ * t));
            for (int c = 0; c < s->channels; c++) {
                pcm[i * s->channels + c] = v;
            }
        }
        crp_opus_encoder_push(s->opus_out, pcm, 960, send_audio_packet, s, NULL);
        s->tone_samples += 960;
    }
    flush(s);
    return G_SOURCE_CONTINUE;
}

static gboolean on_ping(gpointer data)
{
    Server *s = data;
    CrpMessage m = { .type = CRP_MSG_PING,
                     .ping = { ++s->ping_id, g_get_monotonic_time() } };
    send_msg(s, &m);
    flush(s);
    return G_SOURCE_CONTINUE;
}

static void set_reading(Server *s, gboolean reading);

/* --flood: N PINGs and N FRAME_ENDs, 1000 of each to a record, written as
 * fast as the client reads them, while we read nothing. */
static gboolean on_flood(gpointer data)
{
    Server *s = data;

    for (int i = 0; i < 1000 && s->ping_id < (guint32)s->flood; i++) {
        CrpMessage ping = { .type = CRP_MSG_PING,
                            .ping = { ++s->ping_id, g_get_monotonic_time() } };
        CrpMessage end = { .type = CRP_MSG_FRAME_END,
                           .frame_end = { .frame_id = ++s->frame_id } };
        send_msg(s, &ping);
        send_msg(s, &end);
    }
    if (!flush(s)) {
        finish(s);
        return G_SOURCE_REMOVE;
    }
    if (s->ping_id < (guint32)s->flood) {
        return G_SOURCE_CONTINUE;
    }
    g_print("flooded %u\n", s->ping_id);
    s->flooded = TRUE;
    if (s->then_read) {
        set_reading(s, TRUE);
    } else {
        finish(s);              /* cut, without a BYE */
    }
    return G_SOURCE_REMOVE;
}

/* After a flood with --then-read: the client answered the last PING and
 * frame (however many answers it dropped on the way), so it survived. */
static void check_caught_up(Server *s)
{
    if (s->flooded && s->then_read && s->last_pong == s->ping_id &&
        s->acked_frame_id == s->frame_id) {
        g_print("caught-up\n");
        crp_channel_close(s->ch, CRP_STATUS_SHUTDOWN, "flood over");
        flush(s);
        s->flooded = FALSE;
    }
}

static void start_session(Server *s, guint32 caps)
{
    CrpEncoderConfig cfg = {
        .encodings = (caps & CRP_CAP_ZLIB) ? 1u << CRP_ENCODING_ZLIB : 0,
        .lossless = TRUE,       /* the tests compare exact colours */
    };
    CrpMessage surface = { .type = CRP_MSG_SURFACE, .surface = { WIDTH, HEIGHT } };

    g_print("ready caps 0x%02x\n", caps);
    s->ready = TRUE;
    if (s->flood) {
        set_reading(s, FALSE);
        g_idle_add(on_flood, s);
        return;
    }
    s->encoder = crp_encoder_new(&cfg);
    s->prev = pixman_image_create_bits(PIXMAN_x8r8g8b8, WIDTH, HEIGHT, NULL, 0);
    s->cur = pixman_image_create_bits(PIXMAN_x8r8g8b8, WIDTH, HEIGHT, NULL, 0);
    send_msg(s, &surface);
    if (caps & CRP_CAP_AUDIO_OUT) {
        CrpMessage fmt = { .type = CRP_MSG_AUDIO_FORMAT, .audio_format = {
            CRP_AUDIO_CODEC_OPUS, s->channels, 48000 } };
        send_msg(s, &fmt);
        s->opus_out = crp_opus_encoder_new(s->channels, 20, 0, NULL);
        s->audio_start_us = g_get_monotonic_time();
        s->audio_timer = g_timeout_add(10, on_audio, s);
    }
    if (caps & CRP_CAP_AUDIO_IN) {
        s->opus_in = crp_opus_decoder_new(s->channels, NULL);
    }
    s->frame_timer = g_timeout_add(FRAME_MS, on_frame, s);
    s->ping_timer = g_timeout_add(PING_MS, on_ping, s);
    on_frame(s);
}

static void on_audio_in(Server *s, const CrpAudioMsg *a)
{
    gint16 pcm[CRP_OPUS_MAX_FRAME_SAMPLES * 6 * 2];
    g_autoptr(GError) error = NULL;

    if (!s->opus_in) {
        g_print("error AUDIO_IN without the capability\n");
        return;
    }
    int n = crp_opus_decoder_decode(s->opus_in, a->packet.data, a->packet.len,
                                    pcm, G_N_ELEMENTS(pcm) / s->channels, &error);
    if (n < 0) {
        g_print("error %s\n", error->message);
        return;
    }
    for (int i = 0; i < n; i++) {
        int sum = 0;
        for (int c = 0; c < s->channels; c++) {
            sum += pcm[i * s->channels + c];
        }
        gint16 mono = sum / s->channels;
        g_array_append_val(s->mic, mono);
    }
}

static void on_message(Server *s, const CrpMessage *m)
{
    switch (m->type) {
    case CRP_MSG_KEY:
        g_print("key %u %u\n", m->key.code, m->key.down);
        s->last_serial = m->key.serial;
        if (m->key.down && m->key.code != 42 && m->key.code != 54) {
            s->key_presses++;
        }
        break;
    case CRP_MSG_POINTER:
        g_print("pointer %u %u %u\n", m->pointer.x, m->pointer.y, m->pointer.buttons);
        s->last_serial = m->pointer.serial;
        if ((m->pointer.buttons & CRP_BUTTON_LEFT) && !(s->buttons & CRP_BUTTON_LEFT)) {
            Mark mark = { m->pointer.x, m->pointer.y };
            g_array_append_val(s->marks, mark);
        }
        s->buttons = m->pointer.buttons;
        break;
    case CRP_MSG_WHEEL:
        g_print("wheel %d %d\n", m->wheel.dx, m->wheel.dy);
        s->last_serial = m->wheel.serial;
        break;
    case CRP_MSG_AUDIO_IN:
        on_audio_in(s, &m->audio);
        break;
    case CRP_MSG_FRAME_ACK:
        /* Cumulative: it acknowledges every frame up to this one. */
        s->acks++;
        if ((gint32)(m->frame_ack.frame_id - s->acked_frame_id) > 0 &&
            (gint32)(s->frame_id - m->frame_ack.frame_id) >= 0) {
            s->acked_frame_id = m->frame_ack.frame_id;
        }
        check_caught_up(s);
        break;
    case CRP_MSG_PONG:
        s->pongs_total++;
        s->last_pong = m->ping.id;
        if (m->ping.id == s->ping_id) {
            s->pongs++;
        }
        check_caught_up(s);
        break;
    case CRP_MSG_RESIZE_REQUEST:
        g_print("resize %u %u\n", m->resize.width, m->resize.height);
        break;
    case CRP_MSG_CLOSE_APP:
        g_print("close-app\n");
        break;
    case CRP_MSG_BYE:
        g_print("client-bye %u %.*s\n", m->bye.code, (int)m->bye.reason.len,
                m->bye.reason.ptr);
        break;
    default:
        break;
    }
}

static void process(Server *s)
{
    CrpEvent ev;
    CrpEventType t = CRP_EVENT_NONE;
    g_autoptr(GError) error = NULL;

    while (!s->ended && (t = crp_channel_next_event(s->ch, &ev, &error)) > CRP_EVENT_NONE) {
        switch (t) {
        case CRP_EVENT_AUTHORIZE:
            crp_channel_authorize(s->ch, CRP_STATUS_OK, NULL, NULL);
            break;
        case CRP_EVENT_READY:
            start_session(s, ev.capabilities);
            break;
        case CRP_EVENT_MESSAGE:
            on_message(s, &ev.message);
            break;
        case CRP_EVENT_CLOSED:
            crp_channel_close(s->ch, CRP_STATUS_OK, "goodbye");
            flush(s);
            finish(s);
            return;
        default:
            break;
        }
    }
    if (t == CRP_EVENT_ERROR) {
        g_print("%s %s\n", g_error_matches(error, CRP_ERROR, CRP_ERROR_AUTH) &&
                !s->ready ? "auth-failed" : "error", error->message);
        flush(s);               /* the REJECT or BYE it queued */
        finish(s);
        return;
    }
    flush(s);
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer data)
{
    Server *s = data;
    guint8 buf[65536];
    g_autoptr(GError) error = NULL;
    gssize n = g_socket_receive(socket, (char *)buf, sizeof(buf), NULL, &error);

    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        g_print("eof\n");
        finish(s);
        return G_SOURCE_REMOVE;
    }
    crp_channel_receive(s->ch, buf, n);
    process(s);
    return G_SOURCE_CONTINUE;
}

static void on_accepted(GObject *source, GAsyncResult *result, gpointer data)
{
    Server *s = data;
    g_autoptr(GError) error = NULL;
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_SERVER,
        .ticket = s->ticket, .capabilities = CRP_CAP_DISPLAY_ALL,
        .software = "fake-server",
    };

    s->conn = g_socket_listener_accept_finish(s->listener, result, NULL, &error);
    if (!s->conn) {
        g_print("accept-error %s\n", error->message);
        g_main_loop_quit(s->loop);
        return;
    }
    s->socket = g_socket_connection_get_socket(s->conn);
    g_socket_set_blocking(s->socket, FALSE);
    s->ch = crp_channel_new(&cfg, &error);
    set_reading(s, TRUE);
}

static void set_reading(Server *s, gboolean reading)
{
    if (!reading && s->in_source) {
        g_source_destroy(s->in_source);
        g_clear_pointer(&s->in_source, g_source_unref);
    } else if (reading && !s->in_source) {
        s->in_source = g_socket_create_source(s->socket, G_IO_IN, NULL);
        g_source_set_callback(s->in_source, G_SOURCE_FUNC(on_readable), s, NULL);
        g_source_attach(s->in_source, NULL);
    }
}

/* Ends the session (without a final record if we did not send one: that
 * is how --cut-after-frames cuts) and prints the report. */
static void finish(Server *s)
{
    double rms = 0, hz = 0;

    if (s->ended) {
        return;
    }
    s->ended = TRUE;
    g_clear_handle_id(&s->frame_timer, g_source_remove);
    g_clear_handle_id(&s->audio_timer, g_source_remove);
    g_clear_handle_id(&s->ping_timer, g_source_remove);
    set_reading(s, FALSE);
    if (s->conn) {
        g_io_stream_close(G_IO_STREAM(s->conn), NULL, NULL);
    }
    if (s->mic->len) {
        hz = hl_spectrum_dominant((gint16 *)s->mic->data, s->mic->len, 48000, &rms);
    }
    g_print("report frames %u acks %u pongs %u pongs-total %u last-pong %u "
            "last-ack %u mic-ms %u mic-frequency %.1f mic-rms %.0f\n",
            s->frame_id, s->acks, s->pongs, s->pongs_total, s->last_pong,
            s->acked_frame_id, s->mic->len / 48, hz, rms);
    g_main_loop_quit(s->loop);
}

static gboolean on_safety_timeout(gpointer data)
{
    Server *s = data;
    g_print("safety-timeout\n");
    g_main_loop_quit(s->loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    g_autofree char *path = NULL;
    gboolean tcp = FALSE;
    Server s = { .channels = 2 };
    GOptionEntry entries[] = {
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &path, "unix socket", "PATH" },
        { "tcp", 0, 0, G_OPTION_ARG_NONE, &tcp, "listen on 127.0.0.1 (port printed)", NULL },
        { "ticket", 0, 0, G_OPTION_ARG_STRING, &s.ticket, "the valid ticket", "T" },
        { "channels", 0, 0, G_OPTION_ARG_INT, &s.channels, "audio channels", "N" },
        { "cut-after-frames", 0, 0, G_OPTION_ARG_INT, &s.cut_after_frames,
          "drop the connection without a BYE", "N" },
        { "bye-after-frames", 0, 0, G_OPTION_ARG_INT, &s.bye_after_frames,
          "end the session with BYE SHUTDOWN", "N" },
        { "bad-rect-after-frames", 0, 0, G_OPTION_ARG_INT, &s.bad_rect_after_frames,
          "send a RECT outside the surface", "N" },
        { "flood", 0, 0, G_OPTION_ARG_INT, &s.flood,
          "stop reading, send N PINGs and N frames, then cut", "N" },
        { "then-read", 0, 0, G_OPTION_ARG_NONE, &s.then_read,
          "after --flood, read again and end once caught up", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- fake CRP server");
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketAddress) effective = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || (!path && !tcp) ||
        !s.ticket || (s.channels != 1 && s.channels != 2)) {
        g_printerr("fake-server: %s\n", error ? error->message :
                   "need --socket PATH or --tcp, --ticket T, --channels 1|2");
        return 2;
    }
    s.loop = g_main_loop_new(NULL, FALSE);
    s.marks = g_array_new(FALSE, FALSE, sizeof(Mark));
    s.mic = g_array_new(FALSE, FALSE, sizeof(gint16));
    s.listener = g_socket_listener_new();
    gboolean abstract = path && path[0] == '@';
    g_autoptr(GSocketAddress) addr = tcp ?
        g_inet_socket_address_new_from_string("127.0.0.1", 0) : abstract ?
        g_unix_socket_address_new_with_type(path + 1, -1,
                                            G_UNIX_SOCKET_ADDRESS_ABSTRACT) :
        g_unix_socket_address_new(path);
    if (!g_socket_listener_add_address(s.listener, addr, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                       &effective, &error)) {
        g_printerr("fake-server: %s\n", error->message);
        return 1;
    }
    if (tcp) {
        g_print("listening tcp %u\n",
                g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective)));
    } else {
        g_print("listening unix %s\n", path);
    }
    g_socket_listener_accept_async(s.listener, NULL, on_accepted, &s);
    g_timeout_add_seconds(SAFETY_TIMEOUT_S, on_safety_timeout, &s);
    g_main_loop_run(s.loop);

    if (path && !abstract) {
        g_unlink(path);
    }
    crp_channel_free(s.ch);
    crp_encoder_free(s.encoder);
    crp_opus_encoder_free(s.opus_out);
    crp_opus_decoder_free(s.opus_in);
    g_clear_pointer(&s.prev, pixman_image_unref);
    g_clear_pointer(&s.cur, pixman_image_unref);
    g_clear_object(&s.conn);
    g_object_unref(s.listener);
    g_array_unref(s.marks);
    g_array_unref(s.mic);
    g_main_loop_unref(s.loop);
    g_free(s.ticket);
    return 0;
}
