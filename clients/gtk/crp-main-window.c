/*
 * crp-main-window.c: see crp-main-window.h.
 *
 * The three lists are rebuilt from each reply: they are short, and a
 * rebuilt list cannot disagree with the broker. A rebuild keeps the
 * keyboard focus on the row of the same app or session, so keyboard use
 * (Ctrl+1/2/3, Up/Down, Enter, Delete) survives the 5 s refresh.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-main-window.h"

#include "crp-client-errors.h"
#include "crp-form.h"

#define SESSIONS_REFRESH_S 5

struct _CrpMainWindow {
    GtkApplicationWindow parent;

    CrpBrokerClient *client;
    GCancellable *cancel;           /* every request of this client */
    GHashTable *busy;               /* app names starting: their spinners */
    guint refresh_timer;

    GtkWidget *banner;
    GtkWidget *files_button;        /* shown when the broker has My files */
    GtkWidget *stack;
    GtkWidget *mine, *catalog, *sessions;       /* GtkListBox */
};

G_DEFINE_FINAL_TYPE(CrpMainWindow, crp_main_window, GTK_TYPE_APPLICATION_WINDOW)

enum { SIGNAL_OPEN_APP, SIGNAL_RECONNECT_SESSION, SIGNAL_SHOW_FILES, N_SIGNALS };
static guint signals[N_SIGNALS];

static void list_apps(CrpMainWindow *win, gboolean only_mine);
static void list_sessions(CrpMainWindow *win);

/* ---- rows -------------------------------------------------------------- */

static GtkWidget *text_column(const char *title, const char *detail)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    GtkWidget *t = gtk_label_new(title);
    gtk_widget_add_css_class(t, "heading");
    gtk_label_set_xalign(GTK_LABEL(t), 0);
    gtk_box_append(GTK_BOX(box), t);
    if (detail && *detail) {
        GtkWidget *d = gtk_label_new(detail);
        gtk_widget_add_css_class(d, "dim-label");
        gtk_label_set_xalign(GTK_LABEL(d), 0);
        gtk_label_set_wrap(GTK_LABEL(d), TRUE);
        gtk_box_append(GTK_BOX(box), d);
    }
    gtk_widget_set_hexpand(box, TRUE);
    return box;
}

static GtkWidget *row_box(GtkWidget *text)
{
    GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    gtk_widget_set_margin_start(row, 12);
    gtk_widget_set_margin_end(row, 12);
    gtk_widget_set_margin_top(row, 8);
    gtk_widget_set_margin_bottom(row, 8);
    gtk_box_append(GTK_BOX(row), text);
    return row;
}

/* A button that remembers what it is about: @key (an app or session). */
static GtkWidget *row_button(GtkWidget *row, const char *label, const char *key,
                             const char *key2, GCallback callback, gpointer data)
{
    GtkWidget *b = gtk_button_new_with_label(label);
    g_object_set_data_full(G_OBJECT(b), "crp-key", g_strdup(key), g_free);
    g_object_set_data_full(G_OBJECT(b), "crp-key2", g_strdup(key2), g_free);
    gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
    g_signal_connect(b, "clicked", callback, data);
    gtk_box_append(GTK_BOX(row), b);
    return b;
}

static const char *key_of(gpointer button)
{
    return g_object_get_data(G_OBJECT(button), "crp-key");
}

static const char *key2_of(gpointer button)
{
    return g_object_get_data(G_OBJECT(button), "crp-key2");
}

/* What Enter (ROW_MAIN) and Delete (ROW_CLOSE) on a row press. */
#define ROW_MAIN "crp-main-button"
#define ROW_CLOSE "crp-close-button"

static void set_row_button(GtkWidget *row, const char *role, GtkWidget *button)
{
    g_object_set_data(G_OBJECT(row), role, button);
}

/* The row box (named after its app or session) that holds the keyboard
 * focus in @list, or NULL. */
static GtkWidget *focused_row(GtkWidget *list)
{
    GtkRoot *root = gtk_widget_get_root(list);
    GtkWidget *focus = root ? gtk_root_get_focus(root) : NULL;
    GtkWidget *row = focus ? gtk_widget_get_ancestor(focus, GTK_TYPE_LIST_BOX_ROW) : NULL;

    if (!row || gtk_widget_get_parent(row) != list) {
        return NULL;
    }
    return gtk_list_box_row_get_child(GTK_LIST_BOX_ROW(row));
}

static void press_row_button(GtkWidget *row, const char *role)
{
    GtkWidget *button = row ? g_object_get_data(G_OBJECT(row), role) : NULL;
    /* "clicked" now, not gtk_widget_activate(): that clicks 250 ms later,
     * and not at all if a refresh replaced the row meanwhile. */
    if (button && gtk_widget_is_sensitive(button)) {
        g_signal_emit_by_name(button, "clicked");
    }
}

/* Empties @list; returns the name of the row that had the focus. */
static char *clear_list(GtkWidget *list)
{
    GtkWidget *focused = focused_row(list);
    char *name = focused ? g_strdup(gtk_widget_get_name(focused)) : NULL;
    GtkWidget *child;

    while ((child = gtk_widget_get_first_child(list))) {
        gtk_list_box_remove(GTK_LIST_BOX(list), child);
    }
    return name;
}

/* The focus to the row named @name, else the first one (it had been in
 * the list, and removing its row left it nowhere). */
static void restore_focus(GtkWidget *list, const char *name)
{
    GtkListBoxRow *first = gtk_list_box_get_row_at_index(GTK_LIST_BOX(list), 0);

    if (!name || !first) {
        return;
    }
    for (int i = 0;; i++) {
        GtkListBoxRow *row = gtk_list_box_get_row_at_index(GTK_LIST_BOX(list), i);
        if (!row) {
            break;
        }
        if (g_strcmp0(gtk_widget_get_name(gtk_list_box_row_get_child(row)), name) == 0) {
            gtk_widget_grab_focus(GTK_WIDGET(row));
            return;
        }
    }
    gtk_widget_grab_focus(GTK_WIDGET(first));
}

static void set_placeholder(GtkWidget *list, const char *text)
{
    GtkWidget *l = gtk_label_new(text);
    gtk_widget_add_css_class(l, "dim-label");
    gtk_widget_set_margin_top(l, 24);
    gtk_widget_set_margin_bottom(l, 24);
    gtk_list_box_set_placeholder(GTK_LIST_BOX(list), l);
}

/* ---- requests ---------------------------------------------------------- */

static gboolean report(CrpMainWindow *win, const char *what, const GError *error)
{
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return FALSE;           /* logged out, or the window went */
    }
    crp_main_window_show_error(win, what, error);
    return TRUE;
}

static void on_open_clicked(GtkButton *button, gpointer data)
{
    g_signal_emit(data, signals[SIGNAL_OPEN_APP], 0, key_of(button), key2_of(button));
}

static void on_subscribed(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    if (!crp_broker_client_subscribe_finish(CRP_BROKER_CLIENT(source), result, &error)) {
        if (!report(data, "Cannot change the subscription", error)) {
            return;
        }
    }
    list_apps(data, TRUE);
    list_apps(data, FALSE);
}

static void on_subscribe_clicked(GtkButton *button, gpointer data)
{
    CrpMainWindow *win = data;
    gboolean subscribe = g_strcmp0(key2_of(button), "subscribe") == 0;

    if (win->client) {
        gtk_widget_set_sensitive(GTK_WIDGET(button), FALSE);
        crp_broker_client_subscribe_async(win->client, key_of(button), subscribe,
                                          win->cancel, on_subscribed, win);
    }
}

static void fill_apps(CrpMainWindow *win, GPtrArray *apps, gboolean only_mine)
{
    GtkWidget *list = only_mine ? win->mine : win->catalog;
    g_autofree char *focused = clear_list(list);
    guint subscribed = 0;

    for (guint i = 0; i < apps->len; i++) {
        CrpBrokerApp *app = g_ptr_array_index(apps, i);
        g_autofree char *detail = g_strdup_printf("%s%s%u vCPU, %u MiB%s",
            app->description ? app->description : "",
            app->description && *app->description ? " — " : "",
            app->vcpus, app->memory_mib, app->audio ? ", sound" : "");
        GtkWidget *row = row_box(text_column(app->title && *app->title ? app->title
                                                                       : app->name,
                                             detail));
        gtk_widget_set_name(row, app->name);    /* for tests and a11y */
        if (only_mine) {
            GtkWidget *spinner = gtk_spinner_new();
            gboolean busy = g_hash_table_contains(win->busy, app->name);
            gtk_spinner_set_spinning(GTK_SPINNER(spinner), busy);
            gtk_box_append(GTK_BOX(row), spinner);
            GtkWidget *open = row_button(row, "Open", app->name, app->title,
                                         G_CALLBACK(on_open_clicked), win);
            gtk_widget_add_css_class(open, "suggested-action");
            gtk_widget_set_sensitive(open, !busy);
            set_row_button(row, ROW_MAIN, open);
        } else {
            set_row_button(row, ROW_MAIN,
                           row_button(row, app->subscribed ? "Unsubscribe" : "Subscribe",
                                      app->name,
                                      app->subscribed ? "unsubscribe" : "subscribe",
                                      G_CALLBACK(on_subscribe_clicked), win));
        }
        subscribed += app->subscribed;
        gtk_list_box_append(GTK_LIST_BOX(list), row);
    }
    restore_focus(list, focused);
    /* For tests (G_MESSAGES_DEBUG): the list they are about to key into. */
    g_debug("%s: %u apps, %u subscribed", only_mine ? "my apps" : "catalog",
            apps->len, subscribed);
}

static void on_apps(GObject *source, GAsyncResult *result, gpointer data, gboolean mine)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) apps = crp_broker_client_list_apps_finish(
        CRP_BROKER_CLIENT(source), result, &error);

    if (!apps) {
        report(data, "Cannot list the apps", error);
        return;
    }
    fill_apps(data, apps, mine);
}

static void on_my_apps(GObject *source, GAsyncResult *result, gpointer data)
{
    on_apps(source, result, data, TRUE);
}

static void on_catalog(GObject *source, GAsyncResult *result, gpointer data)
{
    on_apps(source, result, data, FALSE);
}

static void list_apps(CrpMainWindow *win, gboolean only_mine)
{
    if (win->client) {
        crp_broker_client_list_apps_async(win->client, only_mine, win->cancel,
                                          only_mine ? on_my_apps : on_catalog, win);
    }
}

static void on_session_closed(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    if (!crp_broker_client_close_session_finish(CRP_BROKER_CLIENT(source),
                                                result, &error) &&
        !report(data, "Cannot close the session", error)) {
        return;
    }
    list_sessions(data);
}

static void on_close_session_clicked(GtkButton *button, gpointer data)
{
    CrpMainWindow *win = data;
    if (win->client) {
        gtk_widget_set_sensitive(GTK_WIDGET(button), FALSE);
        crp_broker_client_close_session_async(win->client, key_of(button), win->cancel,
                                              on_session_closed, win);
    }
}

static void on_reconnect_clicked(GtkButton *button, gpointer data)
{
    g_signal_emit(data, signals[SIGNAL_RECONNECT_SESSION], 0, key_of(button),
                  key2_of(button));
}

static const char *state_name(int state)
{
    switch (state) {
    case 1: return "starting";
    case 2: return "running";
    case 3: return "closing";
    default: return "unknown";
    }
}

static void on_sessions(GObject *source, GAsyncResult *result, gpointer data)
{
    CrpMainWindow *win = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) sessions = crp_broker_client_list_sessions_finish(
        CRP_BROKER_CLIENT(source), result, &error);

    if (!sessions) {
        report(win, "Cannot list the sessions", error);
        return;
    }
    g_autofree char *focused = clear_list(win->sessions);
    guint running = 0;

    for (guint i = 0; i < sessions->len; i++) {
        CrpBrokerSession *s = g_ptr_array_index(sessions, i);
        g_autoptr(GDateTime) started = g_date_time_new_from_unix_local(s->started_unix);
        g_autofree char *when = started ? g_date_time_format(started, "%H:%M") : NULL;
        g_autofree char *detail = g_strdup_printf("%s since %s", state_name(s->state),
                                                  when ? when : "?");
        GtkWidget *row = row_box(text_column(s->app, detail));
        gtk_widget_set_name(row, s->id);
        GtkWidget *reconnect = row_button(row, "Reconnect", s->id, s->app,
                                          G_CALLBACK(on_reconnect_clicked), win);
        gtk_widget_set_sensitive(reconnect, s->state == 2);
        GtkWidget *close = row_button(row, "Close", s->id, NULL,
                                      G_CALLBACK(on_close_session_clicked), win);
        gtk_widget_add_css_class(close, "destructive-action");
        gtk_widget_set_sensitive(close, s->state != 3);
        set_row_button(row, ROW_MAIN, reconnect);
        set_row_button(row, ROW_CLOSE, close);
        running += s->state == 2;
        gtk_list_box_append(GTK_LIST_BOX(win->sessions), row);
    }
    restore_focus(win->sessions, focused);
    g_debug("sessions: %u, %u running", sessions->len, running);
}

static void list_sessions(CrpMainWindow *win)
{
    if (win->client) {
        crp_broker_client_list_sessions_async(win->client, win->cancel, on_sessions, win);
    }
}

void crp_main_window_refresh(CrpMainWindow *win)
{
    list_apps(win, TRUE);
    list_apps(win, FALSE);
    list_sessions(win);
}

static gboolean on_refresh_timer(gpointer data)
{
    list_sessions(data);
    return G_SOURCE_CONTINUE;
}

void crp_main_window_set_client(CrpMainWindow *win, CrpBrokerClient *client)
{
    if (win->cancel) {
        g_cancellable_cancel(win->cancel);
        g_clear_object(&win->cancel);
    }
    win->client = client;
    if (client) {
        win->cancel = g_cancellable_new();
        g_autofree char *subtitle = g_strdup_printf("CRP — %s",
                                                    crp_broker_client_get_user(client));
        gtk_window_set_title(GTK_WINDOW(win), subtitle);
        gtk_widget_set_visible(win->files_button, crp_broker_client_has_files(client));
        crp_main_window_refresh(win);
    }
}

void crp_main_window_set_app_busy(CrpMainWindow *win, const char *app, gboolean busy)
{
    if (busy) {
        g_hash_table_add(win->busy, g_strdup(app));
    } else {
        g_hash_table_remove(win->busy, app);
    }
    list_apps(win, TRUE);       /* the rows show it */
}

void crp_main_window_set_banner(CrpMainWindow *win, const char *text)
{
    gtk_widget_set_visible(win->banner, text != NULL);
    gtk_label_set_text(GTK_LABEL(win->banner), text ? text : "");
}

void crp_main_window_show_error(CrpMainWindow *win, const char *what, const GError *error)
{
    crp_form_show_error(GTK_WINDOW(win), crp_client_error_title(error), what,
                        error->message);
}

/* ---- keyboard ---------------------------------------------------------- */

/* Enter on a row (or a double click) presses its main button. */
static void on_row_activated(GtkListBox *list, GtkListBoxRow *row, gpointer data)
{
    press_row_button(gtk_list_box_row_get_child(row), ROW_MAIN);
}

/* Delete on a session's row closes it. */
static gboolean on_delete_key(GtkWidget *list, GVariant *args, gpointer data)
{
    GtkWidget *row = focused_row(list);
    press_row_button(row, ROW_CLOSE);
    return row != NULL;
}

/* Ctrl+1/2/3: that tab, the keyboard on its first row. */
static gboolean on_tab_key(GtkWidget *widget, GVariant *args, gpointer data)
{
    CrpMainWindow *win = CRP_MAIN_WINDOW(widget);
    const char *name = g_variant_get_string(args, NULL);
    GtkWidget *list = g_str_equal(name, "mine") ? win->mine
                    : g_str_equal(name, "catalog") ? win->catalog : win->sessions;
    GtkListBoxRow *first = gtk_list_box_get_row_at_index(GTK_LIST_BOX(list), 0);

    gtk_stack_set_visible_child_name(GTK_STACK(win->stack), name);
    if (first) {
        gtk_widget_grab_focus(GTK_WIDGET(first));
    }
    return TRUE;
}

/* Ctrl+F: My files, where the broker has them. */
static gboolean on_files_key(GtkWidget *widget, GVariant *args, gpointer data)
{
    CrpMainWindow *win = CRP_MAIN_WINDOW(widget);

    if (!gtk_widget_get_visible(win->files_button)) {
        return FALSE;
    }
    g_signal_emit(win, signals[SIGNAL_SHOW_FILES], 0);
    return TRUE;
}

/* ---- object ------------------------------------------------------------ */

static GtkWidget *page(GtkWidget *stack, const char *name, const char *title,
                       const char *empty)
{
    GtkWidget *list = gtk_list_box_new();
    gtk_list_box_set_selection_mode(GTK_LIST_BOX(list), GTK_SELECTION_NONE);
    /* A click on a row's text must not subscribe or close: only Enter or
     * a double click activate a row. */
    gtk_list_box_set_activate_on_single_click(GTK_LIST_BOX(list), FALSE);
    g_signal_connect(list, "row-activated", G_CALLBACK(on_row_activated), NULL);
    gtk_widget_add_css_class(list, "boxed-list");
    set_placeholder(list, empty);
    GtkWidget *scrolled = gtk_scrolled_window_new();
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), list);
    gtk_widget_set_vexpand(scrolled, TRUE);
    gtk_stack_add_titled(GTK_STACK(stack), scrolled, name, title);
    return list;
}

static void on_refresh_clicked(GtkButton *button, gpointer data)
{
    crp_main_window_refresh(data);
}

static void on_files_clicked(GtkButton *button, gpointer data)
{
    g_signal_emit(data, signals[SIGNAL_SHOW_FILES], 0);
}

static void crp_main_window_init(CrpMainWindow *win)
{
    win->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    GtkWidget *stack = win->stack = gtk_stack_new();
    win->mine = page(stack, "mine", "My apps",
                     "No apps yet: subscribe to some in the catalog.");
    win->catalog = page(stack, "catalog", "Catalog", "The catalog is empty.");
    win->sessions = page(stack, "sessions", "Sessions", "No app is running.");
    crp_form_add_shortcut(win->sessions, "Delete|KP_Delete", on_delete_key, NULL);
    crp_form_add_shortcut(GTK_WIDGET(win), "<Control>1", on_tab_key, g_variant_new_string("mine"));
    crp_form_add_shortcut(GTK_WIDGET(win), "<Control>2", on_tab_key,
                 g_variant_new_string("catalog"));
    crp_form_add_shortcut(GTK_WIDGET(win), "<Control>3", on_tab_key,
                 g_variant_new_string("sessions"));

    GtkWidget *header = gtk_header_bar_new();
    GtkWidget *switcher = gtk_stack_switcher_new();
    gtk_stack_switcher_set_stack(GTK_STACK_SWITCHER(switcher), GTK_STACK(stack));
    gtk_header_bar_set_title_widget(GTK_HEADER_BAR(header), switcher);
    GtkWidget *refresh = gtk_button_new_from_icon_name("view-refresh-symbolic");
    gtk_widget_set_tooltip_text(refresh, "Refresh");
    g_signal_connect(refresh, "clicked", G_CALLBACK(on_refresh_clicked), win);
    gtk_header_bar_pack_start(GTK_HEADER_BAR(header), refresh);
    win->files_button = gtk_button_new_with_mnemonic("My _files");
    gtk_widget_set_tooltip_text(win->files_button,
                                "Your files, which every app of yours sees (Ctrl+F)");
    g_signal_connect(win->files_button, "clicked", G_CALLBACK(on_files_clicked), win);
    gtk_widget_set_visible(win->files_button, FALSE);
    gtk_header_bar_pack_end(GTK_HEADER_BAR(header), win->files_button);
    crp_form_add_shortcut(GTK_WIDGET(win), "<Control>f", on_files_key, NULL);
    gtk_window_set_titlebar(GTK_WINDOW(win), header);

    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    win->banner = gtk_label_new(NULL);
    gtk_widget_add_css_class(win->banner, "osd");
    gtk_widget_set_visible(win->banner, FALSE);
    gtk_box_append(GTK_BOX(box), win->banner);
    gtk_widget_set_margin_start(stack, 12);
    gtk_widget_set_margin_end(stack, 12);
    gtk_widget_set_margin_top(stack, 12);
    gtk_widget_set_margin_bottom(stack, 12);
    gtk_box_append(GTK_BOX(box), stack);
    gtk_window_set_child(GTK_WINDOW(win), box);
    gtk_window_set_default_size(GTK_WINDOW(win), 560, 480);
    gtk_window_set_title(GTK_WINDOW(win), "CRP");

    win->refresh_timer = g_timeout_add_seconds(SESSIONS_REFRESH_S, on_refresh_timer, win);
}

static void crp_main_window_dispose(GObject *object)
{
    CrpMainWindow *win = CRP_MAIN_WINDOW(object);

    crp_main_window_set_client(win, NULL);
    g_clear_handle_id(&win->refresh_timer, g_source_remove);
    g_clear_pointer(&win->busy, g_hash_table_unref);
    G_OBJECT_CLASS(crp_main_window_parent_class)->dispose(object);
}

static void crp_main_window_class_init(CrpMainWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = crp_main_window_dispose;
    /* (const char *app, const char *title) */
    signals[SIGNAL_OPEN_APP] = g_signal_new("open-app", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
        G_TYPE_STRING, G_TYPE_STRING);
    /* (const char *session_id, const char *app) */
    signals[SIGNAL_RECONNECT_SESSION] = g_signal_new("reconnect-session",
        G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
        G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
    /* () the user asked for My files */
    signals[SIGNAL_SHOW_FILES] = g_signal_new("show-files", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

CrpMainWindow *crp_main_window_new(GtkApplication *app)
{
    return g_object_new(CRP_TYPE_MAIN_WINDOW, "application", app, NULL);
}
