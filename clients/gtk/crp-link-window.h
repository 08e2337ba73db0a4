/*
 * crp-link-window.h: asking before a crp:// link opens an app.
 *
 * A link can come from any web page: clicking it must not start a VM in
 * the user's name unasked. This window names the app and the broker, with
 * Open and Cancel (the default: Enter and Escape cancel). It emits
 * "answered" (gboolean open) exactly once, then closes itself.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CRP_TYPE_LINK_WINDOW (crp_link_window_get_type())
G_DECLARE_FINAL_TYPE(CrpLinkWindow, crp_link_window, CRP, LINK_WINDOW,
                     GtkApplicationWindow)

/** @broker: the address the app would be opened from, as the user should
 *  read it (the caller resolves "the key file's broker"). */
CrpLinkWindow *crp_link_window_new(GtkApplication *app, const char *app_name,
                                   const char *broker);

G_END_DECLS
