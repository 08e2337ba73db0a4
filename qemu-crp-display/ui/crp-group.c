/*
 * CRP display: peers at the same point of the stream share one encoding.
 *
 * A group is one encoder (and so one zlib stream), the picture its members
 * hold and what changed since: every member has received exactly the
 * group's output, so one encoding serves all of them, and only the
 * encryption is per peer. The head (crp-head.c) decides when groups
 * form and split:
 *   - a peer that joins enters a group at that group's next full
 *     refresh (its members get a whole frame with a fresh zlib stream);
 *   - a member without room for a frame when the others have it leaves
 *     on a copy of the group (crp_encoder_copy(): same stream, same
 *     picture), so it goes on at its own pace without a full refresh and
 *     never holds the others back;
 *   - groups whose peers have all caught up merge again, at a full
 *     refresh, at most every CRP_GROUP_MERGE_INTERVAL_US.
 *
 * Threads: as crp-group.h says; the worker touches enc, prev, damage and
 * encoded only while the group is in the head's job.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "crp-group.h"
#include "trace.h"

/* One encoding and the peers that receive it. */
struct CrpGroup {
    int refcount;
    uint32_t caps;                  /* crp_group_caps_of() its members */
    GPtrArray *members;             /* CrpPeer *, not referenced */
    CrpEncoderRate traced_rate;     /* the last rate traced */
    /* Worker-owned while in the head's job. */
    CrpEncoder *enc;
    pixman_image_t *prev;           /* what the members have on screen */
    pixman_region32_t damage;       /* changed since their last frame */
    bool need_full;                 /* next frame whole, zlib afresh */
    GByteArray *encoded;
};

/* The capabilities that decide how a group encodes: its members all
 * decode the same encodings. */
uint32_t crp_group_caps_of(uint32_t peer_caps)
{
    return peer_caps & (CRP_CAP_ZLIB | CRP_CAP_JPEG | CRP_CAP_ZSTD | CRP_CAP_H264);
}

CrpGroup *crp_group_new(const CrpGroupConfig *gc, uint32_t caps)
{
    CrpGroup *g = g_new0(CrpGroup, 1);
    CrpEncoderConfig cfg = {
        .encodings = ((caps & CRP_CAP_ZLIB) ? 1u << CRP_ENCODING_ZLIB : 0) |
                     ((caps & CRP_CAP_JPEG) ? 1u << CRP_ENCODING_JPEG : 0) |
                     ((caps & CRP_CAP_ZSTD) ? 1u << CRP_ENCODING_ZSTD : 0) |
                     ((caps & CRP_CAP_H264) ? 1u << CRP_ENCODING_H264 : 0),
        .lossless = gc->lossless,
        .jpeg_quality = gc->jpeg_quality,
    };

    g->refcount = 1;
    g->caps = caps;
    g->enc = crp_encoder_new(&cfg);
    g->need_full = true;
    pixman_region32_init(&g->damage);
    g->encoded = g_byte_array_new();
    g->members = g_ptr_array_new();
    return g;
}

CrpGroup *crp_group_fork(CrpGroup *from)
{
    CrpGroup *g = g_new0(CrpGroup, 1);

    g->refcount = 1;
    g->caps = from->caps;
    g->enc = crp_encoder_copy(from->enc);
    g->need_full = from->need_full;
    if (from->prev) {
        g->prev = pixman_image_create_bits(
            PIXMAN_x8r8g8b8, pixman_image_get_width(from->prev),
            pixman_image_get_height(from->prev), NULL, 0);
        pixman_image_composite32(PIXMAN_OP_SRC, from->prev, NULL, g->prev,
                                 0, 0, 0, 0, 0, 0,
                                 pixman_image_get_width(from->prev),
                                 pixman_image_get_height(from->prev));
    }
    pixman_region32_init(&g->damage);
    pixman_region32_copy(&g->damage, &from->damage);
    g->encoded = g_byte_array_new();
    g->members = g_ptr_array_new();
    return g;
}

CrpGroup *crp_group_ref(CrpGroup *g)
{
    g->refcount++;
    return g;
}

void crp_group_unref(CrpGroup *g)
{
    if (!g || --g->refcount > 0) {
        return;
    }
    assert(g->members->len == 0);
    crp_encoder_free(g->enc);
    if (g->prev) {
        pixman_image_unref(g->prev);
    }
    pixman_region32_fini(&g->damage);
    g_byte_array_unref(g->encoded);
    g_ptr_array_unref(g->members);
    g_free(g);
}

uint32_t crp_group_get_caps(CrpGroup *g)
{
    return g->caps;
}

guint crp_group_n_members(CrpGroup *g)
{
    return g->members->len;
}

CrpPeer *crp_group_member(CrpGroup *g, guint i)
{
    return g_ptr_array_index(g->members, i);
}

bool crp_group_has_member(CrpGroup *g, CrpPeer *p)
{
    return g_ptr_array_find(g->members, p, NULL);
}

void crp_group_add(CrpGroup *g, CrpPeer *p)
{
    g_ptr_array_add(g->members, p);
}

void crp_group_remove(CrpGroup *g, CrpPeer *p)
{
    g_ptr_array_remove_fast(g->members, p);
}

void crp_group_set_need_full(CrpGroup *g)
{
    g->need_full = true;
}

bool crp_group_needs_full(CrpGroup *g)
{
    return g->need_full;
}

bool crp_group_refine_due(CrpGroup *g, int64_t now_us)
{
    int64_t due = crp_encoder_next_refine_us(g->enc);

    return due >= 0 && due <= now_us;
}

bool crp_group_has_work(CrpGroup *g, int64_t now_us)
{
    return g->need_full || pixman_region32_not_empty(&g->damage) ||
           crp_group_refine_due(g, now_us);
}

void crp_group_add_damage(CrpGroup *g, pixman_region32_t *region)
{
    pixman_region32_union(&g->damage, &g->damage, region);
}

void crp_group_begin_full(CrpGroup *g, int w, int h)
{
    crp_encoder_reset(g->enc);
    if (!g->prev || pixman_image_get_width(g->prev) != w ||
        pixman_image_get_height(g->prev) != h) {
        if (g->prev) {
            pixman_image_unref(g->prev);
        }
        g->prev = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
    }
    pixman_region32_reset(&g->damage, &(pixman_box32_t){ 0, 0, w, h });
}

const GByteArray *crp_group_get_encoded(CrpGroup *g)
{
    return g->encoded;
}

void crp_group_frame_done(CrpGroup *g)
{
    g->need_full = false;
}

/* Rates are traced when the JPEG quality changes or the target bitrate
 * moves by an eighth, not at every frame's new estimate. */
static void crp_group_trace_rate(CrpGroup *g, const CrpEncoderRate *r)
{
    CrpEncoderRate *t = &g->traced_rate;
    uint64_t delta = r->target_bps > t->target_bps ?
        r->target_bps - t->target_bps : t->target_bps - r->target_bps;

    if (r->jpeg_quality == t->jpeg_quality && delta <= t->target_bps / 8) {
        return;
    }
    trace_crp_group_rate(g, g->members->len, r->jpeg_quality,
                         r->refine_bytes, r->target_bps);
    *t = *r;
}

/*
 * Main loop, before a job: the encoder makes frames for the most
 * constrained member's link (lowest JPEG quality, least refinement a
 * frame). Members share a group only while they keep pace with each
 * other (crp-head.c), so that is every member's link, near enough.
 */
void crp_group_set_rate(CrpGroup *g, int64_t now_us)
{
    CrpEncoderRate rate = { 0 };

    for (guint i = 0; i < g->members->len; i++) {
        CrpPeer *p = g_ptr_array_index(g->members, i);
        CrpEncoderRate r;

        crp_peer_get_encoder_rate(p, now_us, &r);
        if (i == 0) {
            rate = r;
            continue;
        }
        rate.jpeg_quality = MIN(rate.jpeg_quality, r.jpeg_quality);
        /* Zero: no limit known, which any limit beats. */
        if (r.refine_bytes) {
            rate.refine_bytes = rate.refine_bytes ?
                MIN(rate.refine_bytes, r.refine_bytes) : r.refine_bytes;
        }
        if (r.target_bps) {
            rate.target_bps = rate.target_bps ?
                MIN(rate.target_bps, r.target_bps) : r.target_bps;
        }
    }
    crp_group_trace_rate(g, &rate);
    crp_encoder_set_rate(g->enc, &rate);
}

/* Worker: encode what changed since the members' picture, once for all.
 * g->damage stays: it says where the picture must now follow @fb. */
void crp_group_encode(CrpGroup *g, pixman_image_t *fb, int64_t now_us)
{
    bool full = g->need_full;

    g_byte_array_set_size(g->encoded, 0);
    crp_encoder_encode_frame(g->enc, full ? NULL : g->prev, fb,
                             full ? NULL : &g->damage, now_us, g->encoded,
                             NULL);
}

/* Worker: the members now show @fb; copy what changed into the picture. */
void crp_group_commit(CrpGroup *g, pixman_image_t *fb)
{
    int n;
    pixman_box32_t *boxes;

    boxes = pixman_region32_rectangles(&g->damage, &n);
    for (int i = 0; i < n; i++) {
        pixman_image_composite32(PIXMAN_OP_SRC, fb, NULL, g->prev,
                                 boxes[i].x1, boxes[i].y1, 0, 0,
                                 boxes[i].x1, boxes[i].y1,
                                 boxes[i].x2 - boxes[i].x1,
                                 boxes[i].y2 - boxes[i].y1);
    }
    pixman_region32_clear(&g->damage);
}

pixman_image_t *crp_group_trade_picture(CrpGroup *g, pixman_image_t *fb,
                                        pixman_region32_t *stale)
{
    pixman_image_t *old = g->prev;

    if (!old || pixman_image_get_width(old) != pixman_image_get_width(fb) ||
        pixman_image_get_height(old) != pixman_image_get_height(fb)) {
        return NULL;
    }
    g->prev = fb;
    pixman_region32_copy(stale, &g->damage);
    pixman_region32_clear(&g->damage);
    return old;
}
