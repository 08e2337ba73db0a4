/*
 * crp-files-window.c: see crp-files-window.h.
 *
 * The directory's rows are rebuilt from each FILES reply, like the main
 * window's lists: a rebuilt list cannot disagree with the broker. The
 * guest can change the area at any time, so the window lists again when
 * it becomes active, besides after its own changes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-files-window.h"

#include "crp-client-errors.h"
#include "crp-form.h"
#include "crp-transfer-row.h"
#include <crp/crp-message.h>

#include <string.h>

/* How many names a listing's log line shows (tests read it). */
#define LOG_NAMES 16

struct _CrpFilesWindow {
    GtkApplicationWindow parent;

    CrpBrokerClient *client;
    CrpFilesTransfers *transfers;
    GCancellable *cancel;           /* every request of this client */
    GCancellable *listing;          /* the newest FILE_LIST */
    char *dir;                      /* "" is the top */
    char *select;                   /* the name to select once listed */
    gboolean listed;                /* once: the keyboard goes to the list */

    GtkWidget *path_label, *up_button;
    GtkWidget *upload_button, *download_button, *delete_button, *refresh_button;
    GtkWidget *list;                /* GtkListBox of the entries */
    GtkWidget *usage_label;
    GtkWidget *transfer_box, *transfer_list;
};

G_DEFINE_FINAL_TYPE(CrpFilesWindow, crp_files_window, GTK_TYPE_APPLICATION_WINDOW)

/* What a row is about, kept on its GtkListBoxRow's child. */
#define ROW_NAME "crp-name"
#define ROW_IS_DIR "crp-is-dir"

/* ---- paths ------------------------------------------------------------- */

static char *child_path(const char *dir, const char *name)
{
    return *dir ? g_strconcat(dir, "/", name, NULL) : g_strdup(name);
}

static char *parent_path(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    return slash ? g_strndup(dir, slash - dir) : g_strdup("");
}

static void set_dir(CrpFilesWindow *win, const char *dir)
{
    g_autofree char *shown = NULL;

    g_free(win->dir);
    win->dir = g_strdup(dir);
    if (*dir) {
        g_auto(GStrv) parts = g_strsplit(dir, "/", -1);
        g_autofree char *joined = g_strjoinv(" › ", parts);
        shown = g_strconcat("My files › ", joined, NULL);
    } else {
        shown = g_strdup("My files");
    }
    gtk_label_set_text(GTK_LABEL(win->path_label), shown);
    gtk_widget_set_sensitive(win->up_button, *dir != '\0');
    crp_files_window_refresh(win);
}

/* ---- errors ------------------------------------------------------------ */

/* Says @error over the window, unless it is our own cancel. */
static void report(CrpFilesWindow *win, const char *what, const GError *error)
{
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;
    }
    crp_form_show_error(GTK_WINDOW(win), crp_client_error_files_title(error), what,
                        error->message);
}

/* ---- the directory ----------------------------------------------------- */

static GtkWidget *cell(const char *text, int chars, float xalign, gboolean dim)
{
    GtkWidget *l = gtk_label_new(text);
    gtk_label_set_xalign(GTK_LABEL(l), xalign);
    if (chars) {
        gtk_label_set_width_chars(GTK_LABEL(l), chars);
    } else {
        gtk_label_set_ellipsize(GTK_LABEL(l), PANGO_ELLIPSIZE_MIDDLE);
        gtk_widget_set_hexpand(l, TRUE);
    }
    if (dim) {
        gtk_widget_add_css_class(l, "dim-label");
    }
    return l;
}

/* Name, size and modified, in columns as wide as the heading's. */
static GtkWidget *columns(const char *icon, const char *name, const char *size,
                          const char *modified, gboolean dim)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    GtkWidget *image = icon ? gtk_image_new_from_icon_name(icon) : gtk_image_new();

    gtk_image_set_pixel_size(GTK_IMAGE(image), 16);
    gtk_widget_set_size_request(image, 16, -1);
    gtk_box_append(GTK_BOX(box), image);
    gtk_box_append(GTK_BOX(box), cell(name, 0, 0, FALSE));
    gtk_box_append(GTK_BOX(box), cell(size, 10, 1, dim));
    gtk_box_append(GTK_BOX(box), cell(modified, 16, 0, dim));
    gtk_widget_set_margin_start(box, 8);
    gtk_widget_set_margin_end(box, 8);
    gtk_widget_set_margin_top(box, 6);
    gtk_widget_set_margin_bottom(box, 6);
    return box;
}

static GtkWidget *entry_row(const CrpBrokerFileEntry *e)
{
    g_autofree char *size = e->is_dir ? g_strdup("—")
                                      : g_format_size_full(e->size, G_FORMAT_SIZE_IEC_UNITS);
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(e->mtime_ns / 1000000000);
    g_autofree char *modified = when ? g_date_time_format(when, "%Y-%m-%d %H:%M")
                                     : g_strdup("?");
    GtkWidget *row = columns(e->is_dir ? "folder-symbolic" : "text-x-generic-symbolic",
                             e->name, size, modified, TRUE);

    gtk_widget_set_name(row, e->name);      /* for tests and a11y */
    g_object_set_data_full(G_OBJECT(row), ROW_NAME, g_strdup(e->name), g_free);
    g_object_set_data(G_OBJECT(row), ROW_IS_DIR, GINT_TO_POINTER(e->is_dir));
    return row;
}

/* The selected row's child (name and kind on it), or NULL. */
static GtkWidget *selected(CrpFilesWindow *win)
{
    GtkListBoxRow *row = gtk_list_box_get_selected_row(GTK_LIST_BOX(win->list));
    return row ? gtk_list_box_row_get_child(row) : NULL;
}

static const char *name_of(GtkWidget *row)
{
    return g_object_get_data(G_OBJECT(row), ROW_NAME);
}

static gboolean is_dir(GtkWidget *row)
{
    return GPOINTER_TO_INT(g_object_get_data(G_OBJECT(row), ROW_IS_DIR));
}

static void update_buttons(CrpFilesWindow *win)
{
    GtkWidget *row = selected(win);
    gboolean on = win->client != NULL;

    gtk_widget_set_sensitive(win->upload_button, on);
    gtk_widget_set_sensitive(win->refresh_button, on);
    gtk_widget_set_sensitive(win->download_button, on && row && !is_dir(row));
    gtk_widget_set_sensitive(win->delete_button, on && row);
}

static void on_selected_rows_changed(GtkListBox *list, gpointer data)
{
    update_buttons(data);
}

/* Folders first, then by name (the broker sends them by name). */
static int folders_first(gconstpointer a, gconstpointer b)
{
    const CrpBrokerFileEntry *x = *(CrpBrokerFileEntry *const *)a;
    const CrpBrokerFileEntry *y = *(CrpBrokerFileEntry *const *)b;

    if (x->is_dir != y->is_dir) {
        return x->is_dir ? -1 : 1;
    }
    return g_utf8_collate(x->name, y->name);
}

static char *usage_text(const CrpBrokerFileList *files)
{
    g_autofree char *used = g_format_size_full(files->used_bytes, G_FORMAT_SIZE_IEC_UNITS);
    g_autofree char *quota = g_format_size_full(files->quota_bytes,
                                                G_FORMAT_SIZE_IEC_UNITS);
    g_autofree char *usage = files->quota_bytes
        ? g_strdup_printf("%s of %s used", used, quota)
        : g_strdup_printf("%s used", used);

    if (files->truncated) {
        return g_strdup_printf("%s — this folder holds more than the %u entries shown",
                               usage, files->entries->len);
    }
    return g_steal_pointer(&usage);
}

static void fill(CrpFilesWindow *win, CrpBrokerFileList *files)
{
    GtkWidget *child;
    GtkWidget *keep = selected(win);
    g_autofree char *keep_name = win->select ? g_steal_pointer(&win->select)
                                 : keep ? g_strdup(name_of(keep)) : NULL;
    g_autoptr(GString) names = g_string_new(NULL);

    while ((child = gtk_widget_get_first_child(win->list))) {
        gtk_list_box_remove(GTK_LIST_BOX(win->list), child);
    }
    g_ptr_array_sort(files->entries, folders_first);
    for (guint i = 0; i < files->entries->len; i++) {
        const CrpBrokerFileEntry *e = g_ptr_array_index(files->entries, i);
        GtkWidget *row = entry_row(e);
        gtk_list_box_append(GTK_LIST_BOX(win->list), row);
        if (g_strcmp0(e->name, keep_name) == 0) {
            gtk_list_box_select_row(GTK_LIST_BOX(win->list),
                                    GTK_LIST_BOX_ROW(gtk_widget_get_parent(row)));
        }
        if (i < LOG_NAMES) {
            g_string_append_printf(names, "%s%s%s", i ? ", " : "", e->name,
                                   e->is_dir ? "/" : "");
        }
    }
    GtkListBoxRow *first = gtk_list_box_get_row_at_index(GTK_LIST_BOX(win->list), 0);
    if (!win->listed && first) {
        /* The keyboard starts in the list: Up/Down and Enter at once. */
        win->listed = TRUE;
        gtk_widget_grab_focus(GTK_WIDGET(first));
    }
    g_autofree char *usage = usage_text(files);
    gtk_label_set_text(GTK_LABEL(win->usage_label), usage);
    update_buttons(win);
    /* Tests wait for this line. */
    g_message("files: '%s': %u entries [%s]; %s", win->dir, files->entries->len,
              names->str, usage);
}

static void on_listed(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerFileList) files = crp_broker_client_list_files_finish(
        CRP_BROKER_CLIENT(source), result, &error);

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;                 /* a newer listing, or the window went */
    }
    CrpFilesWindow *win = data;
    if (!files) {
        report(win, "Cannot list My files", error);
        if (g_error_matches(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_NO_SUCH_FILE) &&
            *win->dir) {
            /* The folder went (deleted in the guest, say): its parent. */
            g_autofree char *up = parent_path(win->dir);
            set_dir(win, up);
        }
        return;
    }
    fill(win, files);
}

void crp_files_window_refresh(CrpFilesWindow *win)
{
    if (win->listing) {
        g_cancellable_cancel(win->listing);
        g_clear_object(&win->listing);
    }
    if (!win->client) {
        return;
    }
    /* A newer listing, a new client or the window going cancels it. */
    win->listing = g_cancellable_new();
    crp_broker_client_list_files_async(win->client, win->dir, win->listing, on_listed, win);
}

/* ---- actions ----------------------------------------------------------- */

static void enter(CrpFilesWindow *win, GtkWidget *row)
{
    if (row && is_dir(row)) {
        g_autofree char *dir = child_path(win->dir, name_of(row));
        set_dir(win, dir);
    }
}

static void on_row_activated(GtkListBox *list, GtkListBoxRow *row, gpointer data)
{
    enter(data, gtk_list_box_row_get_child(row));
}

static void on_up_clicked(GtkButton *button, gpointer data)
{
    CrpFilesWindow *win = data;
    g_autofree char *up = parent_path(win->dir);
    set_dir(win, up);
}

static void on_refresh_clicked(GtkButton *button, gpointer data)
{
    crp_files_window_refresh(data);
}

static void upload_files(CrpFilesWindow *win, GSList *files)
{
    for (GSList *l = files; l; l = l->next) {
        g_autofree char *name = g_file_get_basename(l->data);
        g_autofree char *path = child_path(win->dir, name);
        crp_files_transfers_upload(win->transfers, l->data, path);
    }
}

G_GNUC_BEGIN_IGNORE_DEPRECATIONS   /* GtkFileChooser: GTK 4.8 has no GtkFileDialog */

static void on_upload_chosen(GtkNativeDialog *dialog, int response, gpointer data)
{
    CrpFilesWindow *win = data;

    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GListModel) chosen = gtk_file_chooser_get_files(GTK_FILE_CHOOSER(dialog));
        GSList *files = NULL;
        for (guint i = g_list_model_get_n_items(chosen); i > 0; i--) {
            files = g_slist_prepend(files, g_list_model_get_item(chosen, i - 1));
        }
        upload_files(win, files);
        g_slist_free_full(files, g_object_unref);
    }
    g_object_unref(dialog);
}

static void on_upload_clicked(GtkButton *button, gpointer data)
{
    CrpFilesWindow *win = data;
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        "Upload to My files", GTK_WINDOW(win), GTK_FILE_CHOOSER_ACTION_OPEN,
        "_Upload", "_Cancel");

    gtk_file_chooser_set_select_multiple(GTK_FILE_CHOOSER(dialog), TRUE);
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    g_signal_connect(dialog, "response", G_CALLBACK(on_upload_chosen), win);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

static void on_download_chosen(GtkNativeDialog *dialog, int response, gpointer data)
{
    CrpFilesWindow *win = data;
    const char *path = g_object_get_data(G_OBJECT(dialog), "crp-path");

    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) local = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        crp_files_transfers_download(win->transfers, path, local);
    }
    g_object_unref(dialog);
}

static void on_download_clicked(GtkButton *button, gpointer data)
{
    CrpFilesWindow *win = data;
    GtkWidget *row = selected(win);

    if (!row || is_dir(row)) {
        return;
    }
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        "Download from My files", GTK_WINDOW(win), GTK_FILE_CHOOSER_ACTION_SAVE,
        "_Download", "_Cancel");
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), name_of(row));
    g_object_set_data_full(G_OBJECT(dialog), "crp-path", child_path(win->dir, name_of(row)),
                           g_free);
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    g_signal_connect(dialog, "response", G_CALLBACK(on_download_chosen), win);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

G_GNUC_END_IGNORE_DEPRECATIONS

static void on_deleted(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;

    if (!crp_broker_client_delete_file_finish(CRP_BROKER_CLIENT(source), result, &error)) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            return;
        }
        report(data, "Cannot delete", error);
    }
    crp_files_window_refresh(data);
}

static void on_delete_response(GtkDialog *dialog, int response, gpointer data)
{
    CrpFilesWindow *win = data;
    const char *path = g_object_get_data(G_OBJECT(dialog), "crp-path");

    if (response == GTK_RESPONSE_ACCEPT && win->client) {
        g_message("files: deleting %s", path);
        crp_broker_client_delete_file_async(win->client, path, win->cancel, on_deleted, win);
    }
    gtk_window_destroy(GTK_WINDOW(dialog));
}

static void on_delete_clicked(GtkButton *button, gpointer data)
{
    CrpFilesWindow *win = data;
    GtkWidget *row = selected(win);

    if (!row || !win->client) {
        return;
    }
    GtkWidget *dialog = gtk_message_dialog_new(GTK_WINDOW(win),
        GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, GTK_MESSAGE_QUESTION,
        GTK_BUTTONS_NONE, "Delete “%s” from My files?", name_of(row));
    gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dialog), "%s",
        is_dir(row) ? "Only an empty folder can be deleted."
                    : "Every app of yours loses it too; it cannot be undone.");
    gtk_dialog_add_button(GTK_DIALOG(dialog), "_Cancel", GTK_RESPONSE_CANCEL);
    GtkWidget *del = gtk_dialog_add_button(GTK_DIALOG(dialog), "_Delete",
                                           GTK_RESPONSE_ACCEPT);
    gtk_widget_add_css_class(del, "destructive-action");
    gtk_dialog_set_default_response(GTK_DIALOG(dialog), GTK_RESPONSE_CANCEL);
    gtk_window_set_title(GTK_WINDOW(dialog), "Delete from My files");
    g_object_set_data_full(G_OBJECT(dialog), "crp-path", child_path(win->dir, name_of(row)),
                           g_free);
    g_signal_connect(dialog, "response", G_CALLBACK(on_delete_response), win);
    gtk_window_present(GTK_WINDOW(dialog));
}

static gboolean on_drop(GtkDropTarget *target, const GValue *value, double x, double y,
                        gpointer data)
{
    CrpFilesWindow *win = data;

    if (!win->client) {
        return FALSE;
    }
    upload_files(win, g_value_get_boxed(value));
    return TRUE;
}

/* An upload that ended may have changed the directory shown. */
static void on_transfer_finished(CrpFilesTransfers *transfers, CrpFilesTransfer *t,
                                 gpointer data)
{
    CrpFilesWindow *win = data;

    const char *path = crp_files_transfer_get_path(t);
    g_autofree char *dir = parent_path(path);

    if (crp_files_transfer_is_upload(t) &&
        crp_files_transfer_get_state(t) == CRP_FILES_TRANSFER_DONE &&
        g_str_equal(dir, win->dir)) {
        /* What just arrived is selected: ready to download or delete. */
        g_free(win->select);
        win->select = g_path_get_basename(path);
        crp_files_window_refresh(win);
    }
}

static void on_transfers_changed(GListModel *model, guint position, guint removed,
                                 guint added, gpointer data)
{
    CrpFilesWindow *win = data;
    gtk_widget_set_visible(win->transfer_box, g_list_model_get_n_items(model) > 0);
}

static void on_active(GObject *object, GParamSpec *pspec, gpointer data)
{
    if (gtk_window_is_active(GTK_WINDOW(object))) {
        crp_files_window_refresh(CRP_FILES_WINDOW(object));
    }
}

void crp_files_window_set_client(CrpFilesWindow *win, CrpBrokerClient *client)
{
    if (win->cancel) {
        g_cancellable_cancel(win->cancel);
        g_clear_object(&win->cancel);
    }
    win->client = client;
    if (client) {
        win->cancel = g_cancellable_new();
    }
    update_buttons(win);
    crp_files_window_refresh(win);
}

/* ---- keyboard ---------------------------------------------------------- */

static gboolean on_key_delete(GtkWidget *widget, GVariant *args, gpointer data)
{
    on_delete_clicked(NULL, widget);
    return TRUE;
}

static gboolean on_key_refresh(GtkWidget *widget, GVariant *args, gpointer data)
{
    crp_files_window_refresh(CRP_FILES_WINDOW(widget));
    return TRUE;
}

static gboolean on_key_up(GtkWidget *widget, GVariant *args, gpointer data)
{
    on_up_clicked(NULL, widget);
    return TRUE;
}

/* ---- object ------------------------------------------------------------ */

static GtkWidget *text_button(const char *label, const char *tooltip, GCallback callback,
                              gpointer data)
{
    GtkWidget *b = gtk_button_new_with_mnemonic(label);
    gtk_widget_set_tooltip_text(b, tooltip);
    g_signal_connect(b, "clicked", callback, data);
    return b;
}

static void build_header(CrpFilesWindow *win)
{
    GtkWidget *header = gtk_header_bar_new();

    win->up_button = gtk_button_new_from_icon_name("go-up-symbolic");
    gtk_widget_set_tooltip_text(win->up_button, "The folder above (Alt+Up)");
    g_signal_connect(win->up_button, "clicked", G_CALLBACK(on_up_clicked), win);
    gtk_header_bar_pack_start(GTK_HEADER_BAR(header), win->up_button);

    win->refresh_button = gtk_button_new_from_icon_name("view-refresh-symbolic");
    gtk_widget_set_tooltip_text(win->refresh_button, "Refresh (F5)");
    g_signal_connect(win->refresh_button, "clicked", G_CALLBACK(on_refresh_clicked), win);
    gtk_header_bar_pack_end(GTK_HEADER_BAR(header), win->refresh_button);

    win->path_label = gtk_label_new("My files");
    gtk_widget_add_css_class(win->path_label, "title");
    gtk_label_set_ellipsize(GTK_LABEL(win->path_label), PANGO_ELLIPSIZE_START);
    gtk_header_bar_set_title_widget(GTK_HEADER_BAR(header), win->path_label);
    gtk_window_set_titlebar(GTK_WINDOW(win), header);
}

static GtkWidget *build_toolbar(CrpFilesWindow *win)
{
    GtkWidget *bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);

    win->upload_button = text_button("_Upload…", "Upload files from this computer here",
                                     G_CALLBACK(on_upload_clicked), win);
    gtk_widget_add_css_class(win->upload_button, "suggested-action");
    win->download_button = text_button("_Download…", "Save the selected file on this "
                                       "computer", G_CALLBACK(on_download_clicked), win);
    win->delete_button = text_button("De_lete", "Delete the selected file or empty folder "
                                     "(Delete)", G_CALLBACK(on_delete_clicked), win);
    gtk_widget_add_css_class(win->delete_button, "destructive-action");
    gtk_box_append(GTK_BOX(bar), win->upload_button);
    gtk_box_append(GTK_BOX(bar), win->download_button);
    gtk_box_append(GTK_BOX(bar), win->delete_button);
    return bar;
}

static GtkWidget *build_list(CrpFilesWindow *win)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    GtkWidget *heading = columns(NULL, "Name", "Size", "Modified", FALSE);
    gtk_widget_add_css_class(heading, "heading");
    gtk_box_append(GTK_BOX(box), heading);

    win->list = gtk_list_box_new();
    gtk_list_box_set_selection_mode(GTK_LIST_BOX(win->list), GTK_SELECTION_SINGLE);
    gtk_list_box_set_activate_on_single_click(GTK_LIST_BOX(win->list), FALSE);
    g_signal_connect(win->list, "row-activated", G_CALLBACK(on_row_activated), win);
    g_signal_connect(win->list, "selected-rows-changed",
                     G_CALLBACK(on_selected_rows_changed), win);
    GtkWidget *empty = gtk_label_new("Nothing here yet: upload files, or drop them here.");
    gtk_widget_add_css_class(empty, "dim-label");
    gtk_widget_set_margin_top(empty, 24);
    gtk_widget_set_margin_bottom(empty, 24);
    gtk_list_box_set_placeholder(GTK_LIST_BOX(win->list), empty);

    GtkWidget *scrolled = gtk_scrolled_window_new();
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), win->list);
    gtk_widget_set_vexpand(scrolled, TRUE);
    gtk_box_append(GTK_BOX(box), scrolled);
    gtk_widget_add_css_class(box, "frame");
    gtk_widget_set_vexpand(box, TRUE);

    GtkDropTarget *drop = gtk_drop_target_new(GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
    g_signal_connect(drop, "drop", G_CALLBACK(on_drop), win);
    gtk_widget_add_controller(box, GTK_EVENT_CONTROLLER(drop));
    return box;
}

static GtkWidget *build_transfers(CrpFilesWindow *win)
{
    GListModel *model = crp_files_transfers_get_model(win->transfers);

    win->transfer_list = gtk_list_box_new();
    gtk_list_box_set_selection_mode(GTK_LIST_BOX(win->transfer_list), GTK_SELECTION_NONE);
    gtk_widget_add_css_class(win->transfer_list, "boxed-list");
    gtk_list_box_bind_model(GTK_LIST_BOX(win->transfer_list), model,
                            crp_transfer_row_create, win->transfers, NULL);
    GtkWidget *scrolled = gtk_scrolled_window_new();
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), win->transfer_list);
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER,
                                   GTK_POLICY_AUTOMATIC);
    gtk_scrolled_window_set_max_content_height(GTK_SCROLLED_WINDOW(scrolled), 160);
    gtk_scrolled_window_set_propagate_natural_height(GTK_SCROLLED_WINDOW(scrolled), TRUE);
    win->transfer_box = scrolled;
    g_signal_connect_object(model, "items-changed", G_CALLBACK(on_transfers_changed), win, 0);
    gtk_widget_set_visible(scrolled, g_list_model_get_n_items(model) > 0);
    return scrolled;
}

static void crp_files_window_init(CrpFilesWindow *win)
{
}

static void build(CrpFilesWindow *win)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);

    build_header(win);
    gtk_box_append(GTK_BOX(box), build_toolbar(win));
    gtk_box_append(GTK_BOX(box), build_list(win));
    win->usage_label = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(win->usage_label), 0);
    gtk_widget_add_css_class(win->usage_label, "dim-label");
    gtk_box_append(GTK_BOX(box), win->usage_label);
    gtk_box_append(GTK_BOX(box), build_transfers(win));
    gtk_widget_set_margin_start(box, 12);
    gtk_widget_set_margin_end(box, 12);
    gtk_widget_set_margin_top(box, 12);
    gtk_widget_set_margin_bottom(box, 12);
    gtk_window_set_child(GTK_WINDOW(win), box);
    gtk_window_set_default_size(GTK_WINDOW(win), 600, 480);
    gtk_window_set_title(GTK_WINDOW(win), "My files — CRP");

    crp_form_add_shortcut(win->list, "Delete|KP_Delete", on_key_delete, NULL);
    crp_form_add_shortcut(GTK_WIDGET(win), "F5", on_key_refresh, NULL);
    crp_form_add_shortcut(GTK_WIDGET(win), "<Alt>Up", on_key_up, NULL);
    crp_form_add_shortcut(win->list, "BackSpace", on_key_up, NULL);
    g_signal_connect(win, "notify::is-active", G_CALLBACK(on_active), NULL);
    update_buttons(win);
    g_signal_connect_object(win->transfers, "finished", G_CALLBACK(on_transfer_finished),
                            win, 0);
    set_dir(win, "");
}

static void crp_files_window_dispose(GObject *object)
{
    CrpFilesWindow *win = CRP_FILES_WINDOW(object);

    if (win->cancel) {
        g_cancellable_cancel(win->cancel);
        g_clear_object(&win->cancel);
    }
    if (win->listing) {
        g_cancellable_cancel(win->listing);
        g_clear_object(&win->listing);
    }
    win->client = NULL;
    g_clear_object(&win->transfers);
    g_clear_pointer(&win->dir, g_free);
    g_clear_pointer(&win->select, g_free);
    G_OBJECT_CLASS(crp_files_window_parent_class)->dispose(object);
}

static void crp_files_window_class_init(CrpFilesWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = crp_files_window_dispose;
}

CrpFilesWindow *crp_files_window_new(GtkApplication *app, CrpFilesTransfers *transfers)
{
    CrpFilesWindow *win = g_object_new(CRP_TYPE_FILES_WINDOW, "application", app, NULL);

    win->transfers = g_object_ref(transfers);
    build(win);
    return win;
}
