/*
 * test-crp-rate.c: the rate control against a simulated link.
 *
 * The link is a bottleneck of a given rate with a FIFO in front of it (the
 * server's socket and the network's queues) and a fixed delay each way;
 * like tbf (and most shapers) it lets a burst through at once after an
 * idle moment;
 * the client decodes for a while and acknowledges each frame. A server
 * ticks at 60 Hz, asks the CrpRate whether a frame may go, and makes it
 * at the quality the CrpRate asks for. Sound (small packets every 20 ms)
 * and pings share the stream, as in ui-crp.
 */
#include <glib.h>
#include <math.h>

#include "crp/crp-rate.h"

#define TICK_US 16667
#define DECODE_US 2000
#define SHAPER_BURST 3200
#define MAX_ACKS 4096

typedef struct {
    gint64 due_us;
    guint32 id;
} Ack;

typedef struct {
    /* The link. */
    double rate;                /* bytes a second */
    gint64 delay_us;            /* each way */
    gint64 free_us;             /* when the bottleneck has sent its queue */
    /* What the server sends: frames of this many bytes at JPEG quality 75
     * (smaller in proportion below), this often. */
    gsize frame_bytes_q75;
    gint64 frame_every_us;
    gboolean audio;
    /* The client: every @stall_every-th frame it is busy for @stall_us
     * before it acknowledges (0: never); acknowledgements stay in order. */
    guint stall_every;
    gint64 stall_us;
    gint64 last_ack_due_us;

    CrpRate *rate_ctl;
    gint64 now_us;
    guint64 queued_end;
    guint32 next_id;
    Ack acks[MAX_ACKS];
    guint n_acks;
    gint64 next_frame_us, next_audio_us, next_ping_us;

    /* Measured. */
    guint frames;
    guint64 frame_bytes;
    gint64 max_queue_us;
    guint64 max_in_flight_over;     /* in flight beyond the window */
    GArray *key_ms;                 /* key -> frame on screen */
    gint64 key_pending_us;          /* a key waits for a frame; 0: none */
} Sim;

static Sim *
sim_new(double bits_per_s, gint64 rtt_us, gsize frame_bytes_q75)
{
    Sim *s = g_new0(Sim, 1);

    s->rate = bits_per_s / 8;
    s->delay_us = rtt_us / 2;
    s->frame_bytes_q75 = frame_bytes_q75;
    s->frame_every_us = TICK_US;
    s->audio = TRUE;
    s->rate_ctl = crp_rate_new(NULL);
    s->now_us = 1000000;
    s->next_id = 1;
    s->key_ms = g_array_new(FALSE, FALSE, sizeof(double));
    return s;
}

static void
sim_free(Sim *s)
{
    crp_rate_free(s->rate_ctl);
    g_array_unref(s->key_ms);
    g_free(s);
}

/* @bytes go into the link now; returns when their last byte arrives. */
static gint64
sim_transmit(Sim *s, gsize bytes)
{
    double credit = 0;

    s->queued_end += bytes;
    if (s->free_us < s->now_us) {
        credit = MIN(SHAPER_BURST, (s->now_us - s->free_us) * s->rate / 1e6);
        s->free_us = s->now_us;
    }
    s->free_us += (gint64)(MAX(0, bytes - credit) * 1e6 / s->rate);
    s->max_queue_us = MAX(s->max_queue_us, s->free_us - s->now_us);
    return s->free_us + s->delay_us;
}

static void
sim_send_frame(Sim *s, gsize bytes, gboolean answers_key)
{
    CrpRateStats st;
    guint32 id = s->next_id++;
    gint64 arrives = sim_transmit(s, bytes);

    gint64 ack_due = arrives + DECODE_US + s->delay_us;

    if (s->stall_every && id % s->stall_every == 0) {
        ack_due += s->stall_us;
    }
    ack_due = MAX(ack_due, s->last_ack_due_us);
    s->last_ack_due_us = ack_due;
    crp_rate_frame_sent(s->rate_ctl, id, bytes, s->queued_end, s->now_us);
    g_assert_cmpuint(s->n_acks, <, MAX_ACKS);
    s->acks[s->n_acks++] = (Ack){ ack_due, id };
    s->frames++;
    s->frame_bytes += bytes;
    if (answers_key) {
        double ms = (arrives + DECODE_US - s->key_pending_us) / 1000.0;
        g_array_append_val(s->key_ms, ms);
        s->key_pending_us = 0;
    }
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    /* A frame may take the window past its bound, by itself at most. */
    if (st.in_flight > st.window + bytes) {
        s->max_in_flight_over = MAX(s->max_in_flight_over,
                                    st.in_flight - st.window - bytes);
    }
}

/* Runs the link for @us; a key is pressed every @key_every_us (0: none). */
static void
sim_run(Sim *s, gint64 us, gint64 key_every_us)
{
    gint64 end = s->now_us + us;
    gint64 next_key = key_every_us ? s->now_us + key_every_us / 2 : G_MAXINT64;
    gint64 next_tick = s->now_us;

    for (; s->now_us < end; s->now_us += 500) {
        guint kept = 0;
        for (guint i = 0; i < s->n_acks; i++) {
            if (s->acks[i].due_us <= s->now_us) {
                crp_rate_frame_acked(s->rate_ctl, s->acks[i].id, s->now_us);
            } else {
                s->acks[kept++] = s->acks[i];
            }
        }
        s->n_acks = kept;
        if (s->audio && s->now_us >= s->next_audio_us) {
            sim_transmit(s, 200);
            s->next_audio_us = s->now_us + 20000;
        }
        if (s->now_us >= s->next_ping_us) {
            /* A PONG waits behind what is queued, like the frames. */
            gint64 back = sim_transmit(s, 40) + s->delay_us;
            crp_rate_rtt_sample(s->rate_ctl, back - s->now_us, s->now_us);
            s->next_ping_us = s->now_us + G_USEC_PER_SEC;
        }
        if (s->now_us >= next_key) {
            if (!s->key_pending_us) {
                s->key_pending_us = s->now_us;
            }
            next_key += key_every_us;
        }
        if (s->now_us < next_tick) {
            continue;
        }
        next_tick += TICK_US;
        gboolean key = s->key_pending_us != 0;
        if ((s->frame_every_us == 0 || s->now_us < s->next_frame_us) && !key) {
            continue;
        }
        if (crp_rate_frame_wait_us(s->rate_ctl, s->queued_end, key, s->now_us) != 0) {
            continue;
        }
        CrpEncoderRate er;
        crp_rate_get_encoder_rate(s->rate_ctl, s->now_us, &er);
        g_assert_cmpint(er.jpeg_quality, >=, 1);
        g_assert_cmpint(er.jpeg_quality, <=, 100);
        gsize bytes = s->frame_every_us ? s->frame_bytes_q75 * er.jpeg_quality / 75 : 0;
        sim_send_frame(s, bytes + (key ? 1500 : 0), key);
        if (s->frame_every_us) {
            s->next_frame_us = MAX(s->next_frame_us + s->frame_every_us, s->now_us);
        }
    }
}

static gint
cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The @p-th percentile of @a. */
static double
percentile(GArray *a, int p)
{
    g_assert_cmpuint(a->len, >, 0);
    g_autoptr(GArray) c = g_array_copy(a);
    g_array_sort(c, cmp_double);
    return g_array_index(c, double, MIN(c->len - 1, c->len * p / 100));
}

static void
sim_reset_measures(Sim *s)
{
    s->frames = 0;
    s->frame_bytes = 0;
    s->max_queue_us = 0;
    s->max_in_flight_over = 0;
    g_array_set_size(s->key_ms, 0);
}

/* ---- estimates ---------------------------------------------------------- */

static void
test_converges(void)
{
    /* Video on 2 Mbit/s with a 50 ms round trip: within a few seconds the
     * rate and the round trip are known, to within what the link's
     * framing and the client's decoding take. */
    Sim *s = sim_new(2e6, 50000, 20000);
    CrpRateStats st;

    sim_run(s, 5 * G_USEC_PER_SEC, 0);
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    g_test_message("rate %.2f Mbit/s, round trip %.1f ms, quality %d, window %"
                   G_GUINT64_FORMAT, st.rate_bps / 1e6, st.min_rtt_us / 1000.0,
                   st.jpeg_quality, st.window);
    g_assert_cmpuint(st.rate_bps, >, 1.7e6);
    g_assert_cmpuint(st.rate_bps, <=, 2.1e6);
    g_assert_cmpint(st.min_rtt_us, >=, 50000);
    g_assert_cmpint(st.min_rtt_us, <, 60000);
    sim_free(s);
}

static void
test_converges_fast_link(void)
{
    /* 100 Mbit/s, 2 ms: the same content goes at its own pace, at the
     * configured quality, and the link never counts as limiting. */
    Sim *s = sim_new(100e6, 2000, 20000);
    CrpRateStats st;

    sim_run(s, 3 * G_USEC_PER_SEC, 0);
    sim_reset_measures(s);
    sim_run(s, 2 * G_USEC_PER_SEC, 0);
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    g_test_message("rate %.1f Mbit/s, %u frames in 2 s", st.rate_bps / 1e6, s->frames);
    /* The client's decoding counts in each frame's time, so the estimate
     * is low, but far above the content's 9.6 Mbit/s. */
    g_assert_cmpuint(st.rate_bps, >, 25e6);
    g_assert_cmpint(st.jpeg_quality, ==, 75);
    g_assert_false(st.limited);
    g_assert_cmpuint(s->frames, >=, 2 * 58);
    sim_free(s);
}

static void
test_slow_content_keeps_quality(void)
{
    /* A fast link, a guest drawing 12 frames a second and a client that
     * is busy now and then (every 8th frame acknowledged 300 ms late, the
     * frames after it behind it): frames are held back for acks, and
     * fewer than 15 go a second, but they fill nothing like the link.
     * Lower quality would not help: it stays. */
    Sim *s = sim_new(100e6, 2000, 20000);
    CrpRateStats st;

    s->frame_every_us = 83333;
    s->stall_every = 8;
    s->stall_us = 300000;
    sim_run(s, 8 * G_USEC_PER_SEC, 0);
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    g_test_message("rate %.1f Mbit/s, quality %d, limited %d, %u frames",
                   st.rate_bps / 1e6, st.jpeg_quality, st.limited, s->frames);
    g_assert_true(st.limited);
    g_assert_cmpint(st.jpeg_quality, ==, 75);
    sim_free(s);
}

/* ---- the window and pacing ---------------------------------------------- */

static void
test_window_bounds_queue(void)
{
    /* Heavy video (three times what the link carries at full quality):
     * bytes in flight stay within the window, the link's queue stays
     * short, and a key is on screen within a round trip and a little. */
    Sim *s = sim_new(2e6, 50000, 25000);

    sim_run(s, 4 * G_USEC_PER_SEC, 0);
    sim_reset_measures(s);
    sim_run(s, 10 * G_USEC_PER_SEC, 310000);
    double p50 = percentile(s->key_ms, 50), p95 = percentile(s->key_ms, 95);
    g_test_message("%u frames in 10 s, %.0f kbit/s; queue at most %.0f ms; "
                   "key to screen p50 %.1f ms p95 %.1f ms (%u keys)",
                   s->frames, s->frame_bytes * 8 / 10e3,
                   s->max_queue_us / 1000.0, p50, p95, s->key_ms->len);
    g_assert_cmpuint(s->max_in_flight_over, ==, 0);
    g_assert_cmpint(s->max_queue_us, <, 150000);
    g_assert_cmpfloat(p50, <, 100);
    g_assert_cmpfloat(p95, <, 150);
    /* ... and the link is used: most of its rate, at 15 frames or more. */
    g_assert_cmpuint(s->frame_bytes * 8 / 10, >, 1.2e6);
    g_assert_cmpuint(s->frames, >=, 10 * 15);
    sim_free(s);
}

static void
test_window_without_acks(void)
{
    /* A client that stops acknowledging gets a bounded number of frames
     * and bytes, then none until it acknowledges again. */
    g_autoptr(CrpRate) r = crp_rate_new(NULL);
    gint64 now = 1000000;
    guint64 end = 0;
    guint sent = 0;

    for (int i = 0; i < 1000; i++, now += TICK_US) {
        if (crp_rate_frame_wait_us(r, end, TRUE, now) == 0) {
            end += 10000;
            crp_rate_frame_sent(r, ++sent, 10000, end, now);
        }
    }
    g_assert_cmpuint(sent, >, 0);
    g_assert_cmpuint(end, <=, 64 * 1024 + 10000);
    g_assert_cmpint(crp_rate_frame_wait_us(r, end, TRUE, now), ==, -1);
    g_assert_true(crp_rate_frame_acked(r, sent, now));
    g_assert_cmpint(crp_rate_frame_wait_us(r, end, TRUE, now), ==, 0);
}

static void
test_interactive_skips_pacing(void)
{
    /* Once frames are paced, a frame that answers input goes at once
     * while one that does not waits its turn. */
    Sim *s = sim_new(2e6, 50000, 25000);

    sim_run(s, 3 * G_USEC_PER_SEC, 0);
    gint64 paced = -1;
    for (int i = 0; i < 200 && paced <= 0; i++) {
        sim_run(s, 500, 0);
        paced = crp_rate_frame_wait_us(s->rate_ctl, s->queued_end, FALSE, s->now_us);
    }
    g_assert_cmpint(paced, >, 0);
    g_assert_cmpint(crp_rate_frame_wait_us(s->rate_ctl, s->queued_end, TRUE,
                                           s->now_us), ==, 0);
    sim_free(s);
}

/* ---- quality -------------------------------------------------------------- */

static void
test_quality_steps_down_and_up(void)
{
    Sim *s = sim_new(2e6, 50000, 25000);
    CrpRateStats st;

    /* Heavy video: quality steps down until 15 frames a second fit. */
    sim_run(s, 6 * G_USEC_PER_SEC, 0);
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    int low = st.jpeg_quality;
    g_test_message("heavy video: quality %d", low);
    g_assert_cmpint(low, <, 60);
    g_assert_cmpint(low, >=, 20);
    g_assert_true(st.limited);
    CrpEncoderRate er;
    crp_rate_get_encoder_rate(s->rate_ctl, s->now_us, &er);
    g_assert_cmpint(er.jpeg_quality, ==, low);
    g_assert_cmpuint(er.target_bps, >, 1e6);
    g_assert_cmpuint(er.target_bps, <, 2e6);
    g_assert_cmpuint(er.refine_bytes, >=, 4096);
    g_assert_cmpuint(er.refine_bytes, <, 20000);

    /* The video gets small (a smaller window, a quieter scene): quality
     * climbs back to the configured one and the link is not limiting. */
    s->frame_bytes_q75 = 2000;
    sim_run(s, 10 * G_USEC_PER_SEC, 0);
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    g_test_message("light video: quality %d", st.jpeg_quality);
    g_assert_cmpint(st.jpeg_quality, ==, 75);
    g_assert_false(st.limited);

    /* Motion stops: nothing limits, quality stays. */
    s->frame_every_us = 0;
    sim_run(s, 5 * G_USEC_PER_SEC, 0);
    crp_rate_get_stats(s->rate_ctl, s->queued_end, s->now_us, &st);
    g_assert_cmpint(st.jpeg_quality, ==, 75);
    g_assert_cmpuint(st.frames_in_flight, ==, 0);
    sim_free(s);
}

static void
test_quality_config(void)
{
    CrpRateConfig cfg = { .max_quality = 500, .min_quality = 900 };
    g_autoptr(CrpRate) r = crp_rate_new(&cfg);
    CrpEncoderRate er;

    crp_rate_get_encoder_rate(r, 1000, &er);
    g_assert_cmpint(er.jpeg_quality, ==, 100);
    /* Nothing known yet: no budget, no bitrate. */
    g_assert_cmpuint(er.refine_bytes, ==, 0);
    g_assert_cmpuint(er.target_bps, ==, 0);
}

/* ---- hostile and odd acknowledgements ------------------------------------ */

static void
assert_sane(CrpRate *r, guint64 end, gint64 now)
{
    CrpRateStats st;
    CrpEncoderRate er;

    crp_rate_get_stats(r, end, now, &st);
    crp_rate_get_encoder_rate(r, now, &er);
    g_assert_cmpuint(st.rate_bps, <=, 10 * 1000 * 1000 * 1000ull);
    g_assert_cmpint(st.min_rtt_us, >=, 0);
    g_assert_cmpuint(st.window, >=, 16 * 1024);
    g_assert_cmpint(er.jpeg_quality, >=, 20);
    g_assert_cmpint(er.jpeg_quality, <=, 75);
}

static void
test_hostile_acks(void)
{
    g_autoptr(CrpRate) r = crp_rate_new(NULL);
    gint64 now = 5000000;
    guint64 end = 0;
    CrpRateStats st;

    /* Acks before anything was sent, and of frames never sent. */
    g_assert_false(crp_rate_frame_acked(r, 0, now));
    g_assert_false(crp_rate_frame_acked(r, 7, now));
    g_assert_false(crp_rate_frame_acked(r, G_MAXUINT32, now));
    for (guint32 id = 1; id <= 3; id++) {
        end += 5000;
        crp_rate_frame_sent(r, id, 5000, end, now);
        now += 10000;
    }
    /* An ack of a frame beyond the newest sent acknowledges nothing: a
     * client cannot open the window by lying. */
    g_assert_false(crp_rate_frame_acked(r, 4, now));
    g_assert_false(crp_rate_frame_acked(r, 0x80000000u, now));
    crp_rate_get_stats(r, end, now, &st);
    g_assert_cmpuint(st.frames_in_flight, ==, 3);
    g_assert_cmpuint(st.in_flight, ==, 15000);

    /* In order, then a duplicate and a reordered older one. */
    now += 40000;
    g_assert_true(crp_rate_frame_acked(r, 2, now));
    g_assert_false(crp_rate_frame_acked(r, 2, now));
    g_assert_false(crp_rate_frame_acked(r, 1, now + 1000));
    crp_rate_get_stats(r, end, now, &st);
    g_assert_cmpuint(st.frames_in_flight, ==, 1);
    g_assert_cmpuint(st.in_flight, ==, 5000);
    assert_sane(r, end, now);

    /* Time going backwards (a clock stepped, a caller's bug) counts as
     * the latest time seen: no round trip of zero or less, no rate from
     * a negative interval. */
    gint64 before = st.min_rtt_us;
    g_assert_cmpint(before, ==, 60000);
    g_assert_true(crp_rate_frame_acked(r, 3, now - 3 * G_USEC_PER_SEC));
    crp_rate_rtt_sample(r, -5, now - 10 * G_USEC_PER_SEC);
    crp_rate_rtt_sample(r, 0, now);
    crp_rate_get_stats(r, end, now, &st);
    g_assert_cmpint(st.min_rtt_us, <=, before);
    g_assert_cmpint(st.min_rtt_us, >=, 50000);
    assert_sane(r, end, now);
    g_assert_cmpint(crp_rate_frame_wait_us(r, end, FALSE, -G_MAXINT64 / 2), >=, -1);
    assert_sane(r, end, G_MININT64 + 1);

    /* Frame ids wrap around. */
    guint32 id = G_MAXUINT32 - 2;
    for (int i = 0; i < 6; i++, id++) {
        end += 1000;
        now += 20000;
        crp_rate_frame_sent(r, id, 1000, end, now);
    }
    now += 50000;
    g_assert_true(crp_rate_frame_acked(r, 1, now));     /* the 5th */
    crp_rate_get_stats(r, end, now, &st);
    g_assert_cmpuint(st.frames_in_flight, ==, 1);
    g_assert_true(crp_rate_frame_acked(r, 2, now));
    assert_sane(r, end, now);

    /* More frames than it remembers, never acknowledged, then a flood of
     * random acks: it forgets the oldest and survives. */
    for (int i = 0; i < 100; i++) {
        end += 100;
        now += 1000;
        crp_rate_frame_sent(r, id++, 100, end, now);
    }
    crp_rate_get_stats(r, end, now, &st);
    g_assert_cmpuint(st.frames_in_flight, <=, 32);
    GRand *rand = g_rand_new_with_seed(42);
    for (int i = 0; i < 10000; i++) {
        now += g_rand_int_range(rand, -5000, 20000);
        crp_rate_frame_acked(r, g_rand_int(rand), now);
        if (i % 7 == 0) {
            end += 500;
            crp_rate_frame_sent(r, id++, 500, end, now);
        }
        if (i % 13 == 0) {
            crp_rate_rtt_sample(r, g_rand_int_range(rand, -100000, 100000), now);
        }
    }
    g_rand_free(rand);
    assert_sane(r, end, now);
}

/* A client that stops acknowledging for seconds (a Wi-Fi drop, a laptop
 * lid) leaves a rate sample of a few kB/s; a large frame after it must not
 * push the next non-interactive frame far into the future: pacing smooths,
 * the window bounds the queue, and neither may freeze the picture. */
static void
test_stall_does_not_freeze_pacing(void)
{
    g_autoptr(CrpRate) r = crp_rate_new(NULL);
    gint64 t = 1000000;
    guint64 end = 0;

    crp_rate_rtt_sample(r, 50000, t);
    end += 50000;
    crp_rate_frame_sent(r, 1, 50000, end, t);
    for (gint64 w = t + TICK_US; w < t + 5000000; w += TICK_US) {
        crp_rate_frame_wait_us(r, end, FALSE, w);     /* held back */
    }
    t += 5000000;
    g_assert_true(crp_rate_frame_acked(r, 1, t));
    end += 300000;
    crp_rate_frame_sent(r, 2, 300000, end, t);
    g_assert_true(crp_rate_frame_acked(r, 2, t + 200000));
    t += 300000;
    gint64 wait = crp_rate_frame_wait_us(r, end, FALSE, t);
    g_assert_cmpint(wait, >=, 0);
    g_assert_cmpint(wait, <=, 500000);
}

static void
test_free_null(void)
{
    crp_rate_free(NULL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rate/converges", test_converges);
    g_test_add_func("/rate/converges-fast-link", test_converges_fast_link);
    g_test_add_func("/rate/slow-content-keeps-quality", test_slow_content_keeps_quality);
    g_test_add_func("/rate/window-bounds-queue", test_window_bounds_queue);
    g_test_add_func("/rate/window-without-acks", test_window_without_acks);
    g_test_add_func("/rate/interactive-skips-pacing", test_interactive_skips_pacing);
    g_test_add_func("/rate/quality-steps-down-and-up", test_quality_steps_down_and_up);
    g_test_add_func("/rate/quality-config", test_quality_config);
    g_test_add_func("/rate/hostile-acks", test_hostile_acks);
    g_test_add_func("/rate/stall-does-not-freeze-pacing", test_stall_does_not_freeze_pacing);
    g_test_add_func("/rate/free-null", test_free_null);
    return g_test_run();
}
