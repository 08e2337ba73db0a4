/*
 * crp-form.h: the pieces the small windows (login, link) are made of, so
 * that they look alike.
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

G_END_DECLS
