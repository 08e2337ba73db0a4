/*
 * crp-form.h: the pieces the windows are made of, so that they look and
 * behave alike: the small windows' (login, link) boxes and labels, and
 * every window's shortcuts and error dialogs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/** A vertical box with the windows' spacing and margins. */
GtkWidget *crp_form_box(void);

/** A wrapping, left-aligned label of @text (may be NULL), with
 *  @css_class (may be NULL). */
GtkWidget *crp_form_label(const char *text, const char *css_class);

/** A row for buttons, at the end of the line. */
GtkWidget *crp_form_actions(void);

/** @trigger ("<Control>1", "Delete|KP_Delete") on @widget runs @func
 *  with @args (may be NULL). */
void crp_form_add_shortcut(GtkWidget *widget, const char *trigger,
                           GtkShortcutFunc func, GVariant *args);

/** A modal error dialog over @parent: @title, then "@what: @message";
 *  logged as well. */
void crp_form_show_error(GtkWindow *parent, const char *title, const char *what,
                         const char *message);

G_END_DECLS
