/*
 * crp-video.c: where the screen plays video, frame after frame.
 *
 * The encoder reports, per frame, the boxes of picture-like change it saw
 * (each a group of tiles that kept changing and look like a picture, to
 * the pixel) and which regions changed at all. The tracker turns that
 * into at most CRP_VIDEO_MAX_REGIONS regions, each coded as one H.264
 * stream, with hysteresis so that a region neither flaps nor wanders:
 *
 *   - a region starts where a box of at least VIDEO_MIN_SIDE pixels a
 *     side and VIDEO_MIN_AREA in all appears (the tiles behind it have
 *     changed for VIDEO_MIN_STREAK frames in a row already);
 *   - it grows at once to take in a box that sticks out of it, to what
 *     changed like video this frame and the last (a box that only
 *     overlaps it and would more than double it is a move: the old
 *     region ends and a new one starts where the box is);
 *   - it shrinks only to what boxes covered over VIDEO_SHRINK_AFTER_US,
 *     and only if that is under three quarters of it;
 *   - it ends once nothing in it changed for VIDEO_END_AFTER_US.
 * What a region gives back (it ended, moved or shrank) is reported, for
 * the encoder to refine losslessly as tiles.
 *
 * A region keeps its position to the pixel: video decoded by the guest
 * is 4:2:0 on its own grid, and chroma sampled on the same grid comes
 * through almost untouched (measured on the desktop bench's clip: 46 dB
 * aligned, 30 dB one row off). Only the size is made even.
 *
 * Wire streams: the client keeps a decoder per stream number until the
 * number is started again or a SURFACE comes; the tracker remembers what
 * each number may still hold there, so that the streams it starts never
 * take a client past CRP_H264_MAX_PIXELS.
 */
#include "codec/crp-codec-private.h"

#include <string.h>

static gint64
box_area(const pixman_box32_t *b)
{
    return b->x2 > b->x1 && b->y2 > b->y1 ? (gint64)(b->x2 - b->x1) * (b->y2 - b->y1) : 0;
}

static gboolean
box_meets(const pixman_box32_t *a, const pixman_box32_t *b)
{
    return a->x1 < b->x2 && b->x1 < a->x2 && a->y1 < b->y2 && b->y1 < a->y2;
}

static gboolean
box_inside(const pixman_box32_t *inner, const pixman_box32_t *outer)
{
    return inner->x1 >= outer->x1 && inner->y1 >= outer->y1 &&
           inner->x2 <= outer->x2 && inner->y2 <= outer->y2;
}

static pixman_box32_t
box_union(const pixman_box32_t *a, const pixman_box32_t *b)
{
    return (pixman_box32_t){ MIN(a->x1, b->x1), MIN(a->y1, b->y1),
                             MAX(a->x2, b->x2), MAX(a->y2, b->y2) };
}

/* @seen grows by @b; an empty @seen is nothing yet. */
static void
grow_seen(pixman_box32_t *seen, const pixman_box32_t *b)
{
    *seen = box_area(seen) == 0 ? *b : box_union(seen, b);
}

static gint64
stream_area(const CrpVideoTracker *t, guint s)
{
    return (gint64)t->stream_width[s] * t->stream_height[s];
}

void
crp_video_tracker_init(CrpVideoTracker *t, int width, int height)
{
    memset(t, 0, sizeof(*t));
    t->width = width;
    t->height = height;
}

/* Makes @b's size even (growing it by a pixel to the right or down, or
 * left or up at the surface's edge), or FALSE if it cannot be a region. */
static gboolean
normalize(const CrpVideoTracker *t, pixman_box32_t *b)
{
    if ((b->x2 - b->x1) % 2) {
        if (b->x2 < t->width) {
            b->x2++;
        } else if (b->x1 > 0) {
            b->x1--;
        } else {
            b->x2--;
        }
    }
    if ((b->y2 - b->y1) % 2) {
        if (b->y2 < t->height) {
            b->y2++;
        } else if (b->y1 > 0) {
            b->y1--;
        } else {
            b->y2--;
        }
    }
    int w = b->x2 - b->x1, h = b->y2 - b->y1;
    return w >= CRP_VIDEO_MIN_SIDE && h >= CRP_VIDEO_MIN_SIDE &&
           (gint64)w * h >= CRP_VIDEO_MIN_AREA && w <= CRP_H264_MAX_DIM &&
           h <= CRP_H264_MAX_DIM && (gint64)w * h <= CRP_H264_MAX_PIXELS;
}

/* Whether stream @s may become @area pixels without taking a client's
 * live streams past the cap. */
static gboolean
stream_fits(const CrpVideoTracker *t, guint s, gint64 area)
{
    gint64 others = 0;
    for (guint i = 0; i < CRP_H264_MAX_STREAMS; i++) {
        others += i == s ? 0 : stream_area(t, i);
    }
    return others + area <= CRP_H264_MAX_PIXELS;
}

/* The region's stream starts afresh at the region's size; the client may
 * hold either size until that rect goes out (crp_video_tracker_sent()). */
static void
restart(CrpVideoTracker *t, CrpVideoRegion *r)
{
    guint s = r->stream;
    r->restart = TRUE;
    t->stream_width[s] = MAX(t->stream_width[s], r->box.x2 - r->box.x1);
    t->stream_height[s] = MAX(t->stream_height[s], r->box.y2 - r->box.y1);
}

static void
give_back(CrpVideoTracker *t, const pixman_box32_t *box, gint64 last_change_us)
{
    g_assert(t->n_returned < G_N_ELEMENTS(t->returned));
    t->returned[t->n_returned++] = (CrpVideoReturned){ *box, last_change_us };
}

static void
end_region(CrpVideoTracker *t, CrpVideoRegion *r)
{
    give_back(t, &r->box, r->last_change_us);
    r->active = FALSE;
}

void
crp_video_tracker_end(CrpVideoTracker *t, guint i)
{
    g_return_if_fail(i < CRP_VIDEO_MAX_REGIONS && t->regions[i].active);
    end_region(t, &t->regions[i]);
}

static gboolean
start_region(CrpVideoTracker *t, const pixman_box32_t *box, gint64 now_us)
{
    CrpVideoRegion *r = NULL;
    gboolean used[CRP_H264_MAX_STREAMS] = { FALSE };
    gint64 area = box_area(box);
    int best = -1;

    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        if (t->regions[i].active) {
            used[t->regions[i].stream] = TRUE;
        } else if (!r) {
            r = &t->regions[i];
        }
    }
    if (!r) {
        return FALSE;
    }
    /* Of the free stream numbers, the one whose old stream is largest:
     * starting it again frees the most at the client. */
    for (guint s = 0; s < CRP_H264_MAX_STREAMS; s++) {
        if (!used[s] && stream_fits(t, s, area) &&
            (best < 0 || stream_area(t, s) > stream_area(t, best))) {
            best = s;
        }
    }
    if (best < 0) {
        return FALSE;
    }
    *r = (CrpVideoRegion){
        .active = TRUE,
        .box = *box,
        .stream = best,
        .started_us = now_us,
        .last_change_us = now_us,
        .seen = *box,
        .seen_since_us = now_us,
        .obs_now = *box,
    };
    restart(t, r);
    return TRUE;
}

/* Resizes @r to @box (even already), or FALSE if its stream cannot. */
static gboolean
resize_region(CrpVideoTracker *t, CrpVideoRegion *r, const pixman_box32_t *box)
{
    if (!stream_fits(t, r->stream, box_area(box))) {
        return FALSE;
    }
    r->box = *box;
    restart(t, r);
    return TRUE;
}

/* A box seen this frame: grow, move or leave @r. */
static void
observe(CrpVideoTracker *t, CrpVideoRegion *r, const pixman_box32_t *obs,
        gint64 now_us)
{
    r->last_change_us = now_us;
    grow_seen(&r->seen, obs);
    grow_seen(&r->obs_now, obs);
    if (box_inside(obs, &r->box)) {
        return;
    }
    pixman_box32_t u = box_union(&r->box, obs);
    if (box_area(&u) > 2 * MAX(box_area(&r->box), box_area(obs))) {
        /* Not the same video grown: the same size somewhere else. */
        pixman_box32_t old = r->box;
        pixman_box32_t moved = *obs;
        if (normalize(t, &moved)) {
            give_back(t, &old, r->last_change_us);
            r->box = moved;
            r->seen = moved;
            r->seen_since_us = now_us;
            r->obs_now = moved;
            if (!resize_region(t, r, &moved)) {
                r->active = FALSE;
            }
        }
        return;
    }
    /* Its stream restarts anyway: grow to what changes now rather than
     * keep all of the old box. A region that began as a window moved in
     * (over where the video was) took in still pixels with its first
     * box, which would otherwise stay lossy video until it ends. */
    pixman_box32_t g = r->obs_now;
    if (box_area(&r->obs_last) > 0) {
        g = box_union(&g, &r->obs_last);
    } else {
        g = u;
    }
    pixman_box32_t old = r->box;
    if (normalize(t, &g) && resize_region(t, r, &g) && !box_inside(&old, &g)) {
        give_back(t, &old, now_us);
    }
}

/* Ends the smaller of two regions that came to overlap, growing the
 * larger over both. */
static void
merge_overlaps(CrpVideoTracker *t)
{
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        for (guint j = i + 1; j < CRP_VIDEO_MAX_REGIONS; j++) {
            CrpVideoRegion *a = &t->regions[i], *b = &t->regions[j];
            if (!a->active || !b->active || !box_meets(&a->box, &b->box)) {
                continue;
            }
            if (box_area(&a->box) < box_area(&b->box)) {
                CrpVideoRegion *tmp = a;
                a = b;
                b = tmp;
            }
            pixman_box32_t u = box_union(&a->box, &b->box);
            end_region(t, b);
            if (normalize(t, &u)) {
                resize_region(t, a, &u);
            }
            a->last_change_us = MAX(a->last_change_us, b->last_change_us);
        }
    }
}

void
crp_video_tracker_update(CrpVideoTracker *t, const pixman_box32_t *obs,
                         guint n_obs, const gboolean *changed, gint64 now_us)
{
    gboolean matched[CRP_VIDEO_MAX_OBSERVATIONS] = { FALSE };

    t->n_returned = 0;
    n_obs = MIN(n_obs, CRP_VIDEO_MAX_OBSERVATIONS);
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        CrpVideoRegion *r = &t->regions[i];
        if (!r->active) {
            continue;
        }
        r->obs_last = r->obs_now;
        r->obs_now = (pixman_box32_t){ 0 };
        if (changed && changed[i]) {
            r->last_change_us = now_us;
        }
        for (guint o = 0; o < n_obs && r->active; o++) {
            if (box_meets(&obs[o], &r->box)) {
                matched[o] = TRUE;
                observe(t, r, &obs[o], now_us);
            }
        }
    }
    merge_overlaps(t);

    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        CrpVideoRegion *r = &t->regions[i];
        if (!r->active) {
            continue;
        }
        if (now_us - r->last_change_us >= CRP_VIDEO_END_AFTER_US) {
            end_region(t, r);
            continue;
        }
        if (now_us - r->seen_since_us < CRP_VIDEO_SHRINK_AFTER_US) {
            continue;
        }
        pixman_box32_t seen = r->seen;
        if (normalize(t, &seen) && box_inside(&seen, &r->box) &&
            box_area(&seen) * 4 < box_area(&r->box) * 3) {
            /* The area left out goes back to tiles: all of the old box is
             * refined, which covers it. */
            pixman_box32_t old = r->box;
            if (resize_region(t, r, &seen)) {
                give_back(t, &old, now_us);
            }
        }
        r->seen = (pixman_box32_t){ 0 };
        r->seen_since_us = now_us;
    }

    for (guint o = 0; o < n_obs; o++) {
        pixman_box32_t b = obs[o];
        gboolean covered = FALSE;
        for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS && !covered; i++) {
            covered = t->regions[i].active && box_meets(&b, &t->regions[i].box);
        }
        if (!matched[o] && !covered && normalize(t, &b)) {
            start_region(t, &b, now_us);
        }
    }
}

void
crp_video_tracker_restart_all(CrpVideoTracker *t)
{
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        if (t->regions[i].active) {
            restart(t, &t->regions[i]);
        }
    }
}

void
crp_video_tracker_sent(CrpVideoTracker *t, guint i)
{
    CrpVideoRegion *r = &t->regions[i];
    if (r->restart) {
        r->restart = FALSE;
        t->stream_width[r->stream] = r->box.x2 - r->box.x1;
        t->stream_height[r->stream] = r->box.y2 - r->box.y1;
    }
}

gint64
crp_video_tracker_next_end_us(const CrpVideoTracker *t)
{
    gint64 next = -1;
    for (guint i = 0; i < CRP_VIDEO_MAX_REGIONS; i++) {
        if (t->regions[i].active) {
            gint64 due = t->regions[i].last_change_us + CRP_VIDEO_END_AFTER_US;
            next = next < 0 ? due : MIN(next, due);
        }
    }
    return next;
}
