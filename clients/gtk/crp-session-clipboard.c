/*
 * crp-session-clipboard.c: see crp-session-clipboard.h.
 *
 * Both ways are eager: a copy on the desktop is read and announced at
 * once (the viewer answers the server's requests from it), and a copy in
 * the guest is fetched at once. With content capped at 16 MiB that is
 * simple and keeps a paste instant; the cost is reading what may never
 * be pasted.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-session-clipboard.h"

#include <crp/crp-clipboard.h>

struct CrpSessionClipboard {
    GdkClipboard *clipboard;
    CrpDisplayLink *link;
    gulong changed_id;
    GCancellable *reading;          /* the desktop's content being read */
    GBytes *text, *png;             /* of that read, so far */
    /* The server's content being fetched: formats still to ask for, and
     * what arrived of it. */
    guint8 fetch_formats;
    char *fetched_text;
    GdkTexture *fetched_image;
};

static CrpViewer *viewer(CrpSessionClipboard *cb)
{
    return crp_display_link_get_viewer(cb->link);
}

/* ---- desktop to session ------------------------------------------------ */

static void announce(CrpSessionClipboard *cb)
{
    g_autoptr(GError) error = NULL;

    if (!crp_viewer_set_clipboard(viewer(cb), cb->text, cb->png, &error)) {
        g_message("clipboard: %s", error->message);
        return;
    }
    crp_display_link_flush(cb->link);
}

static void on_texture_read(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GdkTexture) texture =
        gdk_clipboard_read_texture_finish(GDK_CLIPBOARD(source), result, &error);
    CrpSessionClipboard *cb = data;

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;
    }
    if (texture) {
        cb->png = gdk_texture_save_to_png_bytes(texture);
    }
    announce(cb);
}

static void on_text_read(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text =
        gdk_clipboard_read_text_finish(GDK_CLIPBOARD(source), result, &error);
    CrpSessionClipboard *cb = data;
    GdkContentFormats *formats;

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return;
    }
    if (text) {
        cb->text = g_bytes_new(text, strlen(text));
    }
    formats = gdk_clipboard_get_formats(cb->clipboard);
    if (gdk_content_formats_contain_gtype(formats, GDK_TYPE_TEXTURE)) {
        gdk_clipboard_read_texture_async(cb->clipboard, cb->reading,
                                         on_texture_read, cb);
        return;
    }
    announce(cb);
}

/* What the desktop's clipboard holds, to the session. Our own content
 * (the guest's, put there by server_data()) is not sent back; an empty
 * clipboard at the start is not announced (it would empty the guest's). */
static void read_desktop(CrpSessionClipboard *cb, gboolean at_start)
{
    GdkClipboard *clipboard = cb->clipboard;
    GdkContentFormats *formats = gdk_clipboard_get_formats(clipboard);

    if (gdk_clipboard_is_local(clipboard) ||
        (at_start && !gdk_content_formats_contain_gtype(formats, G_TYPE_STRING) &&
         !gdk_content_formats_contain_gtype(formats, GDK_TYPE_TEXTURE))) {
        return;
    }
    g_cancellable_cancel(cb->reading);
    g_clear_object(&cb->reading);
    g_clear_pointer(&cb->text, g_bytes_unref);
    g_clear_pointer(&cb->png, g_bytes_unref);
    cb->reading = g_cancellable_new();
    if (gdk_content_formats_contain_gtype(formats, G_TYPE_STRING)) {
        gdk_clipboard_read_text_async(clipboard, cb->reading, on_text_read, cb);
    } else if (gdk_content_formats_contain_gtype(formats, GDK_TYPE_TEXTURE)) {
        gdk_clipboard_read_texture_async(clipboard, cb->reading,
                                         on_texture_read, cb);
    } else {
        announce(cb);           /* nothing we can carry: empty */
    }
}

static void on_changed(GdkClipboard *clipboard, gpointer data)
{
    read_desktop(data, FALSE);
}

/* ---- session to desktop ------------------------------------------------ */

/* Asks for the next format still to fetch; FALSE when none is left. */
static gboolean fetch_next(CrpSessionClipboard *cb)
{
    guint8 format = (cb->fetch_formats & CRP_CLIPBOARD_TEXT) ? CRP_CLIPBOARD_TEXT
                    : (cb->fetch_formats & CRP_CLIPBOARD_PNG) ? CRP_CLIPBOARD_PNG : 0;
    g_autoptr(GError) error = NULL;

    if (!format) {
        return FALSE;
    }
    cb->fetch_formats &= ~format;
    if (!crp_viewer_request_clipboard(viewer(cb), format, &error)) {
        g_message("clipboard: %s", error->message);
        return fetch_next(cb);
    }
    crp_display_link_flush(cb->link);
    return TRUE;
}

/* Everything fetched goes on the desktop's clipboard at once. */
static void publish(CrpSessionClipboard *cb)
{
    GdkContentProvider *parts[2];
    guint n = 0;

    if (cb->fetched_text) {
        parts[n++] = gdk_content_provider_new_typed(G_TYPE_STRING, cb->fetched_text);
    }
    if (cb->fetched_image) {
        parts[n++] = gdk_content_provider_new_typed(GDK_TYPE_TEXTURE, cb->fetched_image);
    }
    if (n) {
        g_autoptr(GdkContentProvider) all = gdk_content_provider_new_union(parts, n);
        gdk_clipboard_set_content(cb->clipboard, all);
    }
    g_clear_pointer(&cb->fetched_text, g_free);
    g_clear_object(&cb->fetched_image);
}

void crp_session_clipboard_server_grab(CrpSessionClipboard *cb, guint8 formats)
{
    g_clear_pointer(&cb->fetched_text, g_free);
    g_clear_object(&cb->fetched_image);
    cb->fetch_formats = formats;
    fetch_next(cb);
}

void crp_session_clipboard_server_data(CrpSessionClipboard *cb, guint8 format,
                                       guint8 status)
{
    guint8 got_format;
    g_autoptr(GBytes) content = crp_viewer_take_clipboard(viewer(cb), &got_format);
    g_autoptr(GError) error = NULL;

    if (!content) {
        g_message("clipboard: the session's %s was refused: %s",
                  crp_clipboard_format_name(format), crp_clipboard_status_name(status));
    } else if (format == CRP_CLIPBOARD_TEXT) {
        gsize len;
        const char *text = g_bytes_get_data(content, &len);
        cb->fetched_text = g_strndup(text, len);
    } else {
        cb->fetched_image = gdk_texture_new_from_bytes(content, &error);
        if (!cb->fetched_image) {
            g_message("clipboard: the session's image: %s", error->message);
        }
    }
    if (!fetch_next(cb)) {
        publish(cb);
    }
}

CrpSessionClipboard *crp_session_clipboard_new(GdkClipboard *clipboard,
                                               CrpDisplayLink *link)
{
    CrpSessionClipboard *cb = g_new0(CrpSessionClipboard, 1);

    cb->clipboard = g_object_ref(clipboard);
    cb->link = link;
    cb->changed_id = g_signal_connect(clipboard, "changed", G_CALLBACK(on_changed), cb);
    read_desktop(cb, TRUE);
    return cb;
}

void crp_session_clipboard_free(CrpSessionClipboard *cb)
{
    if (!cb) {
        return;
    }
    g_cancellable_cancel(cb->reading);
    g_clear_object(&cb->reading);
    g_signal_handler_disconnect(cb->clipboard, cb->changed_id);
    g_object_unref(cb->clipboard);
    g_clear_pointer(&cb->text, g_bytes_unref);
    g_clear_pointer(&cb->png, g_bytes_unref);
    g_free(cb->fetched_text);
    g_clear_object(&cb->fetched_image);
    g_free(cb);
}
