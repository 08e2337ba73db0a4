/*
 * crp-broker-files.c: My files transfers (protocol section 5.6).
 *
 * A transfer is one job: a GTask for the caller, and the chunk requests
 * it keeps in flight (CRP_FILES_WINDOW of CRP_FILES_CHUNK bytes each) so
 * that the link never idles for a round trip between chunks. Each chunk
 * request holds a reference to the job; the job completes once (success,
 * failure, cancel), and replies that arrive after that are dropped.
 *
 * Local files are read and written with plain POSIX calls in the main
 * context: a 1 MiB pread or pwrite is short next to the network.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-broker-files.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crp/crp-error.h"

void
crp_broker_file_list_free(CrpBrokerFileList *list)
{
    if (list) {
        g_ptr_array_unref(list->entries);
        g_free(list);
    }
}

void
crp_broker_file_chunk_free(CrpBrokerFileChunk *chunk)
{
    if (chunk) {
        g_bytes_unref(chunk->data);
        g_free(chunk);
    }
}

static void
entry_free(CrpBrokerFileEntry *e)
{
    if (e) {
        g_free(e->name);
        g_free(e);
    }
}

CrpBrokerFileList *
crp_broker_file_list_from(const CrpMessage *msg)
{
    const CrpFilesMsg *files = &msg->files;
    CrpBrokerFileList *list = g_new0(CrpBrokerFileList, 1);
    CrpListIter it;
    CrpFileEntry fe;

    list->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
    list->truncated = (msg->flags & CRP_FILES_FLAG_TRUNCATED) != 0;
    list->used_bytes = files->used_bytes;
    list->quota_bytes = files->quota_bytes;
    crp_list_iter_init_files(&it, files);
    while (crp_list_iter_next_file(&it, &fe)) {
        CrpBrokerFileEntry *e = g_new0(CrpBrokerFileEntry, 1);
        e->name = g_strndup(fe.name.ptr, fe.name.len);
        e->is_dir = fe.kind == CRP_FILE_KIND_DIR;
        e->size = fe.size;
        e->mtime_ns = fe.mtime_ns;
        g_ptr_array_add(list->entries, e);
    }
    return list;
}

/* ---- download bookkeeping (pure) ------------------------------------- */

void
crp_download_state_init(CrpDownloadState *st)
{
    memset(st, 0, sizeof(*st));
}

gboolean
crp_download_next(CrpDownloadState *st, guint64 *offset, guint32 *length,
                  guint *generation)
{
    if (st->in_flight >= CRP_FILES_WINDOW) {
        return FALSE;
    }
    if (!st->known) {
        /* The first reply tells the size; until then one request. */
        if (st->in_flight > 0 || st->next > 0) {
            return FALSE;
        }
        *length = CRP_FILES_CHUNK;
    } else if (st->next >= st->size) {
        return FALSE;
    } else {
        *length = (guint32)MIN((guint64)CRP_FILES_CHUNK, st->size - st->next);
    }
    *offset = st->next;
    *generation = st->generation;
    st->next += *length;
    st->in_flight++;
    return TRUE;
}

CrpDownloadVerdict
crp_download_accept(CrpDownloadState *st, guint generation, guint64 offset,
                    guint32 length, guint64 size, guint64 mtime_ns,
                    gsize data_len, GError **error)
{
    if (generation != st->generation) {
        return CRP_DOWNLOAD_STALE;
    }
    st->in_flight--;
    if (!st->known) {
        st->known = TRUE;
        st->size = size;
        st->mtime_ns = mtime_ns;
    } else if (size != st->size || mtime_ns != st->mtime_ns) {
        if (++st->restarts > CRP_DOWNLOAD_MAX_RESTARTS) {
            g_set_error(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_INTERNAL,
                        "the file changed %d times while downloading it; "
                        "try again once it is finished",
                        CRP_DOWNLOAD_MAX_RESTARTS + 1);
            return CRP_DOWNLOAD_FAIL;
        }
        /* What was written belongs to the old file. This reply is of the
         * new one, but asking again from 0 keeps one rule for all. */
        st->generation++;
        st->size = size;
        st->mtime_ns = mtime_ns;
        st->next = 0;
        st->received = 0;
        st->in_flight = 0;
        return CRP_DOWNLOAD_RESTART;
    }
    guint64 expected = offset < size ? MIN((guint64)length, size - offset) : 0;
    if (data_len != expected) {
        g_set_error(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_BAD_REQUEST,
                    "the broker sent %" G_GSIZE_FORMAT " bytes at offset %"
                    G_GUINT64_FORMAT " of a %" G_GUINT64_FORMAT "-byte file, "
                    "not %" G_GUINT64_FORMAT, data_len, offset, size, expected);
        return CRP_DOWNLOAD_FAIL;
    }
    st->received += data_len;
    return CRP_DOWNLOAD_WRITE;
}

void
crp_download_dropped(CrpDownloadState *st)
{
    if (st->in_flight > 0) {
        st->in_flight--;
    }
}

gboolean
crp_download_complete(const CrpDownloadState *st)
{
    return st->known && st->received == st->size;
}

/* ---- jobs ------------------------------------------------------------- */

/* What uploads and downloads share: the caller's task, the cancel watch,
 * the local file and the progress callback. */
typedef struct {
    gint refs;
    CrpBrokerClient *client;
    GTask *task;                    /* until the job completes */
    GSource *cancel_source;
    char *remote;
    char *local;
    int fd;
    char *part;                     /* download: the file we created */
    CrpBrokerFileProgressFunc progress;
    gpointer progress_data;
} Job;

typedef struct {
    Job job;
    guint64 size;
    guint64 resumed_from;
    guint64 next;                   /* next offset to send */
    guint64 acked;
    guint in_flight;
} Upload;

typedef struct {
    Job job;
    CrpDownloadState st;
} Download;

/* One chunk request: the job, and what was asked. */
typedef struct {
    Job *job;
    guint64 offset;
    guint32 length;
    guint generation;
} Chunk;

static Job *
job_ref(Job *job)
{
    job->refs++;
    return job;
}

static void
job_unref(Job *job)
{
    if (--job->refs > 0) {
        return;
    }
    g_assert(!job->task);
    g_object_unref(job->client);
    g_free(job->remote);
    g_free(job->local);
    g_free(job->part);
    g_free(job);
}

static gboolean
job_done(Job *job)
{
    return job->task == NULL;
}

/* Completes the job once: @error NULL for success (@result then is what
 * the task returns), else it is taken. Drops the job's own reference. */
static void
job_finish(Job *job, GError *error, gpointer result, GDestroyNotify free_result)
{
    GTask *task = g_steal_pointer(&job->task);

    if (!task) {
        g_clear_error(&error);
        if (free_result) {
            free_result(result);
        }
        return;
    }
    if (job->cancel_source) {
        g_source_destroy(job->cancel_source);
        g_clear_pointer(&job->cancel_source, g_source_unref);
    }
    if (error && job->part) {
        /* Nothing half-written is left behind. */
        g_unlink(job->part);
    }
    if (job->fd >= 0) {
        close(job->fd);
        job->fd = -1;
    }
    if (error) {
        g_task_return_error(task, error);
    } else {
        g_task_return_pointer(task, result, free_result);
    }
    g_object_unref(task);
    job_unref(job);
}

static void
job_fail(Job *job, GError *error)
{
    job_finish(job, error, NULL, NULL);
}

static gboolean
on_job_cancelled(GCancellable *cancellable, gpointer data)
{
    Job *job = data;

    job_fail(job, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                      "the transfer was cancelled"));
    return G_SOURCE_REMOVE;
}

/* Sets up @job (zeroed, of the right size) for the caller's callback; FALSE
 * (and the job completed with the error) when @remote cannot be sent. */
static gboolean
job_start(Job *job, CrpBrokerClient *client, const char *remote,
          const char *local, CrpBrokerFileProgressFunc progress,
          gpointer progress_data, gpointer source_tag,
          GCancellable *cancellable, GAsyncReadyCallback callback,
          gpointer user_data)
{
    GError *error = NULL;

    job->refs = 1;
    job->client = g_object_ref(client);
    job->task = g_task_new(client, cancellable, callback, user_data);
    g_task_set_source_tag(job->task, source_tag);
    job->remote = g_strdup(remote);
    job->local = g_strdup(local);
    job->fd = -1;
    job->progress = progress;
    job->progress_data = progress_data;
    if (!crp_broker_client_check_file_path(client, remote, FALSE, &error)) {
        job_fail(job, error);
        return FALSE;
    }
    if (cancellable) {
        /* A source, not a signal handler: the job completes from the main
         * loop, never inside g_cancellable_cancel(). */
        job->cancel_source = g_cancellable_source_new(cancellable);
        g_source_set_callback(job->cancel_source,
                              (GSourceFunc)(void (*)(void))on_job_cancelled,
                              job, NULL);
        g_source_attach(job->cancel_source,
                        g_main_context_get_thread_default());
    }
    return TRUE;
}

/* Reports progress; FALSE (and the job completed) if the callback
 * cancelled the job, so that nothing more is sent for it. */
static gboolean
job_progress(Job *job, guint64 done, guint64 total)
{
    if (job->progress) {
        job->progress(done, total, job->progress_data);
    }
    if (job_done(job)) {
        return FALSE;
    }
    if (g_cancellable_is_cancelled(g_task_get_cancellable(job->task))) {
        /* At once, not when the cancel source runs: chunks sent meanwhile
         * would be wasted. */
        on_job_cancelled(NULL, job);
        return FALSE;
    }
    return TRUE;
}

static GError *
local_error(int err, const char *what, const char *path)
{
    return g_error_new(G_IO_ERROR, g_io_error_from_errno(err), "cannot %s %s: %s",
                       what, path, g_strerror(err));
}

static Chunk *
chunk_new(Job *job, guint64 offset, guint32 length, guint generation)
{
    Chunk *c = g_new(Chunk, 1);

    c->job = job_ref(job);
    c->offset = offset;
    c->length = length;
    c->generation = generation;
    return c;
}

static void
chunk_free(Chunk *c)
{
    job_unref(c->job);
    g_free(c);
}

/* ---- list, delete ----------------------------------------------------- */

/* A request of one path and one reply: FILE_LIST, FILE_DELETE. */
static void
path_request(CrpBrokerClient *client, guint8 type, const char *path,
             guint8 reply, gpointer source_tag, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data)
{
    GError *error = NULL;
    CrpMessage msg = {
        .type = type,
        .file = { .path = crp_str(path) },
    };

    if (!crp_broker_client_check_file_path(client, path,
                                           type == CRP_MSG_FILE_LIST,
                                           &error)) {
        g_task_report_error(client, callback, user_data, source_tag, error);
        return;
    }
    crp_broker_client_file_request(client, &msg, reply, source_tag,
                                   cancellable, callback, user_data);
}

void
crp_broker_client_list_files_async(CrpBrokerClient *client, const char *dir,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
    path_request(client, CRP_MSG_FILE_LIST, dir, CRP_MSG_FILES,
                 crp_broker_client_list_files_async, cancellable, callback,
                 user_data);
}

CrpBrokerFileList *
crp_broker_client_list_files_finish(CrpBrokerClient *client,
                                    GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

void
crp_broker_client_delete_file_async(CrpBrokerClient *client,
                                    const char *remote_path,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
    path_request(client, CRP_MSG_FILE_DELETE, remote_path, CRP_MSG_OK,
                 crp_broker_client_delete_file_async, cancellable, callback,
                 user_data);
}

gboolean
crp_broker_client_delete_file_finish(CrpBrokerClient *client,
                                     GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- upload ----------------------------------------------------------- */

static void upload_fill(Upload *up);

/* @up->acked bytes are with the broker: report, then finish or send on. */
static void
upload_go_on(Upload *up)
{
    if (!job_progress(&up->job, up->acked, up->size)) {
        return;
    }
    if (up->acked == up->size) {
        job_finish(&up->job, NULL,
                   g_memdup2(&up->resumed_from, sizeof(guint64)), g_free);
    } else {
        upload_fill(up);
    }
}

static void
on_upload_chunk(GObject *source, GAsyncResult *res, gpointer data)
{
    Chunk *c = data;
    Upload *up = (Upload *)c->job;
    GError *error = NULL;

    up->in_flight--;
    if (!g_task_propagate_boolean(G_TASK(res), &error)) {
        job_fail(&up->job, error);
    } else if (!job_done(&up->job)) {
        /* OKs may come in any order: count bytes, not offsets. */
        up->acked += c->length;
        upload_go_on(up);
    }
    chunk_free(c);
}

/* Sends chunks until the window is full or the file is all sent. */
static void
upload_fill(Upload *up)
{
    /* One chunk at a time: the link copies what it sends. */
    g_autofree guint8 *buf = up->next < up->size ?
        g_malloc(MIN((guint64)CRP_FILES_CHUNK, up->size - up->next)) : NULL;

    while (!job_done(&up->job) && up->in_flight < CRP_FILES_WINDOW &&
           up->next < up->size) {
        guint32 len = (guint32)MIN((guint64)CRP_FILES_CHUNK,
                                   up->size - up->next);
        gssize n;

        do {
            n = pread(up->job.fd, buf, len, (off_t)up->next);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            job_fail(&up->job, local_error(errno, "read", up->job.local));
            return;
        }
        if ((guint32)n != len) {
            job_fail(&up->job, g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
                                           "%s shrank while it was being "
                                           "uploaded", up->job.local));
            return;
        }
        CrpMessage msg = {
            .type = CRP_MSG_UPLOAD_DATA,
            .file = {
                .path = crp_str(up->job.remote),
                .size = up->size,
                .offset = up->next,
                .data = { buf, len },
            },
        };
        up->in_flight++;
        up->next += len;
        crp_broker_client_file_request(
            up->job.client, &msg, CRP_MSG_OK, crp_broker_client_upload_async,
            NULL, on_upload_chunk, chunk_new(&up->job, msg.file.offset, len, 0));
    }
}

static void
on_upload_ready(GObject *source, GAsyncResult *res, gpointer data)
{
    Chunk *c = data;
    Upload *up = (Upload *)c->job;
    GError *error = NULL;
    g_autofree guint64 *offset = g_task_propagate_pointer(G_TASK(res), &error);

    if (!offset) {
        job_fail(&up->job, error);
    } else if (job_done(&up->job)) {
        /* Cancelled meanwhile. */
    } else if (*offset > up->size) {
        job_fail(&up->job, g_error_new(
            CRP_BROKER_CLIENT_ERROR, CRP_STATUS_BAD_REQUEST,
            "the broker said to resume at %" G_GUINT64_FORMAT " of a %"
            G_GUINT64_FORMAT "-byte upload", *offset, up->size));
    } else {
        up->resumed_from = up->next = up->acked = *offset;
        upload_go_on(up);
    }
    chunk_free(c);
}

void
crp_broker_client_upload_async(CrpBrokerClient *client, const char *local_path,
                               const char *remote_path,
                               CrpBrokerFileProgressFunc progress,
                               gpointer progress_data,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
    Upload *up = g_new0(Upload, 1);
    struct stat sb;

    if (!job_start(&up->job, client, remote_path, local_path, progress,
                   progress_data, crp_broker_client_upload_async, cancellable,
                   callback, user_data)) {
        return;
    }
    up->job.fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (up->job.fd < 0 || fstat(up->job.fd, &sb) < 0) {
        job_fail(&up->job, local_error(errno, "read", local_path));
        return;
    }
    if (!S_ISREG(sb.st_mode)) {
        job_fail(&up->job, g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                                       "%s is not a regular file",
                                       local_path));
        return;
    }
    up->size = (guint64)sb.st_size;
    CrpMessage msg = {
        .type = CRP_MSG_UPLOAD_BEGIN,
        .file = { .path = crp_str(remote_path), .size = up->size },
    };
    crp_broker_client_file_request(client, &msg, CRP_MSG_UPLOAD_READY,
                                   crp_broker_client_upload_async, NULL,
                                   on_upload_ready,
                                   chunk_new(&up->job, 0, 0, 0));
}

gboolean
crp_broker_client_upload_finish(CrpBrokerClient *client, GAsyncResult *result,
                                guint64 *resumed_from, GError **error)
{
    g_autofree guint64 *offset = g_task_propagate_pointer(G_TASK(result),
                                                          error);

    if (!offset) {
        return FALSE;
    }
    if (resumed_from) {
        *resumed_from = *offset;
    }
    return TRUE;
}

/* ---- download --------------------------------------------------------- */

static void download_fill(Download *dl);

static gboolean
download_write(Download *dl, guint64 offset, GBytes *data)
{
    gsize len;
    const guint8 *p = g_bytes_get_data(data, &len);

    while (len > 0) {
        gssize n = pwrite(dl->job.fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            job_fail(&dl->job, local_error(errno, "write", dl->job.part));
            return FALSE;
        }
        p += n;
        len -= n;
        offset += n;
    }
    return TRUE;
}

static void
download_complete(Download *dl)
{
    GError *error = NULL;

    if (fsync(dl->job.fd) < 0) {
        job_fail(&dl->job, local_error(errno, "write", dl->job.part));
        return;
    }
    if (g_rename(dl->job.part, dl->job.local) < 0) {
        int err = errno;
        error = g_error_new(G_IO_ERROR, g_io_error_from_errno(err),
                            "cannot rename %s to %s: %s", dl->job.part,
                            dl->job.local, g_strerror(err));
        job_fail(&dl->job, error);
        return;
    }
    job_finish(&dl->job, NULL, GINT_TO_POINTER(TRUE), NULL);
}

static void
on_download_chunk(GObject *source, GAsyncResult *res, gpointer data)
{
    Chunk *c = data;
    Download *dl = (Download *)c->job;
    GError *error = NULL;
    CrpBrokerFileChunk *got = g_task_propagate_pointer(G_TASK(res), &error);

    if (!got) {
        crp_download_dropped(&dl->st);
        job_fail(&dl->job, error);
    } else if (!job_done(&dl->job)) {
        switch (crp_download_accept(&dl->st, c->generation, c->offset,
                                    c->length, got->size, got->mtime_ns,
                                    g_bytes_get_size(got->data), &error)) {
        case CRP_DOWNLOAD_FAIL:
            job_fail(&dl->job, error);
            break;
        case CRP_DOWNLOAD_STALE:
            break;
        case CRP_DOWNLOAD_RESTART:
            if (ftruncate(dl->job.fd, 0) < 0) {
                job_fail(&dl->job, local_error(errno, "write", dl->job.part));
                break;
            }
            if (job_progress(&dl->job, 0, dl->st.size)) {
                download_fill(dl);
            }
            break;
        case CRP_DOWNLOAD_WRITE:
            if (!download_write(dl, c->offset, got->data)) {
                break;
            }
            if (!job_progress(&dl->job, dl->st.received, dl->st.size)) {
                break;
            }
            if (crp_download_complete(&dl->st)) {
                download_complete(dl);
            } else {
                download_fill(dl);
            }
            break;
        }
    }
    crp_broker_file_chunk_free(got);
    chunk_free(c);
}

static void
download_fill(Download *dl)
{
    guint64 offset;
    guint32 length;
    guint generation;

    while (!job_done(&dl->job) &&
           crp_download_next(&dl->st, &offset, &length, &generation)) {
        CrpMessage msg = {
            .type = CRP_MSG_DOWNLOAD,
            .file = {
                .path = crp_str(dl->job.remote),
                .offset = offset,
                .length = length,
            },
        };
        crp_broker_client_file_request(
            dl->job.client, &msg, CRP_MSG_FILE_DATA,
            crp_broker_client_download_async, NULL, on_download_chunk,
            chunk_new(&dl->job, offset, length, generation));
    }
}

void
crp_broker_client_download_async(CrpBrokerClient *client,
                                 const char *remote_path,
                                 const char *local_path,
                                 CrpBrokerFileProgressFunc progress,
                                 gpointer progress_data,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    Download *dl = g_new0(Download, 1);
    g_autofree char *part = g_strconcat(local_path, ".part", NULL);

    crp_download_state_init(&dl->st);
    if (!job_start(&dl->job, client, remote_path, local_path, progress,
                   progress_data, crp_broker_client_download_async,
                   cancellable, callback, user_data)) {
        return;
    }
    dl->job.fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (dl->job.fd < 0) {
        job_fail(&dl->job, local_error(errno, "create", part));
        return;
    }
    /* Ours from now on: removed if the download fails. */
    dl->job.part = g_steal_pointer(&part);
    download_fill(dl);
}

gboolean
crp_broker_client_download_finish(CrpBrokerClient *client,
                                  GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error) != NULL;
}
