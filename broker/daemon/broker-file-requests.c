/*
 * broker-file-requests.c: My files requests onto the user's area
 * (broker/files/crp-files-area.h), one function each.
 *
 * Replies say what went wrong in the user's terms; the host's paths and
 * errno texts go to the log only. The quota ([storage] user-quota-mib)
 * counts the user's overlays and My files together, so an upload is
 * checked against both (broker-user-storage.h).
 */
#include "broker-file-requests.h"
#include "broker-user-storage.h"
#include "crp-files-area.h"

#include "crp/crp-file-path.h"

#define FILES_FAILED "the broker could not use your files; see its log"

static guint16
status_of(const GError *error)
{
    if (error->domain == CRP_FILES_ERROR) {
        switch (error->code) {
        case CRP_FILES_ERROR_NOT_FOUND:
            return CRP_STATUS_NO_SUCH_FILE;
        case CRP_FILES_ERROR_INVALID:
            return CRP_STATUS_BAD_REQUEST;
        case CRP_FILES_ERROR_QUOTA:
            return CRP_STATUS_QUOTA_EXCEEDED;
        default:
            break;
        }
    }
    return CRP_STATUS_INTERNAL;
}

static void
send_failure(BrokerConnection *c, const CrpMessage *msg, const char *what,
             const GError *error)
{
    guint16 status = status_of(error);

    if (status == CRP_STATUS_INTERNAL) {
        broker_warning("event=files-error request=%s user=%s error=\"%s\"",
                       what, broker_connection_user(c), error->message);
        broker_connection_send_error(c, msg->file.request_id, status,
                                     FILES_FAILED);
        return;
    }
    broker_connection_send_error(c, msg->file.request_id, status,
                                 error->message);
}

static guint64
quota_bytes(BrokerServer *server)
{
    return server->config->user_quota_mib << 20;
}

static void
request_list(BrokerServer *server, BrokerConnection *c, CrpFilesArea *area,
             const char *dir, const CrpMessage *msg)
{
    const char *user = broker_connection_user(c);
    g_autoptr(GError) error = NULL;
    gboolean truncated = FALSE;
    g_autoptr(GPtrArray) entries = crp_files_area_list(
        area, dir, CRP_MAX_LIST_ITEMS, &truncated, &error);
    guint64 used = 0;

    if (!entries) {
        send_failure(c, msg, "FILE_LIST", error);
        return;
    }
    if (!broker_user_storage_used(server->config, server->store, user, area,
                                  &used, &error)) {
        send_failure(c, msg, "FILE_LIST", error);
        return;
    }
    g_autofree CrpFileEntry *items = g_new0(CrpFileEntry,
                                            MAX(entries->len, 1));
    for (guint i = 0; i < entries->len; i++) {
        const CrpFilesEntry *e = g_ptr_array_index(entries, i);
        items[i] = (CrpFileEntry){
            .name = crp_str(e->name),
            .kind = e->is_dir ? CRP_FILE_KIND_DIR : CRP_FILE_KIND_FILE,
            .size = e->size,
            .mtime_ns = e->mtime_ns,
        };
    }
    CrpMessage reply = {
        .type = CRP_MSG_FILES,
        .flags = truncated ? CRP_FILES_FLAG_TRUNCATED : 0,
        .files = { .request_id = msg->file.request_id, .used_bytes = used,
                   .quota_bytes = quota_bytes(server),
                   .count = (guint16)entries->len, .items = items },
    };
    broker_connection_send(c, &reply);
}

static void
request_upload_begin(BrokerServer *server, BrokerConnection *c,
                     CrpFilesArea *area, const char *path,
                     const CrpMessage *msg)
{
    const char *user = broker_connection_user(c);
    g_autoptr(GError) error = NULL;
    guint64 quota = quota_bytes(server);
    guint64 room = G_MAXUINT64;
    guint64 offset = 0;

    crp_files_area_upload_drop_others(area, path, msg->file.size);
    if (quota) {
        guint64 used;
        if (!broker_user_storage_used(server->config, server->store, user,
                                      area, &used, &error)) {
            send_failure(c, msg, "UPLOAD_BEGIN", error);
            return;
        }
        room = used >= quota ? 0 : quota - used;
    }
    if (!crp_files_area_upload_begin(area, path, msg->file.size, room,
                                     &offset, &error)) {
        if (g_error_matches(error, CRP_FILES_ERROR, CRP_FILES_ERROR_QUOTA)) {
            broker_message("event=upload-refused user=%s reason=quota bytes=%"
                           G_GUINT64_FORMAT " room=%" G_GUINT64_FORMAT, user,
                           msg->file.size, room);
        }
        send_failure(c, msg, "UPLOAD_BEGIN", error);
        return;
    }
    broker_info("event=upload-begin user=%s bytes=%" G_GUINT64_FORMAT
                " offset=%" G_GUINT64_FORMAT, user, msg->file.size, offset);
    CrpMessage reply = {
        .type = CRP_MSG_UPLOAD_READY,
        .upload_ready = { .request_id = msg->file.request_id,
                          .offset = offset },
    };
    broker_connection_send(c, &reply);
}

static void
request_upload_data(BrokerConnection *c, CrpFilesArea *area,
                    const char *path, const CrpMessage *msg)
{
    g_autoptr(GError) error = NULL;
    gboolean complete = FALSE;

    if (!crp_files_area_upload_write(area, path, msg->file.size,
                                     msg->file.offset, msg->file.data.data,
                                     msg->file.data.len, &complete, &error)) {
        send_failure(c, msg, "UPLOAD_DATA", error);
        return;
    }
    if (complete) {
        broker_message("event=file-uploaded user=%s path=%s bytes=%"
                       G_GUINT64_FORMAT, broker_connection_user(c), path,
                       msg->file.size);
    }
    CrpMessage reply = { .type = CRP_MSG_OK,
                         .ok_request_id = msg->file.request_id };
    broker_connection_send(c, &reply);
}

static void
request_download(BrokerConnection *c, CrpFilesArea *area, const char *path,
                 const CrpMessage *msg)
{
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *buf = g_malloc(msg->file.length);
    gsize got = 0;
    guint64 size = 0, mtime_ns = 0;

    if (!crp_files_area_read(area, path, msg->file.offset, buf,
                             msg->file.length, &got, &size, &mtime_ns,
                             &error)) {
        send_failure(c, msg, "DOWNLOAD", error);
        return;
    }
    CrpMessage reply = {
        .type = CRP_MSG_FILE_DATA,
        .file_data = { .request_id = msg->file.request_id, .size = size,
                       .mtime_ns = mtime_ns, .data = { buf, got } },
    };
    broker_connection_send(c, &reply);
}

static void
request_delete(BrokerConnection *c, CrpFilesArea *area, const char *path,
               const CrpMessage *msg)
{
    g_autoptr(GError) error = NULL;

    if (!crp_files_area_delete(area, path, &error)) {
        send_failure(c, msg, "FILE_DELETE", error);
        return;
    }
    broker_message("event=file-deleted user=%s path=%s",
                   broker_connection_user(c), path);
    CrpMessage reply = { .type = CRP_MSG_OK,
                         .ok_request_id = msg->file.request_id };
    broker_connection_send(c, &reply);
}

void
broker_handle_file_request(BrokerServer *server, BrokerConnection *c,
                           const CrpMessage *msg)
{
    const CrpStr *raw = &msg->file.path;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    g_autoptr(CrpFilesArea) area = NULL;

    /* The bytes as sent: a NUL inside must not shorten the path. */
    if (!crp_file_path_check(raw->ptr, raw->len,
                             msg->type == CRP_MSG_FILE_LIST, &error)) {
        broker_connection_send_error(c, msg->file.request_id,
                                     CRP_STATUS_BAD_REQUEST, error->message);
        return;
    }
    path = g_strndup(raw->ptr, raw->len);
    area = crp_files_area_open(server->config->files_dir,
                               broker_connection_user(c), &error);
    if (!area) {
        send_failure(c, msg, crp_message_type_name(msg->type), error);
        return;
    }
    switch (msg->type) {
    case CRP_MSG_FILE_LIST:
        request_list(server, c, area, path, msg);
        break;
    case CRP_MSG_UPLOAD_BEGIN:
        request_upload_begin(server, c, area, path, msg);
        break;
    case CRP_MSG_UPLOAD_DATA:
        request_upload_data(c, area, path, msg);
        break;
    case CRP_MSG_DOWNLOAD:
        request_download(c, area, path, msg);
        break;
    case CRP_MSG_FILE_DELETE:
        request_delete(c, area, path, msg);
        break;
    default:
        g_assert_not_reached();
    }
}
