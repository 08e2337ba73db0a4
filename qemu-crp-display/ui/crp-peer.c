/*
 * CRP display: one client connection.
 *
 * Bytes from the socket go into the client's libcrp channel; its events
 * become QEMU input, acknowledgements and QMP events. Output is written
 * as far as the socket takes it and the rest waits for G_IO_OUT. A
 * client that breaks the protocol, fails its handshake or stops reading
 * is disconnected with a reason; nothing it sends can stop the others.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/qapi-events-ui.h"
#include "crp-int.h"
#include "crp-input.h"

#include "crp/crp-error.h"

#define CRP_READ_CHUNK 65536

static gboolean crp_peer_io(QIOChannel *ioc, GIOCondition cond,
                              gpointer opaque);

CrpPeer *crp_peer_ref(CrpPeer *c)
{
    c->refcount++;
    return c;
}

void crp_peer_unref(CrpPeer *c)
{
    if (!c || --c->refcount > 0) {
        return;
    }
    crp_group_remove(c);
    crp_rate_free(c->rate);
    crp_channel_free(c->channel);
    g_free(c->offered_ticket);
    g_free(c->address);
    g_free(c->peer);
    g_free(c);
}

static void crp_peer_watch(CrpPeer *c, GIOCondition cond)
{
    if (c->watch && c->watch_cond == cond) {
        return;
    }
    if (c->watch) {
        g_source_remove(c->watch);
    }
    c->watch_cond = cond;
    c->watch = qio_channel_add_watch(QIO_CHANNEL(c->sioc), cond,
                                     crp_peer_io, c, NULL);
}

/* Writes what the socket takes; returns false if the connection broke. */
static bool crp_peer_write(CrpPeer *c)
{
    while (c->channel && crp_channel_output_pending(c->channel) > 0) {
        gsize len;
        const guint8 *data = crp_channel_peek_output(c->channel, &len);
        ssize_t n = qio_channel_write(QIO_CHANNEL(c->sioc), (const char *)data,
                                      len, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            break;
        }
        if (n < 0) {
            return false;
        }
        crp_channel_consume_output(c->channel, n);
        c->last_progress_us = g_get_monotonic_time();
    }
    if (!c->closed) {
        bool pending = c->channel && crp_channel_output_pending(c->channel) > 0;
        crp_peer_watch(c, G_IO_IN | G_IO_HUP | G_IO_ERR |
                            (pending ? G_IO_OUT : 0));
    }
    return true;
}

void crp_peer_send(CrpPeer *c, const CrpMessage *msg)
{
    if (c->closed || !c->ready) {
        return;
    }
    crp_channel_send(c->channel, msg, NULL);
    crp_channel_flush(c->channel);
    crp_peer_write(c);
}

void crp_peer_disconnect(CrpPeer *c, guint16 status, const char *reason)
{
    CrpServer *s = c->server;
    bool was_ready = c->ready;

    if (c->closed) {
        return;
    }
    c->closed = true;
    if (c->channel) {
        /* A last word for the peer, if the socket takes it at once. */
        crp_channel_close(c->channel, status, reason);
        crp_peer_write(c);
    }
    if (c->watch) {
        g_source_remove(c->watch);
        c->watch = 0;
    }
    timer_free(c->handshake_timer);
    c->handshake_timer = NULL;
    if (c->kbd) {
        qkbd_state_lift_all_keys(c->kbd);
        qkbd_state_free(c->kbd);
        c->kbd = NULL;
    }
    crp_input_release_buttons(c->head->dcl.con, &c->buttons);
    c->ready = false;
    /* Off its group now: the group's next frames are not for it. */
    crp_group_remove(c);
    qio_channel_close(QIO_CHANNEL(c->sioc), NULL);
    object_unref(OBJECT(c->sioc));
    c->sioc = NULL;
    if (was_ready) {
        qapi_event_send_crp_disconnected(c->id, c->address, reason);
    }
    crp_server_remove_client(s, c);
    crp_peer_unref(c);
}

static void crp_peer_handshake_timeout(void *opaque)
{
    CrpPeer *c = opaque;

    crp_peer_disconnect(c, CRP_STATUS_TIMEOUT,
                          "handshake not completed in time");
}

/* ---- protocol ------------------------------------------------------- */

static void crp_peer_ready(CrpPeer *c, uint32_t caps)
{
    CrpServer *s = c->server;

    c->ready = true;
    c->caps = caps;
    timer_free(c->handshake_timer);
    c->handshake_timer = NULL;
    c->kbd = qkbd_state_init(c->head->dcl.con);
    /* Key events reach the guest no faster than one per CRP_KEY_DELAY_MS:
     * a PS/2 keyboard queues 16 bytes, and a busy guest that has not read
     * them loses the rest of a burst (typed text, a paste) -- as QEMU's
     * VNC server does with its key-delay-ms. */
    qkbd_state_set_delay(c->kbd, CRP_KEY_DELAY_MS);
    c->last_progress_us = g_get_monotonic_time();
    qapi_event_send_crp_connected(c->id, c->address);
    if (s->audio && s->audio->playback_active && (caps & CRP_CAP_AUDIO_OUT)) {
        CrpMessage fmt = {
            .type = CRP_MSG_AUDIO_FORMAT,
            .audio_format = { CRP_AUDIO_CODEC_OPUS, s->audio->channels, 48000 },
        };
        crp_peer_send(c, &fmt);
    }
    crp_head_client_joined(c->head, c);
}

/* Times one input event at a time: from its arrival to the first frame
 * captured after it was applied (see crp_peer_send_frame()). */
static void crp_peer_input_applied(CrpPeer *c, uint32_t serial)
{
    c->input_serial = serial;
    if (!c->probe_us) {
        c->probe_serial = serial;
        c->probe_us = g_get_monotonic_time();
    }
    crp_head_input(c->head);
}

static void crp_peer_message(CrpPeer *c, const CrpMessage *m)
{
    CrpServer *s = c->server;

    switch (m->type) {
    case CRP_MSG_KEY:
        crp_input_key(c->kbd, &m->key);
        crp_peer_input_applied(c, m->key.serial);
        break;
    case CRP_MSG_POINTER:
        crp_input_pointer(c->head->dcl.con, &c->buttons, &m->pointer);
        crp_peer_input_applied(c, m->pointer.serial);
        break;
    case CRP_MSG_WHEEL:
        crp_input_wheel(c->head->dcl.con, &m->wheel);
        crp_peer_input_applied(c, m->wheel.serial);
        break;
    case CRP_MSG_FRAME_ACK:
        /* Acks for frames never sent are ignored, not trusted. */
        if ((int32_t)(m->frame_ack.frame_id - c->acked_frame_id) > 0 &&
            (int32_t)(c->next_frame_id - m->frame_ack.frame_id) > 0) {
            c->acked_frame_id = m->frame_ack.frame_id;
            crp_rate_frame_acked(c->rate, m->frame_ack.frame_id,
                                 g_get_monotonic_time());
        }
        break;
    case CRP_MSG_PONG:
        if (m->ping.id == c->ping_id && c->ping_sent_us) {
            int64_t now_us = g_get_monotonic_time();
            double rtt = (now_us - c->ping_sent_us) / 1000.0;
            c->rtt_ms = c->rtt_ms ? 0.8 * c->rtt_ms + 0.2 * rtt : rtt;
            crp_rate_rtt_sample(c->rate, now_us - c->ping_sent_us, now_us);
            c->ping_sent_us = 0;
        }
        break;
    case CRP_MSG_AUDIO_IN:
        if ((c->caps & CRP_CAP_AUDIO_IN) && s->audio && s->audio->mic_packet) {
            s->audio->mic_packet(s->audio->audio_opaque, m->audio.packet.data,
                                 m->audio.packet.len);
        }
        break;
    case CRP_MSG_RESIZE_REQUEST:
        if (c->caps & CRP_CAP_RESIZE) {
            crp_input_resize(c->head->dcl.con, &m->resize);
        }
        break;
    case CRP_MSG_CLOSE_APP:
        qapi_event_send_crp_close_requested(c->id);
        break;
    default:
        break;              /* BYE: the CLOSED event follows */
    }
}

/* Runs the channel's events; false if the client was disconnected. */
static bool crp_peer_process(CrpPeer *c)
{
    CrpEvent ev;
    CrpEventType t;
    g_autoptr(GError) error = NULL;

    while ((t = crp_channel_next_event(c->channel, &ev, &error)) > CRP_EVENT_NONE) {
        switch (t) {
        case CRP_EVENT_AUTHORIZE: {
            guint16 status = CRP_STATUS_OK;
            const char *why = NULL;
            crp_server_admit(c->server, c, &status, &why);
            crp_channel_authorize(c->channel, status, why, NULL);
            if (status != CRP_STATUS_OK) {
                crp_peer_write(c);
                crp_peer_disconnect(c, status, why);
                return false;
            }
            break;
        }
        case CRP_EVENT_READY:
            crp_peer_ready(c, ev.capabilities);
            break;
        case CRP_EVENT_MESSAGE:
            crp_peer_message(c, &ev.message);
            break;
        case CRP_EVENT_CLOSED:
            crp_peer_disconnect(c, CRP_STATUS_OK, "client closed the connection");
            return false;
        default:
            break;
        }
        if (c->closed) {
            return false;
        }
    }
    if (t == CRP_EVENT_ERROR) {
        /* The channel queued a BYE or REJECT saying why; send it. */
        crp_peer_write(c);
        crp_peer_disconnect(c, CRP_STATUS_BAD_REQUEST, error->message);
        return false;
    }
    return true;
}

static bool crp_peer_read(CrpPeer *c)
{
    g_autofree guint8 *buf = g_malloc(CRP_READ_CHUNK);

    for (int i = 0; i < CRP_READS_PER_WAKEUP; i++) {
        ssize_t n = qio_channel_read(QIO_CHANNEL(c->sioc), (char *)buf,
                                     CRP_READ_CHUNK, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return true;
        }
        if (n <= 0) {
            crp_peer_disconnect(c, CRP_STATUS_OK,
                                  n == 0 ? "connection closed by the client"
                                         : "connection error");
            return false;
        }
        if (!c->channel) {
            /* The ticket is fixed when the client speaks, not at accept. */
            crp_server_ticket_for_client(c->server, c);
            CrpChannelConfig cfg = {
                .kind = CRP_CHANNEL_DISPLAY,
                .role = CRP_ROLE_SERVER,
                .ticket = c->offered_ticket,
                .capabilities = CRP_CAP_DISPLAY_ALL,
                .software = "qemu-crp " QEMU_VERSION,
            };
            c->channel = crp_channel_new(&cfg, NULL);
        }
        crp_channel_receive(c->channel, buf, n);
        if (!crp_peer_process(c)) {
            return false;
        }
    }
    return true;
}

static gboolean crp_peer_io(QIOChannel *ioc, GIOCondition cond,
                              gpointer opaque)
{
    CrpPeer *c = crp_peer_ref(opaque);

    /* This source ends when we return; crp_peer_write() adds the next. */
    c->watch = 0;
    if (cond & G_IO_IN) {
        crp_peer_read(c);
    } else if (cond & (G_IO_HUP | G_IO_ERR)) {
        crp_peer_disconnect(c, CRP_STATUS_OK, "connection closed by the client");
    }
    if (!c->closed && !crp_peer_write(c)) {
        crp_peer_disconnect(c, CRP_STATUS_OK, "connection error");
    }
    /* The watch was replaced or removed along the way: this one ends. */
    crp_peer_unref(c);
    return G_SOURCE_REMOVE;
}

/* ---- frames ----------------------------------------------------------- */

/* Every byte queued for the client so far (see crp-rate.h). */
static uint64_t crp_peer_queued_end(CrpPeer *c)
{
    return crp_channel_bytes_out(c->channel) +
           crp_channel_output_pending(c->channel);
}

/* Whether its link has room for a frame now: its window and pacing
 * (crp-rate.h). The first frame captured after input it sent may answer
 * it: that one skips the pacing (the guest usually draws its answer
 * within a refresh; a later answer goes at the link's pace). */
bool crp_peer_wants_frame(CrpPeer *c, int64_t now_us)
{
    bool interactive = c->input_serial != c->frame_serial;

    return c->ready && !c->closed &&
           crp_channel_output_pending(c->channel) < CRP_OUTPUT_SOFT_CAP &&
           crp_rate_frame_wait_us(c->rate, crp_peer_queued_end(c),
                                  interactive, now_us) == 0;
}

/* Every frame it was sent is acknowledged, and its link has held nothing
 * back lately: merging it with others would not hold them back. */
bool crp_peer_caught_up(CrpPeer *c, int64_t now_us)
{
    return c->next_frame_id - 1 == c->acked_frame_id &&
           crp_channel_output_pending(c->channel) == 0 &&
           !crp_rate_limited(c->rate, now_us);
}

/* Sends the frame encoded for @c's group: only the encryption is its own. */
void crp_peer_send_frame(CrpPeer *c, const guint8 *data, gsize len)
{
    int64_t now_us = g_get_monotonic_time();
    CrpMessage end = {
        .type = CRP_MSG_FRAME_END,
        .frame_end = {
            .frame_id = c->next_frame_id,
            .input_serial = c->capture_serial,
            .capture_us = c->capture_us,
            .encode_us = MIN(now_us - c->capture_us, G_MAXUINT32),
        },
    };

    uint64_t start = crp_peer_queued_end(c);
    uint64_t end_of_frame;

    if (!crp_channel_send_encoded(c->channel, data, len, NULL)) {
        crp_peer_disconnect(c, CRP_STATUS_INTERNAL, "encoder output rejected");
        return;
    }
    if (c->probe_us && (int32_t)(c->capture_serial - c->probe_serial) >= 0) {
        double ms = (now_us - c->probe_us) / 1000.0;
        c->input_latency_ms = c->input_latency_ms ?
            0.8 * c->input_latency_ms + 0.2 * ms : ms;
        c->probe_us = 0;
    }
    crp_channel_send(c->channel, &end, NULL);
    crp_channel_flush(c->channel);
    end_of_frame = crp_peer_queued_end(c);
    crp_rate_frame_sent(c->rate, c->next_frame_id, end_of_frame - start,
                        end_of_frame, now_us);
    c->frame_serial = c->capture_serial;
    c->next_frame_id++;
    c->frames_sent++;
    c->fps_frames++;
    crp_peer_write(c);
}

void crp_peer_send_cursor(CrpPeer *c)
{
    CrpHead *h = c->head;
    QEMUCursor *cur = h->cursor;
    g_autofree uint8_t *pixels = NULL;
    CrpMessage shape = { .type = CRP_MSG_CURSOR_SHAPE };

    if (!(c->caps & CRP_CAP_CURSOR)) {
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
    crp_peer_send(c, &shape);
    CrpMessage pos = {
        .type = CRP_MSG_CURSOR_POS,
        .cursor_pos = { MAX(h->mouse_x, 0), MAX(h->mouse_y, 0), h->mouse_on },
    };
    crp_peer_send(c, &pos);
}

void crp_peer_send_audio(CrpPeer *c, const uint8_t *packet, size_t len,
                           uint64_t timestamp_us)
{
    CrpMessage m = {
        .type = CRP_MSG_AUDIO_OUT,
        .audio = { timestamp_us, { packet, len } },
    };

    if (c->caps & CRP_CAP_AUDIO_OUT) {
        crp_peer_send(c, &m);
    }
}

/* Once a second: measure round trips, drop clients that stopped reading. */
void crp_peer_tick(CrpPeer *c, int64_t now_us)
{
    if (!c->ready) {
        return;
    }
    if (crp_channel_output_pending(c->channel) > CRP_OUTPUT_HARD_CAP ||
        (crp_channel_output_pending(c->channel) > 0 &&
         now_us - c->last_progress_us > CRP_STALL_TIMEOUT_S * G_USEC_PER_SEC)) {
        crp_peer_disconnect(c, CRP_STATUS_TIMEOUT, "client stopped reading");
        return;
    }
    if (c->fps_window_us) {
        c->fps = c->fps_frames * (double)G_USEC_PER_SEC / (now_us - c->fps_window_us);
    }
    c->fps_window_us = now_us;
    c->fps_frames = 0;
    if (!c->ping_sent_us) {
        CrpMessage ping = { .type = CRP_MSG_PING, .ping = { ++c->ping_id, now_us } };
        c->ping_sent_us = now_us;
        crp_peer_send(c, &ping);
    }
}

CrpClientInfo *crp_peer_info(CrpPeer *c)
{
    CrpClientInfo *info = g_new0(CrpClientInfo, 1);

    info->id = c->id;
    info->address = g_strdup(c->address);
    info->connected_since = c->connected_since;
    info->bytes_in = c->channel ? crp_channel_bytes_in(c->channel) : 0;
    info->bytes_out = c->channel ? crp_channel_bytes_out(c->channel) : 0;
    info->frames_sent = c->frames_sent;
    info->fps = c->fps;
    info->rtt_ms = c->rtt_ms;
    info->input_latency_ms = c->input_latency_ms;
    if (c->channel) {
        CrpRateStats st;

        crp_rate_get_stats(c->rate, crp_peer_queued_end(c),
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

CrpPeer *crp_peer_new(CrpServer *s, CrpHead *h, QIOChannelSocket *sioc)
{
    CrpPeer *c = g_new0(CrpPeer, 1);
    g_autofree char *peer = NULL;
    g_autoptr(SocketAddress) addr = qio_channel_socket_get_remote_address(sioc, NULL);

    c->refcount = 1;
    c->server = s;
    c->rate = crp_rate_new(&(CrpRateConfig) {
        .max_quality = s->lossless ? 0 : s->jpeg_quality,
    });
    c->next_frame_id = 1;       /* acked_frame_id 0: nothing acknowledged */
    c->head = h;
    c->id = ++s->next_client_id;
    c->connected_since = g_get_real_time() / G_USEC_PER_SEC;
    if (addr && addr->type == SOCKET_ADDRESS_TYPE_INET) {
        c->address = g_strdup_printf("%s:%s", addr->u.inet.host, addr->u.inet.port);
        c->peer = g_strdup(addr->u.inet.host);
    } else {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        c->address = g_strdup(s->addr);
        c->peer = getsockopt(sioc->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ?
                  g_strdup_printf("uid %u", (unsigned)cred.uid) : g_strdup("local");
    }
    c->sioc = sioc;
    object_ref(OBJECT(sioc));
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    c->handshake_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                      crp_peer_handshake_timeout, c);
    timer_mod(c->handshake_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              CRP_HANDSHAKE_TIMEOUT_S * 1000);
    crp_peer_watch(c, G_IO_IN | G_IO_HUP | G_IO_ERR);
    return c;
}
