/*
 * headless-files.c: the My files commands (files-list, files-upload,
 * files-download, files-delete) on the broker connection.
 *
 * What they did goes to stdout, one line each, for tests to read:
 *   files DIR: used U quota Q, N entries[, truncated]
 *   file SIZE MTIME_NS NAME  |  dir 0 MTIME_NS NAME      (files-list)
 *   upload REMOTE from OFFSET of SIZE                     (where it starts)
 *   uploaded REMOTE SIZE bytes, sent SENT
 *   upload REMOTE stopped at DONE of SIZE                 (--stop-after)
 *   downloaded REMOTE SIZE bytes to LOCAL
 *   deleted REMOTE
 *   refused REMOTE: NAME: MESSAGE                         (--expect-error)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"

#include <crp/crp-error.h>
#include <stdio.h>

struct HlFilesOp {
    const HlCommand *cmd;
    CrpBrokerClient *client;
    HlFilesDoneFunc done;           /* NULL once abandoned */
    gpointer data;
    GCancellable *cancel;
    guint64 size;
    guint64 start;                  /* upload: where the broker said to go on */
    guint64 progress;
    gboolean started;
    gboolean stopped;               /* --stop-after reached */
};

static void op_free(HlFilesOp *op)
{
    g_object_unref(op->cancel);
    g_object_unref(op->client);
    g_free(op);
}

static const char *remote_of(const HlCommand *cmd)
{
    return cmd->type == HL_CMD_FILES_UPLOAD ? cmd->text2 : cmd->text;
}

/* Ends @op: @error NULL for success. Frees @op. */
static void op_end(HlFilesOp *op, const GError *error)
{
    const HlCommand *cmd = op->cmd;
    const char *remote = remote_of(cmd);
    g_autofree char *message = NULL;
    int code = HL_EXIT_OK;

    if (!op->done) {
        op_free(op);
        return;
    }
    if (error && op->stopped &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        printf("upload %s stopped at %" G_GUINT64_FORMAT " of %"
               G_GUINT64_FORMAT "\n", remote, op->progress, op->size);
        error = NULL;
    } else if (cmd->n[0] && error && error->domain == CRP_BROKER_CLIENT_ERROR &&
               error->code == cmd->n[0]) {
        printf("refused %s: %s: %s\n", remote,
               hl_files_status_name(error->code), error->message);
        error = NULL;
    } else if (cmd->n[0]) {
        code = HL_EXIT_SCRIPT;
        message = g_strdup_printf("expected the broker to refuse it (%s), "
                                  "but %s%s",
                                  hl_files_status_name(cmd->n[0]),
                                  error ? "it failed: " : "it succeeded",
                                  error ? error->message : "");
    } else if (error) {
        code = hl_broker_exit_code(error);
        message = g_strdup(error->message);
    }
    fflush(stdout);
    op->done(op->data, code, message);
    op_free(op);
}

static void on_list(GObject *source, GAsyncResult *res, gpointer data)
{
    HlFilesOp *op = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerFileList) list =
        crp_broker_client_list_files_finish(CRP_BROKER_CLIENT(source), res,
                                            &error);

    if (list && op->done && !op->cmd->n[0]) {
        printf("files %s: used %" G_GUINT64_FORMAT " quota %" G_GUINT64_FORMAT
               ", %u entries%s\n", *op->cmd->text ? op->cmd->text : "/",
               list->used_bytes, list->quota_bytes, list->entries->len,
               list->truncated ? ", truncated" : "");
        for (guint i = 0; i < list->entries->len; i++) {
            const CrpBrokerFileEntry *e = list->entries->pdata[i];
            printf("%s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s\n",
                   e->is_dir ? "dir" : "file", e->size, e->mtime_ns, e->name);
        }
    }
    op_end(op, error);
}

static void on_progress(guint64 done, guint64 total, gpointer data)
{
    HlFilesOp *op = data;

    op->size = total;
    op->progress = done;
    if (op->cmd->type == HL_CMD_FILES_UPLOAD && !op->started) {
        op->started = TRUE;
        op->start = done;
        printf("upload %s from %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
               "\n", op->cmd->text2, done, total);
        fflush(stdout);
    }
    hl_log("%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
           op->cmd->source, done, total);
    if (op->cmd->n[1] && done >= (guint64)op->cmd->n[1] && done < total &&
        !op->stopped) {
        /* Like a lost connection: the broker keeps what it got. */
        op->stopped = TRUE;
        g_cancellable_cancel(op->cancel);
    }
}

static void on_upload(GObject *source, GAsyncResult *res, gpointer data)
{
    HlFilesOp *op = data;
    g_autoptr(GError) error = NULL;
    guint64 from = 0;

    if (crp_broker_client_upload_finish(CRP_BROKER_CLIENT(source), res, &from,
                                        &error) && op->done && !op->cmd->n[0]) {
        printf("uploaded %s %" G_GUINT64_FORMAT " bytes, sent %"
               G_GUINT64_FORMAT "\n", op->cmd->text2, op->size,
               op->size - from);
    }
    op_end(op, error);
}

static void on_download(GObject *source, GAsyncResult *res, gpointer data)
{
    HlFilesOp *op = data;
    g_autoptr(GError) error = NULL;

    if (crp_broker_client_download_finish(CRP_BROKER_CLIENT(source), res,
                                          &error) && op->done &&
        !op->cmd->n[0]) {
        printf("downloaded %s %" G_GUINT64_FORMAT " bytes to %s\n",
               op->cmd->text, op->size, op->cmd->text2);
    }
    op_end(op, error);
}

static void on_delete(GObject *source, GAsyncResult *res, gpointer data)
{
    HlFilesOp *op = data;
    g_autoptr(GError) error = NULL;

    if (crp_broker_client_delete_file_finish(CRP_BROKER_CLIENT(source), res,
                                             &error) && op->done &&
        !op->cmd->n[0]) {
        printf("deleted %s\n", op->cmd->text);
    }
    op_end(op, error);
}

HlFilesOp *hl_files_start(CrpBrokerClient *client, const HlCommand *cmd,
                          HlFilesDoneFunc done, gpointer data)
{
    HlFilesOp *op = g_new0(HlFilesOp, 1);

    op->cmd = cmd;
    op->client = g_object_ref(client);
    op->done = done;
    op->data = data;
    op->cancel = g_cancellable_new();
    crp_broker_client_set_check_paths(client, !cmd->n[2]);
    switch (cmd->type) {
    case HL_CMD_FILES_LIST:
        crp_broker_client_list_files_async(client, cmd->text, op->cancel,
                                           on_list, op);
        break;
    case HL_CMD_FILES_UPLOAD:
        crp_broker_client_upload_async(client, cmd->text, cmd->text2,
                                       on_progress, op, op->cancel, on_upload,
                                       op);
        break;
    case HL_CMD_FILES_DOWNLOAD:
        crp_broker_client_download_async(client, cmd->text, cmd->text2,
                                         on_progress, op, op->cancel,
                                         on_download, op);
        break;
    case HL_CMD_FILES_DELETE:
        crp_broker_client_delete_file_async(client, cmd->text, op->cancel,
                                            on_delete, op);
        break;
    default:
        g_assert_not_reached();
    }
    /* The path was checked (or not) when the request was made. */
    crp_broker_client_set_check_paths(client, TRUE);
    return op;
}

void hl_files_abandon(HlFilesOp *op)
{
    if (op) {
        op->done = NULL;
        g_cancellable_cancel(op->cancel);
    }
}
