/*
 * crp-transfer-row.c: see crp-transfer-row.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-transfer-row.h"

#include "crp-client-errors.h"

/* A finished row goes by itself after this; a failed one stays until
 * the user has read it. */
#define DONE_LINGER_S 5

typedef struct {
    CrpFilesTransfers *list;    /* weak */
    CrpFilesTransfer *t;        /* strong */
    GtkWidget *label, *bar, *button, *error;
    guint linger;
} TransferRow;

static gboolean on_linger(gpointer data)
{
    TransferRow *r = data;

    r->linger = 0;
    if (r->list) {
        crp_files_transfers_remove(r->list, r->t);
    }
    return G_SOURCE_REMOVE;
}

static void update(TransferRow *r)
{
    CrpFilesTransferState state = crp_files_transfer_get_state(r->t);
    gboolean ended = state > CRP_FILES_TRANSFER_RUNNING;
    const GError *error = crp_files_transfer_get_error(r->t);
    g_autofree char *text = crp_files_transfer_describe(r->t);
    guint64 done, total;

    crp_files_transfer_get_progress(r->t, &done, &total);
    gtk_label_set_text(GTK_LABEL(r->label), text);
    gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(r->bar),
                                  total ? (double)done / total
                                        : state == CRP_FILES_TRANSFER_DONE);
    gtk_widget_set_visible(r->bar, !ended || state == CRP_FILES_TRANSFER_DONE);
    gtk_button_set_icon_name(GTK_BUTTON(r->button),
                             ended ? "window-close-symbolic" : "process-stop-symbolic");
    gtk_widget_set_tooltip_text(r->button, ended ? "Dismiss" : "Cancel");
    gtk_widget_set_visible(r->error, error != NULL);
    if (error) {
        g_autofree char *words = g_strdup_printf("%s: %s",
                                                 crp_client_error_files_title(error),
                                                 error->message);
        gtk_label_set_text(GTK_LABEL(r->error), words);
        gtk_widget_set_tooltip_text(r->error, words);
    }
    if ((state == CRP_FILES_TRANSFER_DONE || state == CRP_FILES_TRANSFER_CANCELLED) &&
        !r->linger) {
        r->linger = g_timeout_add_seconds(DONE_LINGER_S, on_linger, r);
    }
}

static void on_changed(CrpFilesTransfer *t, gpointer data)
{
    update(data);
}

static void on_button(GtkButton *button, gpointer data)
{
    TransferRow *r = data;

    if (crp_files_transfer_get_state(r->t) <= CRP_FILES_TRANSFER_RUNNING) {
        crp_files_transfer_cancel(r->t);
    } else if (r->list) {
        crp_files_transfers_remove(r->list, r->t);
    }
}

static void row_free(gpointer data)
{
    TransferRow *r = data;

    g_clear_handle_id(&r->linger, g_source_remove);
    g_signal_handlers_disconnect_by_data(r->t, r);
    g_clear_weak_pointer(&r->list);
    g_object_unref(r->t);
    g_free(r);
}

GtkWidget *crp_transfer_row_new(CrpFilesTransfers *list, CrpFilesTransfer *t)
{
    TransferRow *r = g_new0(TransferRow, 1);
    GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);

    g_set_weak_pointer(&r->list, list);
    r->t = g_object_ref(t);
    r->label = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(r->label), 0);
    gtk_label_set_ellipsize(GTK_LABEL(r->label), PANGO_ELLIPSIZE_MIDDLE);
    r->bar = gtk_progress_bar_new();
    r->error = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(r->error), 0);
    /* One line (all of it in the tooltip): a wrapped label's height
     * depends on its width, which a list in a scrolled corner gets
     * wrong. */
    gtk_label_set_ellipsize(GTK_LABEL(r->error), PANGO_ELLIPSIZE_END);
    gtk_widget_add_css_class(r->error, "error");
    gtk_box_append(GTK_BOX(text), r->label);
    gtk_box_append(GTK_BOX(text), r->bar);
    gtk_box_append(GTK_BOX(text), r->error);
    gtk_widget_set_hexpand(text, TRUE);
    gtk_widget_set_valign(text, GTK_ALIGN_CENTER);

    r->button = gtk_button_new();
    gtk_widget_add_css_class(r->button, "flat");
    gtk_widget_set_valign(r->button, GTK_ALIGN_CENTER);
    gtk_widget_set_focusable(r->button, FALSE);     /* keys stay with the guest */
    g_signal_connect(r->button, "clicked", G_CALLBACK(on_button), r);

    gtk_box_append(GTK_BOX(row), text);
    gtk_box_append(GTK_BOX(row), r->button);
    gtk_widget_set_margin_start(row, 8);
    gtk_widget_set_margin_end(row, 4);
    gtk_widget_set_margin_top(row, 4);
    gtk_widget_set_margin_bottom(row, 4);
    g_signal_connect(t, "changed", G_CALLBACK(on_changed), r);
    g_object_set_data_full(G_OBJECT(row), "crp-transfer-row", r, row_free);
    update(r);
    return row;
}

GtkWidget *crp_transfer_row_create(gpointer item, gpointer data)
{
    return crp_transfer_row_new(data, item);
}
