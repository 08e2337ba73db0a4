/*
 * CRP display: peers at the same point of the stream share one encoding
 * (crp-group.c). Only the head (crp-head.c) uses groups; it decides who
 * is in which.
 *
 * Threads: groups are created, joined, left and freed in the main loop
 * with the BQL, between the head's jobs. While a group is in the head's
 * job (from crp_group_ref() into the job until the job's bottom half),
 * the worker alone touches its encoder, picture, damage and output:
 * only the functions marked "worker" below, and the main loop none of
 * those nor crp_group_add_damage() and crp_group_begin_full(). Members
 * may leave (a disconnect) while it is out; the worker never reads them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_GROUP_H
#define UI_CRP_GROUP_H

#include <pixman.h>

#include "crp-peer.h"

typedef struct CrpGroup CrpGroup;

typedef struct CrpGroupConfig {
    bool lossless;
    int jpeg_quality;
} CrpGroupConfig;

/* The capabilities that decide how a group encodes. */
uint32_t crp_group_caps_of(uint32_t peer_caps);

/* A group for peers with @caps (crp_group_caps_of()); its first frame
 * is whole. */
CrpGroup *crp_group_new(const CrpGroupConfig *cfg, uint32_t caps);
/* A copy of @from without members: the same encoder state (stream) and
 * picture, so members moved to it go on without a whole frame. */
CrpGroup *crp_group_fork(CrpGroup *from);
CrpGroup *crp_group_ref(CrpGroup *g);
/* Accepts NULL. The last reference needs the group empty. */
void crp_group_unref(CrpGroup *g);

uint32_t crp_group_get_caps(CrpGroup *g);
guint crp_group_n_members(CrpGroup *g);
CrpPeer *crp_group_member(CrpGroup *g, guint i);
bool crp_group_has_member(CrpGroup *g, CrpPeer *p);
/* Members are listed, not referenced: a peer leaves before it is freed. */
void crp_group_add(CrpGroup *g, CrpPeer *p);
void crp_group_remove(CrpGroup *g, CrpPeer *p);

/* Its next frame is whole, with its compression afresh. */
void crp_group_set_need_full(CrpGroup *g);
bool crp_group_needs_full(CrpGroup *g);
/* Something to send at @now_us: a whole frame, damage or refinement. */
bool crp_group_has_work(CrpGroup *g, int64_t now_us);
/* Lossy content is due for refinement at @now_us. */
bool crp_group_refine_due(CrpGroup *g, int64_t now_us);
/* The screen changed in @region since the members' last frame. */
void crp_group_add_damage(CrpGroup *g, pixman_region32_t *region);
/* Before a whole frame of @w x @h: encoder reset, picture sized, all
 * of it damaged. */
void crp_group_begin_full(CrpGroup *g, int w, int h);
/* Before a job, main loop: the encoder works at the most constrained
 * member's link. */
void crp_group_set_rate(CrpGroup *g, int64_t now_us);
/* After the job, main loop: what the worker made for the members. */
const GByteArray *crp_group_get_encoded(CrpGroup *g);
/* After the job, main loop: its frame went out; the next follows on. */
void crp_group_frame_done(CrpGroup *g);

/* Worker: encode what changed since the members' picture, once for all. */
void crp_group_encode(CrpGroup *g, pixman_image_t *fb, int64_t now_us);
/* Worker: the members now show @fb; copy what changed into the picture. */
void crp_group_commit(CrpGroup *g, pixman_image_t *fb);
/*
 * Worker: the members now show @fb; instead of copying, @fb becomes the
 * group's picture and the old picture is returned in its place, behind
 * @fb where *@stale (set here) says. NULL (nothing traded) if the
 * picture is missing or of another size.
 */
pixman_image_t *crp_group_trade_picture(CrpGroup *g, pixman_image_t *fb,
                                        pixman_region32_t *stale);

#endif /* UI_CRP_GROUP_H */
