/* test-crp-video.c: the video region tracker, frame by frame. */
#include "codec/crp-codec-private.h"

#include <string.h>

#define W 1280
#define H 800
#define FRAME_US 40000

static pixman_box32_t
box(int x, int y, int w, int h)
{
    return (pixman_box32_t){ x, y, x + w, y + h };
}

static guint
active(const CrpVideoTracker *t)
{
    guint n = 0;
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        n += t->regions[i].active;
    }
    return n;
}

static const CrpVideoRegion *
first(const CrpVideoTracker *t)
{
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        if (t->regions[i].active) {
            return &t->regions[i];
        }
    }
    g_assert_not_reached();
}

static void
assert_box(pixman_box32_t got, pixman_box32_t want)
{
    g_assert_cmpint(got.x1, ==, want.x1);
    g_assert_cmpint(got.y1, ==, want.y1);
    g_assert_cmpint(got.x2, ==, want.x2);
    g_assert_cmpint(got.y2, ==, want.y2);
}

/* One frame in which region 0..2 changed as @changed says (all FALSE if
 * NULL) and @obs were seen. */
static void
frame(CrpVideoTracker *t, const pixman_box32_t *obs, guint n, gboolean changed,
      gint64 now)
{
    gboolean ch[CRP_VIDEO_MAX_REGIONS] = { changed, changed, changed };
    crp_video_tracker_update(t, obs, n, ch, now);
}

/* A box of video starts a region at its exact position, with an even
 * size; the first picture restarts its stream. */
static void
test_starts_exactly_where_the_video_is(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t b = box(321, 221, 639, 361);
    frame(&t, &b, 1, FALSE, 0);
    g_assert_cmpuint(active(&t), ==, 1);
    const CrpVideoRegion *r = first(&t);
    assert_box(r->box, box(321, 221, 640, 362));
    g_assert_true(r->restart);
    g_assert_cmpuint(t.n_returned, ==, 0);

    crp_video_tracker_sent(&t, r - t.regions);
    g_assert_false(r->restart);
    g_assert_cmpint(t.stream_width[r->stream], ==, 640);
    g_assert_cmpint(t.stream_height[r->stream], ==, 362);
}

/* At the right and bottom edges the odd pixel is taken on the left/top. */
static void
test_even_at_the_edge(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t b = box(W - 201, H - 151, 201, 151);
    frame(&t, &b, 1, FALSE, 0);
    assert_box(first(&t)->box, box(W - 202, H - 152, 202, 152));
}

/* Small animations (a spinner, an icon) stay tiles. */
static void
test_small_boxes_are_no_video(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t small[] = {
        box(0, 0, 48, 400),                 /* too narrow */
        box(100, 100, 120, 120),            /* too few pixels */
        box(400, 400, 700, 40),             /* too flat */
    };
    for (int f = 0; f < 20; f++) {
        frame(&t, small, G_N_ELEMENTS(small), FALSE, f * FRAME_US);
    }
    g_assert_cmpuint(active(&t), ==, 0);
}

/* A region lives while anything in it changes, however the changes look,
 * and ends VIDEO_END_AFTER_US after the last one, giving its area back
 * with the time it last changed. It does not flap on a late frame. */
static void
test_ends_after_a_pause_not_before(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t b = box(100, 100, 320, 240);
    gint64 now = 0;
    frame(&t, &b, 1, FALSE, now);
    /* Changes that do not look like video (no box) keep it alive; so does
     * a gap shorter than the end time. */
    for (int f = 1; f < 20; f++) {
        now += f == 10 ? CRP_VIDEO_END_AFTER_US - 1000 : FRAME_US;
        frame(&t, NULL, 0, TRUE, now);
        g_assert_cmpuint(active(&t), ==, 1);
        g_assert_cmpuint(t.n_returned, ==, 0);
    }
    gint64 last = now;
    g_assert_cmpint(crp_video_tracker_next_end_us(&t), ==, last + CRP_VIDEO_END_AFTER_US);
    frame(&t, NULL, 0, FALSE, last + CRP_VIDEO_END_AFTER_US - 1);
    g_assert_cmpuint(active(&t), ==, 1);
    frame(&t, NULL, 0, FALSE, last + CRP_VIDEO_END_AFTER_US);
    g_assert_cmpuint(active(&t), ==, 0);
    g_assert_cmpuint(t.n_returned, ==, 1);
    assert_box(t.returned[0].box, b);
    g_assert_cmpint(t.returned[0].last_change_us, ==, last);
    g_assert_cmpint(crp_video_tracker_next_end_us(&t), ==, -1);
}

/* A box that sticks out grows the region (its stream restarts); one that
 * lies inside changes nothing. */
static void
test_grows_to_take_in_more(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t b = box(100, 100, 320, 180);
    frame(&t, &b, 1, FALSE, 0);
    CrpVideoRegion *r = &t.regions[0];
    crp_video_tracker_sent(&t, 0);

    pixman_box32_t inside = box(150, 120, 100, 100);
    frame(&t, &inside, 1, FALSE, FRAME_US);
    g_assert_false(r->restart);
    assert_box(r->box, b);

    pixman_box32_t taller = box(100, 100, 320, 240);
    frame(&t, &taller, 1, FALSE, 2 * FRAME_US);
    g_assert_true(r->restart);
    assert_box(r->box, taller);
    g_assert_cmpuint(t.n_returned, ==, 0);
    g_assert_cmpuint(active(&t), ==, 1);
}

/* A region that began on a transition (a window with a video moved in
 * where another was) took in still pixels with its first box; when it
 * grows it keeps only what changes now, and gives the rest back. */
static void
test_grows_to_what_changes_now(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t first_box = box(320, 192, 128, 128);
    frame(&t, &first_box, 1, FALSE, 0);
    crp_video_tracker_sent(&t, 0);
    pixman_box32_t part = box(330, 200, 118, 120);
    for (int f = 1; f <= 3; f++) {
        frame(&t, &part, 1, TRUE, f * FRAME_US);
    }
    assert_box(first(&t)->box, first_box);

    pixman_box32_t video = box(330, 200, 256, 160);
    frame(&t, &video, 1, TRUE, 4 * FRAME_US);
    g_assert_cmpuint(active(&t), ==, 1);
    assert_box(first(&t)->box, video);
    g_assert_true(first(&t)->restart);
    g_assert_cmpuint(t.n_returned, ==, 1);
    assert_box(t.returned[0].box, first_box);
}

/* The same video somewhere else (a window dragged) is a move: the old
 * area goes back to tiles and a new stream starts at the new place. */
static void
test_moves_with_its_window(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t a = box(100, 100, 320, 240);
    frame(&t, &a, 1, FALSE, 0);
    crp_video_tracker_sent(&t, 0);

    pixman_box32_t b = box(400, 300, 320, 240);     /* overlaps a corner */
    frame(&t, &b, 1, FALSE, FRAME_US);
    g_assert_cmpuint(active(&t), ==, 1);
    const CrpVideoRegion *r = first(&t);
    assert_box(r->box, b);
    g_assert_true(r->restart);
    g_assert_cmpuint(t.n_returned, ==, 1);
    assert_box(t.returned[0].box, a);

    /* Far away: the old one ends when it stops changing, and a new one
     * starts at once. */
    crp_video_tracker_sent(&t, r - t.regions);
    pixman_box32_t c = box(900, 40, 320, 240);
    frame(&t, &c, 1, FALSE, 2 * FRAME_US);
    g_assert_cmpuint(active(&t), ==, 2);
}

/* Shrinks only after VIDEO_SHRINK_AFTER_US of seeing much less, to what
 * was seen; the area left out is given back. */
static void
test_shrinks_slowly(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t big = box(100, 100, 640, 480);
    frame(&t, &big, 1, FALSE, 0);
    crp_video_tracker_sent(&t, 0);
    pixman_box32_t small = box(100, 100, 320, 240);
    gint64 now = 0;
    /* The first window saw the big box: no change at its end. */
    while (now < CRP_VIDEO_SHRINK_AFTER_US) {
        now += FRAME_US;
        frame(&t, &small, 1, TRUE, now);
    }
    assert_box(first(&t)->box, big);
    /* A whole window of the small box. */
    while (now < 2 * CRP_VIDEO_SHRINK_AFTER_US + FRAME_US) {
        now += FRAME_US;
        frame(&t, &small, 1, TRUE, now);
        if (first(&t)->box.x2 != big.x2) {
            break;
        }
    }
    assert_box(first(&t)->box, small);
    g_assert_true(first(&t)->restart);
    g_assert_cmpuint(t.n_returned, ==, 1);
    assert_box(t.returned[0].box, big);
}

/* Two regions that grow into each other become one. */
static void
test_overlapping_regions_merge(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t two[] = { box(0, 0, 300, 200), box(400, 0, 300, 200) };
    frame(&t, two, 2, FALSE, 0);
    g_assert_cmpuint(active(&t), ==, 2);
    /* The first grows right into the second (not a move: not twice as big). */
    pixman_box32_t wide = box(0, 0, 450, 200);
    frame(&t, &wide, 1, FALSE, FRAME_US);
    g_assert_cmpuint(active(&t), ==, 1);
    assert_box(first(&t)->box, box(0, 0, 700, 200));
    g_assert_cmpuint(t.n_returned, ==, 1);
}

/* At most CRP_VIDEO_MAX_REGIONS; stream numbers are never shared. */
static void
test_at_most_a_few(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t many[6];
    for (int i = 0; i < 6; i++) {
        many[i] = box((i % 3) * 420, (i / 3) * 400, 300, 200);
    }
    frame(&t, many, 6, FALSE, 0);
    g_assert_cmpuint(active(&t), ==, CRP_VIDEO_MAX_REGIONS);
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        for (guint j = i + 1; j < CRP_VIDEO_MAX_REGIONS; j++) {
            g_assert_cmpuint(t.regions[i].stream, !=, t.regions[j].stream);
        }
    }
}

/* A client keeps an ended stream's decoder until the number is started
 * again: new streams are picked so that the client never decodes more
 * than CRP_H264_MAX_PIXELS at once. */
static void
test_streams_within_the_clients_budget(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, 4096, 4096);
    pixman_box32_t a = box(0, 0, 3000, 2000);       /* 6 Mpixels */
    frame(&t, &a, 1, FALSE, 0);
    guint sa = first(&t)->stream;
    crp_video_tracker_sent(&t, 0);
    frame(&t, NULL, 0, FALSE, CRP_VIDEO_END_AFTER_US);
    g_assert_cmpuint(active(&t), ==, 0);

    /* 5 Mpixels fit only in place of the old 6. */
    pixman_box32_t b = box(0, 2040, 2500, 2000);
    frame(&t, &b, 1, FALSE, CRP_VIDEO_END_AFTER_US + FRAME_US);
    g_assert_cmpuint(active(&t), ==, 1);
    g_assert_cmpuint(first(&t)->stream, ==, sa);
    crp_video_tracker_sent(&t, first(&t) - t.regions);

    /* And a second 5 Mpixels does not fit beside it at all. */
    pixman_box32_t c = box(2600, 0, 1400, 3600);
    frame(&t, &c, 1, TRUE, CRP_VIDEO_END_AFTER_US + 2 * FRAME_US);
    g_assert_cmpuint(active(&t), ==, 1);
}

/* A copied or reset encoder restarts every stream; a new surface forgets
 * them (the client dropped its decoders). */
static void
test_restart_all(void)
{
    CrpVideoTracker t;
    crp_video_tracker_init(&t, W, H);
    pixman_box32_t two[] = { box(0, 0, 300, 200), box(400, 300, 300, 200) };
    frame(&t, two, 2, FALSE, 0);
    crp_video_tracker_sent(&t, 0);
    crp_video_tracker_sent(&t, 1);
    crp_video_tracker_restart_all(&t);
    g_assert_true(t.regions[0].restart && t.regions[1].restart);
    crp_video_tracker_init(&t, W, H);
    g_assert_cmpuint(active(&t), ==, 0);
    for (guint s = 0; s < CRP_H264_MAX_STREAMS; s++) {
        g_assert_cmpint(t.stream_width[s], ==, 0);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/video/starts-exactly-where-the-video-is",
                    test_starts_exactly_where_the_video_is);
    g_test_add_func("/video/even-at-the-edge", test_even_at_the_edge);
    g_test_add_func("/video/small-boxes-are-no-video", test_small_boxes_are_no_video);
    g_test_add_func("/video/ends-after-a-pause-not-before",
                    test_ends_after_a_pause_not_before);
    g_test_add_func("/video/grows-to-take-in-more", test_grows_to_take_in_more);
    g_test_add_func("/video/grows-to-what-changes-now", test_grows_to_what_changes_now);
    g_test_add_func("/video/moves-with-its-window", test_moves_with_its_window);
    g_test_add_func("/video/shrinks-slowly", test_shrinks_slowly);
    g_test_add_func("/video/overlapping-regions-merge", test_overlapping_regions_merge);
    g_test_add_func("/video/at-most-a-few", test_at_most_a_few);
    g_test_add_func("/video/streams-within-the-clients-budget",
                    test_streams_within_the_clients_budget);
    g_test_add_func("/video/restart-all", test_restart_all);
    return g_test_run();
}
