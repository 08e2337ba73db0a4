/*
 * crp-login-window.h: logging in: the key file (chosen once, remembered),
 * the login's progress, and why it failed.
 *
 * It shows itself, and emits "logged-in" with the new CrpBrokerClient
 * (the handler takes it) once the broker accepted the key.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CRP_TYPE_LOGIN_WINDOW (crp_login_window_get_type())
G_DECLARE_FINAL_TYPE(CrpLoginWindow, crp_login_window, CRP, LOGIN_WINDOW,
                     GtkApplicationWindow)

/** @key_file: to start with (NULL: the remembered one); @broker: an
 *  address instead of the key file's (NULL: the key file's). */
CrpLoginWindow *crp_login_window_new(GtkApplication *app, const char *key_file,
                                     const char *broker);

/** Logs in with the key file shown, as the button does. */
void crp_login_window_log_in(CrpLoginWindow *win);

/** Shows @error (a login that failed later, e.g. the broker went away). */
void crp_login_window_show_error(CrpLoginWindow *win, const GError *error);

/** The key file shown (NULL if none). */
const char *crp_login_window_get_key_file(CrpLoginWindow *win);

G_END_DECLS
