/*
 * crp-files-transfers.c: see crp-files-transfers.h.
 *
 * The broker client does the work (chunks, resuming, the .part file of a
 * download); this keeps the list, the turns and the states. A transfer
 * holds a reference to itself while the client runs it, so a row that
 * goes away early cannot pull it from under its callback.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-files-transfers.h"

#include "crp-client-errors.h"

/* Transfers at once: each is pipelined already, so more would only
 * share the same link and make every one of them slower to finish. */
#define MAX_RUNNING 2

struct _CrpFilesTransfer {
    GObject parent;

    CrpFilesTransfers *list;    /* weak: the list outlives its items' work */
    gboolean upload;
    char *path;
    GFile *local;
    CrpFilesTransferState state;
    guint64 done, total;
    GError *error;
    GCancellable *cancel;
};

G_DEFINE_FINAL_TYPE(CrpFilesTransfer, crp_files_transfer, G_TYPE_OBJECT)

struct _CrpFilesTransfers {
    GObject parent;

    GListStore *store;
    CrpBrokerClient *client;
};

G_DEFINE_FINAL_TYPE(CrpFilesTransfers, crp_files_transfers, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_TRANSFER_SIGNALS };
static guint transfer_signals[N_TRANSFER_SIGNALS];
enum { SIGNAL_FINISHED, N_LIST_SIGNALS };
static guint list_signals[N_LIST_SIGNALS];

static void run_next(CrpFilesTransfers *list);

/* ---- one transfer ------------------------------------------------------ */

static void changed(CrpFilesTransfer *t)
{
    g_signal_emit(t, transfer_signals[SIGNAL_CHANGED], 0);
}

static const char *direction(CrpFilesTransfer *t)
{
    return t->upload ? "upload" : "download";
}

static void finish(CrpFilesTransfer *t, CrpFilesTransferState state, GError *error)
{
    t->state = state;
    t->error = error;
    g_clear_object(&t->cancel);
    if (state == CRP_FILES_TRANSFER_FAILED) {
        g_message("files: %s %s failed: %s: %s", direction(t), t->path,
                  crp_client_error_files_title(error), error->message);
    } else {
        /* Tests wait for these lines. */
        g_message("files: %s %s %s (%" G_GUINT64_FORMAT " bytes)", direction(t), t->path,
                  state == CRP_FILES_TRANSFER_DONE ? "done" : "cancelled", t->done);
    }
    changed(t);
    if (t->list) {
        g_signal_emit(t->list, list_signals[SIGNAL_FINISHED], 0, t);
        run_next(t->list);
    }
}

static void on_progress(guint64 done, guint64 total, gpointer data)
{
    CrpFilesTransfer *t = data;

    t->done = done;
    t->total = total;
    changed(t);
}

static void on_transferred(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(CrpFilesTransfer) t = data;      /* the reference run() took */
    GError *error = NULL;
    gboolean ok = t->upload
        ? crp_broker_client_upload_finish(CRP_BROKER_CLIENT(source), result, NULL, &error)
        : crp_broker_client_download_finish(CRP_BROKER_CLIENT(source), result, &error);

    if (ok) {
        t->done = t->total;
        finish(t, CRP_FILES_TRANSFER_DONE, NULL);
    } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
               t->state == CRP_FILES_TRANSFER_CANCELLED) {
        g_error_free(error);
        finish(t, CRP_FILES_TRANSFER_CANCELLED, NULL);
    } else {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            /* Not by the user: the broker client went (logged out, the
             * connection dropped). */
            g_clear_error(&error);
            error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                        "The connection to the broker ended; "
                                        "try again once it is back");
        }
        finish(t, CRP_FILES_TRANSFER_FAILED, error);
    }
}

static void run(CrpFilesTransfer *t, CrpBrokerClient *client)
{
    const char *local = g_file_peek_path(t->local);

    t->state = CRP_FILES_TRANSFER_RUNNING;
    t->cancel = g_cancellable_new();
    g_message("files: %s %s started", direction(t), t->path);
    changed(t);
    if (t->upload) {
        crp_broker_client_upload_async(client, local, t->path, on_progress, t,
                                       t->cancel, on_transferred, g_object_ref(t));
    } else {
        crp_broker_client_download_async(client, t->path, local, on_progress, t,
                                         t->cancel, on_transferred, g_object_ref(t));
    }
}

gboolean crp_files_transfer_is_upload(CrpFilesTransfer *t)
{
    return t->upload;
}

const char *crp_files_transfer_get_path(CrpFilesTransfer *t)
{
    return t->path;
}

GFile *crp_files_transfer_get_local(CrpFilesTransfer *t)
{
    return t->local;
}

CrpFilesTransferState crp_files_transfer_get_state(CrpFilesTransfer *t)
{
    return t->state;
}

void crp_files_transfer_get_progress(CrpFilesTransfer *t, guint64 *done, guint64 *total)
{
    *done = t->done;
    *total = t->total;
}

const GError *crp_files_transfer_get_error(CrpFilesTransfer *t)
{
    return t->error;
}

char *crp_files_transfer_describe(CrpFilesTransfer *t)
{
    g_autofree char *name = g_path_get_basename(t->path);
    gboolean up = t->upload;
    g_autofree char *d = g_format_size_full(t->done, G_FORMAT_SIZE_IEC_UNITS);
    g_autofree char *a = g_format_size_full(t->total, G_FORMAT_SIZE_IEC_UNITS);
    switch (t->state) {
    case CRP_FILES_TRANSFER_WAITING:
        return g_strdup_printf("%s %s — waiting", up ? "Upload" : "Download", name);
    case CRP_FILES_TRANSFER_RUNNING:
        return g_strdup_printf("%s %s — %s of %s", up ? "Uploading" : "Downloading",
                               name, d, a);
    case CRP_FILES_TRANSFER_DONE:
        return g_strdup_printf("%s %s — %s", up ? "Uploaded" : "Downloaded", name, a);
    case CRP_FILES_TRANSFER_CANCELLED:
        return g_strdup_printf("%s %s — cancelled", up ? "Upload" : "Download", name);
    case CRP_FILES_TRANSFER_FAILED:
    default:
        return g_strdup_printf("%s %s — failed", up ? "Upload" : "Download", name);
    }
}

void crp_files_transfer_cancel(CrpFilesTransfer *t)
{
    if (t->state == CRP_FILES_TRANSFER_RUNNING) {
        t->state = CRP_FILES_TRANSFER_CANCELLED;
        g_cancellable_cancel(t->cancel);    /* on_transferred() finishes it */
    } else if (t->state == CRP_FILES_TRANSFER_WAITING) {
        finish(t, CRP_FILES_TRANSFER_CANCELLED, NULL);
    }
}

static void crp_files_transfer_finalize(GObject *object)
{
    CrpFilesTransfer *t = CRP_FILES_TRANSFER(object);

    g_clear_weak_pointer(&t->list);
    g_free(t->path);
    g_clear_object(&t->local);
    g_clear_error(&t->error);
    g_clear_object(&t->cancel);
    G_OBJECT_CLASS(crp_files_transfer_parent_class)->finalize(object);
}

static void crp_files_transfer_class_init(CrpFilesTransferClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = crp_files_transfer_finalize;
    /* Its state or progress moved. */
    transfer_signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void crp_files_transfer_init(CrpFilesTransfer *t)
{
}

/* ---- the list ---------------------------------------------------------- */

static void run_next(CrpFilesTransfers *list)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(list->store));
    guint running = 0;

    if (!list->client) {
        return;
    }
    for (guint i = 0; i < n; i++) {
        g_autoptr(CrpFilesTransfer) t = g_list_model_get_item(G_LIST_MODEL(list->store), i);
        running += t->state == CRP_FILES_TRANSFER_RUNNING;
    }
    for (guint i = 0; i < n && running < MAX_RUNNING; i++) {
        g_autoptr(CrpFilesTransfer) t = g_list_model_get_item(G_LIST_MODEL(list->store), i);
        if (t->state == CRP_FILES_TRANSFER_WAITING) {
            run(t, list->client);
            running++;
        }
    }
}

static CrpFilesTransfer *add(CrpFilesTransfers *list, gboolean upload, const char *path,
                             GFile *local)
{
    CrpFilesTransfer *t = g_object_new(CRP_TYPE_FILES_TRANSFER, NULL);

    g_set_weak_pointer(&t->list, list);
    t->upload = upload;
    t->path = g_strdup(path);
    t->local = g_object_ref(local);
    t->state = CRP_FILES_TRANSFER_WAITING;
    g_list_store_append(list->store, t);
    g_object_unref(t);          /* the store holds it */
    if (!g_file_peek_path(local)) {
        /* A file of a remote place (a dropped sftp:// one, say). */
        g_autofree char *uri = g_file_get_uri(local);
        finish(t, CRP_FILES_TRANSFER_FAILED,
               g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                           "%s is not a file on this computer", uri));
        return t;
    }
    run_next(list);
    return t;
}

CrpFilesTransfer *crp_files_transfers_upload(CrpFilesTransfers *list, GFile *local,
                                             const char *path)
{
    return add(list, TRUE, path, local);
}

CrpFilesTransfer *crp_files_transfers_download(CrpFilesTransfers *list, const char *path,
                                               GFile *local)
{
    return add(list, FALSE, path, local);
}

void crp_files_transfers_remove(CrpFilesTransfers *list, CrpFilesTransfer *t)
{
    guint position;

    if (g_list_store_find(list->store, t, &position)) {
        g_list_store_remove(list->store, position);
    }
}

guint crp_files_transfers_count_active(CrpFilesTransfers *list)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(list->store));
    guint active = 0;

    for (guint i = 0; i < n; i++) {
        g_autoptr(CrpFilesTransfer) t = g_list_model_get_item(G_LIST_MODEL(list->store), i);
        active += t->state <= CRP_FILES_TRANSFER_RUNNING;
    }
    return active;
}

GListModel *crp_files_transfers_get_model(CrpFilesTransfers *list)
{
    return G_LIST_MODEL(list->store);
}

void crp_files_transfers_set_client(CrpFilesTransfers *list, CrpBrokerClient *client)
{
    list->client = client;
    /* A client that went takes its requests with it: they end as failed
     * (the connection's error) by themselves. */
    run_next(list);
}

static void crp_files_transfers_dispose(GObject *object)
{
    CrpFilesTransfers *list = CRP_FILES_TRANSFERS(object);
    guint n = list->store ? g_list_model_get_n_items(G_LIST_MODEL(list->store)) : 0;

    list->client = NULL;
    for (guint i = 0; i < n; i++) {
        g_autoptr(CrpFilesTransfer) t = g_list_model_get_item(G_LIST_MODEL(list->store), i);
        g_clear_weak_pointer(&t->list);
        if (t->cancel) {
            t->state = CRP_FILES_TRANSFER_CANCELLED;
            g_cancellable_cancel(t->cancel);
        }
    }
    g_clear_object(&list->store);
    G_OBJECT_CLASS(crp_files_transfers_parent_class)->dispose(object);
}

static void crp_files_transfers_class_init(CrpFilesTransfersClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = crp_files_transfers_dispose;
    /* (CrpFilesTransfer *t): @t ended (done, failed or cancelled). */
    list_signals[SIGNAL_FINISHED] = g_signal_new("finished", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, CRP_TYPE_FILES_TRANSFER);
}

static void crp_files_transfers_init(CrpFilesTransfers *list)
{
    list->store = g_list_store_new(CRP_TYPE_FILES_TRANSFER);
}

CrpFilesTransfers *crp_files_transfers_new(void)
{
    return g_object_new(CRP_TYPE_FILES_TRANSFERS, NULL);
}
