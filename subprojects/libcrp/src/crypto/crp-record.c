/* crp-record.c: secretstream records (see crp-record.h). */
#include "crypto/crp-record.h"
#include "crp/crp-error.h"
#include "crp/crp-wire.h"

#include <string.h>

void
crp_record_init(CrpRecordStream *rs, const guint8 *key)
{
    memset(rs, 0, sizeof(*rs));
    memcpy(rs->key, key, sizeof(rs->key));
}

void
crp_record_clear(CrpRecordStream *rs)
{
    sodium_memzero(rs, sizeof(*rs));
}

void
crp_record_start_push(CrpRecordStream *rs, GByteArray *out)
{
    guint8 header[CRP_STREAM_HEADER_BYTES];

    g_assert(!rs->started);
    crypto_secretstream_xchacha20poly1305_init_push(&rs->state, header, rs->key);
    sodium_memzero(rs->key, sizeof(rs->key));
    crp_put_u32(out, sizeof(header));
    crp_put_bytes(out, header, sizeof(header));
    rs->started = TRUE;
}

gboolean
crp_record_start_pull(CrpRecordStream *rs, const guint8 *header, gsize len,
                      GError **error)
{
    g_assert(!rs->started);
    if (len != CRP_STREAM_HEADER_BYTES ||
        crypto_secretstream_xchacha20poly1305_init_pull(&rs->state, header,
                                                        rs->key) != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "bad stream header frame (%" G_GSIZE_FORMAT " bytes)", len);
        return FALSE;
    }
    sodium_memzero(rs->key, sizeof(rs->key));
    rs->started = TRUE;
    return TRUE;
}

void
crp_record_push(CrpRecordStream *rs, const guint8 *plain, gsize len,
                gboolean final, GByteArray *out)
{
    gsize start = out->len;
    gsize clen = len + CRP_RECORD_OVERHEAD;

    g_assert(rs->started && !rs->finished);
    crp_put_u32(out, clen);
    g_byte_array_set_size(out, start + 4 + clen);
    crypto_secretstream_xchacha20poly1305_push(
        &rs->state, out->data + start + 4, NULL, plain, len, NULL, 0,
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL :
                crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    rs->finished = final;
}

gboolean
crp_record_pull(CrpRecordStream *rs, const guint8 *cipher, gsize len,
                GByteArray *plain, gboolean *final, GError **error)
{
    unsigned char tag;

    g_assert(rs->started);
    if (rs->finished) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_CLOSED,
                    "record after the end of the stream");
        return FALSE;
    }
    if (len < CRP_RECORD_OVERHEAD) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "record of %" G_GSIZE_FORMAT " bytes is shorter than its MAC",
                    len);
        return FALSE;
    }
    g_byte_array_set_size(plain, len - CRP_RECORD_OVERHEAD);
    if (crypto_secretstream_xchacha20poly1305_pull(&rs->state, plain->data, NULL,
                                                   &tag, cipher, len,
                                                   NULL, 0) != 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_AUTH,
                    "record failed authentication (tampered, replayed or "
                    "out of order)");
        return FALSE;
    }
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
        tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                    "record with unexpected tag %u", tag);
        return FALSE;
    }
    *final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    rs->finished = *final;
    return TRUE;
}
