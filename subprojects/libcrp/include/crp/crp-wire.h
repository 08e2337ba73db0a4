/*
 * crp-wire.h: bounds-checked big-endian reader and writer.
 *
 * Every multi-byte integer on the CRP wire is big-endian. The reader is a
 * cursor over borrowed bytes with a sticky error: once a read runs past the
 * end or a value breaks a cap, every later read returns 0 and
 * crp_reader_ok() stays false, so parsers can read a whole message linearly
 * and check once at the end.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** Longest string on the wire, in bytes (u16 length prefix, UTF-8). */
#define CRP_MAX_STRING 4096

/** A borrowed byte range; valid as long as the buffer it points into. */
typedef struct {
    const guint8 *data;
    gsize len;
} CrpView;

/** A borrowed, validated UTF-8 string, not NUL-terminated. */
typedef struct {
    const char *ptr;
    guint16 len;
} CrpStr;

typedef struct {
    const guint8 *data;
    gsize len;
    gsize pos;
    gboolean failed;
} CrpReader;

/** Starts reading @len bytes at @data. */
void crp_reader_init(CrpReader *r, const guint8 *data, gsize len);

guint8 crp_reader_u8(CrpReader *r);
guint16 crp_reader_u16(CrpReader *r);
guint32 crp_reader_u32(CrpReader *r);
guint64 crp_reader_u64(CrpReader *r);
gint16 crp_reader_i16(CrpReader *r);

/** Copies exactly @len bytes into @out (zero-filled on failure). */
void crp_reader_copy(CrpReader *r, void *out, gsize len);

/** Borrows the next @len bytes. */
CrpView crp_reader_view(CrpReader *r, gsize len);

/** Borrows everything that is left. */
CrpView crp_reader_rest(CrpReader *r);

/** Reads a u16-prefixed string of at most @max bytes; fails on bad UTF-8. */
CrpStr crp_reader_str(CrpReader *r, guint16 max);

/** Marks the reader failed (for caller-side validation). */
void crp_reader_fail(CrpReader *r);

/** Bytes left to read. */
gsize crp_reader_remaining(const CrpReader *r);

/** TRUE while no read has failed. */
gboolean crp_reader_ok(const CrpReader *r);

/** TRUE if no read failed and every byte was consumed. */
gboolean crp_reader_done(const CrpReader *r);

/* The writer appends to a GByteArray the caller owns. */
void crp_put_u8(GByteArray *out, guint8 v);
void crp_put_u16(GByteArray *out, guint16 v);
void crp_put_u32(GByteArray *out, guint32 v);
void crp_put_u64(GByteArray *out, guint64 v);
void crp_put_i16(GByteArray *out, gint16 v);
void crp_put_bytes(GByteArray *out, const void *data, gsize len);
/** Writes a u16 length and the bytes; @len must be <= CRP_MAX_STRING. */
void crp_put_str_len(GByteArray *out, const char *s, gsize len);
/** As crp_put_str_len() for a NUL-terminated (or NULL, meaning "") string. */
void crp_put_str(GByteArray *out, const char *s);
void crp_put_crpstr(GByteArray *out, CrpStr s);
/** Overwrites a u32 at @offset (for lengths known only after writing). */
void crp_patch_u32(GByteArray *out, gsize offset, guint32 v);

/** TRUE if @s equals the NUL-terminated @cstr. */
gboolean crp_str_equal(CrpStr s, const char *cstr);
/** Newly allocated NUL-terminated copy. */
char *crp_str_dup(CrpStr s);

G_END_DECLS
