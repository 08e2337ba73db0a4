/*
 * CRP display: one head per graphic console (crp-head.c).
 *
 * A head is a DisplayChangeListener with its own framebuffer, an
 * encoder worker thread and the groups (crp-group.h) of the peers that
 * watch it. Its owner (crp.c) hands it peers once their handshake is
 * done and takes them back when they close; the head only calls its
 * peers and groups, never its owner.
 *
 * Threads: every function here runs in the main loop with the BQL held.
 * The head's worker thread encodes from the head's framebuffer and the
 * groups in its job while a job is out (from dpy_refresh until the job's
 * bottom half); the main loop touches neither, nor changes which peers
 * are in which group, until the bottom half has taken the results.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_HEAD_H
#define UI_CRP_HEAD_H

#include "ui/console.h"
#include "crp-peer.h"

typedef struct CrpHead CrpHead;

typedef struct CrpHeadConfig {
    unsigned refresh_ms;            /* fastest refresh */
    bool lossless;
    int jpeg_quality;
} CrpHeadConfig;

/* Registers a listener on @con and starts its worker; a head lives as
 * long as QEMU. */
CrpHead *crp_head_new(QemuConsole *con, const CrpHeadConfig *cfg);
QemuConsole *crp_head_get_console(CrpHead *h);

/* @p finished its handshake: it gets the cursor now and a whole frame
 * soon. The head holds a reference until crp_head_remove_peer(). */
void crp_head_add_peer(CrpHead *h, CrpPeer *p);
/* @p closed: no more frames for it. Does nothing for a peer not added. */
void crp_head_remove_peer(CrpHead *h, CrpPeer *p);
/* A peer's input was applied: frames at the full rate for a while. */
void crp_head_input(CrpHead *h);

#endif /* UI_CRP_HEAD_H */
