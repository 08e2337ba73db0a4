/*
 * crp-login-window.c: see crp-login-window.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-login-window.h"

#include "crp-broker-client.h"
#include "crp-client-errors.h"
#include "crp-form.h"
#include "crp-settings.h"

struct _CrpLoginWindow {
    GtkApplicationWindow parent;

    char *key_file;
    char *broker;
    GCancellable *cancel;

    GtkWidget *key_label, *choose_button, *login_button, *spinner;
    GtkWidget *error_title, *error_detail;
    GtkFileChooserNative *chooser;
};

G_DEFINE_FINAL_TYPE(CrpLoginWindow, crp_login_window, GTK_TYPE_APPLICATION_WINDOW)

enum { SIGNAL_LOGGED_IN, N_SIGNALS };
static guint signals[N_SIGNALS];

static void set_busy(CrpLoginWindow *win, gboolean busy)
{
    gtk_spinner_set_spinning(GTK_SPINNER(win->spinner), busy);
    gtk_widget_set_visible(win->spinner, busy);
    gtk_widget_set_sensitive(win->login_button, !busy && win->key_file);
    gtk_widget_set_sensitive(win->choose_button, !busy);
}

static void set_key_file(CrpLoginWindow *win, const char *path)
{
    g_free(win->key_file);
    win->key_file = g_strdup(path);
    gtk_label_set_text(GTK_LABEL(win->key_label),
                       path ? path : "No key file chosen yet");
    gtk_widget_set_sensitive(win->login_button, path != NULL);
}

void crp_login_window_show_error(CrpLoginWindow *win, const GError *error)
{
    gtk_widget_set_visible(win->error_title, error != NULL);
    gtk_widget_set_visible(win->error_detail, error != NULL);
    if (error) {
        /* The log gets it too: a user can send it to the operator. */
        g_message("login: %s: %s", crp_client_error_title(error), error->message);
        gtk_label_set_text(GTK_LABEL(win->error_title), crp_client_error_title(error));
        gtk_label_set_text(GTK_LABEL(win->error_detail), error->message);
    }
}

static void on_connected(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    CrpBrokerClient *client = crp_broker_client_connect_finish(result, &error);

    if (!client && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;                 /* the window is gone */
    }
    CrpLoginWindow *win = data;
    g_clear_object(&win->cancel);
    set_busy(win, FALSE);
    if (!client) {
        crp_login_window_show_error(win, error);
        return;
    }
    /* It worked: next time this is the key to use. */
    g_autoptr(GError) save_error = NULL;
    if (!crp_settings_set_key_file(win->key_file, &save_error)) {
        g_message("cannot remember the key file: %s", save_error->message);
    }
    g_signal_emit(win, signals[SIGNAL_LOGGED_IN], 0, client);
}

void crp_login_window_log_in(CrpLoginWindow *win)
{
    if (!win->key_file || win->cancel) {
        return;
    }
    crp_login_window_show_error(win, NULL);
    set_busy(win, TRUE);
    win->cancel = g_cancellable_new();
    crp_broker_client_connect_async(win->key_file, win->broker, win->cancel,
                                    on_connected, win);
}

static void on_login_clicked(GtkButton *button, gpointer data)
{
    crp_login_window_log_in(data);
}

static void on_chooser_response(GtkNativeDialog *dialog, int response, gpointer data)
{
    CrpLoginWindow *win = data;

    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        g_autofree char *path = file ? g_file_get_path(file) : NULL;
        if (path) {
            set_key_file(win, path);
            crp_login_window_log_in(win);
        }
    }
    g_clear_object(&win->chooser);
}

/* GtkFileDialog is 4.10; 4.8 has the native chooser. */
static void on_choose_clicked(GtkButton *button, gpointer data)
{
    CrpLoginWindow *win = data;

    if (win->chooser) {
        return;
    }
    win->chooser = gtk_file_chooser_native_new("Choose your CRP key file",
                                               GTK_WINDOW(win),
                                               GTK_FILE_CHOOSER_ACTION_OPEN,
                                               "_Use this key", "_Cancel");
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(win->chooser), TRUE);
    g_signal_connect(win->chooser, "response", G_CALLBACK(on_chooser_response), win);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(win->chooser));
}

static void crp_login_window_init(CrpLoginWindow *win)
{
    GtkWidget *box = crp_form_box();

    gtk_box_append(GTK_BOX(box), crp_form_label("Log in with the key file your "
                                                "operator gave you.", NULL));
    GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    win->key_label = crp_form_label(NULL, "dim-label");
    gtk_widget_set_hexpand(win->key_label, TRUE);
    gtk_label_set_ellipsize(GTK_LABEL(win->key_label), PANGO_ELLIPSIZE_START);
    win->choose_button = gtk_button_new_with_mnemonic("_Choose…");
    g_signal_connect(win->choose_button, "clicked", G_CALLBACK(on_choose_clicked), win);
    gtk_box_append(GTK_BOX(row), win->key_label);
    gtk_box_append(GTK_BOX(row), win->choose_button);
    gtk_box_append(GTK_BOX(box), row);

    win->error_title = crp_form_label(NULL, "title-4");
    gtk_widget_add_css_class(win->error_title, "error");
    win->error_detail = crp_form_label(NULL, NULL);
    gtk_label_set_selectable(GTK_LABEL(win->error_detail), TRUE);
    gtk_box_append(GTK_BOX(box), win->error_title);
    gtk_box_append(GTK_BOX(box), win->error_detail);
    crp_login_window_show_error(win, NULL);

    GtkWidget *actions = crp_form_actions();
    win->spinner = gtk_spinner_new();
    win->login_button = gtk_button_new_with_mnemonic("_Log in");
    gtk_widget_add_css_class(win->login_button, "suggested-action");
    g_signal_connect(win->login_button, "clicked", G_CALLBACK(on_login_clicked), win);
    gtk_box_append(GTK_BOX(actions), win->spinner);
    gtk_box_append(GTK_BOX(actions), win->login_button);
    gtk_box_append(GTK_BOX(box), actions);

    gtk_window_set_child(GTK_WINDOW(win), box);
    gtk_window_set_title(GTK_WINDOW(win), "Log in — CRP");
    gtk_window_set_default_size(GTK_WINDOW(win), 480, -1);
    gtk_window_set_default_widget(GTK_WINDOW(win), win->login_button);
    set_busy(win, FALSE);
}

static void crp_login_window_dispose(GObject *object)
{
    CrpLoginWindow *win = CRP_LOGIN_WINDOW(object);

    if (win->cancel) {
        g_cancellable_cancel(win->cancel);
        g_clear_object(&win->cancel);
    }
    if (win->chooser) {
        gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(win->chooser));
        g_clear_object(&win->chooser);
    }
    G_OBJECT_CLASS(crp_login_window_parent_class)->dispose(object);
}

static void crp_login_window_finalize(GObject *object)
{
    CrpLoginWindow *win = CRP_LOGIN_WINDOW(object);
    g_free(win->key_file);
    g_free(win->broker);
    G_OBJECT_CLASS(crp_login_window_parent_class)->finalize(object);
}

static void crp_login_window_class_init(CrpLoginWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = crp_login_window_dispose;
    G_OBJECT_CLASS(klass)->finalize = crp_login_window_finalize;
    /* (CrpBrokerClient *client): the handler takes it. */
    signals[SIGNAL_LOGGED_IN] = g_signal_new("logged-in",
        G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
        G_TYPE_NONE, 1, G_TYPE_POINTER);
}

CrpLoginWindow *crp_login_window_new(GtkApplication *app, const char *key_file,
                                     const char *broker)
{
    CrpLoginWindow *win = g_object_new(CRP_TYPE_LOGIN_WINDOW, "application", app, NULL);
    g_autofree char *remembered = key_file ? NULL : crp_settings_get_key_file();

    win->broker = g_strdup(broker);
    set_key_file(win, key_file ? key_file : remembered);
    set_busy(win, FALSE);
    return win;
}

const char *crp_login_window_get_key_file(CrpLoginWindow *win)
{
    return win->key_file;
}
