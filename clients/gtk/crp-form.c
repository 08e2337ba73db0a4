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

void crp_form_add_shortcut(GtkWidget *widget, const char *trigger,
                           GtkShortcutFunc func, GVariant *args)
{
    GtkEventController *controller = gtk_shortcut_controller_new();
    GtkShortcut *shortcut = gtk_shortcut_new(gtk_shortcut_trigger_parse_string(trigger),
                                             gtk_callback_action_new(func, NULL, NULL));
    if (args) {
        gtk_shortcut_set_arguments(shortcut, args);
    }
    gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(controller), shortcut);
    gtk_widget_add_controller(widget, controller);
}

static void on_error_response(GtkDialog *dialog, int response, gpointer data)
{
    gtk_window_destroy(GTK_WINDOW(dialog));
}

void crp_form_show_error(GtkWindow *parent, const char *title, const char *what,
                         const char *message)
{
    g_message("%s: %s: %s", what, title, message);
    GtkWidget *dialog = gtk_message_dialog_new(parent,
        GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, GTK_MESSAGE_ERROR,
        GTK_BUTTONS_CLOSE, "%s", title);
    gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dialog), "%s: %s",
                                             what, message);
    g_signal_connect(dialog, "response", G_CALLBACK(on_error_response), NULL);
    gtk_window_present(GTK_WINDOW(dialog));
}
