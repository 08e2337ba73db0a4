/*
 * crp-message.c: encode and decode every CRP message.
 *
 * Each body has one writer and one reader below, in the order of the type
 * table in docs/protocol.md. Readers validate everything a receiver relies
 * on (caps, dimensions, lengths that must match) so that code above never
 * sees an impossible message.
 */
#include "crp/crp-message.h"
#include "crp/crp-error.h"

#include <string.h>

typedef struct {
    guint8 type;
    const char *name;
    CrpChannelKind channel;
    /* Which side sends it; -1 for either. */
    int sender;
} MessageTypeInfo;

static const MessageTypeInfo message_types[] = {
    { CRP_MSG_SURFACE, "SURFACE", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_RECT, "RECT", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_FRAME_END, "FRAME_END", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_CURSOR_SHAPE, "CURSOR_SHAPE", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_CURSOR_POS, "CURSOR_POS", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_AUDIO_FORMAT, "AUDIO_FORMAT", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_AUDIO_OUT, "AUDIO_OUT", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_PING, "PING", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER },
    { CRP_MSG_KEY, "KEY", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_POINTER, "POINTER", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_WHEEL, "WHEEL", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_AUDIO_IN, "AUDIO_IN", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_FRAME_ACK, "FRAME_ACK", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_RESIZE_REQUEST, "RESIZE_REQUEST", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_CLOSE_APP, "CLOSE_APP", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_PONG, "PONG", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT },
    { CRP_MSG_CLIPBOARD_GRAB, "CLIPBOARD_GRAB", CRP_CHANNEL_DISPLAY, -1 },
    { CRP_MSG_CLIPBOARD_REQUEST, "CLIPBOARD_REQUEST", CRP_CHANNEL_DISPLAY, -1 },
    { CRP_MSG_CLIPBOARD_DATA, "CLIPBOARD_DATA", CRP_CHANNEL_DISPLAY, -1 },
    { CRP_MSG_BYE, "BYE", CRP_CHANNEL_DISPLAY, -1 },
    { CRP_MSG_CATALOG_LIST, "CATALOG_LIST", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_SUBSCRIBE, "SUBSCRIBE", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_UNSUBSCRIBE, "UNSUBSCRIBE", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_MY_APPS, "MY_APPS", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_LAUNCH, "LAUNCH", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_SESSION_LIST, "SESSION_LIST", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_SESSION_CLOSE, "SESSION_CLOSE", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_ATTACH, "ATTACH", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_SESSION_TICKET, "SESSION_TICKET", CRP_CHANNEL_BROKER,
      CRP_ROLE_CLIENT },
    { CRP_MSG_FILE_LIST, "FILE_LIST", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_UPLOAD_BEGIN, "UPLOAD_BEGIN", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_UPLOAD_DATA, "UPLOAD_DATA", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_DOWNLOAD, "DOWNLOAD", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_FILE_DELETE, "FILE_DELETE", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT },
    { CRP_MSG_OK, "OK", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_APP_LIST, "APP_LIST", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_LAUNCHED, "LAUNCHED", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_SESSIONS, "SESSIONS", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_ERROR, "ERROR", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_FILES, "FILES", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_UPLOAD_READY, "UPLOAD_READY", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
    { CRP_MSG_FILE_DATA, "FILE_DATA", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER },
};

static const MessageTypeInfo *
type_info(guint8 type)
{
    for (gsize i = 0; i < G_N_ELEMENTS(message_types); i++) {
        if (message_types[i].type == type) {
            return &message_types[i];
        }
    }
    return NULL;
}

const char *
crp_message_type_name(guint8 type)
{
    const MessageTypeInfo *info = type_info(type);
    return info ? info->name : NULL;
}

gboolean
crp_message_type_allowed(CrpChannelKind kind, CrpRole sender, guint8 type)
{
    const MessageTypeInfo *info = type_info(type);
    if (!info) {
        return FALSE;
    }
    if (type == CRP_MSG_BYE) {
        return TRUE;        /* either channel, either side */
    }
    return info->channel == kind &&
           (info->sender == -1 || info->sender == (int)sender);
}

const char *
crp_status_to_string(guint16 status)
{
    static const char *const texts[] = {
        [CRP_STATUS_OK] = "ok",
        [CRP_STATUS_BAD_REQUEST] = "malformed or unexpected message",
        [CRP_STATUS_VERSION_UNSUPPORTED] = "protocol version not supported",
        [CRP_STATUS_AUTH_FAILED] = "authentication failed",
        [CRP_STATUS_UNKNOWN_KEY] = "this key is not known to the broker",
        [CRP_STATUS_KEY_REVOKED] = "this key has been revoked",
        [CRP_STATUS_RATE_LIMITED] = "too many attempts; try again later",
        [CRP_STATUS_NO_SUCH_APP] = "no such app",
        [CRP_STATUS_NOT_SUBSCRIBED] = "not subscribed to this app",
        [CRP_STATUS_NO_CAPACITY] = "no capacity to start this app now",
        [CRP_STATUS_QUOTA_EXCEEDED] = "storage quota exceeded",
        [CRP_STATUS_NO_SUCH_SESSION] = "no such session",
        [CRP_STATUS_SESSION_ENDED] = "the session has ended",
        [CRP_STATUS_INTERNAL] = "internal error",
        [CRP_STATUS_TIMEOUT] = "timed out",
        [CRP_STATUS_SHUTDOWN] = "the server is shutting down",
        [CRP_STATUS_REPLACED] = "replaced by a newer connection",
        [CRP_STATUS_NO_SUCH_FILE] = "no such file or directory",
    };
    if (status < G_N_ELEMENTS(texts) && texts[status]) {
        return texts[status];
    }
    return "unknown status";
}

CrpStr
crp_str(const char *s)
{
    return (CrpStr){ s ? s : "", s ? strlen(s) : 0 };
}

/* ---- writers ---------------------------------------------------------- */

static void
put_app(GByteArray *out, const CrpAppInfo *app)
{
    crp_put_crpstr(out, app->name);
    crp_put_crpstr(out, app->title);
    crp_put_crpstr(out, app->description);
    crp_put_u16(out, app->vcpus);
    crp_put_u32(out, app->memory_mib);
    crp_put_u8(out, app->flags);
}

static void
put_session(GByteArray *out, const CrpSessionInfo *s)
{
    crp_put_crpstr(out, s->session_id);
    crp_put_crpstr(out, s->app);
    crp_put_u64(out, s->started_unix);
    crp_put_u8(out, s->state);
}

static void
put_file_entry(GByteArray *out, const CrpFileEntry *e)
{
    crp_put_crpstr(out, e->name);
    crp_put_u8(out, e->kind);
    crp_put_u64(out, e->size);
    crp_put_u64(out, e->mtime_ns);
}

static void
put_body(const CrpMessage *m, GByteArray *out)
{
    switch ((CrpMessageType)m->type) {
    case CRP_MSG_SURFACE:
        crp_put_u16(out, m->surface.width);
        crp_put_u16(out, m->surface.height);
        break;
    case CRP_MSG_RECT:
        crp_put_u16(out, m->rect.x);
        crp_put_u16(out, m->rect.y);
        crp_put_u16(out, m->rect.width);
        crp_put_u16(out, m->rect.height);
        crp_put_u8(out, m->rect.encoding);
        switch (m->rect.encoding) {
        case CRP_ENCODING_FILL:
            crp_put_u32(out, m->rect.fill & 0xffffff);
            break;
        case CRP_ENCODING_COPY:
            crp_put_u16(out, m->rect.src_x);
            crp_put_u16(out, m->rect.src_y);
            break;
        case CRP_ENCODING_H264:
            crp_put_u8(out, m->rect.stream);
            crp_put_bytes(out, m->rect.data.data, m->rect.data.len);
            break;
        default:
            crp_put_bytes(out, m->rect.data.data, m->rect.data.len);
            break;
        }
        break;
    case CRP_MSG_FRAME_END:
        crp_put_u32(out, m->frame_end.frame_id);
        crp_put_u32(out, m->frame_end.input_serial);
        crp_put_u64(out, m->frame_end.capture_us);
        crp_put_u32(out, m->frame_end.encode_us);
        break;
    case CRP_MSG_CURSOR_SHAPE:
        crp_put_u16(out, m->cursor_shape.width);
        crp_put_u16(out, m->cursor_shape.height);
        crp_put_u16(out, m->cursor_shape.hot_x);
        crp_put_u16(out, m->cursor_shape.hot_y);
        crp_put_bytes(out, m->cursor_shape.pixels.data,
                      m->cursor_shape.pixels.len);
        break;
    case CRP_MSG_CURSOR_POS:
        crp_put_u16(out, m->cursor_pos.x);
        crp_put_u16(out, m->cursor_pos.y);
        crp_put_u8(out, m->cursor_pos.visible);
        break;
    case CRP_MSG_AUDIO_FORMAT:
        crp_put_u8(out, m->audio_format.codec);
        crp_put_u8(out, m->audio_format.channels);
        crp_put_u32(out, m->audio_format.sample_rate);
        break;
    case CRP_MSG_AUDIO_OUT:
    case CRP_MSG_AUDIO_IN:
        crp_put_u64(out, m->audio.timestamp_us);
        crp_put_bytes(out, m->audio.packet.data, m->audio.packet.len);
        break;
    case CRP_MSG_PING:
    case CRP_MSG_PONG:
        crp_put_u32(out, m->ping.id);
        crp_put_u64(out, m->ping.time_us);
        break;
    case CRP_MSG_KEY:
        crp_put_u32(out, m->key.serial);
        crp_put_u16(out, m->key.code);
        crp_put_u8(out, m->key.down);
        break;
    case CRP_MSG_POINTER:
        crp_put_u32(out, m->pointer.serial);
        crp_put_u16(out, m->pointer.x);
        crp_put_u16(out, m->pointer.y);
        crp_put_u32(out, m->pointer.buttons);
        break;
    case CRP_MSG_WHEEL:
        crp_put_u32(out, m->wheel.serial);
        crp_put_i16(out, m->wheel.dx);
        crp_put_i16(out, m->wheel.dy);
        break;
    case CRP_MSG_FRAME_ACK:
        crp_put_u32(out, m->frame_ack.frame_id);
        crp_put_u32(out, m->frame_ack.present_us);
        break;
    case CRP_MSG_RESIZE_REQUEST:
        crp_put_u16(out, m->resize.width);
        crp_put_u16(out, m->resize.height);
        break;
    case CRP_MSG_CLOSE_APP:
        break;
    case CRP_MSG_CLIPBOARD_GRAB:
        crp_put_u32(out, m->clipboard_grab.serial);
        crp_put_u8(out, m->clipboard_grab.formats);
        break;
    case CRP_MSG_CLIPBOARD_REQUEST:
        crp_put_u32(out, m->clipboard_request.serial);
        crp_put_u8(out, m->clipboard_request.format);
        break;
    case CRP_MSG_CLIPBOARD_DATA:
        crp_put_u32(out, m->clipboard_data.serial);
        crp_put_u8(out, m->clipboard_data.format);
        crp_put_u8(out, m->clipboard_data.status);
        crp_put_u32(out, m->clipboard_data.total);
        crp_put_u32(out, m->clipboard_data.offset);
        crp_put_bytes(out, m->clipboard_data.data.data,
                      m->clipboard_data.data.len);
        break;
    case CRP_MSG_BYE:
        crp_put_u16(out, m->bye.code);
        crp_put_crpstr(out, m->bye.reason);
        break;
    case CRP_MSG_CATALOG_LIST:
    case CRP_MSG_MY_APPS:
    case CRP_MSG_SESSION_LIST:
        crp_put_u32(out, m->request.request_id);
        break;
    case CRP_MSG_SUBSCRIBE:
    case CRP_MSG_UNSUBSCRIBE:
    case CRP_MSG_LAUNCH:
    case CRP_MSG_SESSION_CLOSE:
    case CRP_MSG_ATTACH:
    case CRP_MSG_SESSION_TICKET:
        crp_put_u32(out, m->request.request_id);
        crp_put_crpstr(out, m->request.arg);
        break;
    case CRP_MSG_OK:
        crp_put_u32(out, m->ok_request_id);
        break;
    case CRP_MSG_APP_LIST:
    case CRP_MSG_SESSIONS:
        crp_put_u32(out, m->list.request_id);
        crp_put_u16(out, m->list.count);
        for (guint i = 0; i < m->list.count; i++) {
            if (m->type == CRP_MSG_APP_LIST) {
                put_app(out, (const CrpAppInfo *)m->list.items + i);
            } else {
                put_session(out, (const CrpSessionInfo *)m->list.items + i);
            }
        }
        break;
    case CRP_MSG_LAUNCHED:
        crp_put_u32(out, m->launched.request_id);
        crp_put_crpstr(out, m->launched.session_id);
        crp_put_crpstr(out, m->launched.ticket);
        crp_put_u32(out, m->launched.expires_in_s);
        break;
    case CRP_MSG_ERROR:
        crp_put_u32(out, m->error.request_id);
        crp_put_u16(out, m->error.code);
        crp_put_crpstr(out, m->error.message);
        break;
    case CRP_MSG_FILE_LIST:
    case CRP_MSG_FILE_DELETE:
        crp_put_u32(out, m->file.request_id);
        crp_put_crpstr(out, m->file.path);
        break;
    case CRP_MSG_UPLOAD_BEGIN:
        crp_put_u32(out, m->file.request_id);
        crp_put_crpstr(out, m->file.path);
        crp_put_u64(out, m->file.size);
        break;
    case CRP_MSG_UPLOAD_DATA:
        crp_put_u32(out, m->file.request_id);
        crp_put_crpstr(out, m->file.path);
        crp_put_u64(out, m->file.size);
        crp_put_u64(out, m->file.offset);
        crp_put_bytes(out, m->file.data.data, m->file.data.len);
        break;
    case CRP_MSG_DOWNLOAD:
        crp_put_u32(out, m->file.request_id);
        crp_put_crpstr(out, m->file.path);
        crp_put_u64(out, m->file.offset);
        crp_put_u32(out, m->file.length);
        break;
    case CRP_MSG_FILES:
        crp_put_u32(out, m->files.request_id);
        crp_put_u64(out, m->files.used_bytes);
        crp_put_u64(out, m->files.quota_bytes);
        crp_put_u16(out, m->files.count);
        for (guint i = 0; i < m->files.count; i++) {
            put_file_entry(out, &m->files.items[i]);
        }
        break;
    case CRP_MSG_UPLOAD_READY:
        crp_put_u32(out, m->upload_ready.request_id);
        crp_put_u64(out, m->upload_ready.offset);
        break;
    case CRP_MSG_FILE_DATA:
        crp_put_u32(out, m->file_data.request_id);
        crp_put_u64(out, m->file_data.size);
        crp_put_u64(out, m->file_data.mtime_ns);
        crp_put_bytes(out, m->file_data.data.data, m->file_data.data.len);
        break;
    }
}

gsize
crp_message_encode(const CrpMessage *msg, GByteArray *out)
{
    gsize start = out->len;

    g_assert(type_info(msg->type));
    crp_put_u8(out, msg->type);
    crp_put_u8(out, msg->flags);
    crp_put_u32(out, 0);
    put_body(msg, out);

    gsize body = out->len - start - CRP_MESSAGE_HEADER_SIZE;
    g_assert(body <= CRP_MAX_MESSAGE_BODY);
    crp_patch_u32(out, start + 2, body);
    return out->len - start;
}

/* ---- readers ---------------------------------------------------------- */

/* Every reader returns FALSE (with r failed) if the body is invalid. */

static gboolean
read_app(CrpReader *r, CrpAppInfo *app)
{
    app->name = crp_reader_str(r, 64);
    app->title = crp_reader_str(r, 256);
    app->description = crp_reader_str(r, CRP_MAX_STRING);
    app->vcpus = crp_reader_u16(r);
    app->memory_mib = crp_reader_u32(r);
    app->flags = crp_reader_u8(r);
    return crp_reader_ok(r);
}

static gboolean
read_session(CrpReader *r, CrpSessionInfo *s)
{
    s->session_id = crp_reader_str(r, 64);
    s->app = crp_reader_str(r, 64);
    s->started_unix = crp_reader_u64(r);
    s->state = crp_reader_u8(r);
    return crp_reader_ok(r);
}

static void
read_rect(CrpReader *r, CrpRectMsg *rect)
{
    rect->x = crp_reader_u16(r);
    rect->y = crp_reader_u16(r);
    rect->width = crp_reader_u16(r);
    rect->height = crp_reader_u16(r);
    rect->encoding = crp_reader_u8(r);
    if (rect->width == 0 || rect->height == 0 ||
        rect->width > CRP_MAX_SURFACE_DIM || rect->height > CRP_MAX_SURFACE_DIM ||
        rect->x + rect->width > CRP_MAX_SURFACE_DIM ||
        rect->y + rect->height > CRP_MAX_SURFACE_DIM) {
        crp_reader_fail(r);
        return;
    }
    switch (rect->encoding) {
    case CRP_ENCODING_FILL:
        rect->fill = crp_reader_u32(r);
        if (rect->fill > 0xffffff) {
            crp_reader_fail(r);
        }
        break;
    case CRP_ENCODING_COPY:
        rect->src_x = crp_reader_u16(r);
        rect->src_y = crp_reader_u16(r);
        if (rect->src_x + rect->width > CRP_MAX_SURFACE_DIM ||
            rect->src_y + rect->height > CRP_MAX_SURFACE_DIM) {
            crp_reader_fail(r);
        }
        break;
    case CRP_ENCODING_RAW:
        rect->data = crp_reader_view(r, (gsize)rect->width * rect->height * 4);
        break;
    case CRP_ENCODING_ZLIB:
    case CRP_ENCODING_JPEG:
    case CRP_ENCODING_ZSTD:
        rect->data = crp_reader_rest(r);
        if (rect->data.len == 0) {
            crp_reader_fail(r);
        }
        break;
    case CRP_ENCODING_H264:
        /* 4:2:0 video: even sizes, and a cap on what one stream decodes. */
        rect->stream = crp_reader_u8(r);
        rect->data = crp_reader_rest(r);
        if (rect->stream >= CRP_H264_MAX_STREAMS || rect->data.len == 0 ||
            rect->width % 2 || rect->height % 2 ||
            rect->width > CRP_H264_MAX_DIM || rect->height > CRP_H264_MAX_DIM ||
            (guint32)rect->width * rect->height > CRP_H264_MAX_PIXELS) {
            crp_reader_fail(r);
        }
        break;
    default:
        crp_reader_fail(r);
        break;
    }
}

static gboolean
clipboard_format_valid(guint8 format)
{
    return format == CRP_CLIPBOARD_TEXT || format == CRP_CLIPBOARD_PNG;
}

/* A chunk lies inside its content, and only content up to the cap is
 * sent at all; a refusal carries nothing. Whether chunks come in order
 * is the receiver's reassembly (crp-clipboard.h). */
static void
read_clipboard_data(CrpReader *r, CrpClipboardDataMsg *d)
{
    d->serial = crp_reader_u32(r);
    d->format = crp_reader_u8(r);
    d->status = crp_reader_u8(r);
    d->total = crp_reader_u32(r);
    d->offset = crp_reader_u32(r);
    d->data = crp_reader_rest(r);
    if (!clipboard_format_valid(d->format) || d->status > CRP_CLIPBOARD_OFF) {
        crp_reader_fail(r);
    } else if (d->status != CRP_CLIPBOARD_OK) {
        if (d->total || d->offset || d->data.len) {
            crp_reader_fail(r);
        }
    } else if (d->total > CRP_MAX_CLIPBOARD || d->offset > d->total ||
               d->data.len > d->total - d->offset ||
               (d->data.len == 0 && d->total != 0)) {
        crp_reader_fail(r);
    }
}

static gboolean
read_file_entry(CrpReader *r, CrpFileEntry *e)
{
    e->name = crp_reader_str(r, CRP_MAX_FILE_NAME);
    e->kind = crp_reader_u8(r);
    e->size = crp_reader_u64(r);
    e->mtime_ns = crp_reader_u64(r);
    if (e->name.len == 0 ||
        (e->kind != CRP_FILE_KIND_FILE && e->kind != CRP_FILE_KIND_DIR)) {
        crp_reader_fail(r);
    }
    return crp_reader_ok(r);
}

static void
read_files(CrpReader *r, CrpFilesMsg *files)
{
    files->request_id = crp_reader_u32(r);
    files->used_bytes = crp_reader_u64(r);
    files->quota_bytes = crp_reader_u64(r);
    files->count = crp_reader_u16(r);
    files->items = NULL;
    if (files->count > CRP_MAX_LIST_ITEMS) {
        crp_reader_fail(r);
        return;
    }
    gsize start = r->pos;
    for (guint i = 0; i < files->count && crp_reader_ok(r); i++) {
        CrpFileEntry e;
        read_file_entry(r, &e);
    }
    if (crp_reader_ok(r)) {
        files->raw = (CrpView){ r->data + start, r->pos - start };
    }
}

/* The My files requests: a path of the right length (whether it is a
 * good one is the server's answer, not a protocol error), and chunks
 * that fit the cap and lie inside the file they belong to. */
static void
read_file_request(CrpReader *r, guint8 type, CrpFileRequestMsg *f)
{
    f->request_id = crp_reader_u32(r);
    f->path = crp_reader_str(r, CRP_MAX_FILE_PATH);
    if (type != CRP_MSG_FILE_LIST && f->path.len == 0) {
        crp_reader_fail(r);
        return;
    }
    switch (type) {
    case CRP_MSG_UPLOAD_BEGIN:
        f->size = crp_reader_u64(r);
        break;
    case CRP_MSG_UPLOAD_DATA:
        f->size = crp_reader_u64(r);
        f->offset = crp_reader_u64(r);
        f->data = crp_reader_rest(r);
        if (f->data.len == 0 || f->data.len > CRP_MAX_FILE_CHUNK ||
            f->offset > f->size || f->data.len > f->size - f->offset) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_DOWNLOAD:
        f->offset = crp_reader_u64(r);
        f->length = crp_reader_u32(r);
        if (f->length == 0 || f->length > CRP_MAX_FILE_CHUNK) {
            crp_reader_fail(r);
        }
        break;
    default:
        break;
    }
}

static void
read_list(CrpReader *r, guint8 type, CrpListMsg *list)
{
    list->request_id = crp_reader_u32(r);
    list->count = crp_reader_u16(r);
    list->items = NULL;
    if (list->count > CRP_MAX_LIST_ITEMS) {
        crp_reader_fail(r);
        return;
    }
    gsize start = r->pos;
    for (guint i = 0; i < list->count && crp_reader_ok(r); i++) {
        if (type == CRP_MSG_APP_LIST) {
            CrpAppInfo app;
            read_app(r, &app);
        } else {
            CrpSessionInfo s;
            read_session(r, &s);
        }
    }
    if (crp_reader_ok(r)) {
        list->raw = (CrpView){ r->data + start, r->pos - start };
    }
}

static void
read_body(CrpReader *r, CrpMessage *m)
{
    switch ((CrpMessageType)m->type) {
    case CRP_MSG_SURFACE:
        m->surface.width = crp_reader_u16(r);
        m->surface.height = crp_reader_u16(r);
        if (m->surface.width == 0 || m->surface.height == 0 ||
            m->surface.width > CRP_MAX_SURFACE_DIM ||
            m->surface.height > CRP_MAX_SURFACE_DIM ||
            (guint32)m->surface.width * m->surface.height > CRP_MAX_SURFACE_PIXELS) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_RECT:
        read_rect(r, &m->rect);
        break;
    case CRP_MSG_FRAME_END:
        m->frame_end.frame_id = crp_reader_u32(r);
        m->frame_end.input_serial = crp_reader_u32(r);
        m->frame_end.capture_us = crp_reader_u64(r);
        m->frame_end.encode_us = crp_reader_u32(r);
        break;
    case CRP_MSG_CURSOR_SHAPE: {
        CrpCursorShapeMsg *c = &m->cursor_shape;
        c->width = crp_reader_u16(r);
        c->height = crp_reader_u16(r);
        c->hot_x = crp_reader_u16(r);
        c->hot_y = crp_reader_u16(r);
        /* 0x0 hides the cursor; otherwise the hot spot is inside it. */
        gboolean hidden = c->width == 0 && c->height == 0;
        if (c->width > CRP_MAX_CURSOR_DIM || c->height > CRP_MAX_CURSOR_DIM ||
            (!hidden && (c->width == 0 || c->height == 0 ||
                         c->hot_x >= c->width || c->hot_y >= c->height)) ||
            (hidden && (c->hot_x || c->hot_y))) {
            crp_reader_fail(r);
            break;
        }
        c->pixels = crp_reader_view(r, (gsize)c->width * c->height * 4);
        break;
    }
    case CRP_MSG_CURSOR_POS:
        m->cursor_pos.x = crp_reader_u16(r);
        m->cursor_pos.y = crp_reader_u16(r);
        m->cursor_pos.visible = crp_reader_u8(r);
        if (m->cursor_pos.visible > 1) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_AUDIO_FORMAT:
        m->audio_format.codec = crp_reader_u8(r);
        m->audio_format.channels = crp_reader_u8(r);
        m->audio_format.sample_rate = crp_reader_u32(r);
        if (m->audio_format.codec != CRP_AUDIO_CODEC_OPUS ||
            m->audio_format.channels < 1 || m->audio_format.channels > 2 ||
            m->audio_format.sample_rate != 48000) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_AUDIO_OUT:
    case CRP_MSG_AUDIO_IN:
        m->audio.timestamp_us = crp_reader_u64(r);
        m->audio.packet = crp_reader_rest(r);
        if (m->audio.packet.len == 0 ||
            m->audio.packet.len > CRP_MAX_AUDIO_PACKET) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_PING:
    case CRP_MSG_PONG:
        m->ping.id = crp_reader_u32(r);
        m->ping.time_us = crp_reader_u64(r);
        break;
    case CRP_MSG_KEY:
        m->key.serial = crp_reader_u32(r);
        m->key.code = crp_reader_u16(r);
        m->key.down = crp_reader_u8(r);
        /* KEY_MAX in linux/input-event-codes.h is 0x2ff. */
        if (m->key.code > 0x2ff || m->key.down > 1) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_POINTER:
        m->pointer.serial = crp_reader_u32(r);
        m->pointer.x = crp_reader_u16(r);
        m->pointer.y = crp_reader_u16(r);
        m->pointer.buttons = crp_reader_u32(r);
        break;
    case CRP_MSG_WHEEL:
        m->wheel.serial = crp_reader_u32(r);
        m->wheel.dx = crp_reader_i16(r);
        m->wheel.dy = crp_reader_i16(r);
        break;
    case CRP_MSG_FRAME_ACK:
        m->frame_ack.frame_id = crp_reader_u32(r);
        m->frame_ack.present_us = crp_reader_u32(r);
        break;
    case CRP_MSG_RESIZE_REQUEST:
        m->resize.width = crp_reader_u16(r);
        m->resize.height = crp_reader_u16(r);
        if (m->resize.width == 0 || m->resize.height == 0 ||
            m->resize.width > CRP_MAX_SURFACE_DIM ||
            m->resize.height > CRP_MAX_SURFACE_DIM) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_CLOSE_APP:
        break;
    case CRP_MSG_CLIPBOARD_GRAB:
        m->clipboard_grab.serial = crp_reader_u32(r);
        m->clipboard_grab.formats = crp_reader_u8(r);
        if (m->clipboard_grab.formats & ~CRP_CLIPBOARD_ALL) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_CLIPBOARD_REQUEST:
        m->clipboard_request.serial = crp_reader_u32(r);
        m->clipboard_request.format = crp_reader_u8(r);
        if (!clipboard_format_valid(m->clipboard_request.format)) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_CLIPBOARD_DATA:
        read_clipboard_data(r, &m->clipboard_data);
        break;
    case CRP_MSG_BYE:
        m->bye.code = crp_reader_u16(r);
        m->bye.reason = crp_reader_str(r, CRP_MAX_STRING);
        break;
    case CRP_MSG_CATALOG_LIST:
    case CRP_MSG_MY_APPS:
    case CRP_MSG_SESSION_LIST:
        m->request.request_id = crp_reader_u32(r);
        m->request.arg = (CrpStr){ "", 0 };
        break;
    case CRP_MSG_SUBSCRIBE:
    case CRP_MSG_UNSUBSCRIBE:
    case CRP_MSG_LAUNCH:
    case CRP_MSG_SESSION_CLOSE:
    case CRP_MSG_ATTACH:
    case CRP_MSG_SESSION_TICKET:
        m->request.request_id = crp_reader_u32(r);
        m->request.arg = crp_reader_str(r, 64);
        if (m->request.arg.len == 0) {
            crp_reader_fail(r);
        }
        break;
    case CRP_MSG_OK:
        m->ok_request_id = crp_reader_u32(r);
        break;
    case CRP_MSG_APP_LIST:
    case CRP_MSG_SESSIONS:
        read_list(r, m->type, &m->list);
        break;
    case CRP_MSG_LAUNCHED:
        m->launched.request_id = crp_reader_u32(r);
        m->launched.session_id = crp_reader_str(r, 64);
        m->launched.ticket = crp_reader_str(r, 256);
        m->launched.expires_in_s = crp_reader_u32(r);
        break;
    case CRP_MSG_ERROR:
        m->error.request_id = crp_reader_u32(r);
        m->error.code = crp_reader_u16(r);
        m->error.message = crp_reader_str(r, CRP_MAX_STRING);
        break;
    case CRP_MSG_FILE_LIST:
    case CRP_MSG_UPLOAD_BEGIN:
    case CRP_MSG_UPLOAD_DATA:
    case CRP_MSG_DOWNLOAD:
    case CRP_MSG_FILE_DELETE:
        read_file_request(r, m->type, &m->file);
        break;
    case CRP_MSG_FILES:
        read_files(r, &m->files);
        break;
    case CRP_MSG_UPLOAD_READY:
        m->upload_ready.request_id = crp_reader_u32(r);
        m->upload_ready.offset = crp_reader_u64(r);
        break;
    case CRP_MSG_FILE_DATA:
        m->file_data.request_id = crp_reader_u32(r);
        m->file_data.size = crp_reader_u64(r);
        m->file_data.mtime_ns = crp_reader_u64(r);
        m->file_data.data = crp_reader_rest(r);
        if (m->file_data.data.len > CRP_MAX_FILE_CHUNK ||
            m->file_data.data.len > m->file_data.size) {
            crp_reader_fail(r);
        }
        break;
    }
}

gsize
crp_message_decode(const guint8 *data, gsize len, CrpMessage *msg,
                   GError **error)
{
    CrpReader header;

    memset(msg, 0, sizeof(*msg));
    crp_reader_init(&header, data, len);
    msg->type = crp_reader_u8(&header);
    msg->flags = crp_reader_u8(&header);
    guint32 body_len = crp_reader_u32(&header);
    if (!crp_reader_ok(&header)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "truncated message header (%" G_GSIZE_FORMAT " bytes)", len);
        return 0;
    }
    if (!type_info(msg->type)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "unknown message type 0x%02x", msg->type);
        return 0;
    }
    if (body_len > CRP_MAX_MESSAGE_BODY) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_TOO_LARGE,
                    "%s body of %u bytes exceeds the %u byte cap",
                    crp_message_type_name(msg->type), body_len,
                    CRP_MAX_MESSAGE_BODY);
        return 0;
    }
    if (crp_reader_remaining(&header) < body_len) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "%s truncated: body of %u bytes, %" G_GSIZE_FORMAT " present",
                    crp_message_type_name(msg->type), body_len,
                    crp_reader_remaining(&header));
        return 0;
    }

    CrpReader body;
    crp_reader_init(&body, data + CRP_MESSAGE_HEADER_SIZE, body_len);
    read_body(&body, msg);
    if (!crp_reader_done(&body)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "malformed %s body (%u bytes)",
                    crp_message_type_name(msg->type), body_len);
        memset(msg, 0, sizeof(*msg));
        return 0;
    }
    return CRP_MESSAGE_HEADER_SIZE + body_len;
}

void
crp_list_iter_init(CrpListIter *iter, const CrpListMsg *list)
{
    crp_reader_init(&iter->reader, list->raw.data, list->raw.len);
    iter->left = list->count;
}

gboolean
crp_list_iter_next_app(CrpListIter *iter, CrpAppInfo *app)
{
    if (iter->left == 0) {
        return FALSE;
    }
    iter->left--;
    return read_app(&iter->reader, app);
}

gboolean
crp_list_iter_next_session(CrpListIter *iter, CrpSessionInfo *session)
{
    if (iter->left == 0) {
        return FALSE;
    }
    iter->left--;
    return read_session(&iter->reader, session);
}

void
crp_list_iter_init_files(CrpListIter *iter, const CrpFilesMsg *files)
{
    crp_reader_init(&iter->reader, files->raw.data, files->raw.len);
    iter->left = files->count;
}

gboolean
crp_list_iter_next_file(CrpListIter *iter, CrpFileEntry *entry)
{
    if (iter->left == 0) {
        return FALSE;
    }
    iter->left--;
    return read_file_entry(&iter->reader, entry);
}
