/*
 * crp-rate.c: delivery rate and round trip of one client's link, from its
 * acknowledgements, and the pacing, window and quality that follow.
 *
 * The rate comes from "link samples": when a frame was sent while the one
 * acknowledged before it was still crossing the link (more than a round
 * trip before that acknowledgement came), it crossed right behind it, so
 * its bytes (and whatever else was queued with it) over the time between
 * the two acknowledgements are the link's rate. The estimate is the median
 * of the last LINK_SAMPLES of them, not the most: acknowledgements arrive
 * bunched now and then (a relay or a Wi-Fi link delivering in batches, a
 * client busy for a moment), and one bunched pair would otherwise hold an
 * estimate far above the link for seconds, pacing frames into a queue.
 *  - until the first link sample, each frame's bytes over the time its
 *    acknowledgement took beyond the round trip (floored at a quarter
 *    round trip). This errs high by what a token-bucket shaper lets
 *    through at once after a pause (a few kilobytes: a third of a 10 kB
 *    frame), so it only starts the estimate (the most of them over a
 *    couple of seconds); the queue it makes brings the first link
 *    samples. On a link faster than the content there never is one, and
 *    this is the estimate: high, and then nothing is held anyway.
 * Pacing keeps the link from queueing, and with it from link samples: once
 * every PROBE_US one frame goes without waiting for its pace, right behind
 * the one before, and measures the link again.
 * While the link has held nothing back for a while, what is sent is what
 * the content needs, not what the link takes (BBR's "application
 * limited"): no sample then ages the estimate out, or quality could never
 * climb back once a scene gets lighter.
 */
#include "crp/crp-rate.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_QUALITY 75
#define DEFAULT_MIN_QUALITY 20
/* Frames remembered until acknowledged; more are never let in flight. */
#define MAX_FRAMES 32
/* Windows of the estimates: the rate is the most seen over the last ~2 s,
 * the round trip the least over the last ~10 s. */
#define RATE_WINDOW_US (2 * G_USEC_PER_SEC)
#define RTT_WINDOW_US (10 * G_USEC_PER_SEC)
#define WINDOW_SLOTS 4
#define LINK_SAMPLES 9
/* Bytes in flight: the rate times (round trip + this), at least
 * MIN_WINDOW; INITIAL_WINDOW before the first estimates. */
#define QUEUE_ALLOWANCE_US 25000
#define MIN_WINDOW (16 * 1024)
#define INITIAL_WINDOW (64 * 1024)
/* Frames in flight: enough for one every FRAME_SPACING_US over the round
 * trip, plus two; at least MIN_FRAMES. */
#define FRAME_SPACING_US 16000
#define MIN_FRAMES 3
/* Frames are paced to this share of the rate (percent): the rest is room
 * for sound and for answers to input. */
#define PACE_PERCENT 80
/* A frame due this soon is not held: the server looks for frames only at
 * each display refresh, and the debt carries over to the next frame. */
#define PACE_SLACK_US 8000
/* Rate samples take at least this long (and a quarter round trip). */
#define TRAIN_MIN_US 2000
/* A frame goes without waiting for its pace this often, to measure the
 * link (see the top of this file). */
#define PROBE_US (2 * G_USEC_PER_SEC)
/* Frames up to this size also measure the round trip: a larger one's
 * time is mostly its own crossing, and would hold the least round trip
 * high for its whole window (and with it the window and the samples). */
#define RTT_FRAME_MAX 1500
/* Quality is reconsidered this often: down a step while the link held
 * frames back and fewer than FPS_MIN frames went out a second (two steps
 * below half that), or frames took longer than FRAME_BUDGET_US of the
 * link each (an answer to input goes in the frame after, or in one of
 * them: its wait is theirs); up a step while it held nothing for two
 * periods and the frames' bytes, RAISE_ROOM times over, fit the pace and
 * the budget. */
#define PERIOD_US 500000
/* The most pacing holds a frame back after the one before it. */
#define MAX_PACE_AHEAD_US 500000
#define FPS_MIN 15
#define FRAME_BUDGET_US 25000
/* Quality steps down only while the frames take at least this share of
 * the paced rate: when they take less, what holds them back now and then
 * is not the link's bytes (a client slow to decode, a guest drawing
 * fewer frames), and a lower quality would not help. */
#define BUSY_SHARE 0.5
#define QUALITY_DOWN 10
#define QUALITY_UP 5
#define RAISE_ROOM 1.35
/* How long "the link held frames back" counts as recent. */
#define LIMITED_US (3 * G_USEC_PER_SEC)
/* Refinement per frame: this much of the paced rate, at least
 * REFINE_MIN bytes. */
#define REFINE_SLICE_US 40000
#define REFINE_MIN 4096
/* Above this a rate means "not the bottleneck" (bytes a second). */
#define MAX_RATE 1.25e9

typedef struct {
    guint32 id;
    guint64 end;
    gsize bytes;
    gint64 sent_us;
    /* The link's state when it was sent. */
    guint64 delivered;
    gint64 delivered_us;
    gboolean alone;             /* no other frame was in flight */
} SentFrame;

/* The best (most or least) sample over a span of time, kept as the best of
 * each of WINDOW_SLOTS slots. */
typedef struct {
    gint64 slot[WINDOW_SLOTS];
    double value[WINDOW_SLOTS];
    gboolean set[WINDOW_SLOTS];
} Window;

struct CrpRate {
    CrpRateConfig config;

    SentFrame frames[MAX_FRAMES];       /* unacknowledged, oldest first */
    guint first, count;

    guint64 delivered;          /* stream end of the newest acknowledged frame */
    gint64 delivered_us;        /* when it was acknowledged */

    Window rate_window, rtt_window;
    double rate;                /* bytes a second; 0: none yet */
    gint64 min_rtt_us;          /* 0: none yet */

    gint64 next_send_us;        /* pacing: when a frame is next due */
    double link[LINK_SAMPLES];  /* the last link samples (bytes a second) */
    guint n_link, link_next;
    gboolean link_sampled;      /* a link sample was ever made */
    gint64 link_sample_us;      /* when the last one was; 0: never */

    int quality;
    gint64 period_start_us;
    guint period_frames;
    guint64 period_bytes;
    gboolean period_held, last_period_held;
    gint64 held_us;             /* when the link last held a frame back */

    gint64 now_us;              /* the latest time given: time never goes back */
};

/* ---- windows ------------------------------------------------------- */

static void
window_add(Window *w, gint64 span_us, gint64 now_us, double v, gboolean most)
{
    gint64 slot = now_us / (span_us / WINDOW_SLOTS);
    guint i = (guint)(slot % WINDOW_SLOTS);

    if (!w->set[i] || w->slot[i] != slot) {
        w->set[i] = TRUE;
        w->slot[i] = slot;
        w->value[i] = v;
    } else if (most ? v > w->value[i] : v < w->value[i]) {
        w->value[i] = v;
    }
}

/* The best value of the slots still in the window; FALSE if none is. */
static gboolean
window_best(const Window *w, gint64 span_us, gint64 now_us, gboolean most,
            double *best)
{
    gint64 slot = now_us / (span_us / WINDOW_SLOTS);
    gboolean found = FALSE;

    for (guint i = 0; i < WINDOW_SLOTS; i++) {
        if (w->set[i] && w->slot[i] > slot - WINDOW_SLOTS &&
            (!found || (most ? w->value[i] > *best : w->value[i] < *best))) {
            *best = w->value[i];
            found = TRUE;
        }
    }
    return found;
}

/* ---- life ------------------------------------------------------------ */

CrpRate *
crp_rate_new(const CrpRateConfig *config)
{
    CrpRate *r = g_new0(CrpRate, 1);

    if (config) {
        r->config = *config;
    }
    if (r->config.max_quality <= 0) {
        r->config.max_quality = DEFAULT_MAX_QUALITY;
    }
    r->config.max_quality = MIN(r->config.max_quality, 100);
    if (r->config.min_quality <= 0) {
        r->config.min_quality = DEFAULT_MIN_QUALITY;
    }
    r->config.min_quality = MIN(r->config.min_quality, r->config.max_quality);
    r->quality = r->config.max_quality;
    return r;
}

void
crp_rate_free(CrpRate *r)
{
    g_free(r);
}

/* ---- estimates --------------------------------------------------------- */

static double
pace_rate(const CrpRate *r)
{
    return r->rate * PACE_PERCENT / 100.0;
}

static void
add_rtt(CrpRate *r, gint64 rtt_us, gint64 now_us)
{
    double best = 0;

    window_add(&r->rtt_window, RTT_WINDOW_US, now_us, MAX(rtt_us, 1), FALSE);
    if (window_best(&r->rtt_window, RTT_WINDOW_US, now_us, FALSE, &best)) {
        r->min_rtt_us = (gint64)best;
    }
}

/* A sample of the frames' own times (before the first link sample). */
static void
add_rate(CrpRate *r, double bytes, gint64 interval_us, gint64 now_us)
{
    double best = 0;
    gboolean app_limited = r->held_us == 0 || now_us - r->held_us >= RATE_WINDOW_US;

    if (bytes <= 0 || interval_us <= 0) {
        return;
    }
    double sample = MIN(bytes * G_USEC_PER_SEC / interval_us, MAX_RATE);
    if (app_limited && sample <= r->rate) {
        return;
    }
    window_add(&r->rate_window, RATE_WINDOW_US, now_us, sample, TRUE);
    if (window_best(&r->rate_window, RATE_WINDOW_US, now_us, TRUE, &best)) {
        r->rate = best;
    }
}

static int
cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
add_link_sample(CrpRate *r, double bytes, gint64 interval_us, gint64 now_us)
{
    double sorted[LINK_SAMPLES];

    if (bytes <= 0 || interval_us <= 0) {
        return;
    }
    r->link[r->link_next] = MIN(bytes * G_USEC_PER_SEC / interval_us, MAX_RATE);
    r->link_next = (r->link_next + 1) % LINK_SAMPLES;
    r->n_link = MIN(r->n_link + 1, LINK_SAMPLES);
    memcpy(sorted, r->link, r->n_link * sizeof(double));
    qsort(sorted, r->n_link, sizeof(double), cmp_double);
    r->rate = sorted[r->n_link / 2];
    r->link_sampled = TRUE;
    r->link_sample_us = now_us;
}

/* Rate and round trip from frame @f, acknowledged now. */
static void
measure(CrpRate *r, const SentFrame *f, gint64 now_us)
{
    gint64 took = now_us - f->sent_us;
    gint64 rtt = r->min_rtt_us;
    gint64 floor = MAX(TRAIN_MIN_US, rtt / 4);

    if (took <= 0) {
        return;                 /* acknowledged as it was sent: no time */
    }
    if (f->bytes <= RTT_FRAME_MAX || rtt == 0) {
        add_rtt(r, took, now_us);
    }
    if (r->delivered_us > 0 && f->end > r->delivered && rtt > 0 &&
        f->delivered < r->delivered && f->sent_us + rtt < r->delivered_us) {
        add_link_sample(r, (double)(f->end - r->delivered),
                        MAX(now_us - r->delivered_us, TRAIN_MIN_US), now_us);
    } else if (!r->link_sampled) {
        /* Without a round trip known, or when this one is the new least,
         * the frame's own time is not known: the whole time errs low. */
        double bytes = (double)(f->alone ? f->end - f->delivered : f->bytes);
        add_rate(r, bytes, rtt > 0 && took > rtt ? MAX(took - rtt, floor) : took,
                 now_us);
    }
}

/* ---- quality ------------------------------------------------------------ */

static void
set_quality(CrpRate *r, int q)
{
    r->quality = CLAMP(q, r->config.min_quality, r->config.max_quality);
}

/* Once a period: step the quality (see PERIOD_US). */
static void
review(CrpRate *r, gint64 now_us)
{
    gint64 len = now_us - r->period_start_us;

    if (r->period_start_us == 0) {
        r->period_start_us = now_us;
        return;
    }
    if (len < PERIOD_US) {
        return;
    }
    double fps = r->period_frames * (double)G_USEC_PER_SEC / len;
    double bytes_per_s = r->period_bytes * (double)G_USEC_PER_SEC / len;
    double frame_bytes = r->period_frames ? (double)r->period_bytes / r->period_frames : 0;
    double budget = pace_rate(r) * FRAME_BUDGET_US / G_USEC_PER_SEC;

    gboolean busy = bytes_per_s >= BUSY_SHARE * pace_rate(r);

    if (r->rate <= 0) {
        set_quality(r, r->config.max_quality);
    } else if (r->period_held && busy && fps < FPS_MIN) {
        set_quality(r, r->quality - (fps < FPS_MIN / 2 ? 2 : 1) * QUALITY_DOWN);
    } else if (r->period_held && busy && frame_bytes > budget) {
        set_quality(r, r->quality - QUALITY_DOWN);
    } else if (!r->period_held && !r->last_period_held &&
               bytes_per_s * RAISE_ROOM < pace_rate(r) &&
               frame_bytes * RAISE_ROOM < budget) {
        set_quality(r, r->quality + QUALITY_UP);
    }
    r->last_period_held = r->period_held;
    r->period_held = FALSE;
    r->period_frames = 0;
    r->period_bytes = 0;
    r->period_start_us = now_us;
}

/* ---- frames ------------------------------------------------------------- */

/* Times from the caller, made monotonic: a clock stepped back (or a
 * caller's bug) must not make negative intervals, nor window slots of
 * negative index. */
static gint64
clock_now(CrpRate *r, gint64 now_us)
{
    r->now_us = MAX(r->now_us, MAX(now_us, 0));
    return r->now_us;
}

void
crp_rate_frame_sent(CrpRate *r, guint32 frame_id, gsize frame_bytes,
                    guint64 queued_end, gint64 now_us)
{
    g_return_if_fail(r);

    now_us = clock_now(r, now_us);
    if (r->count == MAX_FRAMES) {
        /* The caller did not ask first: forget the oldest. */
        r->first = (r->first + 1) % MAX_FRAMES;
        r->count--;
    }
    r->frames[(r->first + r->count) % MAX_FRAMES] = (SentFrame){
        .id = frame_id,
        .end = queued_end,
        .bytes = frame_bytes,
        .sent_us = now_us,
        .delivered = r->delivered,
        .delivered_us = r->delivered_us,
        .alone = r->count == 0,
    };
    r->count++;
    if (r->rate > 0) {
        /* Pacing spreads frames out; it never holds the next one back by
         * more than MAX_PACE_AHEAD_US. The window is what bounds the queue,
         * and a rate sampled while a client stopped acknowledging for
         * seconds (a network drop, a suspended laptop) would otherwise
         * freeze the picture for as long as that rate says a large frame
         * takes: minutes, or an overflow. */
        double debt_us = frame_bytes * (double)G_USEC_PER_SEC / pace_rate(r);
        gint64 from = MAX(r->next_send_us, now_us);

        r->next_send_us = MIN(from + (gint64)MIN(debt_us, (double)MAX_PACE_AHEAD_US),
                              now_us + MAX_PACE_AHEAD_US);
    }
    r->period_frames++;
    r->period_bytes += frame_bytes;
    review(r, now_us);
}

gboolean
crp_rate_frame_acked(CrpRate *r, guint32 frame_id, gint64 now_us)
{
    g_return_val_if_fail(r, FALSE);

    now_us = clock_now(r, now_us);
    guint n = 0;
    if (r->count == 0 ||
        (gint32)(frame_id - r->frames[(r->first + r->count - 1) % MAX_FRAMES].id) > 0) {
        return FALSE;           /* not sent yet: a lie or a bug, not an ack */
    }
    for (guint i = 0; i < r->count; i++) {
        const SentFrame *f = &r->frames[(r->first + i) % MAX_FRAMES];
        if ((gint32)(frame_id - f->id) >= 0) {
            n = i + 1;
        }
    }
    if (n == 0) {
        return FALSE;
    }
    SentFrame f = r->frames[(r->first + n - 1) % MAX_FRAMES];
    r->first = (r->first + n) % MAX_FRAMES;
    r->count -= n;
    measure(r, &f, now_us);
    r->delivered = MAX(r->delivered, f.end);
    r->delivered_us = now_us;
    review(r, now_us);
    return TRUE;
}

void
crp_rate_rtt_sample(CrpRate *r, gint64 rtt_us, gint64 now_us)
{
    g_return_if_fail(r);
    now_us = clock_now(r, now_us);
    if (rtt_us > 0) {
        add_rtt(r, rtt_us, now_us);
    }
}

static guint64
window_bytes(const CrpRate *r)
{
    if (r->rate <= 0 || r->min_rtt_us <= 0) {
        return INITIAL_WINDOW;
    }
    return MAX(MIN_WINDOW, (guint64)(r->rate * (r->min_rtt_us + QUEUE_ALLOWANCE_US) /
                                     G_USEC_PER_SEC));
}

static guint
window_frames(const CrpRate *r)
{
    return CLAMP(2 + r->min_rtt_us / FRAME_SPACING_US, MIN_FRAMES, MAX_FRAMES - 1);
}

/* Whether the next frame should go now to measure the link: one is in
 * flight and was sent so recently that it is still crossing, and no link
 * sample was made for PROBE_US. */
static gboolean
probe_due(const CrpRate *r, gint64 now_us)
{
    if (r->count == 0 || r->rate <= 0 || now_us - r->link_sample_us < PROBE_US) {
        return FALSE;
    }
    const SentFrame *last = &r->frames[(r->first + r->count - 1) % MAX_FRAMES];
    return now_us - last->sent_us < (gint64)(last->bytes * (double)G_USEC_PER_SEC /
                                             r->rate);
}

gint64
crp_rate_frame_wait_us(CrpRate *r, guint64 queued_end, gboolean interactive,
                       gint64 now_us)
{
    g_return_val_if_fail(r, 0);

    guint64 in_flight = queued_end > r->delivered ? queued_end - r->delivered : 0;
    gint64 wait = 0;

    now_us = clock_now(r, now_us);
    review(r, now_us);
    /* With no frame in flight, what is in flight is sound and the like,
     * which no acknowledgement will cover before a frame's does. An
     * answer to input may take the window to twice its size: it would
     * wait for the bytes ahead of it either way, in the link's queue or
     * here, and here it waits a round trip more. */
    guint frames = window_frames(r) + (interactive ? 1 : 0);
    guint64 bytes = window_bytes(r) * (interactive ? 2 : 1);
    if (r->count > 0 && (r->count >= frames || in_flight >= bytes)) {
        wait = -1;
    } else if (!interactive && r->next_send_us - now_us > PACE_SLACK_US &&
               !probe_due(r, now_us)) {
        wait = r->next_send_us - now_us;
    }
    if (wait != 0) {
        r->period_held = TRUE;
        r->held_us = now_us;
    }
    return wait;
}

void
crp_rate_get_encoder_rate(CrpRate *r, gint64 now_us, CrpEncoderRate *rate)
{
    g_return_if_fail(r && rate);

    now_us = clock_now(r, now_us);
    review(r, now_us);
    memset(rate, 0, sizeof(*rate));
    rate->jpeg_quality = r->quality;
    if (r->rate > 0) {
        rate->refine_bytes = MAX(REFINE_MIN, (gsize)(pace_rate(r) * REFINE_SLICE_US /
                                                     G_USEC_PER_SEC));
        rate->target_bps = (guint64)(pace_rate(r) * 8);
    }
}

gboolean
crp_rate_limited(CrpRate *r, gint64 now_us)
{
    g_return_val_if_fail(r, FALSE);
    now_us = clock_now(r, now_us);
    return r->quality < r->config.max_quality ||
           (r->held_us != 0 && now_us - r->held_us < LIMITED_US);
}

void
crp_rate_get_stats(CrpRate *r, guint64 queued_end, gint64 now_us,
                   CrpRateStats *stats)
{
    g_return_if_fail(r && stats);

    now_us = clock_now(r, now_us);
    memset(stats, 0, sizeof(*stats));
    stats->rate_bps = (guint64)(r->rate * 8);
    stats->min_rtt_us = r->min_rtt_us;
    stats->in_flight = queued_end > r->delivered ? queued_end - r->delivered : 0;
    stats->window = window_bytes(r);
    stats->frames_in_flight = r->count;
    stats->jpeg_quality = r->quality;
    stats->limited = crp_rate_limited(r, now_us);
}
