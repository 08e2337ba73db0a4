/*
 * crp-broker-ui.c: broker mode: the login window, then the main window,
 * and a session window for each app opened.
 *
 * Opening an app is LAUNCH (the VM starts; the main window shows a
 * spinner meanwhile), then ATTACH on a connection of its own, whose
 * stream carries the display channel to the VM. When that connection
 * drops while the session lives, the session window says "Reconnecting…"
 * and we ask for a fresh ticket (SESSION_TICKET) and attach again, for up
 * to RECONNECT_FOR_S. When the broker connection itself drops, we log in
 * again in the background with the same key.
 *
 * My files (when the broker serves them): one transfer list for the
 * user, shared by the Files window (from the main window or a session
 * window's menu) and the session windows, which upload what is dropped
 * on them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-client.h"

#include "crp-broker-client.h"
#include "crp-client-errors.h"
#include "crp-files-transfers.h"
#include "crp-files-window.h"
#include "crp-link-window.h"
#include "crp-login-window.h"
#include "crp-main-window.h"
#include "crp-session-window.h"
#include "crp-settings.h"
#include "crp-uri.h"

#include <crp/crp-keyfile.h>
#include <string.h>

/* Attempts to reconnect a session, and to log in again, back off from
 * 1 s to RETRY_MAX_S; a session is given up after RECONNECT_FOR_S. */
#define RETRY_MAX_S 8
#define RECONNECT_FOR_S 60

typedef struct {
    GtkApplication *app;
    char *key_file;
    char *broker;
    gboolean one_to_one, fullscreen;
    char *link_app;                 /* a crp:// link's app, opened after login */

    CrpBrokerClient *client;        /* NULL while logged out */
    CrpLoginWindow *login;
    CrpMainWindow *main;
    CrpFilesTransfers *transfers;   /* My files, for every window */
    CrpFilesWindow *files;          /* NULL until asked for; weak */
    GHashTable *sessions;           /* session id -> Session */
    guint relogin_timer;
    guint relogin_attempts;
    GCancellable *relogin_cancel;
} BrokerUi;

typedef struct {
    BrokerUi *ui;
    char *id, *app;
    CrpSessionWindow *window;       /* NULL until attached; weak */
    GCancellable *cancel;
    guint retry_timer;
    guint attempts;
    gint64 lost_since_us;           /* 0 while connected */
} Session;

static void session_attach(Session *s);
static void start_relogin(BrokerUi *ui);
static void show_files(BrokerUi *ui);

static guint backoff_s(guint attempts)
{
    return MIN(1u << MIN(attempts, 4u), RETRY_MAX_S);
}

/* ---- sessions ---------------------------------------------------------- */

static void session_free(gpointer data)
{
    Session *s = data;

    g_cancellable_cancel(s->cancel);
    g_object_unref(s->cancel);
    g_clear_handle_id(&s->retry_timer, g_source_remove);
    if (s->window) {
        g_object_remove_weak_pointer(G_OBJECT(s->window), (gpointer *)&s->window);
    }
    g_free(s->id);
    g_free(s->app);
    g_free(s);
}

static void on_session_window_destroy(GtkWidget *window, gpointer data)
{
    Session *s = data;
    BrokerUi *ui = s->ui;

    /* The window goes (closed, app closed, failed): so does its link. */
    g_hash_table_remove(ui->sessions, s->id);
    if (ui->main) {
        crp_main_window_refresh(ui->main);
    }
}

static gboolean on_session_retry(gpointer data)
{
    Session *s = data;
    s->retry_timer = 0;
    session_attach(s);
    return G_SOURCE_REMOVE;
}

/* An attempt failed: try again later, or give up and say why. */
static void session_failed(Session *s, const GError *error)
{
    gboolean reconnecting = s->lost_since_us != 0;
    gboolean in_time = g_get_monotonic_time() - s->lost_since_us <
                       RECONNECT_FOR_S * G_USEC_PER_SEC;

    if (reconnecting && in_time && crp_client_error_is_transient(error)) {
        g_message("session %s: reconnecting failed (%s); trying again", s->app,
                  error->message);
        s->retry_timer = g_timeout_add_seconds(backoff_s(s->attempts++),
                                               on_session_retry, s);
        return;
    }
    if (s->window) {
        crp_session_window_fail(s->window, crp_client_error_title(error), error->message);
    } else {
        BrokerUi *ui = s->ui;
        if (ui->main) {
            crp_main_window_set_app_busy(ui->main, s->app, FALSE);
            crp_main_window_show_error(ui->main, "Cannot open the app", error);
        }
        g_hash_table_remove(ui->sessions, s->id);
    }
}

static gboolean on_session_disconnected(CrpSessionWindow *window, int end,
                                        const char *message, gpointer data)
{
    Session *s = data;

    /* Worth another try: the connection broke, or the ticket we had was
     * not taken (a fresh one may be). Not when the server said goodbye. */
    if (end != CRP_SESSION_END_LOST && end != CRP_SESSION_END_REFUSED) {
        return FALSE;
    }
    if (s->lost_since_us == 0) {
        s->lost_since_us = g_get_monotonic_time();
        s->attempts = 0;
    }
    g_message("session %s: %s; reconnecting", s->app, message ? message : "lost");
    crp_session_window_set_status(window, "Reconnecting…");
    s->retry_timer = g_timeout_add_seconds(backoff_s(s->attempts++), on_session_retry, s);
    return TRUE;
}

static void on_session_app_closed(CrpSessionWindow *window, gpointer data)
{
    Session *s = data;
    if (s->ui->main) {
        crp_main_window_refresh(s->ui->main);
    }
}

static void on_session_show_files(CrpSessionWindow *window, gpointer data)
{
    Session *s = data;
    show_files(s->ui);
}

static void show_session(Session *s, GIOStream *stream, const char *ticket)
{
    BrokerUi *ui = s->ui;
    g_autoptr(GError) error = NULL;

    if (!s->window) {
        g_autofree char *title = g_strdup_printf("%s — CRP", s->app);
        s->window = crp_session_window_new(ui->app, title, !ui->one_to_one);
        crp_session_window_remember_as(s->window, s->app);
        g_object_add_weak_pointer(G_OBJECT(s->window), (gpointer *)&s->window);
        g_signal_connect(s->window, "disconnected", G_CALLBACK(on_session_disconnected), s);
        g_signal_connect(s->window, "app-closed", G_CALLBACK(on_session_app_closed), s);
        g_signal_connect(s->window, "destroy", G_CALLBACK(on_session_window_destroy), s);
        if (ui->client && crp_broker_client_has_files(ui->client)) {
            crp_session_window_enable_files(s->window, ui->transfers);
            g_signal_connect(s->window, "show-files", G_CALLBACK(on_session_show_files), s);
        }
        if (ui->fullscreen) {
            gtk_window_fullscreen(GTK_WINDOW(s->window));
        }
    }
    if (ui->main) {
        crp_main_window_set_app_busy(ui->main, s->app, FALSE);
    }
    s->lost_since_us = 0;
    if (!crp_session_window_attach(s->window, stream, ticket, &error)) {
        crp_session_window_fail(s->window, "Cannot start the session", error->message);
    }
}

typedef struct {
    Session *s;
    char *ticket;
} Attaching;

static void on_attached(GObject *source, GAsyncResult *result, gpointer data)
{
    Attaching *a = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GIOStream) stream = crp_broker_client_attach_finish(
        CRP_BROKER_CLIENT(source), result, &error);

    if (stream || !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        if (stream) {
            show_session(a->s, stream, a->ticket);
        } else {
            session_failed(a->s, error);
        }
    }
    /* The ticket is a password: gone from memory with this. */
    memset(a->ticket, 0, strlen(a->ticket));
    g_free(a->ticket);
    g_free(a);
}

static void attach_with_ticket(Session *s, CrpBrokerTicket *ticket)
{
    Attaching *a = g_new0(Attaching, 1);
    a->s = s;
    a->ticket = g_strdup(ticket->ticket);
    crp_broker_client_attach_async(s->ui->client, s->id, s->cancel, on_attached, a);
}

static void on_ticket(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerTicket) ticket = crp_broker_client_ticket_finish(
        CRP_BROKER_CLIENT(source), result, &error);

    if (!ticket && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;                 /* @data is gone */
    }
    if (!ticket) {
        session_failed(data, error);
        return;
    }
    attach_with_ticket(data, ticket);
}

/* A fresh ticket, then attach: reconnecting, or opening a session that
 * runs without a window here. */
static void session_attach(Session *s)
{
    if (!s->ui->client) {
        /* Logged out for now (the broker went): it is logging in again. */
        g_autoptr(GError) error = g_error_new_literal(G_IO_ERROR,
            G_IO_ERROR_NOT_CONNECTED, "not connected to the broker");
        session_failed(s, error);
        return;
    }
    crp_broker_client_renew_ticket_async(s->ui->client, s->id, s->cancel, on_ticket, s);
}

static Session *session_new(BrokerUi *ui, const char *id, const char *app)
{
    Session *s = g_new0(Session, 1);
    s->ui = ui;
    s->id = g_strdup(id);
    s->app = g_strdup(app);
    s->cancel = g_cancellable_new();
    g_hash_table_replace(ui->sessions, s->id, s);
    return s;
}

/* ---- the main window's requests ---------------------------------------- */

typedef struct {
    BrokerUi *ui;
    char *app;
} Launching;

static void on_launched(GObject *source, GAsyncResult *result, gpointer data)
{
    Launching *l = data;
    BrokerUi *ui = l->ui;
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerTicket) ticket = crp_broker_client_ticket_finish(
        CRP_BROKER_CLIENT(source), result, &error);

    if (ticket && ui->client) {
        attach_with_ticket(session_new(ui, ticket->session_id, l->app), ticket);
    } else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && ui->main) {
        crp_main_window_set_app_busy(ui->main, l->app, FALSE);
        if (error) {
            crp_main_window_show_error(ui->main, "Cannot open the app", error);
        }
    }
    g_free(l->app);
    g_free(l);
}

static void open_app(BrokerUi *ui, const char *app)
{
    if (!ui->client) {
        return;
    }
    Launching *l = g_new0(Launching, 1);
    l->ui = ui;
    l->app = g_strdup(app);
    if (ui->main) {
        crp_main_window_set_app_busy(ui->main, app, TRUE);
    }
    crp_broker_client_launch_async(ui->client, app, NULL, on_launched, l);
}

static void on_open_app(CrpMainWindow *win, const char *app, const char *title,
                        gpointer data)
{
    open_app(data, app);
}

static void on_reconnect_session(CrpMainWindow *win, const char *id, const char *app,
                                 gpointer data)
{
    BrokerUi *ui = data;
    Session *s = g_hash_table_lookup(ui->sessions, id);

    if (s && s->window) {
        gtk_window_present(GTK_WINDOW(s->window));
        return;
    }
    if (!s) {
        session_attach(session_new(ui, id, app));
    }
}

/* ---- My files ------------------------------------------------------------ */

static void show_files(BrokerUi *ui)
{
    if (!ui->files) {
        ui->files = crp_files_window_new(ui->app, ui->transfers);
        g_object_add_weak_pointer(G_OBJECT(ui->files), (gpointer *)&ui->files);
        crp_files_window_set_client(ui->files, ui->client);
    }
    gtk_window_present(GTK_WINDOW(ui->files));
}

static void on_show_files(CrpMainWindow *win, gpointer data)
{
    show_files(data);
}

/* The client every My files window and transfer works with. */
static void set_files_client(BrokerUi *ui, CrpBrokerClient *client)
{
    gboolean has = client && crp_broker_client_has_files(client);

    crp_files_transfers_set_client(ui->transfers, has ? client : NULL);
    if (ui->files) {
        crp_files_window_set_client(ui->files, has ? client : NULL);
    }
}

/* ---- logging in --------------------------------------------------------- */

static void set_client(BrokerUi *ui, CrpBrokerClient *client);

static gboolean free_client(gpointer client)
{
    crp_broker_client_free(client);
    return G_SOURCE_REMOVE;
}

static void on_broker_closed(gpointer data, const GError *error)
{
    BrokerUi *ui = data;

    if (!error || !ui->client) {
        return;                 /* we logged out ourselves */
    }
    g_message("the broker connection ended: %s", error->message);
    /* Not from inside its own callback. */
    g_idle_add(free_client, ui->client);
    ui->client = NULL;
    set_files_client(ui, NULL);
    if (ui->main) {
        crp_main_window_set_client(ui->main, NULL);
        crp_main_window_set_banner(ui->main, "Lost the broker; logging in again…");
    }
    ui->relogin_attempts = 0;
    start_relogin(ui);
}

static void show_login(BrokerUi *ui);

static void on_relogin(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    CrpBrokerClient *client = crp_broker_client_connect_finish(result, &error);

    if (!client && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;
    }
    BrokerUi *ui = data;
    g_clear_object(&ui->relogin_cancel);
    if (client) {
        set_client(ui, client);
        return;
    }
    if (crp_client_error_is_transient(error)) {
        start_relogin(ui);
        return;
    }
    /* The key is no good any more (revoked, say): back to the login. */
    if (ui->main) {
        gtk_window_destroy(GTK_WINDOW(ui->main));
    }
    if (ui->files) {
        gtk_window_destroy(GTK_WINDOW(ui->files));
    }
    show_login(ui);
    crp_login_window_show_error(ui->login, error);
}

static gboolean on_relogin_timer(gpointer data)
{
    BrokerUi *ui = data;
    ui->relogin_timer = 0;
    ui->relogin_cancel = g_cancellable_new();
    crp_broker_client_connect_async(ui->key_file, ui->broker, ui->relogin_cancel,
                                    on_relogin, ui);
    return G_SOURCE_REMOVE;
}

static void start_relogin(BrokerUi *ui)
{
    ui->relogin_timer = g_timeout_add_seconds(backoff_s(ui->relogin_attempts++),
                                              on_relogin_timer, ui);
}

static void set_client(BrokerUi *ui, CrpBrokerClient *client)
{
    ui->client = client;
    crp_broker_client_set_closed_func(client, on_broker_closed, ui);
    if (!ui->main) {
        ui->main = crp_main_window_new(ui->app);
        g_object_add_weak_pointer(G_OBJECT(ui->main), (gpointer *)&ui->main);
        g_signal_connect(ui->main, "open-app", G_CALLBACK(on_open_app), ui);
        g_signal_connect(ui->main, "reconnect-session", G_CALLBACK(on_reconnect_session), ui);
        g_signal_connect(ui->main, "show-files", G_CALLBACK(on_show_files), ui);
        gtk_window_present(GTK_WINDOW(ui->main));
    }
    crp_main_window_set_banner(ui->main, NULL);
    crp_main_window_set_client(ui->main, client);
    set_files_client(ui, client);
    if (ui->link_app) {
        g_autofree char *app = g_steal_pointer(&ui->link_app);
        open_app(ui, app);
    }
}

static void on_logged_in(CrpLoginWindow *login, CrpBrokerClient *client, gpointer data)
{
    BrokerUi *ui = data;

    /* The key that worked is the one to log in again with. */
    g_free(ui->key_file);
    ui->key_file = g_strdup(crp_login_window_get_key_file(login));
    set_client(ui, client);
    gtk_window_destroy(GTK_WINDOW(login));
}

/* The login window, wired to continue where a login leads. */
static void show_login(BrokerUi *ui)
{
    ui->login = crp_login_window_new(ui->app, ui->key_file, ui->broker);
    g_object_add_weak_pointer(G_OBJECT(ui->login), (gpointer *)&ui->login);
    g_signal_connect(ui->login, "logged-in", G_CALLBACK(on_logged_in), ui);
    gtk_window_present(GTK_WINDOW(ui->login));
}

/* The login window; it logs in at once with a key we know. */
static void start_login(BrokerUi *ui, const GError *error)
{
    show_login(ui);
    if (error) {
        crp_login_window_show_error(ui->login, error);
    } else if (crp_login_window_get_key_file(ui->login)) {
        /* A key we know: no need to ask. */
        crp_login_window_log_in(ui->login);
    }
}

/* ---- crp:// links -------------------------------------------------------- */

/* The broker a login would reach, as the user should read it. */
static char *broker_to_show(BrokerUi *ui)
{
    if (ui->broker) {
        return g_strdup(ui->broker);
    }
    g_autofree char *key_file = ui->key_file ? g_strdup(ui->key_file)
                                             : crp_settings_get_key_file();
    g_autoptr(CrpUserKey) key = key_file ? crp_user_key_load(key_file, NULL) : NULL;
    return g_strdup(key && key->broker_address ? key->broker_address
                                               : "named in your key file");
}

static void on_link_answered(CrpLinkWindow *window, gboolean open, gpointer data)
{
    BrokerUi *ui = data;

    if (!open) {
        /* Nothing was started: the window goes, and with it the client. */
        g_message("link: not opened");
        g_clear_pointer(&ui->link_app, g_free);
        return;
    }
    g_message("link: opening %s", ui->link_app);
    start_login(ui, NULL);
}

/* A link may come from any web page: ask before it logs in and starts a
 * VM in the user's name. */
static void ask_about_link(BrokerUi *ui)
{
    g_autofree char *broker = broker_to_show(ui);
    CrpLinkWindow *window = crp_link_window_new(ui->app, ui->link_app, broker);

    g_message("link: asking to open %s from %s", ui->link_app, broker);
    g_signal_connect(window, "answered", G_CALLBACK(on_link_answered), ui);
    gtk_window_present(GTK_WINDOW(window));
}

static void broker_ui_free(gpointer data)
{
    BrokerUi *ui = data;

    g_clear_handle_id(&ui->relogin_timer, g_source_remove);
    if (ui->relogin_cancel) {
        g_cancellable_cancel(ui->relogin_cancel);
        g_clear_object(&ui->relogin_cancel);
    }
    g_hash_table_unref(ui->sessions);
    g_clear_object(&ui->transfers);
    if (ui->client) {
        crp_broker_client_set_closed_func(ui->client, NULL, NULL);
        g_clear_pointer(&ui->client, crp_broker_client_free);
    }
    g_free(ui->key_file);
    g_free(ui->broker);
    g_free(ui->link_app);
    g_free(ui);
}

void crp_client_start_broker(GtkApplication *app, const CrpClientOptions *opts)
{
    BrokerUi *ui = g_new0(BrokerUi, 1);
    g_autoptr(GError) error = NULL;

    ui->app = app;
    ui->key_file = g_strdup(opts->key_file);
    ui->broker = g_strdup(opts->broker);
    ui->one_to_one = opts->one_to_one;
    ui->fullscreen = opts->fullscreen;
    ui->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, session_free);
    ui->transfers = crp_files_transfers_new();
    /* Lives as long as the application. */
    g_object_set_data_full(G_OBJECT(app), "crp-broker-ui", ui, broker_ui_free);

    if (opts->uris && opts->uris[0]) {
        g_autoptr(CrpUri) uri = crp_uri_parse(opts->uris[0], &error);
        if (uri) {
            ui->link_app = g_strdup(uri->app);
            if (!ui->broker && uri->broker_address) {
                ui->broker = g_strdup(uri->broker_address);
            }
            ask_about_link(ui);
            return;
        }
    }
    start_login(ui, error);
}
