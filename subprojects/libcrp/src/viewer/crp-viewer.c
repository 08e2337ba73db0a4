/*
 * crp-viewer.c: the client side of a display channel (see crp-viewer.h).
 */
#include "crp/crp-viewer.h"
#include "crp/crp-clipboard.h"
#include "crp/crp-decoder.h"
#include "crp/crp-error.h"
#include "crp/crp-opus.h"

#include <string.h>

/* Input events whose latency is still being measured. */
#define MAX_PENDING_INPUT 64
/* Clipboard answers waiting to go out: a server asks again only after a
 * new grab, so more than this means it asks without reading. */
#define MAX_CLIPBOARD_ANSWERS 8
/* Weight of a new sample in the smoothed latency. */
#define LATENCY_ALPHA 0.2

typedef struct {
    guint32 serial;
    gint64 sent_us;
} PendingInput;

struct CrpViewer {
    CrpChannel *channel;
    CrpDecoder *decoder;
    guint32 capabilities;

    /* Frame being received. */
    gboolean have_damage;
    pixman_box32_t damage;
    gint64 frame_start_us;
    gboolean manual_ack;

    /* Cursor. */
    pixman_image_t *cursor;
    int hot_x, hot_y;
    int pointer_x, pointer_y;
    gboolean pointer_visible;

    /* Audio. */
    CrpOpusDecoder *opus_in;        /* playback from the server */
    CrpOpusEncoder *opus_out;       /* microphone to the server */
    int audio_channels;
    GArray *audio;                  /* gint16, decoded, not yet taken */

    /* Input and latency. */
    guint32 input_serial;
    PendingInput pending[MAX_PENDING_INPUT];
    guint n_pending;

    /* Answers held back while the server is not reading (see
     * CRP_VIEWER_COALESCE_OUTPUT): only the latest of each. */
    gboolean pong_held, ack_held;
    CrpPingMsg held_pong;
    CrpFrameAckMsg held_ack;
    /* Why the viewer failed (a server that broke the protocol or stopped
     * reading); reported by every crp_viewer_process() from then on. */
    GError *failure;

    /* Clipboard: ours (what we grabbed, under our serial), the server's
     * (its latest grab), the answer we wait for, and our answers going
     * out chunk by chunk as the server reads them (CrpClipboardOut *). */
    gboolean clipboard_muted;
    guint32 our_clip_serial;
    GBytes *our_clip[2];            /* TEXT, PNG */
    guint32 server_clip_serial;
    guint8 server_clip_formats;
    CrpClipboardIn *clip_in;
    GBytes *clip_received;
    guint8 clip_received_format;
    GQueue clip_out;

    CrpViewerStats stats;
    gint64 fps_window_start_us;
    guint fps_window_frames;
    char *bye_reason;
    guint16 bye_status;
};

CrpViewer *
crp_viewer_new(const CrpViewerConfig *config, GError **error)
{
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_DISPLAY,
        .role = CRP_ROLE_CLIENT,
        .ticket = config->ticket,
        .capabilities = config->capabilities ? config->capabilities
                                             : CRP_CAP_DISPLAY_ALL,
        .software = config->software ? config->software : "libcrp viewer",
    };
    g_autoptr(CrpChannel) channel = crp_channel_new(&cfg, error);
    if (!channel || !crp_channel_start(channel, error)) {
        return NULL;
    }
    CrpViewer *v = g_new0(CrpViewer, 1);
    v->channel = g_steal_pointer(&channel);
    v->decoder = crp_decoder_new();
    v->audio = g_array_new(FALSE, FALSE, sizeof(gint16));
    v->audio_channels = 2;
    v->clip_in = crp_clipboard_in_new();
    g_queue_init(&v->clip_out);
    return v;
}

void
crp_viewer_free(CrpViewer *v)
{
    if (!v) {
        return;
    }
    crp_channel_free(v->channel);
    crp_decoder_free(v->decoder);
    crp_opus_decoder_free(v->opus_in);
    crp_opus_encoder_free(v->opus_out);
    if (v->cursor) {
        pixman_image_unref(v->cursor);
    }
    g_array_unref(v->audio);
    for (guint i = 0; i < G_N_ELEMENTS(v->our_clip); i++) {
        g_clear_pointer(&v->our_clip[i], g_bytes_unref);
    }
    g_clear_pointer(&v->clip_received, g_bytes_unref);
    crp_clipboard_in_free(v->clip_in);
    g_queue_clear_full(&v->clip_out, (GDestroyNotify)crp_clipboard_out_free);
    g_clear_error(&v->failure);
    g_free(v->bye_reason);
    g_free(v);
}

void
crp_viewer_receive(CrpViewer *v, const guint8 *data, gsize len)
{
    crp_channel_receive(v->channel, data, len);
}

const guint8 *
crp_viewer_peek_output(CrpViewer *v, gsize *len)
{
    return crp_channel_peek_output(v->channel, len);
}

static void send_held(CrpViewer *v);

void
crp_viewer_consume_output(CrpViewer *v, gsize n)
{
    crp_channel_consume_output(v->channel, n);
    send_held(v);
}

pixman_image_t *
crp_viewer_get_image(CrpViewer *v)
{
    return crp_decoder_get_image(v->decoder);
}

pixman_image_t *
crp_viewer_get_cursor(CrpViewer *v, int *hot_x, int *hot_y)
{
    *hot_x = v->hot_x;
    *hot_y = v->hot_y;
    return v->cursor;
}

void
crp_viewer_get_pointer(CrpViewer *v, int *x, int *y, gboolean *visible)
{
    *x = v->pointer_x;
    *y = v->pointer_y;
    *visible = v->pointer_visible;
}

/* FALSE, and the viewer fails, once the server has left more than
 * CRP_VIEWER_MAX_OUTPUT bytes of ours unread: it stopped reading, and
 * whatever we queue now would only grow our memory. */
static gboolean
room_for_output(CrpViewer *v)
{
    gsize pending = crp_channel_output_pending(v->channel);

    if (v->failure) {
        return FALSE;
    }
    if (pending <= CRP_VIEWER_MAX_OUTPUT) {
        return TRUE;
    }
    v->failure = g_error_new(CRP_ERROR, CRP_ERROR_TOO_LARGE,
                             "the server stopped reading: %" G_GSIZE_FORMAT
                             " KiB of our messages wait to be sent (the cap "
                             "is %d KiB)", pending / 1024,
                             CRP_VIEWER_MAX_OUTPUT / 1024);
    crp_channel_close(v->channel, CRP_STATUS_BAD_REQUEST,
                      "the server stopped reading");
    return FALSE;
}

/* Sends @msg now; the viewer's messages are all small and urgent. */
static gboolean
send_now(CrpViewer *v, const CrpMessage *msg)
{
    if (!room_for_output(v) || !crp_channel_send(v->channel, msg, NULL)) {
        return FALSE;
    }
    crp_channel_flush(v->channel);
    return TRUE;
}

/* PONG and FRAME_ACK answer the server. While it is behind on reading
 * them, only the latest of each is kept (FRAME_ACK is cumulative). */
static void
answer(CrpViewer *v, const CrpMessage *msg)
{
    if (crp_channel_output_pending(v->channel) <= CRP_VIEWER_COALESCE_OUTPUT &&
        !v->pong_held && !v->ack_held) {
        send_now(v, msg);
    } else if (msg->type == CRP_MSG_PONG) {
        v->held_pong = msg->ping;
        v->pong_held = TRUE;
    } else {
        v->held_ack = msg->frame_ack;
        v->ack_held = TRUE;
    }
}

/* Our clipboard answers go out a chunk at a time while the server keeps
 * up, so they never push the output past CRP_VIEWER_MAX_OUTPUT. */
static void
send_clipboard_chunks(CrpViewer *v)
{
    CrpClipboardOut *out;
    CrpMessage m;

    while ((out = g_queue_peek_head(&v->clip_out)) &&
           crp_channel_is_ready(v->channel) && !v->failure &&
           crp_channel_output_pending(v->channel) <= CRP_VIEWER_COALESCE_OUTPUT) {
        if (!crp_clipboard_out_next(out, &m)) {
            crp_clipboard_out_free(g_queue_pop_head(&v->clip_out));
            continue;
        }
        send_now(v, &m);
    }
}

/* The server caught up: what was held back goes out. */
static void
send_held(CrpViewer *v)
{
    if (crp_channel_output_pending(v->channel) > CRP_VIEWER_COALESCE_OUTPUT) {
        return;
    }
    send_clipboard_chunks(v);
    if (v->pong_held) {
        CrpMessage pong = { .type = CRP_MSG_PONG, .ping = v->held_pong };
        v->pong_held = FALSE;
        send_now(v, &pong);
    }
    if (v->ack_held) {
        CrpMessage ack = { .type = CRP_MSG_FRAME_ACK, .frame_ack = v->held_ack };
        v->ack_held = FALSE;
        send_now(v, &ack);
    }
}

static void
add_damage(CrpViewer *v, const CrpRectMsg *r)
{
    pixman_box32_t box = { r->x, r->y, r->x + r->width, r->y + r->height };
    if (!v->have_damage) {
        v->damage = box;
        v->have_damage = TRUE;
        v->frame_start_us = g_get_monotonic_time();
        return;
    }
    v->damage.x1 = MIN(v->damage.x1, box.x1);
    v->damage.y1 = MIN(v->damage.y1, box.y1);
    v->damage.x2 = MAX(v->damage.x2, box.x2);
    v->damage.y2 = MAX(v->damage.y2, box.y2);
}

/* The server applied every input up to @serial before this frame: each
 * pending input event at or below it has reached the screen. */
static void
measure_latency(CrpViewer *v, guint32 serial, gint64 now_us)
{
    guint kept = 0;
    for (guint i = 0; i < v->n_pending; i++) {
        PendingInput *p = &v->pending[i];
        if ((gint32)(serial - p->serial) >= 0) {
            double ms = (now_us - p->sent_us) / 1000.0;
            v->stats.input_latency_ms = v->stats.input_latency_ms == 0 ? ms :
                (1 - LATENCY_ALPHA) * v->stats.input_latency_ms + LATENCY_ALPHA * ms;
        } else {
            v->pending[kept++] = *p;
        }
    }
    v->n_pending = kept;
}

static void
count_frame(CrpViewer *v, gint64 now_us)
{
    v->stats.frames++;
    v->fps_window_frames++;
    if (v->fps_window_start_us == 0) {
        v->fps_window_start_us = now_us;
    } else if (now_us - v->fps_window_start_us >= G_USEC_PER_SEC) {
        v->stats.fps = v->fps_window_frames * (double)G_USEC_PER_SEC /
                       (now_us - v->fps_window_start_us);
        v->fps_window_start_us = now_us;
        v->fps_window_frames = 0;
    }
}

static void
acknowledge(CrpViewer *v, guint32 frame_id)
{
    gint64 now_us = g_get_monotonic_time();
    CrpMessage ack = {
        .type = CRP_MSG_FRAME_ACK,
        .frame_ack = {
            .frame_id = frame_id,
            .present_us = v->frame_start_us ?
                (guint32)MIN(now_us - v->frame_start_us, G_MAXUINT32) : 0,
        },
    };
    answer(v, &ack);
}

void
crp_viewer_frame_presented(CrpViewer *v, guint32 frame_id)
{
    acknowledge(v, frame_id);
}

void
crp_viewer_set_manual_ack(CrpViewer *v, gboolean manual)
{
    v->manual_ack = manual;
}

/* CURSOR_SHAPE pixels are non-premultiplied ARGB; pixman draws
 * premultiplied a8r8g8b8. */
static void
set_cursor(CrpViewer *v, const CrpCursorShapeMsg *c)
{
    if (v->cursor) {
        pixman_image_unref(v->cursor);
        v->cursor = NULL;
    }
    v->hot_x = c->hot_x;
    v->hot_y = c->hot_y;
    if (c->width == 0 || c->height == 0) {
        return;
    }
    v->cursor = pixman_image_create_bits(PIXMAN_a8r8g8b8, c->width, c->height,
                                         NULL, 0);
    guint32 *dst = pixman_image_get_data(v->cursor);
    int stride = pixman_image_get_stride(v->cursor) / 4;
    const guint8 *src = c->pixels.data;
    for (int y = 0; y < c->height; y++) {
        for (int x = 0; x < c->width; x++, src += 4) {
            guint32 a = src[0];
            guint32 r = src[1] * a / 255, g = src[2] * a / 255, b = src[3] * a / 255;
            dst[y * stride + x] = a << 24 | r << 16 | g << 8 | b;
        }
    }
}

static gboolean
play_audio(CrpViewer *v, const CrpAudioMsg *audio, GError **error)
{
    gint16 pcm[CRP_OPUS_MAX_FRAME_SAMPLES * 6 * 2];

    if (!v->opus_in) {
        v->opus_in = crp_opus_decoder_new(v->audio_channels, error);
        if (!v->opus_in) {
            return FALSE;
        }
    }
    int n = crp_opus_decoder_decode(v->opus_in, audio->packet.data,
                                    audio->packet.len, pcm,
                                    G_N_ELEMENTS(pcm) / v->audio_channels, error);
    if (n < 0) {
        return FALSE;
    }
    g_array_append_vals(v->audio, pcm, (guint)n * v->audio_channels);
    v->stats.audio_packets_in++;
    return TRUE;
}

/* A server whose frames do not decode is dropped: tell it why, so its log
 * says more than "connection closed". */
static CrpViewerEvent
fail(CrpViewer *v, GError *local, GError **error)
{
    if (crp_channel_is_ready(v->channel)) {
        crp_channel_close(v->channel, CRP_STATUS_BAD_REQUEST, local->message);
    }
    if (!v->failure) {
        v->failure = g_error_copy(local);
    }
    g_propagate_error(error, local);
    return CRP_VIEWER_ERROR;
}

/* The capability a server message needs (its name in *@name), or 0. */
static guint32
capability_needed(const CrpMessage *m, const char **name)
{
    switch (m->type) {
    case CRP_MSG_AUDIO_FORMAT:
    case CRP_MSG_AUDIO_OUT:
        *name = "AUDIO_OUT";
        return CRP_CAP_AUDIO_OUT;
    case CRP_MSG_CURSOR_SHAPE:
    case CRP_MSG_CURSOR_POS:
        *name = "CURSOR";
        return CRP_CAP_CURSOR;
    case CRP_MSG_RECT:
        if (m->rect.encoding == CRP_ENCODING_ZLIB) {
            *name = "ZLIB";
            return CRP_CAP_ZLIB;
        }
        if (m->rect.encoding == CRP_ENCODING_JPEG) {
            *name = "JPEG";
            return CRP_CAP_JPEG;
        }
        if (m->rect.encoding == CRP_ENCODING_ZSTD) {
            *name = "ZSTD";
            return CRP_CAP_ZSTD;
        }
        if (m->rect.encoding == CRP_ENCODING_H264) {
            *name = "H264";
            return CRP_CAP_H264;
        }
        return 0;
    case CRP_MSG_CLIPBOARD_GRAB:
    case CRP_MSG_CLIPBOARD_REQUEST:
    case CRP_MSG_CLIPBOARD_DATA:
        *name = "CLIPBOARD";
        return CRP_CAP_CLIPBOARD;
    default:
        return 0;
    }
}

/* The server asks for our content: answered from what we grabbed. */
static void
answer_clipboard_request(CrpViewer *v, const CrpClipboardRequestMsg *req)
{
    CrpClipboardOut *out;

    if (g_queue_get_length(&v->clip_out) >= MAX_CLIPBOARD_ANSWERS) {
        if (!v->failure) {
            v->failure = g_error_new(CRP_ERROR, CRP_ERROR_TOO_LARGE,
                                     "the server asks for the clipboard faster "
                                     "than it reads the answers (%d waiting)",
                                     MAX_CLIPBOARD_ANSWERS);
            crp_channel_close(v->channel, CRP_STATUS_BAD_REQUEST,
                              "clipboard requests without reading the answers");
        }
        return;
    }
    if (v->clipboard_muted) {
        out = crp_clipboard_out_new_refusal(req->serial, req->format,
                                            CRP_CLIPBOARD_OFF);
    } else {
        GBytes *content = req->serial == v->our_clip_serial ?
            v->our_clip[req->format == CRP_CLIPBOARD_PNG] : NULL;
        out = crp_clipboard_out_new(req->serial, req->format, content);
    }
    g_queue_push_tail(&v->clip_out, out);
    send_clipboard_chunks(v);
}

/* One chunk of the answer we wait for: TRUE with @update filled once it
 * is complete. */
static gboolean
receive_clipboard(CrpViewer *v, const CrpClipboardDataMsg *d,
                  CrpViewerUpdate *update, GError **error)
{
    GBytes *content;
    guint8 format;

    switch (crp_clipboard_in_feed(v->clip_in, d, error)) {
    case CRP_CLIPBOARD_IN_DONE:
        update->clipboard_status = crp_clipboard_in_take(v->clip_in, &format,
                                                         &content);
        update->clipboard_format = format;
        g_clear_pointer(&v->clip_received, g_bytes_unref);
        v->clip_received = content;
        v->clip_received_format = format;
        return TRUE;
    default:
        return FALSE;
    }
}

CrpViewerEvent
crp_viewer_process(CrpViewer *v, CrpViewerUpdate *update, GError **error)
{
    CrpEvent ev;
    CrpEventType t;
    GError *local = NULL;

    memset(update, 0, sizeof(*update));
    if (v->failure) {
        g_propagate_error(error, g_error_copy(v->failure));
        return CRP_VIEWER_ERROR;
    }
    send_held(v);
    while ((t = crp_channel_next_event(v->channel, &ev, &local)) > CRP_EVENT_NONE) {
        const CrpMessage *m = &ev.message;

        if (t == CRP_EVENT_READY) {
            v->capabilities = ev.capabilities;
            update->capabilities = ev.capabilities;
            return CRP_VIEWER_READY;
        }
        if (t == CRP_EVENT_CLOSED) {
            update->status = v->bye_status;
            update->reason = v->bye_reason ? v->bye_reason : "";
            return CRP_VIEWER_CLOSED;
        }
        if (t != CRP_EVENT_MESSAGE) {
            continue;
        }
        /* What we did not agree to is not decoded: no Opus, zlib or JPEG
         * decoder runs on input the client never asked for. */
        const char *cap_name;
        guint32 cap = capability_needed(m, &cap_name);
        if (cap && !(v->capabilities & cap)) {
            local = g_error_new(CRP_ERROR, CRP_ERROR_PROTOCOL,
                                "the server sent %s%s%s without the %s "
                                "capability, which was not agreed",
                                crp_message_type_name(m->type),
                                m->type == CRP_MSG_RECT ? " " : "",
                                m->type == CRP_MSG_RECT ? cap_name : "", cap_name);
            return fail(v, local, error);
        }
        switch (m->type) {
        case CRP_MSG_SURFACE:
            if (!crp_decoder_set_surface(v->decoder, &m->surface, &local)) {
                return fail(v, local, error);
            }
            v->have_damage = FALSE;
            update->width = m->surface.width;
            update->height = m->surface.height;
            return CRP_VIEWER_SURFACE;
        case CRP_MSG_RECT:
            if (!crp_decoder_apply_rect(v->decoder, &m->rect, m->flags, &local)) {
                return fail(v, local, error);
            }
            v->stats.rects++;
            if (m->rect.encoding < CRP_VIEWER_ENCODINGS) {
                v->stats.encoding_rects[m->rect.encoding]++;
                v->stats.encoding_bytes[m->rect.encoding] += ev.message_len;
            }
            add_damage(v, &m->rect);
            break;
        case CRP_MSG_FRAME_END: {
            gint64 now_us = g_get_monotonic_time();
            measure_latency(v, m->frame_end.input_serial, now_us);
            count_frame(v, now_us);
            update->frame_id = m->frame_end.frame_id;
            update->damage = v->have_damage ? v->damage : (pixman_box32_t){ 0 };
            if (!v->manual_ack) {
                acknowledge(v, m->frame_end.frame_id);
            }
            v->have_damage = FALSE;
            v->frame_start_us = 0;
            return CRP_VIEWER_FRAME;
        }
        case CRP_MSG_CURSOR_SHAPE:
            set_cursor(v, &m->cursor_shape);
            return CRP_VIEWER_CURSOR;
        case CRP_MSG_CURSOR_POS:
            v->pointer_x = m->cursor_pos.x;
            v->pointer_y = m->cursor_pos.y;
            v->pointer_visible = m->cursor_pos.visible;
            return CRP_VIEWER_CURSOR;
        case CRP_MSG_AUDIO_FORMAT:
            if (m->audio_format.channels != v->audio_channels || !v->opus_in) {
                crp_opus_decoder_free(v->opus_in);
                v->opus_in = NULL;
                crp_opus_encoder_free(v->opus_out);
                v->opus_out = NULL;
                v->audio_channels = m->audio_format.channels;
            }
            break;
        case CRP_MSG_AUDIO_OUT:
            if (!play_audio(v, &m->audio, &local)) {
                return fail(v, local, error);
            }
            return CRP_VIEWER_AUDIO;
        case CRP_MSG_PING: {
            CrpMessage pong = { .type = CRP_MSG_PONG, .ping = m->ping };
            answer(v, &pong);
            break;
        }
        case CRP_MSG_CLIPBOARD_GRAB:
            v->server_clip_serial = m->clipboard_grab.serial;
            v->server_clip_formats = m->clipboard_grab.formats;
            if (v->clipboard_muted) {
                break;
            }
            update->clipboard_formats = m->clipboard_grab.formats;
            return CRP_VIEWER_CLIPBOARD;
        case CRP_MSG_CLIPBOARD_REQUEST:
            answer_clipboard_request(v, &m->clipboard_request);
            if (v->failure) {
                g_propagate_error(error, g_error_copy(v->failure));
                return CRP_VIEWER_ERROR;
            }
            break;
        case CRP_MSG_CLIPBOARD_DATA:
            if (receive_clipboard(v, &m->clipboard_data, update, &local)) {
                return CRP_VIEWER_CLIPBOARD_DATA;
            }
            if (local) {
                return fail(v, local, error);
            }
            break;
        case CRP_MSG_BYE:
            g_free(v->bye_reason);
            v->bye_reason = crp_str_dup(m->bye.reason);
            v->bye_status = m->bye.code;
            break;
        default:
            break;
        }
    }
    if (t == CRP_EVENT_ERROR) {
        return fail(v, local, error);
    }
    return CRP_VIEWER_NONE;
}

static guint32
next_serial(CrpViewer *v)
{
    guint32 serial = ++v->input_serial;
    if (v->n_pending == MAX_PENDING_INPUT) {
        /* Oldest first: drop it, it will never be measured. */
        memmove(v->pending, v->pending + 1,
                (MAX_PENDING_INPUT - 1) * sizeof(PendingInput));
        v->n_pending--;
    }
    v->pending[v->n_pending++] = (PendingInput){ serial, g_get_monotonic_time() };
    return serial;
}

gboolean
crp_viewer_send_key(CrpViewer *v, guint16 evdev_code, gboolean down)
{
    if (!crp_channel_is_ready(v->channel)) {
        return FALSE;
    }
    CrpMessage m = { .type = CRP_MSG_KEY,
                     .key = { next_serial(v), evdev_code, down ? 1 : 0 } };
    return send_now(v, &m);
}

gboolean
crp_viewer_send_pointer(CrpViewer *v, int x, int y, guint32 buttons)
{
    if (!crp_channel_is_ready(v->channel)) {
        return FALSE;
    }
    CrpMessage m = { .type = CRP_MSG_POINTER, .pointer = {
        .serial = next_serial(v),
        .x = CLAMP(x, 0, G_MAXUINT16), .y = CLAMP(y, 0, G_MAXUINT16),
        .buttons = buttons } };
    return send_now(v, &m);
}

gboolean
crp_viewer_send_wheel(CrpViewer *v, int dx, int dy)
{
    if (!crp_channel_is_ready(v->channel)) {
        return FALSE;
    }
    CrpMessage m = { .type = CRP_MSG_WHEEL, .wheel = {
        .serial = next_serial(v),
        .dx = CLAMP(dx, G_MININT16, G_MAXINT16),
        .dy = CLAMP(dy, G_MININT16, G_MAXINT16) } };
    return send_now(v, &m);
}

gboolean
crp_viewer_send_resize(CrpViewer *v, int width, int height)
{
    if (!crp_channel_is_ready(v->channel) || width < 1 || height < 1 ||
        width > CRP_MAX_SURFACE_DIM || height > CRP_MAX_SURFACE_DIM) {
        return FALSE;
    }
    CrpMessage m = { .type = CRP_MSG_RESIZE_REQUEST, .resize = { width, height } };
    return send_now(v, &m);
}

gboolean
crp_viewer_send_close_app(CrpViewer *v)
{
    CrpMessage m = { .type = CRP_MSG_CLOSE_APP };
    return crp_channel_is_ready(v->channel) && send_now(v, &m);
}

typedef struct {
    CrpViewer *viewer;
    gboolean ok;
} AudioSend;

static void
send_packet(const guint8 *packet, gsize len, guint64 timestamp_us, gpointer data)
{
    AudioSend *s = data;
    CrpMessage m = { .type = CRP_MSG_AUDIO_IN, .audio = {
        .timestamp_us = timestamp_us, .packet = { packet, len } } };
    s->ok = s->ok && crp_channel_send(s->viewer->channel, &m, NULL);
    s->viewer->stats.audio_packets_out++;
}

gboolean
crp_viewer_send_audio(CrpViewer *v, const gint16 *pcm, gsize n_samples,
                      GError **error)
{
    if (!crp_channel_is_ready(v->channel) || !(v->capabilities & CRP_CAP_AUDIO_IN)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "the server does not take microphone audio");
        return FALSE;
    }
    if (!room_for_output(v)) {
        g_propagate_error(error, g_error_copy(v->failure));
        return FALSE;
    }
    if (!v->opus_out) {
        v->opus_out = crp_opus_encoder_new(v->audio_channels, 20, 0, error);
        if (!v->opus_out) {
            return FALSE;
        }
    }
    AudioSend s = { v, TRUE };
    if (!crp_opus_encoder_push(v->opus_out, pcm, n_samples, send_packet, &s, error)) {
        return FALSE;
    }
    crp_channel_flush(v->channel);
    if (!s.ok) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE, "channel closed");
    }
    return s.ok;
}

gint16 *
crp_viewer_take_audio(CrpViewer *v, gsize *n_samples, int *channels)
{
    *channels = v->audio_channels;
    *n_samples = v->audio->len / v->audio_channels;
    gint16 *data = (gint16 *)g_array_free(v->audio, FALSE);
    v->audio = g_array_new(FALSE, FALSE, sizeof(gint16));
    return data;
}

/* Clipboard calls need the capability, an unmuted viewer that works. */
static gboolean
clipboard_usable(CrpViewer *v, GError **error)
{
    if (v->failure) {
        g_propagate_error(error, g_error_copy(v->failure));
        return FALSE;
    }
    if (!crp_channel_is_ready(v->channel) ||
        !(v->capabilities & CRP_CAP_CLIPBOARD)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "the server does not share its clipboard");
        return FALSE;
    }
    if (v->clipboard_muted) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE, "the clipboard is muted");
        return FALSE;
    }
    return TRUE;
}

gboolean
crp_viewer_set_clipboard(CrpViewer *v, GBytes *text, GBytes *png, GError **error)
{
    if (!clipboard_usable(v, error)) {
        return FALSE;
    }
    if (text && g_bytes_get_size(text) <= CRP_MAX_CLIPBOARD) {
        gsize len;
        const char *s = g_bytes_get_data(text, &len);
        if (!g_utf8_validate_len(s, len, NULL) || memchr(s, 0, len)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                        "clipboard text is not UTF-8 without NUL");
            return FALSE;
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(v->our_clip); i++) {
        g_clear_pointer(&v->our_clip[i], g_bytes_unref);
    }
    v->our_clip[0] = text ? g_bytes_ref(text) : NULL;
    v->our_clip[1] = png ? g_bytes_ref(png) : NULL;
    CrpMessage m = { .type = CRP_MSG_CLIPBOARD_GRAB, .clipboard_grab = {
        .serial = ++v->our_clip_serial,
        .formats = (text ? CRP_CLIPBOARD_TEXT : 0) | (png ? CRP_CLIPBOARD_PNG : 0),
    } };
    return send_now(v, &m);
}

gboolean
crp_viewer_request_clipboard(CrpViewer *v, guint8 format, GError **error)
{
    if (!clipboard_usable(v, error)) {
        return FALSE;
    }
    if ((format != CRP_CLIPBOARD_TEXT && format != CRP_CLIPBOARD_PNG) ||
        !(v->server_clip_formats & format)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_STATE,
                    "the server's clipboard holds no %s",
                    crp_clipboard_format_name(format));
        return FALSE;
    }
    CrpMessage m = { .type = CRP_MSG_CLIPBOARD_REQUEST, .clipboard_request = {
        .serial = v->server_clip_serial, .format = format } };
    crp_clipboard_in_expect(v->clip_in, v->server_clip_serial, format);
    return send_now(v, &m);
}

GBytes *
crp_viewer_take_clipboard(CrpViewer *v, guint8 *format)
{
    *format = v->clip_received_format;
    return g_steal_pointer(&v->clip_received);
}

void
crp_viewer_set_clipboard_muted(CrpViewer *v, gboolean muted)
{
    v->clipboard_muted = muted;
}

void
crp_viewer_close(CrpViewer *v, const char *reason)
{
    crp_channel_close(v->channel, CRP_STATUS_OK, reason);
}

const GError *
crp_viewer_get_failure(CrpViewer *v)
{
    return v->failure;
}

void
crp_viewer_get_stats(CrpViewer *v, CrpViewerStats *stats)
{
    *stats = v->stats;
    stats->bytes_in = crp_channel_bytes_in(v->channel);
    stats->bytes_out = crp_channel_bytes_out(v->channel);
}
