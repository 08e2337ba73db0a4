/*
 * crp-main-window.h: the logged-in user's window: "My apps" (subscribed,
 * each with Open), the catalog (Subscribe / Unsubscribe) and the running
 * sessions (Reconnect / Close).
 *
 * Lists, subscriptions and closing sessions are requests it makes itself
 * on the broker client it is given (not owned). Opening and reconnecting
 * start session windows, which is the caller's business: it emits
 * "open-app" (app name, app title) and "reconnect-session" (session id,
 * app name) for them, and shows progress while told to. Its "My files"
 * button (Ctrl+F), there only when the broker serves My files, emits
 * "show-files".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include "crp-broker-client.h"

G_BEGIN_DECLS

#define CRP_TYPE_MAIN_WINDOW (crp_main_window_get_type())
G_DECLARE_FINAL_TYPE(CrpMainWindow, crp_main_window, CRP, MAIN_WINDOW,
                     GtkApplicationWindow)

CrpMainWindow *crp_main_window_new(GtkApplication *app);

/** The broker client to use (NULL while logged out: the lists stay, the
 *  buttons do nothing); then refreshes everything. */
void crp_main_window_set_client(CrpMainWindow *win, CrpBrokerClient *client);

/** Re-reads my apps, the catalog and the sessions. */
void crp_main_window_refresh(CrpMainWindow *win);

/** A spinner on @app's Open button while it starts (@busy). */
void crp_main_window_set_app_busy(CrpMainWindow *win, const char *app, gboolean busy);

/** Says @error (a headline and its message) in a dialog over the window. */
void crp_main_window_show_error(CrpMainWindow *win, const char *what,
                                const GError *error);

/** A line under the header ("Reconnecting to the broker…"); NULL hides it. */
void crp_main_window_set_banner(CrpMainWindow *win, const char *text);

G_END_DECLS
