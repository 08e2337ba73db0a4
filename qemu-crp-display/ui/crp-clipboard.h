/*
 * CRP display: the clipboard shared with the clients (crp-clipboard.c).
 *
 * One QEMU clipboard peer (ui/clipboard.h) for the whole display: what
 * the guest (qemu-vdagent) or another display (VNC, GTK) copies is
 * announced to every CRP peer that shares the clipboard, and what a CRP
 * peer copies becomes QEMU's clipboard, for the guest and the others.
 * Its owner (crp.c) hands it the peers that agreed to CRP_CAP_CLIPBOARD
 * and their clipboard events; it calls only its peers.
 *
 * Text and PNG images cross (CRP_CLIPBOARD_TEXT, _PNG). QEMU 10 itself
 * knows only text: the image type, QEMU_CLIPBOARD_TYPE_IMAGE_PNG, and
 * qemu-vdagent's support for it come with 0002-clipboard-png.patch.
 *
 * Threads: the main loop with the BQL, as QEMU's clipboard.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_CLIPBOARD_H
#define UI_CRP_CLIPBOARD_H

#include "crp-peer.h"

typedef struct CrpClipboard CrpClipboard;

/* Registers the QEMU clipboard peer; lives as long as QEMU. */
CrpClipboard *crp_clipboard_new(void);

/* @p agreed to share the clipboard: it learns what it holds now. The
 * clipboard holds a reference until crp_clipboard_remove_peer(). */
void crp_clipboard_add_peer(CrpClipboard *cb, CrpPeer *p);
/* @p closed (does nothing for a peer not added): if it held the
 * clipboard, the clipboard is empty now. */
void crp_clipboard_remove_peer(CrpClipboard *cb, CrpPeer *p);
/* @p's CrpPeerEvents.clipboard. */
void crp_clipboard_peer_event(CrpClipboard *cb, CrpPeer *p,
                              const CrpPeerClipboard *ev);

#endif /* UI_CRP_CLIPBOARD_H */
