/*
 * crp-rate.h: what one client's link carries, and what to send over it.
 *
 * A server keeps one CrpRate per client. Sans I/O: the server says what it
 * sent and when acknowledgements came back; the CrpRate says when the next
 * frame may go and how the encoder should make it (JPEG quality, how much
 * lossless refinement a frame may carry, the bitrate a video codec should
 * aim at). Every call takes the time, so tests can drive it with a
 * simulated link.
 *
 *   crp_rate_frame_sent(r, id, frame_bytes, queued_end, now);  // each frame
 *   crp_rate_frame_acked(r, id, now);                          // FRAME_ACK
 *   crp_rate_rtt_sample(r, rtt_us, now);                       // PONG
 *   if (crp_rate_frame_wait_us(r, queued_end, interactive, now) == 0) ...
 *   crp_rate_get_encoder_rate(r, now, &rate);                  // for the encoder
 *
 * Offsets: the server counts every byte it queues for the client (frames,
 * sound, cursor, pings) as one stream; @queued_end is that count now, and a
 * frame's end is the count just after it. An acknowledged frame means
 * everything up to its end has arrived, so the bytes in flight are
 * @queued_end minus the end of the newest acknowledged frame: what waits in
 * the server, in the kernel, in the network and in the client.
 *
 * What it estimates, frame by frame (in the spirit of BBR): the delivery
 * rate, as the median of the last link samples (the bytes of a frame that
 * crossed right behind the one before it, over the time between their
 * acknowledgements; one frame every 2 s skips its pace to make such a
 * pair), and the round trip, as the least any recent PONG or small frame
 * showed. crp-rate.c says why each sample can only err low.
 *
 * What it decides:
 *  - bytes in flight stay under the rate times (round trip + 25 ms), not a
 *    fixed number of frames: a queue on a slow link is time the user waits;
 *  - frames are paced to a share of the rate, so the link keeps room and
 *    an answer to input never queues behind video; a frame that answers
 *    input (interactive) skips the pacing and may take the bytes in flight
 *    to twice the bound;
 *  - the JPEG quality steps down while the link holds frames back and
 *    fewer than 15 go out a second, or frames take more than 25 ms of the
 *    link each (an answer to input waits for the frame ahead of it, and
 *    rides in a frame with the rest of the screen's change); back up
 *    while there is room;
 *  - lossless refinement is given a few tens of milliseconds of the link
 *    per frame, so a picture settling does not flood it.
 * Until the first estimates (and on links faster than the content), frames
 * go as they come and quality stays at its configured value.
 *
 * Not thread-safe: one owner.
 */
#pragma once

#include <glib.h>
#include "crp/crp-encoder.h"

G_BEGIN_DECLS

typedef struct {
    /** JPEG quality when the link has room: the server's setting
     *  (1..100; 0: 75). */
    int max_quality;
    /** The lowest JPEG quality to step down to (0: 20). */
    int min_quality;
} CrpRateConfig;

/** For statistics (QMP). */
typedef struct {
    guint64 rate_bps;           /* estimated delivery rate (0: none yet) */
    gint64 min_rtt_us;          /* estimated round trip (0: none yet) */
    guint64 in_flight;          /* bytes queued and not acknowledged */
    guint64 window;             /* bytes in flight allowed now */
    guint frames_in_flight;
    int jpeg_quality;
    gboolean limited;           /* the link held frames back lately */
} CrpRateStats;

typedef struct CrpRate CrpRate;

CrpRate *crp_rate_new(const CrpRateConfig *config);
/** Accepts NULL. */
void crp_rate_free(CrpRate *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpRate, crp_rate_free)

/**
 * A frame @frame_id of @frame_bytes was queued; @queued_end counts every
 * byte queued for the client so far, this frame included.
 */
void crp_rate_frame_sent(CrpRate *r, guint32 frame_id, gsize frame_bytes,
                         guint64 queued_end, gint64 now_us);

/**
 * FRAME_ACK for @frame_id (cumulative: it and every frame before it).
 * Acknowledgements of frames not sent, or older than the newest one, are
 * ignored. Returns whether it acknowledged anything.
 */
gboolean crp_rate_frame_acked(CrpRate *r, guint32 frame_id, gint64 now_us);

/** A round trip measured otherwise (PING/PONG). */
void crp_rate_rtt_sample(CrpRate *r, gint64 rtt_us, gint64 now_us);

/**
 * Whether a frame may be sent now: 0 if so, otherwise how many
 * microseconds until pacing allows it, or -1 if it waits for an
 * acknowledgement. @interactive: the frame answers the client's input.
 * A caller that has a frame to send asks; the answer "wait" counts as
 * the link holding frames back.
 */
gint64 crp_rate_frame_wait_us(CrpRate *r, guint64 queued_end,
                              gboolean interactive, gint64 now_us);

/** How the encoder should make frames for this link now (see
 *  CrpEncoderRate: JPEG quality, refinement per frame, bitrate). */
void crp_rate_get_encoder_rate(CrpRate *r, gint64 now_us, CrpEncoderRate *rate);
void crp_rate_get_stats(CrpRate *r, guint64 queued_end, gint64 now_us,
                        CrpRateStats *stats);

/** Whether the link held frames back within the last seconds (groups of
 *  clients merge only when none is limited). */
gboolean crp_rate_limited(CrpRate *r, gint64 now_us);

G_END_DECLS
