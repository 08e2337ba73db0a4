/*
 * CRP display: one connection (a peer) of ui-crp.so.
 *
 * A peer is a leaf: it owns its socket, its libcrp channel, its link's
 * rate control and its input state, and reports everything its owner
 * must act on through the CrpPeerEvents the owner hands to
 * crp_peer_new(). It never calls the server, a head or a group; they
 * call it (module -> server -> head -> group/peer).
 *
 *   static const CrpPeerEvents events = {
 *       .admit = my_admit, .ready = my_ready, .closed = my_closed, ...
 *   };
 *   CrpPeer *p = crp_peer_new(sioc, &cfg, &events, owner);
 *   ...
 *   crp_peer_disconnect(p, CRP_STATUS_SESSION_ENDED, "bye");
 *       -> events.closed(p, owner): the owner drops it from its lists
 *          and unrefs the reference crp_peer_new() gave it.
 *
 * Threads: every function here and every event runs in the main loop
 * with the BQL held. The encoder worker never sees a peer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_PEER_H
#define UI_CRP_PEER_H

#include "io/channel-socket.h"
#include "ui/console.h"
#include "qapi/qapi-types-ui.h"

#include "crp/crp-encoder.h"
#include "crp/crp-channel.h"     /* CRP_CAP_* */
#include "crp/crp-message.h"

typedef struct CrpPeer CrpPeer;

typedef struct CrpPeerConfig {
    int64_t id;                     /* query-crp's and the events' id */
    const char *listen_addr;        /* its address, on a unix socket */
    QemuConsole *con;               /* where its input goes */
    int max_quality;                /* JPEG quality cap, 0: lossless */
    bool clipboard;                 /* offer CRP_CAP_CLIPBOARD */
} CrpPeerConfig;

/* A clipboard message it sent (only with CRP_CAP_CLIPBOARD). */
typedef struct CrpPeerClipboard {
    uint8_t type;                   /* CRP_MSG_CLIPBOARD_GRAB, _REQUEST, _DATA */
    uint32_t serial;
    uint8_t formats;                /* GRAB: CRP_CLIPBOARD_* bits; else one */
    uint8_t status;                 /* DATA: CrpClipboardStatus */
    GBytes *content;                /* DATA with OK: the whole, checked */
} CrpPeerClipboard;

/*
 * What a peer reports to its owner. Each gets the owner's @opaque; all
 * must be set. A peer may be disconnected from within any of them
 * (crp_peer_disconnect()), and then no further event comes but closed.
 */
typedef struct CrpPeerEvents {
    /* It spoke first: the ticket its handshake must prove (newly
     * allocated; "" for none needed, NULL if no ticket is valid now). */
    char *(*ticket)(CrpPeer *p, void *opaque);
    /* It proved @ticket (what ticket() returned): admit it (true), or
     * set *@status and *@why (static) and return false. */
    bool (*admit)(CrpPeer *p, const char *ticket, guint16 *status,
                  const char **why, void *opaque);
    /* Handshake done: frames may flow (CRP_CONNECTED has been sent). */
    void (*ready)(CrpPeer *p, void *opaque);
    /* It sent input that was applied to the console. */
    void (*input)(CrpPeer *p, void *opaque);
    /* One Opus packet of its microphone (only with CRP_CAP_AUDIO_IN). */
    void (*audio_in)(CrpPeer *p, const uint8_t *packet, size_t len,
                     void *opaque);
    /* It grabbed its clipboard, asked for ours, or answered our
     * crp_peer_send_clipboard_request() (the answer complete). */
    void (*clipboard)(CrpPeer *p, const CrpPeerClipboard *ev, void *opaque);
    /* It is disconnected, once, last thing: the owner takes it off
     * every list and drops its reference. */
    void (*closed)(CrpPeer *p, void *opaque);
} CrpPeerEvents;

/* Takes over @sioc (a reference) and waits for the handshake; the owner
 * holds the one reference returned. */
CrpPeer *crp_peer_new(QIOChannelSocket *sioc, const CrpPeerConfig *cfg,
                      const CrpPeerEvents *events, void *opaque);
CrpPeer *crp_peer_ref(CrpPeer *p);
/* Accepts NULL. */
void crp_peer_unref(CrpPeer *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpPeer, crp_peer_unref)

/* Says why (@status, @reason) if the socket takes it, closes it and
 * reports closed. Does nothing if it is closed already. */
void crp_peer_disconnect(CrpPeer *p, guint16 status, const char *reason);

int64_t crp_peer_get_id(CrpPeer *p);
/* Who, for the limits on pending handshakes: an IP address, or a local
 * user ("uid N") on a unix socket. */
const char *crp_peer_get_origin(CrpPeer *p);
/* Handshake done and not disconnected. */
bool crp_peer_is_ready(CrpPeer *p);
/* CRP_CAP_* agreed in the handshake. */
uint32_t crp_peer_get_caps(CrpPeer *p);
uint64_t crp_peer_bytes_in(CrpPeer *p);
uint64_t crp_peer_bytes_out(CrpPeer *p);
uint64_t crp_peer_frames_sent(CrpPeer *p);
/* query-crp's entry for it. */
CrpClientInfo *crp_peer_info(CrpPeer *p);

/* Sends @msg if it is ready (else drops it). */
void crp_peer_send(CrpPeer *p, const CrpMessage *msg);
/* Sends @cur (NULL or too large: none) and where it is, if it can draw
 * a cursor. */
void crp_peer_send_cursor(CrpPeer *p, QEMUCursor *cur, int x, int y,
                          bool on);
void crp_peer_send_audio(CrpPeer *p, const uint8_t *packet, size_t len,
                         uint64_t timestamp_us);

/* Clipboard, if CRP_CAP_CLIPBOARD was agreed (else nothing is sent).
 * Our clipboard holds @formats now, named @serial. */
void crp_peer_send_clipboard_grab(CrpPeer *p, uint32_t serial,
                                  uint8_t formats);
/* Asks for @format of its content @serial; the answer comes as the
 * clipboard event (DATA). */
void crp_peer_send_clipboard_request(CrpPeer *p, uint32_t serial,
                                     uint8_t format);
/* Answers its request: @content (NULL: NONE; over CRP_MAX_CLIPBOARD:
 * TOO_LARGE), or the refusal @status when it is not CRP_CLIPBOARD_OK. */
void crp_peer_send_clipboard_data(CrpPeer *p, uint32_t serial, uint8_t format,
                                  uint8_t status, GBytes *content);

/* Frames. Whether its link has room for a frame now (crp-rate.h). */
bool crp_peer_wants_frame(CrpPeer *p, int64_t now_us);
/* Everything sent is acknowledged and the link held nothing back. */
bool crp_peer_caught_up(CrpPeer *p, int64_t now_us);
/* The frame about to be encoded for it was captured at @now_us, after
 * the input it sent so far. */
void crp_peer_mark_capture(CrpPeer *p, int64_t now_us);
/* What its link allows a frame now. */
void crp_peer_get_encoder_rate(CrpPeer *p, int64_t now_us,
                               CrpEncoderRate *rate);
/* Sends @data, a frame encoded for its group, and FRAME_END; does
 * nothing once it is disconnected. */
void crp_peer_send_frame(CrpPeer *p, const guint8 *data, gsize len);

/* Once a second: pings, and disconnects it if it stopped reading. */
void crp_peer_tick(CrpPeer *p, int64_t now_us);

#endif /* UI_CRP_PEER_H */
