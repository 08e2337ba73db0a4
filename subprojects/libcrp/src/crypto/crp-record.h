/*
 * crp-record.h (private): the encrypted record layer.
 *
 * Each direction is one libsodium crypto_secretstream_xchacha20poly1305
 * stream. It opens with a 24-byte frame holding the stream header; every
 * later frame is one record: u32 length | ciphertext (plaintext + 17).
 * The stream's internal counter makes replayed, reordered or dropped
 * records fail authentication; the FINAL tag marks a clean end, so a
 * truncated stream is told apart from a closed one.
 */
#pragma once

#include <glib.h>
#include <sodium.h>

#define CRP_RECORD_OVERHEAD crypto_secretstream_xchacha20poly1305_ABYTES
#define CRP_STREAM_HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES

typedef struct {
    crypto_secretstream_xchacha20poly1305_state state;
    guint8 key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    gboolean started;       /* header sent / received */
    gboolean finished;      /* FINAL record sent / received */
} CrpRecordStream;

/** Keys a stream; nothing is sent or expected yet. */
void crp_record_init(CrpRecordStream *rs, const guint8 *key);
void crp_record_clear(CrpRecordStream *rs);

/** Sending side: appends the header frame (u32 24 | header). */
void crp_record_start_push(CrpRecordStream *rs, GByteArray *out);
/** Receiving side: takes the 24-byte header frame's payload. */
gboolean crp_record_start_pull(CrpRecordStream *rs, const guint8 *header,
                               gsize len, GError **error);

/** Appends one record frame holding @len bytes of @plain. */
void crp_record_push(CrpRecordStream *rs, const guint8 *plain, gsize len,
                     gboolean final, GByteArray *out);

/** Decrypts one record frame payload into @plain (resized to fit).
 *  Sets *@final when it was the stream's last. */
gboolean crp_record_pull(CrpRecordStream *rs, const guint8 *cipher, gsize len,
                         GByteArray *plain, gboolean *final, GError **error);
