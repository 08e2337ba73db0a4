/*
 * crp-session-window.c: see crp-session-window.h.
 *
 * The display connection is the client core's CrpDisplayLink (GIO I/O
 * around a CrpViewer); this file wires its events to the widget, the sound and the
 * header bar, and turns the ways it ends into what the user sees.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-session-window.h"

#include "crp-sound.h"
#include "crp-display.h"
#include "crp-address.h"
#include <crp/crp-secret-file.h>
#include "crp-display-link.h"
#include "crp-session-stats.h"
#include "crp-session-clipboard.h"
#include "crp-guest-fit.h"
#include "crp-settings.h"
#include "crp-special-keys.h"
#include "crp-transfer-row.h"

#include <crp/crp-channel.h>

/* Until the first picture, the window stays hidden (so it can open at
 * the guest's size), but never longer than this. */
#define SHOW_DELAY_MS 1000
#define STATS_INTERVAL_MS 1000
/* Direct mode: as long as crp-headless waits for its connection. */
#define CONNECT_TIMEOUT_S 10
/* How long the display insists on the guest's size (see size_to_guest()). */
#define UNSIZE_DELAY_MS 500
/* The guest follows the window: asked this long after the window's last
 * size change, and given this long to switch before its picture is
 * scaled instead. */
#define FIT_DEBOUNCE_MS 300
#define FIT_WAIT_MS 2000

struct _CrpSessionWindow {
    GtkApplicationWindow parent;

    GtkWidget *display;
    GtkWidget *scroller;        /* scroll bars at 1:1 */
    GtkWidget *status_box, *status_label, *spinner;
    GtkWidget *title_label, *hint_label, *menu_button;
    GtkWidget *stats_label;
    GtkWidget *scale_button, *fullscreen_button, *speaker_button, *mic_button,
              *stats_button, *close_app_button;

    CrpDisplayLink *conn;
    CrpSessionClipboard *clipboard;     /* while conn shares it, unmuted */
    gboolean clipboard_muted;           /* the user's switch */
    GIOStream *stream;          /* for the TCP round trip */
    GCancellable *connecting;   /* direct mode, until connected */
    char *address;              /* direct mode */
    char *ticket;               /* direct mode, until connected */
    CrpSound *audio;
    int audio_channels;
    guint32 capabilities;
    gboolean mic_refused;

    CrpGuestFit *fit;
    gboolean fit_guest;         /* the preference */
    int guest_w, guest_h;
    char *app_key;              /* what crp-settings remembers it as */
    gboolean remembered_size;
    gboolean release_after_menu;

    guint show_timer;
    guint unsize_timer;
    guint stats_timer;
    CrpSessionStats stats;

    GMenu *menu;                /* the header bar's */
    CrpFilesTransfers *transfers;   /* My files, once enabled */
    GtkWidget *transfer_list;   /* their progress, over the picture */

    gboolean app_closed;        /* the user closed the app */
    gboolean user_closing;      /* the user closed the window */
};

G_DEFINE_FINAL_TYPE(CrpSessionWindow, crp_session_window, GTK_TYPE_APPLICATION_WINDOW)

enum { SIGNAL_DISCONNECTED, SIGNAL_APP_CLOSED, SIGNAL_SHOW_FILES, N_SIGNALS };
static guint signals[N_SIGNALS];

static void show_now(CrpSessionWindow *win)
{
    g_clear_handle_id(&win->show_timer, g_source_remove);
    if (!gtk_widget_get_visible(GTK_WIDGET(win))) {
        gtk_window_present(GTK_WINDOW(win));
    }
    gtk_widget_grab_focus(win->display);
}

static gboolean on_show_timeout(gpointer data)
{
    CRP_SESSION_WINDOW(data)->show_timer = 0;
    show_now(data);
    return G_SOURCE_REMOVE;
}

void crp_session_window_set_status(CrpSessionWindow *win, const char *status)
{
    gtk_widget_set_visible(win->status_box, status != NULL);
    gtk_spinner_set_spinning(GTK_SPINNER(win->spinner), status != NULL);
    if (status) {
        gtk_label_set_text(GTK_LABEL(win->status_label), status);
    }
}

/* ---- the guest follows the window ------------------------------------ */

static void update_fit(CrpSessionWindow *win)
{
    gboolean on = win->conn && (win->capabilities & CRP_CAP_RESIZE) && win->fit_guest &&
                  crp_display_get_scale_to_fit(CRP_DISPLAY(win->display));
    crp_guest_fit_set_enabled(win->fit, on);
}

static void on_fit_request(gpointer data, int width, int height)
{
    CrpSessionWindow *win = data;

    if (!win->conn) {
        return;
    }
    g_message("resize: asking the guest for %dx%d", width, height);
    crp_viewer_send_resize(crp_display_link_get_viewer(win->conn), width, height);
    crp_display_link_flush(win->conn);
}

static void on_fit_state(gpointer data, CrpGuestFitState state)
{
    CrpSessionWindow *win = data;
    int w, h;

    crp_guest_fit_get_requested(win->fit, &w, &h);
    if (state == CRP_GUEST_FIT_FIXED) {
        g_message("resize: the guest keeps %dx%d (asked for %dx%d): "
                  "its picture is scaled to the window", win->guest_w, win->guest_h, w, h);
    } else if (state == CRP_GUEST_FIT_FOLLOWING && w && w == win->guest_w &&
               h == win->guest_h) {
        g_message("resize: the guest follows the window at %dx%d", w, h);
    }
}

static const CrpGuestFitEvents fit_events = {
    .request = on_fit_request,
    .state_changed = on_fit_state,
};

static void on_view_size(gpointer data, int width, int height)
{
    crp_guest_fit_view_changed(CRP_SESSION_WINDOW(data)->fit, width, height);
}

/* The stats overlay's last line: the guest's size and how it is shown. */
static char *guest_size_line(CrpSessionWindow *win)
{
    const char *how = "scaled";

    if (!win->guest_w) {
        return g_strdup("no picture yet");
    }
    if (!crp_display_get_scale_to_fit(CRP_DISPLAY(win->display))) {
        how = "1:1";
    } else {
        switch (crp_guest_fit_get_state(win->fit)) {
        case CRP_GUEST_FIT_FOLLOWING:
            how = "follows the window";
            break;
        case CRP_GUEST_FIT_WAITING:
            how = "resizing…";
            break;
        case CRP_GUEST_FIT_FIXED:
            how = "cannot resize: scaled";
            break;
        case CRP_GUEST_FIT_OFF:
            break;
        }
    }
    return g_strdup_printf("guest %d×%d, %s", win->guest_w, win->guest_h, how);
}

/* ---- connection events ----------------------------------------------- */

static void on_flush(gpointer data)
{
    CrpSessionWindow *win = data;
    if (win->conn) {
        crp_display_link_flush(win->conn);
    }
}

static void on_mic(gpointer data, const gint16 *pcm, gsize n_frames)
{
    CrpSessionWindow *win = data;
    g_autoptr(GError) error = NULL;
    gint16 mono[CRP_AUDIO_MIC_CHUNK_FRAMES];

    if (!win->conn) {
        return;
    }
    CrpViewer *viewer = crp_display_link_get_viewer(win->conn);
    if (win->audio_channels == 1) {
        n_frames = MIN(n_frames, G_N_ELEMENTS(mono));
        for (gsize i = 0; i < n_frames; i++) {
            mono[i] = (pcm[2 * i] + pcm[2 * i + 1]) / 2;
        }
        pcm = mono;
    }
    if (!crp_viewer_send_audio(viewer, pcm, n_frames, &error)) {
        g_message("microphone: %s; it is off", error->message);
        win->mic_refused = TRUE;
        crp_sound_set_mic_func(win->audio, NULL, NULL);
        gtk_widget_set_sensitive(win->mic_button, FALSE);
        return;
    }
    crp_display_link_flush(win->conn);
}

static void update_mic(CrpSessionWindow *win)
{
    gboolean can = win->conn && (win->capabilities & CRP_CAP_AUDIO_IN) &&
                   !win->mic_refused;
    crp_sound_set_mic_func(win->audio, can ? on_mic : NULL, win);
    gtk_widget_set_sensitive(win->mic_button,
                             can && crp_sound_mic_available(win->audio));
}

/*
 * The clipboard switch onto the session: muted, the desktop's clipboard
 * is neither read nor announced and the viewer answers the server OFF
 * (protocol 5.4), so nothing crosses either way; shared again, what the
 * desktop holds is announced at once.
 */
static void apply_clipboard(CrpSessionWindow *win)
{
    if (!win->conn || !(win->capabilities & CRP_CAP_CLIPBOARD)) {
        return;
    }
    crp_viewer_set_clipboard_muted(crp_display_link_get_viewer(win->conn),
                                   win->clipboard_muted);
    if (win->clipboard_muted) {
        g_clear_pointer(&win->clipboard, crp_session_clipboard_free);
    } else if (!win->clipboard) {
        win->clipboard = crp_session_clipboard_new(
            gtk_widget_get_clipboard(GTK_WIDGET(win)), win->conn);
    }
    crp_display_link_flush(win->conn);
}

static void on_ready(gpointer data, guint32 capabilities)
{
    CrpSessionWindow *win = data;

    win->capabilities = capabilities;
    crp_display_set_viewer(CRP_DISPLAY(win->display),
                           crp_display_link_get_viewer(win->conn), on_flush, win);
    crp_session_window_set_status(win, NULL);
    gtk_widget_set_sensitive(win->close_app_button, TRUE);
    update_mic(win);
    apply_clipboard(win);
    crp_guest_fit_reset(win->fit);
    update_fit(win);
}

static void on_clipboard(gpointer data, guint8 formats)
{
    CrpSessionWindow *win = data;
    if (win->clipboard) {
        crp_session_clipboard_server_grab(win->clipboard, formats);
    }
}

static void on_clipboard_data(gpointer data, guint8 format, guint8 status)
{
    CrpSessionWindow *win = data;
    if (win->clipboard) {
        crp_session_clipboard_server_data(win->clipboard, format, status);
    }
}

static gboolean on_unsize(gpointer data)
{
    CrpSessionWindow *win = data;
    win->unsize_timer = 0;
    gtk_widget_set_size_request(win->display, -1, -1);
    return G_SOURCE_REMOVE;
}

/*
 * Sizes the window to show the guest 1:1 (or as much as fits the screen,
 * scaled), on each new guest resolution, as remote-viewer does: a guest
 * boots through the BIOS's 720x400 before its real mode. Only ever grows
 * a shown window (GTK 4.8 cannot shrink one); the picture is centred.
 */
static void size_to_guest(CrpSessionWindow *win, int width, int height)
{
    GListModel *monitors = gdk_display_get_monitors(gtk_widget_get_display(GTK_WIDGET(win)));
    g_autoptr(GdkMonitor) monitor = g_list_model_get_item(monitors, 0);
    GtkWindow *window = GTK_WINDOW(win);
    GdkRectangle area;

    if (!monitor || gtk_window_is_fullscreen(window) || gtk_window_is_maximized(window)) {
        return;
    }
    if (crp_display_get_scale_to_fit(CRP_DISPLAY(win->display))) {
        /* Scaled, a guest pixel is shown on a device pixel when it fits
         * (crp_display_measure()): on a HiDPI screen that is the size over
         * the scale in logical pixels. A guest that follows the window
         * was asked for device pixels. */
        int scale = gtk_widget_get_scale_factor(GTK_WIDGET(win));
        width /= scale;
        height /= scale;
    }
    gdk_monitor_get_geometry(monitor, &area);
    int max_w = area.width * 9 / 10, max_h = area.height * 8 / 10;
    double scale = MIN(1.0, MIN((double)max_w / width, (double)max_h / height));
    int view_w = width * scale, view_h = height * scale;
    if (gtk_widget_get_visible(GTK_WIDGET(win))) {
        /* GTK 4.8 does not resize a shown window to a new default size,
         * but does grow it to its content's minimum: ask for that size
         * for a moment, then let the user shrink it again. */
        gtk_widget_set_size_request(win->display, view_w, view_h);
        g_clear_handle_id(&win->unsize_timer, g_source_remove);
        win->unsize_timer = g_timeout_add(UNSIZE_DELAY_MS, on_unsize, win);
    } else if (scale < 1.0 && !win->remembered_size) {
        gtk_window_set_default_size(window, view_w, view_h);
    }
}

static void on_surface(gpointer data, int width, int height)
{
    CrpSessionWindow *win = data;

    crp_display_surface_changed(CRP_DISPLAY(win->display), width, height);
    win->guest_w = width;
    win->guest_h = height;
    size_to_guest(win, width, height);
    crp_guest_fit_surface_changed(win->fit, width, height);
}

static void on_frame(gpointer data, const CrpViewerUpdate *update)
{
    CrpSessionWindow *win = data;

    crp_display_frame(CRP_DISPLAY(win->display), &update->damage, update->frame_id);
    if (win->show_timer) {
        show_now(win);
    }
}

static void on_cursor(gpointer data)
{
    CrpSessionWindow *win = data;
    crp_display_cursor_changed(CRP_DISPLAY(win->display));
}

static void on_audio(gpointer data)
{
    CrpSessionWindow *win = data;
    gsize n_frames;
    int channels;
    g_autofree gint16 *pcm = crp_viewer_take_audio(crp_display_link_get_viewer(win->conn),
                                                   &n_frames, &channels);

    win->audio_channels = channels;
    crp_sound_play(win->audio, pcm, n_frames, channels);
}

static gboolean free_connection(gpointer data)
{
    crp_display_link_free(data);
    return G_SOURCE_REMOVE;
}

static void drop_connection(CrpSessionWindow *win)
{
    crp_display_set_viewer(CRP_DISPLAY(win->display), NULL, NULL, NULL);
    crp_sound_set_mic_func(win->audio, NULL, NULL);
    gtk_widget_set_sensitive(win->close_app_button, FALSE);
    g_clear_pointer(&win->clipboard, crp_session_clipboard_free);
    crp_guest_fit_set_enabled(win->fit, FALSE);
    if (win->conn) {
        /* We may be inside one of its callbacks: free it afterwards. */
        g_idle_add(free_connection, win->conn);
        win->conn = NULL;
    }
    g_clear_object(&win->stream);
}

static void on_fail_response(GtkDialog *dialog, int response, gpointer data)
{
    gtk_window_destroy(GTK_WINDOW(dialog));
    gtk_window_destroy(GTK_WINDOW(data));
}

void crp_session_window_fail(CrpSessionWindow *win, const char *title,
                             const char *detail)
{
    g_message("session: %s%s%s", title, detail ? ": " : "", detail ? detail : "");
    show_now(win);
    crp_session_window_set_status(win, NULL);
    GtkWidget *dialog = gtk_message_dialog_new(GTK_WINDOW(win),
        GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, GTK_MESSAGE_ERROR,
        GTK_BUTTONS_CLOSE, "%s", title);
    if (detail) {
        gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dialog), "%s", detail);
    }
    g_signal_connect(dialog, "response", G_CALLBACK(on_fail_response), win);
    gtk_window_present(GTK_WINDOW(dialog));
}

static void on_ended(gpointer data, int code, gboolean server_bye, const char *message)
{
    CrpSessionWindow *win = data;
    CrpSessionEnd end;
    const char *title;

    drop_connection(win);
    if (win->user_closing || win->app_closed) {
        gtk_window_destroy(GTK_WINDOW(win));
        return;
    }
    switch (code) {
    case CRP_DISPLAY_LINK_OK:
    case CRP_DISPLAY_LINK_CLOSED:
        end = server_bye ? CRP_SESSION_END_SERVER_CLOSED : CRP_SESSION_END_LOST;
        title = server_bye ? "The session has ended" : "The connection to the session was lost";
        break;
    case CRP_DISPLAY_LINK_AUTH:
        end = CRP_SESSION_END_REFUSED;
        title = "The server refused the ticket";
        break;
    case CRP_DISPLAY_LINK_PROTOCOL:
        end = CRP_SESSION_END_PROTOCOL;
        title = "The session broke down (protocol error)";
        break;
    default:
        end = CRP_SESSION_END_LOST;
        title = "Cannot reach the session";
        break;
    }
    gboolean handled = FALSE;
    g_signal_emit(win, signals[SIGNAL_DISCONNECTED], 0, end, message, &handled);
    if (!handled) {
        crp_session_window_fail(win, title, message);
    }
}

static const CrpDisplayLinkEvents connection_events = {
    .ready = on_ready,
    .surface = on_surface,
    .frame = on_frame,
    .cursor = on_cursor,
    .audio = on_audio,
    .clipboard = on_clipboard,
    .clipboard_data = on_clipboard_data,
    .ended = on_ended,
};

static void show_connecting(CrpSessionWindow *win)
{
    crp_session_window_set_status(win, "Connecting…");
    if (!gtk_widget_get_visible(GTK_WIDGET(win)) && !win->show_timer) {
        win->show_timer = g_timeout_add(SHOW_DELAY_MS, on_show_timeout, win);
    }
}

static void start_connection(CrpSessionWindow *win, CrpDisplayLink *conn,
                             GIOStream *stream)
{
    win->conn = conn;
    g_set_object(&win->stream, stream);
    win->mic_refused = FALSE;
    win->stats.have_previous = FALSE;
    show_connecting(win);
}

static void on_direct_connected(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketConnection) stream =
        g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);

    if (!stream && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;                 /* the window went */
    }
    CrpSessionWindow *win = data;
    g_clear_object(&win->connecting);
    if (stream) {
        CrpDisplayLink *conn = crp_display_link_new_for_stream(G_IO_STREAM(stream),
                                                               win->address, win->ticket,
                                                               &connection_events, win,
                                                               &error);
        if (conn) {
            start_connection(win, conn, G_IO_STREAM(stream));
        }
    }
    crp_secret_free(g_steal_pointer(&win->ticket));
    if (error) {
        gboolean handled = FALSE;
        g_autofree char *message = g_strdup_printf("cannot connect to %s: %s",
                                                   win->address, error->message);
        g_signal_emit(win, signals[SIGNAL_DISCONNECTED], 0, CRP_SESSION_END_LOST,
                      message, &handled);
        if (!handled) {
            crp_session_window_fail(win, "Cannot reach the session", message);
        }
    }
}

/*
 * Direct mode connects itself (rather than crp_display_link_new()) so that
 * it holds the socket, whose TCP round trip the stats overlay shows.
 */
gboolean crp_session_window_connect(CrpSessionWindow *win, const char *address,
                                    const char *ticket, GError **error)
{
    g_return_val_if_fail(!win->conn && !win->connecting, FALSE);
    g_autoptr(GSocketConnectable) addr = crp_address_parse(address, error);
    if (!addr) {
        return FALSE;
    }
    if (!*ticket && !crp_address_allows_no_ticket(address, error)) {
        return FALSE;
    }
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_set_timeout(client, CONNECT_TIMEOUT_S);
    g_free(win->address);
    win->address = g_strdup(address);
    win->ticket = g_strdup(ticket);
    win->connecting = g_cancellable_new();
    g_socket_client_connect_async(client, addr, win->connecting, on_direct_connected, win);
    show_connecting(win);
    return TRUE;
}

gboolean crp_session_window_attach(CrpSessionWindow *win, GIOStream *stream,
                                   const char *ticket, GError **error)
{
    g_return_val_if_fail(!win->conn, FALSE);
    CrpDisplayLink *conn = crp_display_link_new_for_stream(stream, "the session", ticket,
                                                           &connection_events, win, error);
    if (!conn) {
        return FALSE;
    }
    start_connection(win, conn, stream);
    return TRUE;
}

gboolean crp_session_window_app_closed(CrpSessionWindow *win)
{
    return win->app_closed;
}

/* ---- what each app remembers (crp-settings) -------------------------- */

static void save_app(CrpSessionWindow *win)
{
    g_autoptr(GError) error = NULL;
    GtkWindow *window = GTK_WINDOW(win);
    CrpAppSettings s;

    if (!win->app_key) {
        return;
    }
    crp_settings_get_app(win->app_key, &s);
    /* The default size follows the user's resizing (GTK 4); not the
     * fullscreen or maximized one, which is not a size to come back to. */
    if (!gtk_window_is_fullscreen(window) && !gtk_window_is_maximized(window)) {
        int w, h;
        gtk_window_get_default_size(window, &w, &h);
        if (w > 0 && h > 0) {
            s.width = w;
            s.height = h;
        }
    }
    s.one_to_one = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(win->scale_button));
    s.muted = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(win->speaker_button));
    s.clipboard_muted = win->clipboard_muted;
    if (!crp_settings_set_app(win->app_key, &s, &error)) {
        g_message("settings: cannot remember the window: %s", error->message);
    }
}

void crp_session_window_remember_as(CrpSessionWindow *win, const char *app)
{
    CrpAppSettings s;

    g_free(win->app_key);
    win->app_key = NULL;                /* nothing saved while applying */
    if (crp_settings_get_app(app, &s)) {
        if (s.width && s.height) {
            gtk_window_set_default_size(GTK_WINDOW(win), s.width, s.height);
            win->remembered_size = TRUE;
        }
        if (s.one_to_one) {
            gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(win->scale_button), TRUE);
        }
        if (s.muted) {
            gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(win->speaker_button), TRUE);
        }
        if (s.clipboard_muted) {
            g_action_group_change_action_state(G_ACTION_GROUP(win), "share-clipboard",
                                               g_variant_new_boolean(FALSE));
        }
    }
    win->app_key = g_strdup(app);
}

/* ---- special keys and the keyboard ----------------------------------- */

static void on_send_keys(GSimpleAction *action, GVariant *param, gpointer data)
{
    CrpSessionWindow *win = data;
    const CrpSpecialKeys *keys = crp_special_keys_lookup(g_variant_get_string(param, NULL));

    if (keys) {
        g_message("keys: sending %s", keys->label);
        crp_display_send_keys(CRP_DISPLAY(win->display), keys->codes, keys->n_codes);
    }
}

static void release_keyboard(CrpSessionWindow *win)
{
    if (gtk_widget_has_focus(win->display)) {
        /* The display's focus-leave releases the keys it pressed and
         * gives the desktop its shortcuts back. */
        gtk_window_set_focus(GTK_WINDOW(win), NULL);
        g_message("keyboard: released");
    }
}

static void on_release_keyboard(GSimpleAction *action, GVariant *param, gpointer data)
{
    CrpSessionWindow *win = data;
    /* From the menu: the menu has the focus now; after_menu() drops it. */
    win->release_after_menu = TRUE;
    release_keyboard(win);
}

static void update_hint(CrpSessionWindow *win)
{
    gtk_label_set_text(GTK_LABEL(win->hint_label),
                       gtk_widget_has_focus(win->display)
                       ? "Keys go to the app · Ctrl+Alt+G releases the keyboard"
                       : "Click the picture to type into the app");
}

static void on_display_focus(GObject *display, GParamSpec *pspec, gpointer data)
{
    update_hint(data);
}

static void on_fit_guest_changed(GSimpleAction *action, GVariant *value, gpointer data)
{
    CrpSessionWindow *win = data;
    g_autoptr(GError) error = NULL;

    g_simple_action_set_state(action, value);
    win->fit_guest = g_variant_get_boolean(value);
    if (!crp_settings_set_fit_guest(win->fit_guest, &error)) {
        g_message("settings: cannot remember the preference: %s", error->message);
    }
    update_fit(win);
}

static void on_share_clipboard_changed(GSimpleAction *action, GVariant *value,
                                       gpointer data)
{
    CrpSessionWindow *win = data;

    g_simple_action_set_state(action, value);
    win->clipboard_muted = !g_variant_get_boolean(value);
    g_message("clipboard: %s", win->clipboard_muted ? "muted" : "shared");
    apply_clipboard(win);
    save_app(win);
}

static void on_show_files(GSimpleAction *action, GVariant *param, gpointer data)
{
    g_signal_emit(data, signals[SIGNAL_SHOW_FILES], 0);
}

static const GActionEntry window_actions[] = {
    { .name = "send-keys", .activate = on_send_keys, .parameter_type = "s" },
    { .name = "show-files", .activate = on_show_files },
    { .name = "release-keyboard", .activate = on_release_keyboard },
    { .name = "fit-guest", .state = "true", .change_state = on_fit_guest_changed },
    { .name = "share-clipboard", .state = "true",
      .change_state = on_share_clipboard_changed },
};

/* Back to the guest once the menu is done with (a chosen special key
 * included), unless the user released the keyboard from it. Later than
 * "closed": the popover hands the focus back after it. */
static gboolean after_menu(gpointer data)
{
    CrpSessionWindow *win = data;

    if (win->release_after_menu) {
        win->release_after_menu = FALSE;
        gtk_window_set_focus(GTK_WINDOW(win), NULL);
    } else if (gtk_widget_get_visible(GTK_WIDGET(win))) {
        gtk_widget_grab_focus(win->display);
    }
    return G_SOURCE_REMOVE;
}

static void on_menu_closed(GtkPopover *popover, gpointer data)
{
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, after_menu, g_object_ref(data),
                    g_object_unref);
}

static GtkWidget *build_menu_button(CrpSessionWindow *win)
{
    GMenu *menu = win->menu = g_menu_new();
    g_autoptr(GMenu) keys = g_menu_new();
    g_autoptr(GMenu) fn_keys = g_menu_new();
    g_autoptr(GMenu) view = g_menu_new();
    gsize n;
    const CrpSpecialKeys *all = crp_special_keys_all(&n);

    for (gsize i = 0; i < n; i++) {
        g_autoptr(GMenuItem) item = g_menu_item_new(all[i].menu_label, NULL);
        g_menu_item_set_action_and_target(item, "win.send-keys", "s", all[i].name);
        g_menu_append_item(g_str_has_prefix(all[i].name, "ctrl-alt-f") ? fn_keys : keys,
                           item);
    }
    /* Mnemonics: the menu is for the keyboard too (Shift+F10, then a
     * letter), and they make it a stable thing to test. */
    g_menu_append_submenu(keys, "Send Ctrl+Alt+_F1…F12", G_MENU_MODEL(fn_keys));
    g_menu_append_section(menu, NULL, G_MENU_MODEL(keys));
    g_menu_append(view, "Fit the guest to the _window", "win.fit-guest");
    g_menu_append(view, "_Release the keyboard (Ctrl+Alt+G)", "win.release-keyboard");
    g_menu_append(view, "Share the _clipboard", "win.share-clipboard");
    g_menu_append_section(menu, NULL, G_MENU_MODEL(view));

    GtkWidget *b = gtk_menu_button_new();
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(b), "open-menu-symbolic");
    gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(b), G_MENU_MODEL(menu));
    gtk_widget_set_tooltip_text(b, "Special keys and the guest's size (Shift+F10)");
    gtk_widget_set_focus_on_click(b, FALSE);
    g_signal_connect(gtk_menu_button_get_popover(GTK_MENU_BUTTON(b)), "closed",
                     G_CALLBACK(on_menu_closed), win);
    return b;
}

/* ---- header bar ------------------------------------------------------ */

static gboolean on_stats_tick(gpointer data)
{
    CrpSessionWindow *win = data;
    CrpViewerStats sample = { 0 };

    if (win->conn) {
        crp_viewer_get_stats(crp_display_link_get_viewer(win->conn), &sample);
    }
    double rtt = win->stream ? crp_session_stats_tcp_rtt_ms(win->stream) : -1;
    g_autofree char *text = crp_session_stats_format(&win->stats, &sample,
                                                     g_get_monotonic_time(), rtt);
    g_autofree char *guest = guest_size_line(win);
    g_autofree char *all = g_strconcat(text, "\n", guest, NULL);
    gtk_label_set_text(GTK_LABEL(win->stats_label), all);
    return G_SOURCE_CONTINUE;
}

static void on_stats_toggled(GtkToggleButton *button, gpointer data)
{
    CrpSessionWindow *win = data;
    gboolean on = gtk_toggle_button_get_active(button);

    gtk_widget_set_visible(win->stats_label, on);
    g_clear_handle_id(&win->stats_timer, g_source_remove);
    if (on) {
        win->stats.have_previous = FALSE;
        on_stats_tick(win);
        win->stats_timer = g_timeout_add(STATS_INTERVAL_MS, on_stats_tick, win);
    }
}

static void on_scale_toggled(GtkToggleButton *button, gpointer data)
{
    CrpSessionWindow *win = data;
    gboolean one_to_one = gtk_toggle_button_get_active(button);

    crp_display_set_scale_to_fit(CRP_DISPLAY(win->display), !one_to_one);
    gtk_button_set_icon_name(GTK_BUTTON(button), one_to_one ? "zoom-original-symbolic"
                                                            : "zoom-fit-best-symbolic");
    /* Scroll bars only at 1:1: scaled, the picture always fits. */
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(win->scroller),
                                   one_to_one ? GTK_POLICY_AUTOMATIC : GTK_POLICY_NEVER,
                                   one_to_one ? GTK_POLICY_AUTOMATIC : GTK_POLICY_NEVER);
    update_fit(win);
    save_app(win);
}

static void on_fullscreen_clicked(GtkButton *button, gpointer data)
{
    GtkWindow *win = data;
    if (gtk_window_is_fullscreen(win)) {
        gtk_window_unfullscreen(win);
    } else {
        gtk_window_fullscreen(win);
    }
}

/* A mute toggle: pressed means muted, and its icon says which it is. */
static gboolean mute_toggled(GtkToggleButton *button, const char *muted_icon,
                             const char *on_icon)
{
    gboolean muted = gtk_toggle_button_get_active(button);
    gtk_button_set_icon_name(GTK_BUTTON(button), muted ? muted_icon : on_icon);
    return muted;
}

static void on_speaker_toggled(GtkToggleButton *button, gpointer data)
{
    CrpSessionWindow *win = data;
    crp_sound_set_playback_muted(win->audio,
        mute_toggled(button, "audio-volume-muted-symbolic", "audio-volume-high-symbolic"));
    save_app(win);
}

static void on_mic_toggled(GtkToggleButton *button, gpointer data)
{
    CrpSessionWindow *win = data;
    crp_sound_set_mic_muted(win->audio,
        mute_toggled(button, "microphone-disabled-symbolic",
                     "audio-input-microphone-symbolic"));
}

static void on_close_app_clicked(GtkButton *button, gpointer data)
{
    CrpSessionWindow *win = data;

    if (!win->conn) {
        return;
    }
    /* CLOSE_APP, then our BYE: the server reports it, the broker shuts
     * the VM down; the window goes when the connection has ended. */
    win->app_closed = TRUE;
    save_app(win);
    crp_viewer_send_close_app(crp_display_link_get_viewer(win->conn));
    crp_display_link_close(win->conn, "app closed");
    g_signal_emit(win, signals[SIGNAL_APP_CLOSED], 0);
}

static gboolean on_close_request(GtkWindow *window, gpointer data)
{
    CrpSessionWindow *win = CRP_SESSION_WINDOW(window);

    if (!win->conn) {
        return FALSE;
    }
    /* Leave, but let the session live (it can be reconnected); close
     * once our goodbye is out. */
    save_app(win);
    win->user_closing = TRUE;
    crp_display_link_close(win->conn, "window closed");
    gtk_widget_set_visible(GTK_WIDGET(window), FALSE);
    return TRUE;
}

static gboolean on_window_key(GtkEventControllerKey *key, guint keyval, guint keycode,
                              GdkModifierType state, gpointer data)
{
    CrpSessionWindow *win = data;
    gboolean shift = (state & GDK_SHIFT_MASK) != 0;

    if (keyval == GDK_KEY_F11 && !shift) {
        on_fullscreen_clicked(NULL, win);
        return TRUE;
    }
    if ((keyval == GDK_KEY_F12 && shift)) {
        GtkToggleButton *b = GTK_TOGGLE_BUTTON(win->stats_button);
        gtk_toggle_button_set_active(b, !gtk_toggle_button_get_active(b));
        return TRUE;
    }
    if (keyval == GDK_KEY_F10 && shift) {
        gtk_menu_button_popup(GTK_MENU_BUTTON(win->menu_button));
        return TRUE;
    }
    if ((keyval == GDK_KEY_g || keyval == GDK_KEY_G) &&
        (state & GDK_CONTROL_MASK) && (state & GDK_ALT_MASK)) {
        release_keyboard(win);
        return TRUE;
    }
    return FALSE;
}

static GtkWidget *header_button(GtkWidget *header, gboolean toggle, gboolean end,
                                const char *icon, const char *tooltip,
                                GCallback callback, gpointer data)
{
    GtkWidget *b = toggle ? gtk_toggle_button_new() : gtk_button_new();
    gtk_button_set_icon_name(GTK_BUTTON(b), icon);
    gtk_widget_set_tooltip_text(b, tooltip);
    gtk_widget_set_focusable(b, FALSE);     /* keys stay with the guest */
    g_signal_connect(b, toggle ? "toggled" : "clicked", callback, data);
    if (end) {
        gtk_header_bar_pack_end(GTK_HEADER_BAR(header), b);
    } else {
        gtk_header_bar_pack_start(GTK_HEADER_BAR(header), b);
    }
    return b;
}

static void build_header(CrpSessionWindow *win)
{
    GtkWidget *header = gtk_header_bar_new();

    win->close_app_button = gtk_button_new_with_label("Close app");
    gtk_widget_set_tooltip_text(win->close_app_button,
                                "Close the app and release its machine");
    gtk_widget_set_focusable(win->close_app_button, FALSE);
    gtk_widget_add_css_class(win->close_app_button, "destructive-action");
    gtk_widget_set_sensitive(win->close_app_button, FALSE);
    g_signal_connect(win->close_app_button, "clicked",
                     G_CALLBACK(on_close_app_clicked), win);
    gtk_header_bar_pack_start(GTK_HEADER_BAR(header), win->close_app_button);

    win->speaker_button = header_button(header, TRUE, FALSE, "audio-volume-high-symbolic",
                                        "Mute the sound", G_CALLBACK(on_speaker_toggled), win);
    win->mic_button = header_button(header, TRUE, FALSE, "audio-input-microphone-symbolic",
                                    "Mute the microphone", G_CALLBACK(on_mic_toggled), win);
    gtk_widget_set_sensitive(win->mic_button, FALSE);

    win->menu_button = build_menu_button(win);
    gtk_header_bar_pack_end(GTK_HEADER_BAR(header), win->menu_button);
    win->fullscreen_button = header_button(header, FALSE, TRUE, "view-fullscreen-symbolic",
                                           "Fullscreen (F11)",
                                           G_CALLBACK(on_fullscreen_clicked), win);
    win->scale_button = header_button(header, TRUE, TRUE, "zoom-fit-best-symbolic",
                                      "Scale to the window, or show 1:1",
                                      G_CALLBACK(on_scale_toggled), win);
    win->stats_button = header_button(header, TRUE, TRUE, "dialog-information-symbolic",
                                      "Statistics (Shift+F12)",
                                      G_CALLBACK(on_stats_toggled), win);

    /* The title, and under it where the keyboard goes. */
    GtkWidget *title = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    gtk_widget_set_valign(title, GTK_ALIGN_CENTER);
    win->title_label = gtk_label_new(NULL);
    gtk_widget_add_css_class(win->title_label, "title");
    gtk_label_set_ellipsize(GTK_LABEL(win->title_label), PANGO_ELLIPSIZE_END);
    win->hint_label = gtk_label_new(NULL);
    gtk_widget_add_css_class(win->hint_label, "subtitle");
    gtk_label_set_ellipsize(GTK_LABEL(win->hint_label), PANGO_ELLIPSIZE_END);
    gtk_box_append(GTK_BOX(title), win->title_label);
    gtk_box_append(GTK_BOX(title), win->hint_label);
    gtk_header_bar_set_title_widget(GTK_HEADER_BAR(header), title);
    g_object_bind_property(win, "title", win->title_label, "label", G_BINDING_SYNC_CREATE);
    gtk_window_set_titlebar(GTK_WINDOW(win), header);
}

static void build_content(CrpSessionWindow *win)
{
    GtkWidget *overlay = gtk_overlay_new();

    win->display = crp_display_new();
    gtk_widget_set_hexpand(win->display, TRUE);
    gtk_widget_set_vexpand(win->display, TRUE);
    crp_display_set_view_func(CRP_DISPLAY(win->display), on_view_size, win);
    g_signal_connect(win->display, "notify::has-focus", G_CALLBACK(on_display_focus), win);

    /* Scrolled at 1:1 when the window is smaller than the guest; its
     * natural size is the guest's, so a new window still opens at it.
     * Real scroll bars: overlay ones would cover the picture. Clicking
     * into the picture must not scroll it back to its corner. */
    GtkWidget *viewport = gtk_viewport_new(NULL, NULL);
    gtk_viewport_set_scroll_to_focus(GTK_VIEWPORT(viewport), FALSE);
    gtk_viewport_set_child(GTK_VIEWPORT(viewport), win->display);
    win->scroller = gtk_scrolled_window_new();
    gtk_scrolled_window_set_overlay_scrolling(GTK_SCROLLED_WINDOW(win->scroller), FALSE);
    gtk_scrolled_window_set_propagate_natural_width(GTK_SCROLLED_WINDOW(win->scroller), TRUE);
    gtk_scrolled_window_set_propagate_natural_height(GTK_SCROLLED_WINDOW(win->scroller), TRUE);
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(win->scroller), GTK_POLICY_NEVER,
                                   GTK_POLICY_NEVER);
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(win->scroller), viewport);
    gtk_overlay_set_child(GTK_OVERLAY(overlay), win->scroller);

    win->stats_label = gtk_label_new(NULL);
    gtk_widget_add_css_class(win->stats_label, "osd");
    gtk_widget_add_css_class(win->stats_label, "monospace");
    gtk_widget_set_halign(win->stats_label, GTK_ALIGN_START);
    gtk_widget_set_valign(win->stats_label, GTK_ALIGN_START);
    gtk_widget_set_margin_start(win->stats_label, 8);
    gtk_widget_set_margin_top(win->stats_label, 8);
    gtk_widget_set_can_target(win->stats_label, FALSE);
    gtk_widget_set_visible(win->stats_label, FALSE);
    gtk_overlay_add_overlay(GTK_OVERLAY(overlay), win->stats_label);

    win->status_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    gtk_widget_add_css_class(win->status_box, "osd");
    gtk_widget_set_halign(win->status_box, GTK_ALIGN_CENTER);
    gtk_widget_set_valign(win->status_box, GTK_ALIGN_CENTER);
    gtk_widget_set_can_target(win->status_box, FALSE);
    win->spinner = gtk_spinner_new();
    win->status_label = gtk_label_new(NULL);
    gtk_box_append(GTK_BOX(win->status_box), win->spinner);
    gtk_box_append(GTK_BOX(win->status_box), win->status_label);
    gtk_widget_set_visible(win->status_box, FALSE);
    gtk_overlay_add_overlay(GTK_OVERLAY(overlay), win->status_box);

    /* Uploads of dropped files (and any other My files transfer), in a
     * corner, while there are any. */
    win->transfer_list = gtk_list_box_new();
    gtk_list_box_set_selection_mode(GTK_LIST_BOX(win->transfer_list), GTK_SELECTION_NONE);
    gtk_widget_add_css_class(win->transfer_list, "osd");
    gtk_widget_set_halign(win->transfer_list, GTK_ALIGN_END);
    gtk_widget_set_valign(win->transfer_list, GTK_ALIGN_END);
    gtk_widget_set_margin_end(win->transfer_list, 8);
    gtk_widget_set_margin_bottom(win->transfer_list, 8);
    gtk_widget_set_size_request(win->transfer_list, 320, -1);
    gtk_widget_set_can_focus(win->transfer_list, FALSE);     /* keys stay with the guest */
    gtk_widget_set_visible(win->transfer_list, FALSE);
    gtk_overlay_add_overlay(GTK_OVERLAY(overlay), win->transfer_list);

    gtk_window_set_child(GTK_WINDOW(win), overlay);
}

/* ---- object ---------------------------------------------------------- */

static void crp_session_window_dispose(GObject *object)
{
    CrpSessionWindow *win = CRP_SESSION_WINDOW(object);

    g_clear_handle_id(&win->show_timer, g_source_remove);
    g_clear_handle_id(&win->unsize_timer, g_source_remove);
    g_clear_handle_id(&win->stats_timer, g_source_remove);
    g_clear_pointer(&win->fit, crp_guest_fit_free);
    g_clear_pointer(&win->app_key, g_free);
    if (win->display) {
        crp_display_set_viewer(CRP_DISPLAY(win->display), NULL, NULL, NULL);
    }
    if (win->connecting) {
        g_cancellable_cancel(win->connecting);
        g_clear_object(&win->connecting);
    }
    g_clear_pointer(&win->conn, crp_display_link_free);
    g_clear_object(&win->stream);
    crp_secret_free(g_steal_pointer(&win->ticket));
    g_clear_pointer(&win->address, g_free);
    g_clear_pointer(&win->audio, crp_sound_free);
    g_clear_object(&win->menu);
    g_clear_object(&win->transfers);
    G_OBJECT_CLASS(crp_session_window_parent_class)->dispose(object);
}

static void crp_session_window_class_init(CrpSessionWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = crp_session_window_dispose;

    /* (CrpSessionEnd end, const char *message) -> handled */
    signals[SIGNAL_DISCONNECTED] = g_signal_new("disconnected",
        G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
        g_signal_accumulator_true_handled, NULL, NULL,
        G_TYPE_BOOLEAN, 2, G_TYPE_INT, G_TYPE_STRING);
    signals[SIGNAL_APP_CLOSED] = g_signal_new("app-closed",
        G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
        G_TYPE_NONE, 0);
    /* () the user asked for My files (the menu) */
    signals[SIGNAL_SHOW_FILES] = g_signal_new("show-files",
        G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
        G_TYPE_NONE, 0);
}

static void crp_session_window_init(CrpSessionWindow *win)
{
    win->audio = crp_sound_new();
    win->audio_channels = 2;
    win->fit = crp_guest_fit_new(&fit_events, win, FIT_DEBOUNCE_MS, FIT_WAIT_MS);
    win->fit_guest = crp_settings_get_fit_guest();
    g_action_map_add_action_entries(G_ACTION_MAP(win), window_actions,
                                    G_N_ELEMENTS(window_actions), win);
    g_simple_action_set_state(G_SIMPLE_ACTION(g_action_map_lookup_action(G_ACTION_MAP(win),
                                                                         "fit-guest")),
                              g_variant_new_boolean(win->fit_guest));
    build_header(win);
    build_content(win);
    update_hint(win);
    g_signal_connect(win, "close-request", G_CALLBACK(on_close_request), NULL);

    /* Capture phase on the window runs before the display's own. */
    GtkEventController *key = gtk_event_controller_key_new();
    gtk_event_controller_set_propagation_phase(key, GTK_PHASE_CAPTURE);
    g_signal_connect(key, "key-pressed", G_CALLBACK(on_window_key), win);
    gtk_widget_add_controller(GTK_WIDGET(win), key);
}

/* ---- My files ---------------------------------------------------------- */

static gboolean on_drop(GtkDropTarget *target, const GValue *value, double x, double y,
                        gpointer data)
{
    CrpSessionWindow *win = data;
    GSList *files = g_value_get_boxed(value);

    g_message("files: %u dropped on the session: uploading to My files",
              g_slist_length(files));
    for (GSList *l = files; l; l = l->next) {
        g_autofree char *name = g_file_get_basename(l->data);
        crp_files_transfers_upload(win->transfers, l->data, name);
    }
    return files != NULL;
}

static void on_transfers_changed(GListModel *model, guint position, guint removed,
                                 guint added, gpointer data)
{
    CrpSessionWindow *win = data;
    gtk_widget_set_visible(win->transfer_list, g_list_model_get_n_items(model) > 0);
}

void crp_session_window_enable_files(CrpSessionWindow *win, CrpFilesTransfers *transfers)
{
    g_autoptr(GMenu) files = g_menu_new();
    GListModel *model = crp_files_transfers_get_model(transfers);

    g_return_if_fail(!win->transfers);
    win->transfers = g_object_ref(transfers);
    g_menu_append(files, "_My files…", "win.show-files");
    g_menu_append_section(win->menu, NULL, G_MENU_MODEL(files));

    GtkDropTarget *drop = gtk_drop_target_new(GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
    g_signal_connect(drop, "drop", G_CALLBACK(on_drop), win);
    gtk_widget_add_controller(gtk_window_get_child(GTK_WINDOW(win)),
                              GTK_EVENT_CONTROLLER(drop));

    gtk_list_box_bind_model(GTK_LIST_BOX(win->transfer_list), model,
                            crp_transfer_row_create, transfers, NULL);
    g_signal_connect_object(model, "items-changed", G_CALLBACK(on_transfers_changed), win, 0);
    on_transfers_changed(model, 0, 0, 0, win);
}

CrpSessionWindow *crp_session_window_new(GtkApplication *app, const char *title,
                                         gboolean scale_to_fit)
{
    CrpSessionWindow *win = g_object_new(CRP_TYPE_SESSION_WINDOW,
                                         "application", app, "title", title, NULL);
    if (!scale_to_fit) {
        gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(win->scale_button), TRUE);
    }
    return win;
}
