/*
 * crp-session-clipboard.h: the desktop's clipboard shared with a session.
 *
 * What the user copies on the desktop (text, an image) is announced to
 * the session, which asks for it when the guest pastes; what the guest
 * (or another display of the VM) copies is fetched at once and put on
 * the desktop's clipboard (GdkClipboard), text and PNG. Made by the
 * session window once the display link is ready and the server shares
 * its clipboard (CRP_CAP_CLIPBOARD); it calls the link, never the window.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include "crp-display-link.h"

G_BEGIN_DECLS

typedef struct CrpSessionClipboard CrpSessionClipboard;

/** Shares @clipboard with @link's session (which must outlive it), and
 *  announces what @clipboard holds now. */
CrpSessionClipboard *crp_session_clipboard_new(GdkClipboard *clipboard,
                                               CrpDisplayLink *link);
/** Accepts NULL. */
void crp_session_clipboard_free(CrpSessionClipboard *cb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpSessionClipboard, crp_session_clipboard_free)

/** The link's clipboard event: the server's clipboard holds @formats. */
void crp_session_clipboard_server_grab(CrpSessionClipboard *cb, guint8 formats);
/** The link's clipboard_data event. */
void crp_session_clipboard_server_data(CrpSessionClipboard *cb, guint8 format,
                                       guint8 status);

G_END_DECLS
