/*
 * crp-link-window.c: see crp-link-window.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-link-window.h"

#include "crp-form.h"

struct _CrpLinkWindow {
    GtkApplicationWindow parent;

    gboolean answered;
    GtkWidget *heading, *text;
};

G_DEFINE_FINAL_TYPE(CrpLinkWindow, crp_link_window, GTK_TYPE_APPLICATION_WINDOW)

enum { SIGNAL_ANSWERED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void answer(CrpLinkWindow *win, gboolean open)
{
    if (win->answered) {
        return;
    }
    win->answered = TRUE;
    g_signal_emit(win, signals[SIGNAL_ANSWERED], 0, open);
}

static void on_open_clicked(GtkButton *button, gpointer data)
{
    answer(data, TRUE);
    gtk_window_destroy(GTK_WINDOW(data));
}

static void on_cancel_clicked(GtkButton *button, gpointer data)
{
    gtk_window_close(GTK_WINDOW(data));
}

/* Closing the window any way (Cancel, Escape, the title bar) is Cancel. */
static gboolean crp_link_window_close_request(GtkWindow *window)
{
    GtkWindowClass *parent = GTK_WINDOW_CLASS(crp_link_window_parent_class);

    answer(CRP_LINK_WINDOW(window), FALSE);
    return parent->close_request ? parent->close_request(window) : FALSE;
}

static void crp_link_window_init(CrpLinkWindow *win)
{
    GtkWidget *box = crp_form_box();

    win->heading = crp_form_label(NULL, "title-2");
    win->text = crp_form_label(NULL, NULL);
    gtk_box_append(GTK_BOX(box), win->heading);
    gtk_box_append(GTK_BOX(box), win->text);
    gtk_box_append(GTK_BOX(box), crp_form_label("Open links only from people "
                                                "and pages you trust.",
                                                "dim-label"));

    GtkWidget *actions = crp_form_actions();
    GtkWidget *cancel = gtk_button_new_with_mnemonic("_Cancel");
    GtkWidget *open = gtk_button_new_with_mnemonic("_Open");
    gtk_widget_add_css_class(open, "suggested-action");
    g_signal_connect(cancel, "clicked", G_CALLBACK(on_cancel_clicked), win);
    g_signal_connect(open, "clicked", G_CALLBACK(on_open_clicked), win);
    gtk_box_append(GTK_BOX(actions), cancel);
    gtk_box_append(GTK_BOX(actions), open);
    gtk_box_append(GTK_BOX(box), actions);

    gtk_window_set_child(GTK_WINDOW(win), box);
    gtk_window_set_title(GTK_WINDOW(win), "Open a link — CRP");
    gtk_window_set_default_size(GTK_WINDOW(win), 440, -1);
    /* A stray Enter must not start a VM: Cancel is where the keys go. */
    gtk_window_set_default_widget(GTK_WINDOW(win), cancel);
    gtk_window_set_focus(GTK_WINDOW(win), cancel);
}

static void crp_link_window_class_init(CrpLinkWindowClass *klass)
{
    GTK_WINDOW_CLASS(klass)->close_request = crp_link_window_close_request;
    gtk_widget_class_add_binding_action(GTK_WIDGET_CLASS(klass), GDK_KEY_Escape, 0,
                                        "window.close", NULL);
    /* (gboolean open) */
    signals[SIGNAL_ANSWERED] = g_signal_new("answered",
        G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
        G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

CrpLinkWindow *crp_link_window_new(GtkApplication *app, const char *app_name,
                                   const char *broker)
{
    CrpLinkWindow *win = g_object_new(CRP_TYPE_LINK_WINDOW, "application", app, NULL);
    g_autofree char *heading = g_strdup_printf("Open “%s”?", app_name);
    g_autofree char *text = g_strdup_printf(
        "A link asks to open the app “%s” from the broker %s. Opening it "
        "logs you in there and starts the app's virtual machine in your name.",
        app_name, broker);

    gtk_label_set_text(GTK_LABEL(win->heading), heading);
    gtk_label_set_text(GTK_LABEL(win->text), text);
    return win;
}
