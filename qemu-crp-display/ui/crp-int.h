/*
 * CRP display (-display crp): internal interfaces of ui-crp.so.
 *
 *   crp.c         options, the listening socket, tickets, QMP, registration
 *   crp-head.c    one DisplayChangeListener per graphic console: the
 *                 server framebuffer, damage, the encoder worker thread,
 *                 which clients share an encoding
 *   crp-group.c   one encoding shared by the clients at the same point
 *   crp-peer.c  one connection: the libcrp channel, flow control
 *   crp-input.c   its input messages as QEMU input events (crp-input.h)
 *
 * Threads: everything runs in the main loop with the BQL, except
 * crp_head's worker, which encodes from the head's framebuffer and the
 * groups' encoder state while head->busy is set; the main loop does not
 * touch those, nor change which clients are in which group, until the
 * worker hands the job back through a bottom half.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_INT_H
#define UI_CRP_INT_H

#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "io/channel-socket.h"
#include "io/net-listener.h"
#include "ui/console.h"
#include "ui/kbd-state.h"
#include "ui/crp-module.h"

#include "crp/crp-capture.h"
#include "crp/crp-channel.h"
#include "crp/crp-encoder.h"
#include "crp/crp-rate.h"

typedef struct CrpServer CrpServer;
typedef struct CrpHead CrpHead;
typedef struct CrpPeer CrpPeer;
typedef struct CrpGroup CrpGroup;

/* Output a client may have queued before it is skipped (frames only);
 * its link's rate control (crp-rate.h) normally holds it far below. */
#define CRP_OUTPUT_SOFT_CAP (4 * 1024 * 1024)
/* Output past which a client that does not read is dropped. */
#define CRP_OUTPUT_HARD_CAP (64 * 1024 * 1024)
/* Groups whose clients have all caught up merge (at the price of a full
 * refresh for all of them) at most this often. */
#define CRP_GROUP_MERGE_INTERVAL_US (5 * G_USEC_PER_SEC)
/* Milliseconds between key events handed to the guest (see crp-peer.c). */
#define CRP_KEY_DELAY_MS 10
/* Seconds a client gets to finish its handshake (one round trip for a
 * real client), or to make progress. */
#define CRP_HANDSHAKE_TIMEOUT_S 5
#define CRP_STALL_TIMEOUT_S 15
/* Connections still in their handshake, beyond max-clients, and of them
 * those from one peer (an IP address, or a local user on a unix socket).
 * Past either, a new connection takes the place of the oldest such
 * connection of the busiest peer: idle connections cannot keep a client
 * that holds a ticket out (see crp_accept()). */
#define CRP_MAX_PENDING 8
#define CRP_MAX_PENDING_PER_PEER 4
/* Socket reads per wakeup, so that a flooding client cannot starve the
 * main loop (the rest waits for the next wakeup). */
#define CRP_READS_PER_WAKEUP 8

struct CrpServer {
    /* Options. */
    char *addr;
    char *audiodev;
    unsigned max_clients;
    bool disable_ticketing;
    unsigned refresh_ms;
    bool lossless;
    int jpeg_quality;

    QIONetListener *listener;
    GPtrArray *heads;               /* CrpHead *, one per graphic console */
    QTAILQ_HEAD(, CrpPeer) clients;
    int64_t next_client_id;
    QEMUTimer *tick;                /* once a second: pings, stalls */

    char *ticket;                   /* NULL: none valid */
    int64_t ticket_expires_ms;      /* QEMU_CLOCK_REALTIME, 0: never */

    CrpAudioPeer *audio;            /* the crp audiodev, if any */

    /* What clients that have gone sent and received: query-crp's totals
     * count every client since start, for the management layer's usage
     * records. */
    uint64_t departed_bytes_in, departed_bytes_out, departed_frames;
};

struct CrpHead {
    DisplayChangeListener dcl;
    CrpServer *server;
    DisplaySurface *surface;
    pixman_image_t *fb;             /* server framebuffer (x8r8g8b8) */
    CrpCapture *capture;            /* guest damage not yet in fb */
    int idle_refreshes;
    int64_t input_us;               /* last client input (pacing) */
    int64_t changing_since_us;      /* change every refresh since; 0: not */

    /* Worker. */
    QemuThread thread;
    QemuMutex lock;
    QemuCond cond;
    QEMUBH *done_bh;
    bool busy;                      /* main loop: a job is out, results not back */
    bool job_queued;                /* under lock: set by the main loop,
                                       taken by the worker */
    GPtrArray *job;                 /* CrpGroup * being encoded (refs) */
    int64_t job_now_us;

    GPtrArray *groups;              /* CrpGroup * (refs), see crp-group.c */
    int64_t last_merge_us;
    /* Where fb is behind after it traded places with a group's picture
     * (crp_head_worker()), and the image that has those pixels; the
     * worker copies them back at the start of the next job. Captures
     * make it smaller. Worker-owned while busy. */
    pixman_region32_t stale;
    pixman_image_t *stale_src;

    /* Cursor, replayed to clients that join. */
    QEMUCursor *cursor;
    int mouse_x, mouse_y;
    bool mouse_on;
};

struct CrpPeer {
    int refcount;
    CrpServer *server;
    CrpHead *head;
    int64_t id;
    char *address;
    char *peer;                     /* who, for the pending limits */
    int64_t connected_since;        /* Unix seconds */
    QTAILQ_ENTRY(CrpPeer) next;

    QIOChannelSocket *sioc;
    guint watch;
    GIOCondition watch_cond;
    CrpChannel *channel;            /* created at the first byte */
    char *offered_ticket;           /* the ticket its channel expects */
    bool ready;                     /* handshake done, frames may flow */
    uint32_t caps;                  /* CRP_CAP_* agreed in the handshake */
    bool closed;                    /* disconnected; freed at last unref */
    QEMUTimer *handshake_timer;

    QKbdState *kbd;
    uint32_t buttons;
    uint32_t input_serial;          /* last input event applied */

    /* Whose encoding it receives; NULL until it joins one (crp-head.c). */
    CrpGroup *group;
    bool need_surface;              /* send SURFACE before the next frame */
    int64_t capture_us;
    uint32_t capture_serial;

    /* Flow control and statistics. */
    CrpRate *rate;                  /* the link's rate, window and pacing */
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

/* One encoding and the clients that receive it (crp-group.c). */
struct CrpGroup {
    int refcount;
    uint32_t caps;                  /* crp_group_caps_of() its members */
    GPtrArray *members;             /* CrpPeer *, not referenced */
    /* Worker-owned while in head->job. */
    CrpEncoder *enc;
    pixman_image_t *prev;           /* what the members have on screen */
    pixman_region32_t damage;       /* changed since their last frame */
    bool need_full;                 /* next frame whole, zlib afresh */
    GByteArray *encoded;
};

/* crp.c */
void crp_server_ticket_for_client(CrpServer *s, CrpPeer *c);
bool crp_server_admit(CrpServer *s, CrpPeer *c, guint16 *status,
                      const char **why);
void crp_server_remove_client(CrpServer *s, CrpPeer *c);

/* crp-head.c */
CrpHead *crp_head_new(CrpServer *s, QemuConsole *con);
void crp_head_wake(CrpHead *h);
/* A client's input was applied: frames at the full rate for a while. */
void crp_head_input(CrpHead *h);
void crp_head_client_joined(CrpHead *h, CrpPeer *c);

/* crp-group.c */
uint32_t crp_group_caps_of(uint32_t client_caps);
CrpGroup *crp_group_new(CrpServer *s, uint32_t caps);
CrpGroup *crp_group_fork(CrpGroup *from);
CrpGroup *crp_group_ref(CrpGroup *g);
void crp_group_unref(CrpGroup *g);
void crp_group_add(CrpGroup *g, CrpPeer *c);
void crp_group_remove(CrpPeer *c);
void crp_group_set_rate(CrpGroup *g, int64_t now_us);
void crp_group_encode(CrpGroup *g, pixman_image_t *fb, int64_t now_us);
void crp_group_commit(CrpGroup *g, pixman_image_t *fb);

/* crp-peer.c */
CrpPeer *crp_peer_new(CrpServer *s, CrpHead *h, QIOChannelSocket *sioc);
CrpPeer *crp_peer_ref(CrpPeer *c);
void crp_peer_unref(CrpPeer *c);
void crp_peer_disconnect(CrpPeer *c, guint16 status, const char *reason);
bool crp_peer_wants_frame(CrpPeer *c, int64_t now_us);
void crp_peer_send_frame(CrpPeer *c, const guint8 *data, gsize len);
bool crp_peer_caught_up(CrpPeer *c, int64_t now_us);
void crp_peer_send(CrpPeer *c, const CrpMessage *msg);
void crp_peer_tick(CrpPeer *c, int64_t now_us);
void crp_peer_send_cursor(CrpPeer *c);
void crp_peer_send_audio(CrpPeer *c, const uint8_t *packet, size_t len,
                           uint64_t timestamp_us);
CrpClientInfo *crp_peer_info(CrpPeer *c);

#endif /* UI_CRP_INT_H */
