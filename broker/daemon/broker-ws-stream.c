/*
 * broker-ws-stream.c: a WebSocket as a byte stream (see the header).
 *
 * The two half streams share one WsState (reference counted): the stream
 * objects may outlive each other and the GIOStream while a task holds
 * them. One read and one write are in flight on the base connection at
 * most; each has an internal GCancellable, cancelled when the caller's is
 * or when the stream is closed, so that closing never waits on a peer
 * that stopped reading.
 */
#include "broker-ws-stream.h"

#include <string.h>

#define WS_READ_BUFFER 16384
#define WS_MAX_FRAME_OUT 65536
#define WS_MAX_CONTROL 125

enum {
    OP_CONTINUATION = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xa,
};

typedef struct {
    GBytes *frame;
    GTask *task;                /* completed when written; or NULL */
    gssize result;              /* the payload length the task returns;
                                 * -1: a boolean task (close) */
} OutItem;

typedef struct {
    gint refs;
    GIOStream *base;

    /* Reading: raw bytes from the network, then frame by frame. */
    guint8 raw[WS_READ_BUFFER];
    gsize raw_start, raw_end;
    gboolean base_reading;
    GCancellable *read_cancel;
    GCancellable *read_user;    /* the caller's, for the read in flight */
    gulong read_handler;
    GTask *read_task;           /* the caller's read, waiting */
    gboolean in_frame;          /* header parsed, payload follows */
    gboolean in_message;        /* a fragmented data message goes on */
    guint8 opcode;
    guint64 payload_left;
    guint8 mask[4];
    guint mask_pos;
    gboolean eof;
    GError *read_error;         /* sticky */

    /* Writing: bounded (one data frame, one pong, one close). */
    GQueue out;                 /* OutItem*, waiting */
    OutItem *in_flight;         /* being written to the base */
    gboolean base_writing;
    gboolean write_failed;      /* sticky: the connection broke */
    GCancellable *write_cancel;
    GCancellable *write_user;   /* the caller's, for the write in flight */
    gulong write_handler;
    gboolean close_sent;        /* a Close frame is queued or out */
    GBytes *pong;               /* the pong waiting to be queued */

    gboolean closing;           /* close the base once nothing is in flight */
    gboolean base_closed;
} WsState;

static WsState *
ws_state_ref(WsState *s)
{
    s->refs++;
    return s;
}

static void
out_item_free(OutItem *it)
{
    g_bytes_unref(it->frame);
    g_clear_object(&it->task);
    g_free(it);
}

static void
ws_state_unref(WsState *s)
{
    if (--s->refs > 0) {
        return;
    }
    g_queue_clear_full(&s->out, (GDestroyNotify)out_item_free);
    g_clear_pointer(&s->pong, g_bytes_unref);
    g_clear_error(&s->read_error);
    g_clear_object(&s->read_cancel);
    g_clear_object(&s->write_cancel);
    g_clear_object(&s->base);
    g_free(s);
}

static void ws_pump_write(WsState *s);
static void ws_pump_read(WsState *s);

static void
on_base_closed(GObject *source, GAsyncResult *res, gpointer data)
{
    g_io_stream_close_finish(G_IO_STREAM(source), res, NULL);
    ws_state_unref(data);
}

static void
ws_maybe_close_base(WsState *s)
{
    if (s->closing && !s->base_closed && !s->base_reading &&
        !s->base_writing) {
        s->base_closed = TRUE;
        g_io_stream_close_async(s->base, G_PRIORITY_DEFAULT, NULL,
                                on_base_closed, ws_state_ref(s));
    }
}

/* A frame from the server: never masked (RFC 6455 5.1). */
static GBytes *
ws_frame(guint8 opcode, const guint8 *payload, gsize len)
{
    guint8 *buf = g_malloc(len + 10);
    gsize h = 0;

    buf[h++] = 0x80 | opcode;
    if (len < 126) {
        buf[h++] = len;
    } else if (len <= 0xffff) {
        buf[h++] = 126;
        buf[h++] = len >> 8;
        buf[h++] = len;
    } else {
        buf[h++] = 127;
        for (int i = 7; i >= 0; i--) {
            buf[h++] = (guint64)len >> (8 * i);
        }
    }
    if (len) {
        memcpy(buf + h, payload, len);
    }
    return g_bytes_new_take(buf, h + len);
}

static void
ws_queue_close(WsState *s, guint16 code, GTask *task)
{
    guint8 payload[2] = { code >> 8, code & 0xff };
    OutItem *it;

    if (s->close_sent || s->write_failed) {
        if (task) {
            g_task_return_boolean(task, TRUE);
            g_object_unref(task);
        }
        return;
    }
    s->close_sent = TRUE;
    it = g_new0(OutItem, 1);
    it->frame = ws_frame(OP_CLOSE, payload, sizeof payload);
    it->task = task;
    it->result = -1;
    g_queue_push_tail(&s->out, it);
    ws_pump_write(s);
}

/* ------------------------------------------------------------------------ */
/* Writing */

static void
on_cancel_write(GCancellable *cancellable, gpointer data)
{
    g_cancellable_cancel(data);
}

static void
out_item_return(OutItem *it, GError *error)
{
    if (!it->task) {
        g_clear_error(&error);
    } else if (error) {
        g_task_return_error(it->task, error);
    } else if (it->result >= 0) {
        g_task_return_int(it->task, it->result);
    } else {
        g_task_return_boolean(it->task, TRUE);
    }
    out_item_free(it);
}

/* The connection broke: nothing queued will go out. Each item is taken
 * off the queue before its task returns, since returning may call back
 * into the stream (which refuses new writes by now). */
static void
ws_fail_queue(WsState *s)
{
    OutItem *it;

    g_clear_pointer(&s->pong, g_bytes_unref);
    while ((it = g_queue_pop_head(&s->out))) {
        out_item_return(it, g_error_new_literal(G_IO_ERROR,
                                                G_IO_ERROR_BROKEN_PIPE,
                                                "the WebSocket is gone"));
    }
}

static void
on_base_written(GObject *source, GAsyncResult *res, gpointer data)
{
    WsState *s = data;
    OutItem *it = g_steal_pointer(&s->in_flight);
    GError *error = NULL;

    s->base_writing = FALSE;
    if (s->write_user) {
        g_cancellable_disconnect(s->write_user, s->write_handler);
        g_clear_object(&s->write_user);
    }
    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL,
                                          &error)) {
        s->write_failed = TRUE;     /* before any task can call back */
    }
    out_item_return(it, error);
    if (s->write_failed) {
        ws_fail_queue(s);
    } else {
        ws_pump_write(s);
    }
    ws_maybe_close_base(s);
    ws_state_unref(s);
}

static void
ws_pump_write(WsState *s)
{
    OutItem *it;
    GCancellable *user;
    gsize len;
    const guint8 *data;

    if (s->write_failed) {
        ws_fail_queue(s);
        return;
    }
    if (s->pong && !s->close_sent) {
        OutItem *pong = g_new0(OutItem, 1);
        const guint8 *p = g_bytes_get_data(s->pong, &len);

        pong->frame = ws_frame(OP_PONG, p, len);
        pong->result = -1;
        g_queue_push_tail(&s->out, pong);
    }
    g_clear_pointer(&s->pong, g_bytes_unref);
    if (s->base_writing || s->base_closed ||
        !(it = g_queue_pop_head(&s->out))) {
        return;
    }
    s->in_flight = it;
    s->base_writing = TRUE;
    g_clear_object(&s->write_cancel);
    s->write_cancel = g_cancellable_new();
    user = it->task ? g_task_get_cancellable(it->task) : NULL;
    if (user) {
        /* Only the write in flight listens to the caller's cancellable;
         * on_base_written() lets go of it. */
        s->write_user = g_object_ref(user);
        s->write_handler = g_cancellable_connect(
            user, G_CALLBACK(on_cancel_write), g_object_ref(s->write_cancel),
            g_object_unref);
    }
    data = g_bytes_get_data(it->frame, &len);
    g_output_stream_write_all_async(g_io_stream_get_output_stream(s->base),
                                    data, len, G_PRIORITY_DEFAULT,
                                    s->write_cancel, on_base_written,
                                    ws_state_ref(s));
}

/* ------------------------------------------------------------------------ */
/* Reading */

typedef enum {
    PARSE_NEED_MORE,
    PARSE_DATA,                 /* @n bytes copied into the caller's buffer */
    PARSE_AGAIN,                /* a control frame or an empty one: go on */
    PARSE_ERROR,
} ParseResult;

static ParseResult
ws_fail(WsState *s, guint16 code, const char *message)
{
    g_set_error_literal(&s->read_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        message);
    ws_queue_close(s, code, NULL);
    return PARSE_ERROR;
}

static void
ws_unmask(WsState *s, guint8 *dst, const guint8 *src, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        dst[i] = src[i] ^ s->mask[s->mask_pos];
        s->mask_pos = (s->mask_pos + 1) & 3;
    }
}

static ParseResult
ws_parse_header(WsState *s)
{
    const guint8 *p = s->raw + s->raw_start;
    gsize avail = s->raw_end - s->raw_start;
    gsize need = 2;
    guint64 len;
    guint8 op;
    gboolean fin;

    if (avail < 2) {
        return PARSE_NEED_MORE;
    }
    len = p[1] & 0x7f;
    need += (len == 126 ? 2 : len == 127 ? 8 : 0) + 4;
    if (avail < need) {
        return PARSE_NEED_MORE;
    }
    fin = (p[0] & 0x80) != 0;
    op = p[0] & 0x0f;
    if (p[0] & 0x70) {
        return ws_fail(s, 1002, "WebSocket frame with reserved bits set");
    }
    if (!(p[1] & 0x80)) {
        return ws_fail(s, 1002, "unmasked WebSocket frame from the client");
    }
    if (len == 126) {
        len = (p[2] << 8) | p[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) {
            len = (len << 8) | p[2 + i];
        }
        if (len >> 63) {
            return ws_fail(s, 1002, "WebSocket frame length out of range");
        }
    }
    switch (op) {
    case OP_TEXT:
        return ws_fail(s, 1003, "WebSocket text message: CRP is binary");
    case OP_BINARY:
    case OP_CONTINUATION:
        if ((op == OP_CONTINUATION) != s->in_message) {
            return ws_fail(s, 1002, "WebSocket message fragments out of "
                                    "order");
        }
        s->in_message = !fin;
        break;
    case OP_CLOSE:
    case OP_PING:
    case OP_PONG:
        if (!fin || len > WS_MAX_CONTROL) {
            return ws_fail(s, 1002, "malformed WebSocket control frame");
        }
        break;
    default:
        return ws_fail(s, 1002, "unknown WebSocket opcode");
    }
    memcpy(s->mask, p + need - 4, 4);
    s->mask_pos = 0;
    s->opcode = op;
    s->payload_left = len;
    s->in_frame = TRUE;
    s->raw_start += need;
    return PARSE_AGAIN;
}

static ParseResult
ws_parse(WsState *s, guint8 *buf, gsize count, gsize *n)
{
    gsize avail;

    if (!s->in_frame) {
        ParseResult r = ws_parse_header(s);
        if (r != PARSE_AGAIN) {
            return r;
        }
    }
    avail = s->raw_end - s->raw_start;
    if (s->opcode == OP_BINARY || s->opcode == OP_CONTINUATION) {
        if (s->payload_left == 0) {
            s->in_frame = FALSE;
            return PARSE_AGAIN;
        }
        *n = MIN(MIN(s->payload_left, avail), count);
        if (*n == 0) {
            return PARSE_NEED_MORE;
        }
        ws_unmask(s, buf, s->raw + s->raw_start, *n);
        s->raw_start += *n;
        s->payload_left -= *n;
        s->in_frame = s->payload_left > 0;
        return PARSE_DATA;
    }
    /* A control frame, whole (at most 125 bytes). */
    if (avail < s->payload_left) {
        return PARSE_NEED_MORE;
    }
    guint8 payload[WS_MAX_CONTROL];
    gsize len = s->payload_left;
    ws_unmask(s, payload, s->raw + s->raw_start, len);
    s->raw_start += len;
    s->in_frame = FALSE;
    switch (s->opcode) {
    case OP_PING:
        /* A newer ping replaces one not yet answered: bounded. */
        g_clear_pointer(&s->pong, g_bytes_unref);
        s->pong = g_bytes_new(payload, len);
        ws_pump_write(s);
        break;
    case OP_CLOSE:
        /* The peer's "shutdown write": echo its code (1000 if none). */
        ws_queue_close(s, len >= 2 ? (payload[0] << 8) | payload[1] : 1000,
                       NULL);
        s->eof = TRUE;
        break;
    default:
        break;                  /* pong */
    }
    return PARSE_AGAIN;
}

static void
on_base_read(GObject *source, GAsyncResult *res, gpointer data)
{
    WsState *s = data;
    g_autoptr(GError) error = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);

    s->base_reading = FALSE;
    if (s->read_user) {
        g_cancellable_disconnect(s->read_user, s->read_handler);
        g_clear_object(&s->read_user);
    }
    if (n < 0 && s->read_task &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* That read is over, not the stream. */
        GTask *t = g_steal_pointer(&s->read_task);
        g_task_return_error(t, g_steal_pointer(&error));
        g_object_unref(t);
    } else if (n < 0) {
        if (!s->read_error) {
            s->read_error = g_steal_pointer(&error);
        }
    } else if (n == 0) {
        s->eof = TRUE;          /* a hangup without Close: the end too */
    } else {
        s->raw_end += n;
    }
    ws_pump_read(s);
    ws_maybe_close_base(s);
    ws_state_unref(s);
}

static void
on_cancel_read(GCancellable *cancellable, gpointer data)
{
    g_cancellable_cancel(data);
}

/* Serves the caller's read from what came in, or reads more. */
static void
ws_pump_read(WsState *s)
{
    while (s->read_task) {
        guint8 *buf = g_task_get_task_data(s->read_task);
        gsize count = GPOINTER_TO_SIZE(
            g_object_get_data(G_OBJECT(s->read_task), "count"));
        gsize n = 0;
        ParseResult r = PARSE_NEED_MORE;

        if (!s->read_error && !s->eof) {
            r = ws_parse(s, buf, count, &n);
        }
        if (r == PARSE_AGAIN) {
            continue;
        }
        if (r == PARSE_DATA) {
            GTask *t = g_steal_pointer(&s->read_task);
            g_task_return_int(t, n);
            g_object_unref(t);
            return;
        }
        if (s->read_error || s->eof) {
            GTask *t = g_steal_pointer(&s->read_task);
            if (s->read_error) {
                g_task_return_error(t, g_error_copy(s->read_error));
            } else {
                g_task_return_int(t, 0);
            }
            g_object_unref(t);
            return;
        }
        if (s->base_reading || s->closing) {
            return;
        }
        if (s->raw_start > 0) {
            memmove(s->raw, s->raw + s->raw_start, s->raw_end - s->raw_start);
            s->raw_end -= s->raw_start;
            s->raw_start = 0;
        }
        s->base_reading = TRUE;
        g_clear_object(&s->read_cancel);
        s->read_cancel = g_cancellable_new();
        GCancellable *user = g_task_get_cancellable(s->read_task);
        if (user) {
            /* on_base_read() lets go of it. */
            s->read_user = g_object_ref(user);
            s->read_handler = g_cancellable_connect(
                user, G_CALLBACK(on_cancel_read),
                g_object_ref(s->read_cancel), g_object_unref);
        }
        g_input_stream_read_async(g_io_stream_get_input_stream(s->base),
                                  s->raw + s->raw_end,
                                  sizeof s->raw - s->raw_end,
                                  G_PRIORITY_DEFAULT, s->read_cancel,
                                  on_base_read, ws_state_ref(s));
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* The half streams */

typedef struct {
    GInputStream parent;
    WsState *s;
} WsInput;
typedef struct {
    GInputStreamClass parent;
} WsInputClass;
typedef struct {
    GOutputStream parent;
    WsState *s;
} WsOutput;
typedef struct {
    GOutputStreamClass parent;
} WsOutputClass;

static GType ws_input_get_type(void);
static GType ws_output_get_type(void);
G_DEFINE_TYPE(WsInput, ws_input, G_TYPE_INPUT_STREAM)
G_DEFINE_TYPE(WsOutput, ws_output, G_TYPE_OUTPUT_STREAM)

static gssize
ws_read_fn(GInputStream *stream, void *buffer, gsize count,
           GCancellable *cancellable, GError **error)
{
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "a WebSocket stream is read asynchronously");
    return -1;
}

static void
ws_read_async(GInputStream *stream, void *buffer, gsize count, int priority,
              GCancellable *cancellable, GAsyncReadyCallback callback,
              gpointer data)
{
    WsState *s = ((WsInput *)stream)->s;
    GTask *task = g_task_new(stream, cancellable, callback, data);

    g_task_set_source_tag(task, ws_read_async);
    g_task_set_task_data(task, buffer, NULL);
    g_object_set_data(G_OBJECT(task), "count", GSIZE_TO_POINTER(count));
    if (s->closing) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                "the WebSocket is closed");
        g_object_unref(task);
        return;
    }
    s->read_task = task;
    ws_pump_read(s);
}

static gssize
ws_read_finish(GInputStream *stream, GAsyncResult *res, GError **error)
{
    return g_task_propagate_int(G_TASK(res), error);
}

static gboolean
ws_input_close_fn(GInputStream *stream, GCancellable *cancellable,
                  GError **error)
{
    return TRUE;
}

static void
ws_input_close_async(GInputStream *stream, int priority,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer data)
{
    GTask *task = g_task_new(stream, cancellable, callback, data);

    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

static gboolean
ws_close_finish(GObject *stream, GAsyncResult *res, GError **error)
{
    return g_task_propagate_boolean(G_TASK(res), error);
}

static gboolean
ws_input_close_finish(GInputStream *stream, GAsyncResult *res, GError **error)
{
    return ws_close_finish(G_OBJECT(stream), res, error);
}

static void
ws_input_finalize(GObject *object)
{
    ws_state_unref(((WsInput *)object)->s);
    G_OBJECT_CLASS(ws_input_parent_class)->finalize(object);
}

static void
ws_input_init(WsInput *in)
{
}

static void
ws_input_class_init(WsInputClass *klass)
{
    GInputStreamClass *is = G_INPUT_STREAM_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = ws_input_finalize;
    is->read_fn = ws_read_fn;
    is->read_async = ws_read_async;
    is->read_finish = ws_read_finish;
    is->close_fn = ws_input_close_fn;
    is->close_async = ws_input_close_async;
    is->close_finish = ws_input_close_finish;
}

static gssize
ws_write_fn(GOutputStream *stream, const void *buffer, gsize count,
            GCancellable *cancellable, GError **error)
{
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "a WebSocket stream is written asynchronously");
    return -1;
}

static void
ws_write_async(GOutputStream *stream, const void *buffer, gsize count,
               int priority, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer data)
{
    WsState *s = ((WsOutput *)stream)->s;
    GTask *task = g_task_new(stream, cancellable, callback, data);
    OutItem *it;
    gsize n = MIN(count, WS_MAX_FRAME_OUT);

    g_task_set_source_tag(task, ws_write_async);
    if (s->write_failed) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                                "the WebSocket is gone");
        g_object_unref(task);
        return;
    }
    if (s->close_sent || s->closing) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                "the WebSocket is closed");
        g_object_unref(task);
        return;
    }
    it = g_new0(OutItem, 1);
    it->frame = ws_frame(OP_BINARY, buffer, n);
    it->task = task;
    it->result = n;
    g_queue_push_tail(&s->out, it);
    ws_pump_write(s);
}

static gssize
ws_write_finish(GOutputStream *stream, GAsyncResult *res, GError **error)
{
    return g_task_propagate_int(G_TASK(res), error);
}

static gboolean
ws_output_close_fn(GOutputStream *stream, GCancellable *cancellable,
                   GError **error)
{
    ws_queue_close(((WsOutput *)stream)->s, 1000, NULL);
    return TRUE;
}

/* Completes once the Close frame is out. */
static void
ws_output_close_async(GOutputStream *stream, int priority,
                      GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer data)
{
    GTask *task = g_task_new(stream, cancellable, callback, data);

    g_task_set_source_tag(task, ws_output_close_async);
    ws_queue_close(((WsOutput *)stream)->s, 1000, task);
}

static gboolean
ws_output_close_finish(GOutputStream *stream, GAsyncResult *res,
                       GError **error)
{
    return ws_close_finish(G_OBJECT(stream), res, error);
}

static void
ws_output_finalize(GObject *object)
{
    ws_state_unref(((WsOutput *)object)->s);
    G_OBJECT_CLASS(ws_output_parent_class)->finalize(object);
}

static void
ws_output_init(WsOutput *out)
{
}

static void
ws_output_class_init(WsOutputClass *klass)
{
    GOutputStreamClass *os = G_OUTPUT_STREAM_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = ws_output_finalize;
    os->write_fn = ws_write_fn;
    os->write_async = ws_write_async;
    os->write_finish = ws_write_finish;
    os->close_fn = ws_output_close_fn;
    os->close_async = ws_output_close_async;
    os->close_finish = ws_output_close_finish;
}

/* ------------------------------------------------------------------------ */
/* The GIOStream */

struct _BrokerWsStream {
    GIOStream parent;
    WsState *s;
    GInputStream *in;
    GOutputStream *out;
};

G_DEFINE_FINAL_TYPE(BrokerWsStream, broker_ws_stream, G_TYPE_IO_STREAM)

static GInputStream *
ws_get_input_stream(GIOStream *stream)
{
    return BROKER_WS_STREAM(stream)->in;
}

static GOutputStream *
ws_get_output_stream(GIOStream *stream)
{
    return BROKER_WS_STREAM(stream)->out;
}

/* A peer that stopped reading gets this long for what is queued. */
#define WS_CLOSE_GRACE_MS 2000

static gboolean
on_close_grace(gpointer data)
{
    WsState *s = data;

    if (s->base_writing) {
        g_cancellable_cancel(s->write_cancel);
    }
    return G_SOURCE_REMOVE;
}

static void
ws_close_now(WsState *s)
{
    if (s->closing) {
        return;
    }
    ws_queue_close(s, 1000, NULL);
    s->closing = TRUE;
    /* Nothing more is read; what is queued (at most a data frame, a pong
     * and the Close) goes out unless the peer stopped reading. */
    if (s->read_cancel) {
        g_cancellable_cancel(s->read_cancel);
    }
    if (s->base_writing) {
        g_timeout_add_full(G_PRIORITY_DEFAULT, WS_CLOSE_GRACE_MS,
                           on_close_grace, ws_state_ref(s),
                           (GDestroyNotify)ws_state_unref);
    }
    ws_maybe_close_base(s);
}

static gboolean
ws_close_fn(GIOStream *stream, GCancellable *cancellable, GError **error)
{
    ws_close_now(BROKER_WS_STREAM(stream)->s);
    return TRUE;
}

static void
ws_close_async(GIOStream *stream, int priority, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer data)
{
    GTask *task = g_task_new(stream, cancellable, callback, data);

    ws_close_now(BROKER_WS_STREAM(stream)->s);
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

static gboolean
ws_stream_close_finish(GIOStream *stream, GAsyncResult *res, GError **error)
{
    return ws_close_finish(G_OBJECT(stream), res, error);
}

static void
broker_ws_stream_finalize(GObject *object)
{
    BrokerWsStream *ws = BROKER_WS_STREAM(object);

    ws_close_now(ws->s);
    g_clear_object(&ws->in);
    g_clear_object(&ws->out);
    ws_state_unref(ws->s);
    G_OBJECT_CLASS(broker_ws_stream_parent_class)->finalize(object);
}

static void
broker_ws_stream_init(BrokerWsStream *ws)
{
}

static void
broker_ws_stream_class_init(BrokerWsStreamClass *klass)
{
    GIOStreamClass *io = G_IO_STREAM_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = broker_ws_stream_finalize;
    io->get_input_stream = ws_get_input_stream;
    io->get_output_stream = ws_get_output_stream;
    io->close_fn = ws_close_fn;
    io->close_async = ws_close_async;
    io->close_finish = ws_stream_close_finish;
}

GIOStream *
broker_ws_stream_new(GIOStream *base)
{
    BrokerWsStream *ws = g_object_new(BROKER_TYPE_WS_STREAM, NULL);
    WsInput *in = g_object_new(ws_input_get_type(), NULL);
    WsOutput *out = g_object_new(ws_output_get_type(), NULL);

    ws->s = g_new0(WsState, 1);
    ws->s->refs = 1;
    ws->s->base = g_object_ref(base);
    g_queue_init(&ws->s->out);
    in->s = ws_state_ref(ws->s);
    out->s = ws_state_ref(ws->s);
    ws->in = G_INPUT_STREAM(in);
    ws->out = G_OUTPUT_STREAM(out);
    return G_IO_STREAM(ws);
}
