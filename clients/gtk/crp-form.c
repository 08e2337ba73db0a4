/*
 * crp-form.c: see crp-form.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-form.h"

GtkWidget *crp_form_box(void)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
    gtk_widget_set_margin_start(box, 24);
    gtk_widget_set_margin_end(box, 24);
    gtk_widget_set_margin_top(box, 24);
    gtk_widget_set_margin_bottom(box, 24);
    return box;
}

GtkWidget *crp_form_label(const char *text, const char *css_class)
{
    GtkWidget *l = gtk_label_new(text);
    gtk_label_set_wrap(GTK_LABEL(l), TRUE);
    gtk_label_set_xalign(GTK_LABEL(l), 0);
    gtk_label_set_max_width_chars(GTK_LABEL(l), 50);
    if (css_class) {
        gtk_widget_add_css_class(l, css_class);
    }
    return l;
}

GtkWidget *crp_form_actions(void)
{
    GtkWidget *actions = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    gtk_widget_set_halign(actions, GTK_ALIGN_END);
    return actions;
}
