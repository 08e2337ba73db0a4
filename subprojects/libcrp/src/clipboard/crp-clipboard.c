/*
 * crp-clipboard.c: clipboard content in chunks, out and back in
 * (see crp-clipboard.h).
 */
#include "crp/crp-clipboard.h"
#include "crp/crp-error.h"

#include <string.h>

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

const char *
crp_clipboard_format_name(guint8 format)
{
    switch (format) {
    case CRP_CLIPBOARD_TEXT:
        return "text";
    case CRP_CLIPBOARD_PNG:
        return "png";
    default:
        return "?";
    }
}

const char *
crp_clipboard_status_name(guint8 status)
{
    switch (status) {
    case CRP_CLIPBOARD_OK:
        return "ok";
    case CRP_CLIPBOARD_NONE:
        return "none";
    case CRP_CLIPBOARD_TOO_LARGE:
        return "too large";
    case CRP_CLIPBOARD_OFF:
        return "off";
    default:
        return "?";
    }
}

/* ---- out -------------------------------------------------------------- */

struct CrpClipboardOut {
    guint32 serial;
    guint8 format;
    guint8 status;
    GBytes *content;        /* OK only */
    gsize offset;           /* of the next chunk */
    gboolean done;
};

CrpClipboardOut *
crp_clipboard_out_new_refusal(guint32 serial, guint8 format,
                              CrpClipboardStatus status)
{
    CrpClipboardOut *out = g_new0(CrpClipboardOut, 1);

    out->serial = serial;
    out->format = format;
    out->status = status;
    return out;
}

CrpClipboardOut *
crp_clipboard_out_new(guint32 serial, guint8 format, GBytes *content)
{
    if (!content) {
        return crp_clipboard_out_new_refusal(serial, format, CRP_CLIPBOARD_NONE);
    }
    if (g_bytes_get_size(content) > CRP_MAX_CLIPBOARD) {
        return crp_clipboard_out_new_refusal(serial, format,
                                             CRP_CLIPBOARD_TOO_LARGE);
    }
    CrpClipboardOut *out = crp_clipboard_out_new_refusal(serial, format,
                                                         CRP_CLIPBOARD_OK);
    out->content = g_bytes_ref(content);
    return out;
}

void
crp_clipboard_out_free(CrpClipboardOut *out)
{
    if (!out) {
        return;
    }
    if (out->content) {
        g_bytes_unref(out->content);
    }
    g_free(out);
}

gboolean
crp_clipboard_out_next(CrpClipboardOut *out, CrpMessage *msg)
{
    gsize total = out->content ? g_bytes_get_size(out->content) : 0;
    const guint8 *data = out->content ? g_bytes_get_data(out->content, NULL) : NULL;

    if (out->done) {
        return FALSE;
    }
    gsize n = MIN(total - out->offset, CRP_CLIPBOARD_CHUNK);
    memset(msg, 0, sizeof(*msg));
    msg->type = CRP_MSG_CLIPBOARD_DATA;
    msg->clipboard_data = (CrpClipboardDataMsg){
        .serial = out->serial,
        .format = out->format,
        .status = out->status,
        .total = (guint32)total,
        .offset = (guint32)out->offset,
        .data = { data ? data + out->offset : NULL, n },
    };
    out->offset += n;
    out->done = out->offset == total;
    return TRUE;
}

/* ---- in --------------------------------------------------------------- */

struct CrpClipboardIn {
    gboolean awaiting;
    guint32 serial;
    guint8 format;
    gboolean started;       /* the first chunk came: total is fixed */
    guint32 total;
    guint8 status;
    GByteArray *content;
    gboolean complete;
};

CrpClipboardIn *
crp_clipboard_in_new(void)
{
    return g_new0(CrpClipboardIn, 1);
}

static void
in_reset(CrpClipboardIn *in)
{
    if (in->content) {
        g_byte_array_unref(in->content);
    }
    memset(in, 0, sizeof(*in));
}

void
crp_clipboard_in_free(CrpClipboardIn *in)
{
    if (!in) {
        return;
    }
    in_reset(in);
    g_free(in);
}

void
crp_clipboard_in_expect(CrpClipboardIn *in, guint32 serial, guint8 format)
{
    in_reset(in);
    in->awaiting = TRUE;
    in->serial = serial;
    in->format = format;
}

gboolean
crp_clipboard_in_pending(CrpClipboardIn *in, guint32 *serial, guint8 *format)
{
    if (serial) {
        *serial = in->serial;
    }
    if (format) {
        *format = in->format;
    }
    return in->awaiting && !in->complete;
}

/* The content is what its format says: the receiver hands it to a
 * clipboard that trusts it (a guest's, a desktop's). */
static gboolean
content_valid(guint8 format, const GByteArray *c, GError **error)
{
    if (format == CRP_CLIPBOARD_TEXT) {
        if (!g_utf8_validate_len((const char *)c->data, c->len, NULL) ||
            memchr(c->data, 0, c->len)) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                        "clipboard text of %u bytes is not UTF-8 without NUL",
                        c->len);
            return FALSE;
        }
        return TRUE;
    }
    if (c->len < sizeof(png_signature) ||
        memcmp(c->data, png_signature, sizeof(png_signature)) != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "clipboard image of %u bytes is not a PNG", c->len);
        return FALSE;
    }
    return TRUE;
}

CrpClipboardInResult
crp_clipboard_in_feed(CrpClipboardIn *in, const CrpClipboardDataMsg *d,
                      GError **error)
{
    if (!in->awaiting || in->complete || d->serial != in->serial ||
        d->format != in->format) {
        return CRP_CLIPBOARD_IN_IGNORED;
    }
    if (!in->started) {
        if (d->offset != 0) {
            g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                        "clipboard data starts at offset %u, not 0", d->offset);
            return CRP_CLIPBOARD_IN_ERROR;
        }
        in->started = TRUE;
        in->total = d->total;
        in->status = d->status;
        /* Grown as chunks come, never to more than the total (<= the cap). */
        in->content = g_byte_array_new();
    } else if (d->status != CRP_CLIPBOARD_OK || d->total != in->total ||
               d->offset != in->content->len) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "clipboard chunk out of order: offset %u of %u, "
                    "expected %u of %u", d->offset, d->total,
                    in->content->len, in->total);
        return CRP_CLIPBOARD_IN_ERROR;
    }
    g_byte_array_append(in->content, d->data.data, d->data.len);
    if (in->content->len < in->total) {
        return CRP_CLIPBOARD_IN_MORE;
    }
    if (in->status == CRP_CLIPBOARD_OK &&
        !content_valid(in->format, in->content, error)) {
        in_reset(in);
        return CRP_CLIPBOARD_IN_ERROR;
    }
    in->complete = TRUE;
    return CRP_CLIPBOARD_IN_DONE;
}

CrpClipboardStatus
crp_clipboard_in_take(CrpClipboardIn *in, guint8 *format, GBytes **content)
{
    CrpClipboardStatus status = in->complete ? in->status : CRP_CLIPBOARD_NONE;

    *format = in->format;
    *content = NULL;
    if (in->complete && status == CRP_CLIPBOARD_OK) {
        *content = g_byte_array_free_to_bytes(in->content);
        in->content = NULL;
    }
    in_reset(in);
    return status;
}
