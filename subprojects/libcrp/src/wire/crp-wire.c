/* crp-wire.c: bounds-checked big-endian reader and writer. */
#include "crp/crp-wire.h"

#include <string.h>

void
crp_reader_init(CrpReader *r, const guint8 *data, gsize len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->failed = FALSE;
}

/* Returns a pointer to the next @n bytes and advances, or NULL (sticky). */
static const guint8 *
take(CrpReader *r, gsize n)
{
    if (r->failed || r->len - r->pos < n) {
        r->failed = TRUE;
        return NULL;
    }
    const guint8 *p = r->data + r->pos;
    r->pos += n;
    return p;
}

guint8
crp_reader_u8(CrpReader *r)
{
    const guint8 *p = take(r, 1);
    return p ? p[0] : 0;
}

guint16
crp_reader_u16(CrpReader *r)
{
    const guint8 *p = take(r, 2);
    return p ? (guint16)((p[0] << 8) | p[1]) : 0;
}

guint32
crp_reader_u32(CrpReader *r)
{
    const guint8 *p = take(r, 4);
    return p ? ((guint32)p[0] << 24) | ((guint32)p[1] << 16) |
               ((guint32)p[2] << 8) | p[3] : 0;
}

guint64
crp_reader_u64(CrpReader *r)
{
    guint64 hi = crp_reader_u32(r);
    guint64 lo = crp_reader_u32(r);
    return r->failed ? 0 : (hi << 32) | lo;
}

gint16
crp_reader_i16(CrpReader *r)
{
    return (gint16)crp_reader_u16(r);
}

void
crp_reader_copy(CrpReader *r, void *out, gsize len)
{
    const guint8 *p = take(r, len);
    if (p) {
        memcpy(out, p, len);
    } else if (len) {
        memset(out, 0, len);
    }
}

CrpView
crp_reader_view(CrpReader *r, gsize len)
{
    const guint8 *p = take(r, len);
    return (CrpView){ .data = p, .len = p ? len : 0 };
}

CrpView
crp_reader_rest(CrpReader *r)
{
    return crp_reader_view(r, r->failed ? 0 : r->len - r->pos);
}

CrpStr
crp_reader_str(CrpReader *r, guint16 max)
{
    guint16 len = crp_reader_u16(r);
    if (len > max) {
        r->failed = TRUE;
        return (CrpStr){ "", 0 };
    }
    const guint8 *p = take(r, len);
    if (!p || !g_utf8_validate((const char *)p, len, NULL) ||
        memchr(p, '\0', len)) {
        r->failed = TRUE;
        return (CrpStr){ "", 0 };
    }
    return (CrpStr){ (const char *)p, len };
}

void
crp_reader_fail(CrpReader *r)
{
    r->failed = TRUE;
}

gsize
crp_reader_remaining(const CrpReader *r)
{
    return r->failed ? 0 : r->len - r->pos;
}

gboolean
crp_reader_ok(const CrpReader *r)
{
    return !r->failed;
}

gboolean
crp_reader_done(const CrpReader *r)
{
    return !r->failed && r->pos == r->len;
}

void
crp_put_u8(GByteArray *out, guint8 v)
{
    g_byte_array_append(out, &v, 1);
}

void
crp_put_u16(GByteArray *out, guint16 v)
{
    guint8 b[2] = { v >> 8, v };
    g_byte_array_append(out, b, 2);
}

void
crp_put_u32(GByteArray *out, guint32 v)
{
    guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
    g_byte_array_append(out, b, 4);
}

void
crp_put_u64(GByteArray *out, guint64 v)
{
    crp_put_u32(out, v >> 32);
    crp_put_u32(out, (guint32)v);
}

void
crp_put_i16(GByteArray *out, gint16 v)
{
    crp_put_u16(out, (guint16)v);
}

void
crp_put_bytes(GByteArray *out, const void *data, gsize len)
{
    if (len) {
        g_byte_array_append(out, data, len);
    }
}

void
crp_put_str_len(GByteArray *out, const char *s, gsize len)
{
    g_return_if_fail(len <= CRP_MAX_STRING);
    crp_put_u16(out, len);
    crp_put_bytes(out, s, len);
}

void
crp_put_str(GByteArray *out, const char *s)
{
    crp_put_str_len(out, s ? s : "", s ? strlen(s) : 0);
}

void
crp_put_crpstr(GByteArray *out, CrpStr s)
{
    crp_put_str_len(out, s.ptr, s.len);
}

void
crp_patch_u32(GByteArray *out, gsize offset, guint32 v)
{
    g_return_if_fail(offset + 4 <= out->len);
    out->data[offset] = v >> 24;
    out->data[offset + 1] = v >> 16;
    out->data[offset + 2] = v >> 8;
    out->data[offset + 3] = v;
}

gboolean
crp_str_equal(CrpStr s, const char *cstr)
{
    return strlen(cstr) == s.len && memcmp(s.ptr, cstr, s.len) == 0;
}

char *
crp_str_dup(CrpStr s)
{
    return g_strndup(s.ptr, s.len);
}
