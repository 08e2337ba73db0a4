/*
 * crp-session-window.h: one app's window: the guest's screen (CrpDisplay),
 * its sound (CrpSound), a header bar with the session's controls (close
 * app, scale, fullscreen, speaker and microphone mute, stats) and the
 * display connection that feeds them.
 *
 * The window runs one display connection at a time. Direct mode connects
 * to an address; broker mode hands it a stream the broker attached. When
 * a connection ends by itself (not through the window), "disconnected" is
 * emitted: a handler may reconnect (crp_session_window_attach() again,
 * with crp_session_window_set_status() showing progress) and returns TRUE;
 * if nobody handles it, the window says what happened and closes.
 *
 * When the window changes size, the guest is asked for the new size
 * (debounced, in device pixels) unless the user prefers scaling or 1:1;
 * a guest that cannot resize is scaled. At 1:1 the picture scrolls.
 *
 * Shortcuts: F11 fullscreen, Shift+F12 stats overlay, Shift+F10 the menu
 * (special keys, the fit preference), Ctrl+Alt+G releases the keyboard;
 * every other key goes to the guest.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include "crp-files-transfers.h"

G_BEGIN_DECLS

#define CRP_TYPE_SESSION_WINDOW (crp_session_window_get_type())
G_DECLARE_FINAL_TYPE(CrpSessionWindow, crp_session_window, CRP, SESSION_WINDOW,
                     GtkApplicationWindow)

/** How a display connection ended: why, for "disconnected" handlers. */
typedef enum {
    /** The server ended the session (BYE): the app is gone, or replaced. */
    CRP_SESSION_END_SERVER_CLOSED,
    /** The server refused the ticket (or had no room). */
    CRP_SESSION_END_REFUSED,
    /** The connection broke or could not be made: worth reconnecting. */
    CRP_SESSION_END_LOST,
    /** A protocol error. */
    CRP_SESSION_END_PROTOCOL,
} CrpSessionEnd;

/**
 * A window for app @title; not shown until the first picture arrives (so
 * it opens at the guest's size) or a second has passed. @scale_to_fit
 * FALSE starts 1:1.
 */
CrpSessionWindow *crp_session_window_new(GtkApplication *app, const char *title,
                                         gboolean scale_to_fit);

/** Remembers the window's size, scaling and mute as @app's (in
 *  crp-settings), and applies what was remembered; call before showing. */
void crp_session_window_remember_as(CrpSessionWindow *win, const char *app);

/** Direct mode: connects to @address ("unix:/path", "tcp:host:port") with
 *  @ticket. FALSE on a malformed address. */
gboolean crp_session_window_connect(CrpSessionWindow *win, const char *address,
                                    const char *ticket, GError **error);

/** Broker mode: runs the display channel on @stream (attached by the
 *  broker, spliced to the VM) with @ticket. */
gboolean crp_session_window_attach(CrpSessionWindow *win, GIOStream *stream,
                                   const char *ticket, GError **error);

/** Shows @status ("Reconnecting…") over the picture; NULL hides it. */
void crp_session_window_set_status(CrpSessionWindow *win, const char *status);

/** Tells the user the session cannot go on (@detail may be NULL), then
 *  closes the window. */
void crp_session_window_fail(CrpSessionWindow *win, const char *title,
                             const char *detail);

/** My files for this window (broker mode, when the broker serves them):
 *  files dropped on it upload to the top of My files through @transfers,
 *  whose progress shows in a corner of the picture; the menu gets
 *  "My files…", which emits "show-files". */
void crp_session_window_enable_files(CrpSessionWindow *win, CrpFilesTransfers *transfers);

/** TRUE once the user closed the app (CLOSE_APP was sent). */
gboolean crp_session_window_app_closed(CrpSessionWindow *win);

G_END_DECLS
