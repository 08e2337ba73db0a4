/*
 * CRP display: one connection (a peer).
 *
 * Bytes from the socket go into the peer's libcrp channel; its events
 * become QEMU input, acknowledgements, QMP events and the CrpPeerEvents
 * its owner set (crp-peer.h). Output is written as far as the socket
 * takes it and the rest waits for G_IO_OUT. A peer that breaks the
 * protocol, fails its handshake or stops reading is disconnected with a
 * reason; nothing it sends can stop the others.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/qapi-events-ui.h"
#include "ui/kbd-state.h"
#include "crp-peer.h"
#include "crp-input.h"
#include "trace.h"

#include "crp/crp-channel.h"
#include "crp/crp-clipboard.h"
#include "crp/crp-error.h"
#include "crp/crp-rate.h"

#define CRP_READ_CHUNK 65536
/* Socket reads per wakeup, so that a flooding peer cannot starve the
 * main loop (the rest waits for the next wakeup). */
#define CRP_READS_PER_WAKEUP 8
/* Output a peer may have queued before it is skipped (frames only);
 * its link's rate control (crp-rate.h) normally holds it far below. */
#define CRP_OUTPUT_SOFT_CAP (4 * 1024 * 1024)
/* Output past which a peer that does not read is dropped. */
#define CRP_OUTPUT_HARD_CAP (64 * 1024 * 1024)
/* Milliseconds between key events handed to the guest (crp_peer_ready()). */
#define CRP_KEY_DELAY_MS 10
/* Seconds a peer gets to finish its handshake (one round trip for a
 * real client), or to make progress. */
#define CRP_HANDSHAKE_TIMEOUT_S 5
#define CRP_STALL_TIMEOUT_S 15

/* A frame queued and not yet all written (for the frame_sent trace). */
typedef struct CrpPeerFrame {
    uint32_t id;
    uint64_t end;                   /* crp_peer_queued_end() after it */
    uint64_t bytes;
} CrpPeerFrame;

struct CrpPeer {
    int refcount;
    const CrpPeerEvents *events;
    void *opaque;
    QemuConsole *con;
    int64_t id;
    char *address;
    char *origin;                   /* who, for the pending limits */
    int64_t connected_since;        /* Unix seconds */

    QIOChannelSocket *sioc;
    guint watch;
    GIOCondition watch_cond;
    CrpChannel *channel;            /* created at the first byte */
    char *offered_ticket;           /* the ticket its channel expects */
    bool ready;                     /* handshake done, frames may flow */
    uint32_t caps;                  /* CRP_CAP_* agreed in the handshake */
    bool closed;                    /* disconnected; freed at last unref */
    bool clipboard;                 /* offer CRP_CAP_CLIPBOARD */
    CrpClipboardIn *clip_in;        /* the answer to our clipboard request */
    QEMUTimer *handshake_timer;

    QKbdState *kbd;
    uint32_t buttons;
    uint32_t input_serial;          /* last input event applied */

    /* The frame being encoded for it (crp_peer_mark_capture()). */
    int64_t capture_us;
    uint32_t capture_serial;

    /* Flow control and statistics. */
    CrpRate *rate;                  /* the link's rate, window and pacing */
    int64_t stalled_since_us;       /* no room for frames since; 0: room */
    GArray *unwritten;              /* CrpPeerFrame, oldest first */
    uint32_t frame_serial;          /* capture_serial of its last frame */
    uint32_t next_frame_id;
    uint32_t acked_frame_id;
    uint64_t frames_sent;
    double fps;
    uint64_t fps_frames;
    int64_t fps_window_us;
    double rtt_ms;
    double input_latency_ms;
    uint32_t probe_serial;          /* input event being timed, if probe_us */
    int64_t probe_us;               /* when it arrived; 0: none */
    int64_t last_progress_us;
    uint32_t ping_id;
    int64_t ping_sent_us;
};

static gboolean crp_peer_io(QIOChannel *ioc, GIOCondition cond,
                            gpointer opaque);

CrpPeer *crp_peer_ref(CrpPeer *p)
{
    p->refcount++;
    return p;
}

void crp_peer_unref(CrpPeer *p)
{
    if (!p || --p->refcount > 0) {
        return;
    }
    crp_rate_free(p->rate);
    crp_channel_free(p->channel);
    crp_clipboard_in_free(p->clip_in);
    g_array_unref(p->unwritten);
    g_free(p->offered_ticket);
    g_free(p->address);
    g_free(p->origin);
    g_free(p);
}

int64_t crp_peer_get_id(CrpPeer *p)
{
    return p->id;
}

const char *crp_peer_get_origin(CrpPeer *p)
{
    return p->origin;
}

bool crp_peer_is_ready(CrpPeer *p)
{
    return p->ready && !p->closed;
}

uint32_t crp_peer_get_caps(CrpPeer *p)
{
    return p->caps;
}

uint64_t crp_peer_bytes_in(CrpPeer *p)
{
    return p->channel ? crp_channel_bytes_in(p->channel) : 0;
}

uint64_t crp_peer_bytes_out(CrpPeer *p)
{
    return p->channel ? crp_channel_bytes_out(p->channel) : 0;
}

uint64_t crp_peer_frames_sent(CrpPeer *p)
{
    return p->frames_sent;
}

static void crp_peer_watch(CrpPeer *p, GIOCondition cond)
{
    if (p->watch && p->watch_cond == cond) {
        return;
    }
    if (p->watch) {
        g_source_remove(p->watch);
    }
    p->watch_cond = cond;
    p->watch = qio_channel_add_watch(QIO_CHANNEL(p->sioc), cond,
                                     crp_peer_io, p, NULL);
}

/* Frames whose last byte the socket took. */
static void crp_peer_frames_written(CrpPeer *p)
{
    uint64_t out = crp_channel_bytes_out(p->channel);
    guint n = 0;

    while (n < p->unwritten->len) {
        CrpPeerFrame *f = &g_array_index(p->unwritten, CrpPeerFrame, n);
        if (f->end > out) {
            break;
        }
        trace_crp_peer_frame_sent(p->id, f->id, f->bytes);
        n++;
    }
    if (n) {
        g_array_remove_range(p->unwritten, 0, n);
    }
}

/* Writes what the socket takes; returns false if the connection broke. */
static bool crp_peer_write(CrpPeer *p)
{
    while (p->channel && crp_channel_output_pending(p->channel) > 0) {
        gsize len;
        const guint8 *data = crp_channel_peek_output(p->channel, &len);
        ssize_t n = qio_channel_write(QIO_CHANNEL(p->sioc), (const char *)data,
                                      len, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            break;
        }
        if (n < 0) {
            return false;
        }
        crp_channel_consume_output(p->channel, n);
        p->last_progress_us = g_get_monotonic_time();
    }
    if (p->channel && p->unwritten->len) {
        crp_peer_frames_written(p);
    }
    if (!p->closed) {
        bool pending = p->channel && crp_channel_output_pending(p->channel) > 0;
        crp_peer_watch(p, G_IO_IN | G_IO_HUP | G_IO_ERR |
                          (pending ? G_IO_OUT : 0));
    }
    return true;
}

void crp_peer_send(CrpPeer *p, const CrpMessage *msg)
{
    if (p->closed || !p->ready) {
        return;
    }
    crp_channel_send(p->channel, msg, NULL);
    crp_channel_flush(p->channel);
    crp_peer_write(p);
}

void crp_peer_disconnect(CrpPeer *p, guint16 status, const char *reason)
{
    g_autoptr(CrpPeer) hold = NULL;
    bool was_ready = p->ready;

    if (p->closed) {
        return;
    }
    /* The owner drops its reference in closed, which comes last. */
    hold = crp_peer_ref(p);
    p->closed = true;
    if (p->channel) {
        /* A last word for the peer, if the socket takes it at once. */
        crp_channel_close(p->channel, status, reason);
        crp_peer_write(p);
    }
    if (p->watch) {
        g_source_remove(p->watch);
        p->watch = 0;
    }
    timer_free(p->handshake_timer);
    p->handshake_timer = NULL;
    if (p->kbd) {
        qkbd_state_lift_all_keys(p->kbd);
        qkbd_state_free(p->kbd);
        p->kbd = NULL;
    }
    crp_input_release_buttons(p->con, &p->buttons);
    p->ready = false;
    qio_channel_close(QIO_CHANNEL(p->sioc), NULL);
    object_unref(OBJECT(p->sioc));
    p->sioc = NULL;
    trace_crp_peer_disconnect(p->id, status, crp_peer_bytes_in(p),
                              crp_peer_bytes_out(p), p->frames_sent, reason);
    if (was_ready) {
        qapi_event_send_crp_disconnected(p->id, p->address, reason);
    }
    /* Off its group and lists now: their next frames are not for it. */
    p->events->closed(p, p->opaque);
}

static void crp_peer_handshake_timeout(void *opaque)
{
    CrpPeer *p = opaque;

    crp_peer_disconnect(p, CRP_STATUS_TIMEOUT,
                        "handshake not completed in time");
}

/* ---- protocol ------------------------------------------------------- */

static void crp_peer_ready(CrpPeer *p, uint32_t caps)
{
    p->ready = true;
    p->caps = caps;
    timer_free(p->handshake_timer);
    p->handshake_timer = NULL;
    p->kbd = qkbd_state_init(p->con);
    /* Key events reach the guest no faster than one per CRP_KEY_DELAY_MS:
     * a PS/2 keyboard queues 16 bytes, and a busy guest that has not read
     * them loses the rest of a burst (typed text, a paste) -- as QEMU's
     * VNC server does with its key-delay-ms. */
    qkbd_state_set_delay(p->kbd, CRP_KEY_DELAY_MS);
    p->last_progress_us = g_get_monotonic_time();
    trace_crp_peer_ready(p->id, caps);
    qapi_event_send_crp_connected(p->id, p->address);
    p->events->ready(p, p->opaque);
}

/* Times one input event at a time: from its arrival to the first frame
 * captured after it was applied (see crp_peer_send_frame()). */
static void crp_peer_input_applied(CrpPeer *p, uint32_t serial)
{
    p->input_serial = serial;
    if (!p->probe_us) {
        p->probe_serial = serial;
        p->probe_us = g_get_monotonic_time();
    }
    p->events->input(p, p->opaque);
}

/* A clipboard message: reported to the owner, DATA once complete. A peer
 * that did not agree to share the clipboard, or whose chunks break the
 * protocol, is disconnected. */
static void crp_peer_clipboard_message(CrpPeer *p, const CrpMessage *m)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) content = NULL;
    CrpPeerClipboard ev = { .type = m->type };
    guint8 format;

    if (!(p->caps & CRP_CAP_CLIPBOARD)) {
        g_autofree char *why = g_strdup_printf(
            "%s without the CLIPBOARD capability, which was not agreed",
            crp_message_type_name(m->type));
        crp_peer_disconnect(p, CRP_STATUS_BAD_REQUEST, why);
        return;
    }
    switch (m->type) {
    case CRP_MSG_CLIPBOARD_GRAB:
        ev.serial = m->clipboard_grab.serial;
        ev.formats = m->clipboard_grab.formats;
        break;
    case CRP_MSG_CLIPBOARD_REQUEST:
        ev.serial = m->clipboard_request.serial;
        ev.formats = m->clipboard_request.format;
        break;
    default:
        switch (crp_clipboard_in_feed(p->clip_in, &m->clipboard_data, &error)) {
        case CRP_CLIPBOARD_IN_ERROR:
            crp_peer_disconnect(p, CRP_STATUS_BAD_REQUEST, error->message);
            return;
        case CRP_CLIPBOARD_IN_DONE:
            break;
        default:
            return;
        }
        ev.serial = m->clipboard_data.serial;
        ev.status = crp_clipboard_in_take(p->clip_in, &format, &content);
        ev.formats = format;
        ev.content = content;
        break;
    }
    trace_crp_peer_clipboard(p->id, crp_message_type_name(m->type), ev.serial,
                             ev.formats, ev.status,
                             ev.content ? g_bytes_get_size(ev.content) : 0);
    p->events->clipboard(p, &ev, p->opaque);
}

static void crp_peer_message(CrpPeer *p, const CrpMessage *m)
{
    switch (m->type) {
    case CRP_MSG_CLIPBOARD_GRAB:
    case CRP_MSG_CLIPBOARD_REQUEST:
    case CRP_MSG_CLIPBOARD_DATA:
        crp_peer_clipboard_message(p, m);
        break;
    case CRP_MSG_KEY:
        crp_input_key(p->kbd, &m->key);
        crp_peer_input_applied(p, m->key.serial);
        break;
    case CRP_MSG_POINTER:
        crp_input_pointer(p->con, &p->buttons, &m->pointer);
        crp_peer_input_applied(p, m->pointer.serial);
        break;
    case CRP_MSG_WHEEL:
        crp_input_wheel(p->con, &m->wheel);
        crp_peer_input_applied(p, m->wheel.serial);
        break;
    case CRP_MSG_FRAME_ACK:
        /* Acks for frames never sent are ignored, not trusted. */
        if ((int32_t)(m->frame_ack.frame_id - p->acked_frame_id) > 0 &&
            (int32_t)(p->next_frame_id - m->frame_ack.frame_id) > 0) {
            p->acked_frame_id = m->frame_ack.frame_id;
            crp_rate_frame_acked(p->rate, m->frame_ack.frame_id,
                                 g_get_monotonic_time());
        }
        break;
    case CRP_MSG_PONG:
        if (m->ping.id == p->ping_id && p->ping_sent_us) {
            int64_t now_us = g_get_monotonic_time();
            double rtt = (now_us - p->ping_sent_us) / 1000.0;
            p->rtt_ms = p->rtt_ms ? 0.8 * p->rtt_ms + 0.2 * rtt : rtt;
            crp_rate_rtt_sample(p->rate, now_us - p->ping_sent_us, now_us);
            p->ping_sent_us = 0;
        }
        break;
    case CRP_MSG_AUDIO_IN:
        if (p->caps & CRP_CAP_AUDIO_IN) {
            p->events->audio_in(p, m->audio.packet.data, m->audio.packet.len,
                                p->opaque);
        }
        break;
    case CRP_MSG_RESIZE_REQUEST:
        if (p->caps & CRP_CAP_RESIZE) {
            crp_input_resize(p->con, &m->resize);
        }
        break;
    case CRP_MSG_CLOSE_APP:
        qapi_event_send_crp_close_requested(p->id);
        break;
    default:
        break;              /* BYE: the CLOSED event follows */
    }
}

/* Runs the channel's events; false if the peer was disconnected. */
static bool crp_peer_process(CrpPeer *p)
{
    CrpEvent ev;
    CrpEventType t;
    g_autoptr(GError) error = NULL;

    while ((t = crp_channel_next_event(p->channel, &ev, &error)) > CRP_EVENT_NONE) {
        switch (t) {
        case CRP_EVENT_AUTHORIZE: {
            guint16 status = CRP_STATUS_OK;
            const char *why = NULL;
            p->events->admit(p, p->offered_ticket, &status, &why, p->opaque);
            trace_crp_peer_admit(p->id, status, why ? why : "admitted");
            crp_channel_authorize(p->channel, status, why, NULL);
            if (status != CRP_STATUS_OK) {
                crp_peer_write(p);
                crp_peer_disconnect(p, status, why);
                return false;
            }
            break;
        }
        case CRP_EVENT_READY:
            crp_peer_ready(p, ev.capabilities);
            break;
        case CRP_EVENT_MESSAGE:
            crp_peer_message(p, &ev.message);
            break;
        case CRP_EVENT_CLOSED:
            crp_peer_disconnect(p, CRP_STATUS_OK, "client closed the connection");
            return false;
        default:
            break;
        }
        if (p->closed) {
            return false;
        }
    }
    if (t == CRP_EVENT_ERROR) {
        /* The channel queued a BYE or REJECT saying why; send it. */
        crp_peer_write(p);
        crp_peer_disconnect(p, CRP_STATUS_BAD_REQUEST, error->message);
        return false;
    }
    return true;
}

static bool crp_peer_read(CrpPeer *p)
{
    g_autofree guint8 *buf = g_malloc(CRP_READ_CHUNK);

    for (int i = 0; i < CRP_READS_PER_WAKEUP; i++) {
        ssize_t n = qio_channel_read(QIO_CHANNEL(p->sioc), (char *)buf,
                                     CRP_READ_CHUNK, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return true;
        }
        if (n <= 0) {
            crp_peer_disconnect(p, CRP_STATUS_OK,
                                n == 0 ? "connection closed by the client"
                                       : "connection error");
            return false;
        }
        if (!p->channel) {
            /* The ticket is fixed when the client speaks, not at accept. */
            p->offered_ticket = p->events->ticket(p, p->opaque);
            CrpChannelConfig cfg = {
                .kind = CRP_CHANNEL_DISPLAY,
                .role = CRP_ROLE_SERVER,
                .ticket = p->offered_ticket,
                .capabilities = p->clipboard ? CRP_CAP_DISPLAY_ALL
                                : CRP_CAP_DISPLAY_ALL & ~CRP_CAP_CLIPBOARD,
                .software = "qemu-crp " QEMU_VERSION,
            };
            p->channel = crp_channel_new(&cfg, NULL);
        }
        crp_channel_receive(p->channel, buf, n);
        if (!crp_peer_process(p)) {
            return false;
        }
    }
    return true;
}

static gboolean crp_peer_io(QIOChannel *ioc, GIOCondition cond,
                            gpointer opaque)
{
    g_autoptr(CrpPeer) p = crp_peer_ref(opaque);

    /* This source ends when we return; crp_peer_write() adds the next. */
    p->watch = 0;
    if (cond & G_IO_IN) {
        crp_peer_read(p);
    } else if (cond & (G_IO_HUP | G_IO_ERR)) {
        crp_peer_disconnect(p, CRP_STATUS_OK, "connection closed by the client");
    }
    if (!p->closed && !crp_peer_write(p)) {
        crp_peer_disconnect(p, CRP_STATUS_OK, "connection error");
    }
    /* The watch was replaced or removed along the way: this one ends. */
    return G_SOURCE_REMOVE;
}

/* ---- frames ----------------------------------------------------------- */

/* Every byte queued for the peer so far (see crp-rate.h). */
static uint64_t crp_peer_queued_end(CrpPeer *p)
{
    return crp_channel_bytes_out(p->channel) +
           crp_channel_output_pending(p->channel);
}

/* Whether its link has room for a frame now: its window and pacing
 * (crp-rate.h). The first frame captured after input it sent may answer
 * it: that one skips the pacing (the guest usually draws its answer
 * within a refresh; a later answer goes at the link's pace). */
bool crp_peer_wants_frame(CrpPeer *p, int64_t now_us)
{
    bool interactive = p->input_serial != p->frame_serial;
    bool room;

    if (!p->ready || p->closed) {
        return false;
    }
    room = crp_channel_output_pending(p->channel) < CRP_OUTPUT_SOFT_CAP &&
           crp_rate_frame_wait_us(p->rate, crp_peer_queued_end(p),
                                  interactive, now_us) == 0;
    /* Stalls are traced where they start and end, not every refresh. */
    if (!room && !p->stalled_since_us) {
        CrpRateStats st;

        p->stalled_since_us = now_us;
        crp_rate_get_stats(p->rate, crp_peer_queued_end(p), now_us, &st);
        trace_crp_peer_window_full(p->id, crp_channel_output_pending(p->channel),
                                   st.in_flight, st.window,
                                   st.frames_in_flight);
    } else if (room && p->stalled_since_us) {
        trace_crp_peer_window_resumed(p->id, now_us - p->stalled_since_us);
        p->stalled_since_us = 0;
    }
    return room;
}

/* Every frame it was sent is acknowledged, and its link has held nothing
 * back lately: merging it with others would not hold them back. */
bool crp_peer_caught_up(CrpPeer *p, int64_t now_us)
{
    return p->next_frame_id - 1 == p->acked_frame_id &&
           crp_channel_output_pending(p->channel) == 0 &&
           !crp_rate_limited(p->rate, now_us);
}

void crp_peer_mark_capture(CrpPeer *p, int64_t now_us)
{
    p->capture_us = now_us;
    p->capture_serial = p->input_serial;
}

void crp_peer_get_encoder_rate(CrpPeer *p, int64_t now_us,
                               CrpEncoderRate *rate)
{
    crp_rate_get_encoder_rate(p->rate, now_us, rate);
}

/* Sends the frame encoded for @p's group: only the encryption is its own. */
void crp_peer_send_frame(CrpPeer *p, const guint8 *data, gsize len)
{
    int64_t now_us = g_get_monotonic_time();
    CrpMessage end = {
        .type = CRP_MSG_FRAME_END,
        .frame_end = {
            .frame_id = p->next_frame_id,
            .input_serial = p->capture_serial,
            .capture_us = p->capture_us,
            .encode_us = MIN(now_us - p->capture_us, G_MAXUINT32),
        },
    };
    uint64_t start, end_of_frame;

    if (p->closed) {
        return;
    }
    start = crp_peer_queued_end(p);
    if (!crp_channel_send_encoded(p->channel, data, len, NULL)) {
        crp_peer_disconnect(p, CRP_STATUS_INTERNAL, "encoder output rejected");
        return;
    }
    if (p->probe_us && (int32_t)(p->capture_serial - p->probe_serial) >= 0) {
        double ms = (now_us - p->probe_us) / 1000.0;
        p->input_latency_ms = p->input_latency_ms ?
            0.8 * p->input_latency_ms + 0.2 * ms : ms;
        p->probe_us = 0;
    }
    crp_channel_send(p->channel, &end, NULL);
    crp_channel_flush(p->channel);
    end_of_frame = crp_peer_queued_end(p);
    crp_rate_frame_sent(p->rate, p->next_frame_id, end_of_frame - start,
                        end_of_frame, now_us);
    trace_crp_peer_frame_queued(p->id, p->next_frame_id, end_of_frame - start,
                                crp_channel_output_pending(p->channel));
    g_array_append_val(p->unwritten, ((CrpPeerFrame) {
        .id = p->next_frame_id, .end = end_of_frame,
        .bytes = end_of_frame - start,
    }));
    p->frame_serial = p->capture_serial;
    p->next_frame_id++;
    p->frames_sent++;
    p->fps_frames++;
    crp_peer_write(p);
}

void crp_peer_send_cursor(CrpPeer *p, QEMUCursor *cur, int x, int y, bool on)
{
    g_autofree uint8_t *pixels = NULL;
    CrpMessage shape = { .type = CRP_MSG_CURSOR_SHAPE };

    if (!(p->caps & CRP_CAP_CURSOR)) {
        return;             /* the client cannot draw it */
    }
    if (cur && cur->width <= CRP_MAX_CURSOR_DIM && cur->height <= CRP_MAX_CURSOR_DIM) {
        size_t n = (size_t)cur->width * cur->height;
        pixels = g_malloc(n * 4);
        for (size_t i = 0; i < n; i++) {
            uint32_t argb = cur->data[i];
            pixels[4 * i] = argb >> 24;
            pixels[4 * i + 1] = argb >> 16;
            pixels[4 * i + 2] = argb >> 8;
            pixels[4 * i + 3] = argb;
        }
        shape.cursor_shape = (CrpCursorShapeMsg) {
            .width = cur->width, .height = cur->height,
            .hot_x = MIN(MAX(cur->hot_x, 0), cur->width - 1),
            .hot_y = MIN(MAX(cur->hot_y, 0), cur->height - 1),
            .pixels = { pixels, n * 4 },
        };
    }
    crp_peer_send(p, &shape);
    CrpMessage pos = {
        .type = CRP_MSG_CURSOR_POS,
        .cursor_pos = { MAX(x, 0), MAX(y, 0), on },
    };
    crp_peer_send(p, &pos);
}

void crp_peer_send_audio(CrpPeer *p, const uint8_t *packet, size_t len,
                         uint64_t timestamp_us)
{
    CrpMessage m = {
        .type = CRP_MSG_AUDIO_OUT,
        .audio = { timestamp_us, { packet, len } },
    };

    if (p->caps & CRP_CAP_AUDIO_OUT) {
        crp_peer_send(p, &m);
    }
}

void crp_peer_send_clipboard_grab(CrpPeer *p, uint32_t serial,
                                  uint8_t formats)
{
    CrpMessage m = {
        .type = CRP_MSG_CLIPBOARD_GRAB,
        .clipboard_grab = { serial, formats },
    };

    if (p->caps & CRP_CAP_CLIPBOARD) {
        crp_peer_send(p, &m);
    }
}

void crp_peer_send_clipboard_request(CrpPeer *p, uint32_t serial,
                                     uint8_t format)
{
    CrpMessage m = {
        .type = CRP_MSG_CLIPBOARD_REQUEST,
        .clipboard_request = { serial, format },
    };

    if (p->caps & CRP_CAP_CLIPBOARD) {
        crp_clipboard_in_expect(p->clip_in, serial, format);
        crp_peer_send(p, &m);
    }
}

/* All chunks at once: at most 16 MiB, under the output's hard cap; the
 * link's rate control holds frames back until they are through. A peer
 * that asks again and again without reading would make us queue 16 MiB
 * each time: past the hard cap it is dropped at once, not at the next
 * tick. */
void crp_peer_send_clipboard_data(CrpPeer *p, uint32_t serial, uint8_t format,
                                  uint8_t status, GBytes *content)
{
    g_autoptr(CrpClipboardOut) out = NULL;
    size_t size = content ? g_bytes_get_size(content) : 0;
    CrpMessage m;

    if (!(p->caps & CRP_CAP_CLIPBOARD) || p->closed || !p->ready) {
        return;
    }
    if (crp_channel_output_pending(p->channel) + MIN(size, CRP_MAX_CLIPBOARD) >
        CRP_OUTPUT_HARD_CAP) {
        crp_peer_disconnect(p, CRP_STATUS_TIMEOUT,
                            "client asks for the clipboard without reading");
        return;
    }
    out = status == CRP_CLIPBOARD_OK
          ? crp_clipboard_out_new(serial, format, content)
          : crp_clipboard_out_new_refusal(serial, format, status);
    while (crp_clipboard_out_next(out, &m)) {
        crp_channel_send(p->channel, &m, NULL);
    }
    crp_channel_flush(p->channel);
    crp_peer_write(p);
}

/* Once a second: measure round trips, drop peers that stopped reading. */
void crp_peer_tick(CrpPeer *p, int64_t now_us)
{
    if (!p->ready) {
        return;
    }
    if (crp_channel_output_pending(p->channel) > CRP_OUTPUT_HARD_CAP ||
        (crp_channel_output_pending(p->channel) > 0 &&
         now_us - p->last_progress_us > CRP_STALL_TIMEOUT_S * G_USEC_PER_SEC)) {
        crp_peer_disconnect(p, CRP_STATUS_TIMEOUT, "client stopped reading");
        return;
    }
    if (p->fps_window_us) {
        p->fps = p->fps_frames * (double)G_USEC_PER_SEC / (now_us - p->fps_window_us);
    }
    p->fps_window_us = now_us;
    p->fps_frames = 0;
    if (!p->ping_sent_us) {
        CrpMessage ping = { .type = CRP_MSG_PING, .ping = { ++p->ping_id, now_us } };
        p->ping_sent_us = now_us;
        crp_peer_send(p, &ping);
    }
}

CrpClientInfo *crp_peer_info(CrpPeer *p)
{
    CrpClientInfo *info = g_new0(CrpClientInfo, 1);

    info->id = p->id;
    info->address = g_strdup(p->address);
    info->connected_since = p->connected_since;
    info->bytes_in = crp_peer_bytes_in(p);
    info->bytes_out = crp_peer_bytes_out(p);
    info->frames_sent = p->frames_sent;
    info->fps = p->fps;
    info->rtt_ms = p->rtt_ms;
    info->input_latency_ms = p->input_latency_ms;
    if (p->channel) {
        CrpRateStats st;

        crp_rate_get_stats(p->rate, crp_peer_queued_end(p),
                           g_get_monotonic_time(), &st);
        info->link_rate_bps = st.rate_bps;
        info->link_rtt_ms = st.min_rtt_us / 1000.0;
        info->bytes_in_flight = st.in_flight;
        info->bytes_in_flight_max = st.window;
        info->jpeg_quality = st.jpeg_quality;
        info->link_limited = st.limited;
    }
    return info;
}

CrpPeer *crp_peer_new(QIOChannelSocket *sioc, const CrpPeerConfig *cfg,
                      const CrpPeerEvents *events, void *opaque)
{
    CrpPeer *p = g_new0(CrpPeer, 1);
    g_autoptr(SocketAddress) addr = qio_channel_socket_get_remote_address(sioc, NULL);

    p->refcount = 1;
    p->events = events;
    p->opaque = opaque;
    p->con = cfg->con;
    p->clipboard = cfg->clipboard;
    p->clip_in = crp_clipboard_in_new();
    p->rate = crp_rate_new(&(CrpRateConfig) {
        .max_quality = cfg->max_quality,
    });
    p->unwritten = g_array_new(false, false, sizeof(CrpPeerFrame));
    p->next_frame_id = 1;       /* acked_frame_id 0: nothing acknowledged */
    p->id = cfg->id;
    p->connected_since = g_get_real_time() / G_USEC_PER_SEC;
    if (addr && addr->type == SOCKET_ADDRESS_TYPE_INET) {
        p->address = g_strdup_printf("%s:%s", addr->u.inet.host, addr->u.inet.port);
        p->origin = g_strdup(addr->u.inet.host);
    } else {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        p->address = g_strdup(cfg->listen_addr);
        p->origin = getsockopt(sioc->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ?
                    g_strdup_printf("uid %u", (unsigned)cred.uid) : g_strdup("local");
    }
    p->sioc = sioc;
    object_ref(OBJECT(sioc));
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    p->handshake_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                      crp_peer_handshake_timeout, p);
    timer_mod(p->handshake_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              CRP_HANDSHAKE_TIMEOUT_S * 1000);
    crp_peer_watch(p, G_IO_IN | G_IO_HUP | G_IO_ERR);
    trace_crp_peer_connect(p->id, p->address, p->origin);
    return p;
}
