/*
 * make-seeds.c: writes the seed corpora of the fuzz targets.
 *
 *     build/tests/fuzz/fuzz-make-seeds tests/fuzz/corpus
 *
 * Seeds are the golden message vectors of tests/libcrp/wire/test-crp-message.c
 * (each in the direction that may send it, alone, in sequences, across
 * records), its invalid vectors, a decodable frame for the client's
 * CrpDecoder (FILL, RAW, COPY, ZLIB palette and truecolor, JPEG), and the
 * golden handshakes of tests/libcrp/crypto/test-crp-handshake.c, recorded
 * live under the same deterministic RNG the targets use, so recorded
 * records authenticate in the targets. Plus truncated and bit-flipped
 * variants. Files are named seed-*; found inputs merged by libFuzzer (named
 * by hash) are left alone. See fuzz-common.h for the input layout.
 */
#include "fuzz-common.h"
#include "crp-test-forge.h"
#include "crp-broker-key.h"
#include "codec/crp-codec-private.h"
#include <crp/crp-keyfile.h>
#include <crp/crp-opus.h>

#include <glib/gstdio.h>

#include <math.h>
#include <turbojpeg.h>
#include <zlib.h>
#include <zstd.h>

static const char *corpus_dir;
static guint seeds_written;

/* ---- golden vectors (tests/libcrp/wire/test-crp-message.c) --------------- */

typedef struct {
    const char *name;
    const char *hex;
} Vector;

static const Vector goldens[] = {
    { "SURFACE", "01 00 00000004  0780 0438" },
    { "RECT-fill", "02 00 0000000d  0040 0080 0040 0040 00 00336699" },
    { "RECT-raw", "02 00 00000011  0000 0000 0002 0001 01 0000ff00 00ff0000" },
    { "RECT-zlib", "02 02 0000000c  0000 0000 0001 0001 02 aabbcc" },
    { "RECT-jpeg", "02 01 0000000d  0010 0020 0008 0008 03 ffd8ffd9" },
    { "RECT-copy", "02 00 0000000d  0000 0010 0100 0040 04 0000 0020" },
    { "FRAME_END", "03 00 00000014  00000007 0000002a 00000000000f4240 000003e8" },
    { "CURSOR_SHAPE", "04 00 0000000c  0001 0001 0000 0000 ff102030" },
    { "CURSOR_POS", "05 00 00000005  0064 00c8 01" },
    { "AUDIO_FORMAT", "06 00 00000006  01 02 0000bb80" },
    { "AUDIO_OUT", "07 00 0000000b  0000000000004e20 fcfffe" },
    { "PING", "08 00 0000000c  00000001 0000000000000064" },
    { "KEY", "21 00 00000007  00000005 001e 01" },
    { "POINTER", "22 00 0000000c  00000006 0100 0080 00000001" },
    { "WHEEL", "23 00 00000008  00000007 0000 ffff" },
    { "AUDIO_IN", "24 00 0000000b  0000000000000000 f8fffe" },
    { "FRAME_ACK", "25 00 00000008  00000007 000001f4" },
    { "RESIZE_REQUEST", "26 00 00000004  0500 0320" },
    { "CLOSE_APP", "27 00 00000000" },
    { "PONG", "28 00 0000000c  00000001 0000000000000064" },
    { "CLIPBOARD_GRAB", "30 00 00000005  00000001 03" },
    { "CLIPBOARD_REQUEST", "31 00 00000005  00000001 01" },
    { "CLIPBOARD_DATA", "32 00 00000010  00000001 01 00 00000002 00000000 6869" },
    { "CLIPBOARD_DATA-refused", "32 00 0000000e  00000002 02 02 00000000 00000000" },
    { "BYE", "3f 00 00000007  000f 0003 627965" },
    { "CATALOG_LIST", "41 00 00000004  00000001" },
    { "SUBSCRIBE", "42 00 0000000b  00000002 0005 7368656c6c" },
    { "UNSUBSCRIBE", "43 00 0000000b  00000003 0005 7368656c6c" },
    { "MY_APPS", "44 00 00000004  00000004" },
    { "LAUNCH", "45 00 0000000b  00000005 0005 7368656c6c" },
    { "SESSION_LIST", "46 00 00000004  00000006" },
    { "SESSION_CLOSE", "47 00 00000008  00000007 0002 7331" },
    { "ATTACH", "48 00 00000008  00000008 0002 7331" },
    { "SESSION_TICKET", "49 00 00000008  00000009 0002 7331" },
    { "FILE_LIST", "4a 00 0000000a  0000000a 0004 646f6373" },
    { "FILE_LIST-top", "4a 00 00000006  0000000b 0000" },
    { "UPLOAD_BEGIN", "4b 00 00000013  0000000c 0005 612e747874 0000000000000005" },
    { "UPLOAD_DATA", "4c 00 00000020  0000000d 0005 612e747874 0000000000000005"
      " 0000000000000000 68656c6c6f" },
    { "DOWNLOAD", "4d 00 00000017  0000000e 0005 612e747874 0000000000000000 00100000" },
    { "FILE_DELETE", "4e 00 0000000b  0000000f 0005 612e747874" },
    { "UPLOAD_BEGIN-traversal", "4b 00 00000018  0000000c 000a 2e2e2f6574632f706173 0000000000000005" },
    { "OK", "61 00 00000004  00000002" },
    { "APP_LIST", "62 00 00000024  00000001 0001"
      " 0005 7368656c6c 0005 5368656c6c 0007 41207368656c6c 0001 00000100 03" },
    { "LAUNCHED", "63 00 00000013  00000005 0002 7331 0005 74306b336e 0000003c" },
    { "SESSIONS", "64 00 0000001a  00000006 0001 0002 7331 0005 7368656c6c 000000006553f100 02" },
    { "ERROR", "65 00 00000013  00000005 0009 000b 6e6f206361706163697479" },
    { "FILES", "66 00 00000045  0000000a 0000000000000005 0000000000100000 0002"
      " 0005 612e747874 01 0000000000000005 17979cfe362a0000"
      " 0004 646f6373 02 0000000000000000 17979cfe362a0000" },
    { "FILES-truncated", "66 01 00000016  0000000b 0000000000000000 0000000000000000 0000" },
    { "UPLOAD_READY", "67 00 0000000c  0000000c 0000000000000003" },
    { "FILE_DATA", "68 00 00000019  0000000e 0000000000000005 17979cfe362a0000 68656c6c6f" },
};

static const Vector invalid[] = {
    { "unknown-type", "7e 00 00000000" },
    { "body-over-cap", "27 00 00400000" },
    { "empty-SURFACE", "01 00 00000004 0000 0438" },
    { "SURFACE-too-wide", "01 00 00000004 2329 0010" },
    { "SURFACE-too-many-pixels", "01 00 00000004 2000 2000" },
    { "RECT-zero-width", "02 00 0000000d 0000 0000 0000 0001 00 00000000" },
    { "RECT-past-largest-surface", "02 00 0000000d 1ff0 0000 0020 0001 00 00000000" },
    { "RECT-fill-high-byte", "02 00 0000000d 0000 0000 0001 0001 00 ff000000" },
    { "RECT-raw-too-short", "02 00 0000000d 0000 0000 0002 0001 01 0000ff00" },
    { "RECT-unknown-encoding", "02 00 0000000d 0000 0000 0001 0001 09 00000000" },
    { "RECT-zlib-without-data", "02 00 00000009 0000 0000 0001 0001 02" },
    { "RECT-copy-source-past-edge", "02 00 0000000d 0000 0000 0100 0100 04 1f80 0000" },
    { "CURSOR_SHAPE-too-large", "04 00 00000008 0101 0001 0000 0000" },
    { "CURSOR_SHAPE-hotspot-outside", "04 00 0000000c 0001 0001 0001 0000 ff102030" },
    { "CURSOR_POS-visible-2", "05 00 00000005 0064 00c8 02" },
    { "AUDIO_FORMAT-44k1", "06 00 00000006 01 02 0000ac44" },
    { "AUDIO_FORMAT-unknown-codec", "06 00 00000006 02 02 0000bb80" },
    { "AUDIO_OUT-without-packet", "07 00 00000008 0000000000004e20" },
    { "KEY-code-past-KEY_MAX", "21 00 00000007 00000005 0300 01" },
    { "KEY-down-2", "21 00 00000007 00000005 001e 02" },
    { "RESIZE_REQUEST-to-zero", "26 00 00000004 0000 0320" },
    { "CLIPBOARD_GRAB-unknown-format", "30 00 00000005 00000001 04" },
    { "CLIPBOARD_REQUEST-two-formats", "31 00 00000005 00000001 03" },
    { "CLIPBOARD_DATA-total-over-cap", "32 00 00000010 00000001 01 00 01000001 00000000 6869" },
    { "CLIPBOARD_DATA-chunk-past-total", "32 00 00000010 00000001 01 00 00000002 00000001 6869" },
    { "CLIPBOARD_DATA-refusal-with-data", "32 00 00000010 00000001 01 03 00000000 00000000 6869" },
    { "BYE-invalid-utf8", "3f 00 00000006 000f 0002 c328" },
    { "BYE-string-longer-than-body", "3f 00 00000006 000f 00ff 6162" },
    { "SUBSCRIBE-without-name", "42 00 00000006 00000002 0000" },
    { "UPLOAD_DATA-past-size", "4c 00 00000020 0000000d 0005 612e747874 0000000000000005"
      " 0000000000000001 68656c6c6f" },
    { "DOWNLOAD-over-chunk-cap", "4d 00 00000017 0000000e 0005 612e747874 0000000000000000 00100001" },
    { "FILES-unknown-kind", "66 00 0000002e 0000000a 0000000000000005 0000000000100000 0001"
      " 0005 612e747874 03 0000000000000005 17979cfe362a0000" },
    { "FILE_DATA-longer-than-file", "68 00 00000019 0000000e 0000000000000004 17979cfe362a0000 68656c6c6f" },
    { "APP_LIST-count-over-cap", "62 00 00000006 00000001 0401" },
    { "SESSIONS-fewer-entries", "64 00 0000001a 00000006 0002 0002 7331 0005"
      " 7368656c6c 000000006553f100 02" },
};

/* ---- writing seeds ----------------------------------------------------- */

static GByteArray *
bytes_from_hex(const char *hex)
{
    GBytes *b = crp_test_hex(hex);
    return g_bytes_unref_to_array(b);
}

static GByteArray *
seed_new(guint8 flags)
{
    GByteArray *seed = g_byte_array_new();
    g_byte_array_append(seed, &flags, 1);
    return seed;
}

static void
seed_chunk(GByteArray *seed, const guint8 *data, gsize len)
{
    g_assert_cmpuint(len, <=, G_MAXUINT16);
    crp_put_u16(seed, len);
    crp_put_bytes(seed, data, len);
}

static void
seed_chunk_array(GByteArray *seed, const GByteArray *data)
{
    seed_chunk(seed, data->data, data->len);
}

/* @data cut into chunks of @piece bytes. */
static void
seed_chunks_split(GByteArray *seed, const GByteArray *data, gsize piece)
{
    for (gsize pos = 0; pos < data->len; pos += piece) {
        seed_chunk(seed, data->data + pos, MIN(piece, data->len - pos));
    }
}

static void
seed_write(const char *target, const char *name, GByteArray *seed)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_build_filename(corpus_dir, target, NULL);
    g_autofree char *file = g_strdup_printf("seed-%s", name);
    g_autofree char *path = g_build_filename(dir, file, NULL);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    if (!g_file_set_contents(path, (const char *)seed->data, seed->len, &error)) {
        g_error("%s", error->message);
    }
    g_byte_array_unref(seed);
    seeds_written++;
}

/* Writes a one-chunk seed of @payload, and copies cut in half and with one
 * bit flipped at @flip_at (from the end if negative). */
static void
seed_write_variants(const char *target, const char *name, guint8 flags,
                    const GByteArray *payload, gssize flip_at)
{
    g_autofree char *cut_name = g_strdup_printf("%s-cut", name);
    g_autofree char *flip_name = g_strdup_printf("%s-flip", name);
    GByteArray *seed = seed_new(flags);
    seed_chunk_array(seed, payload);
    seed_write(target, name, seed);

    seed = seed_new(flags);
    seed_chunk(seed, payload->data, payload->len / 2);
    seed_write(target, cut_name, seed);

    g_autoptr(GByteArray) flipped = g_byte_array_new();
    g_byte_array_append(flipped, payload->data, payload->len);
    gsize at = flip_at >= 0 ? (gsize)flip_at : flipped->len - (gsize)-flip_at;
    flipped->data[MIN(at, flipped->len - 1)] ^= 0x10;
    seed = seed_new(flags);
    seed_chunk_array(seed, flipped);
    seed_write(target, flip_name, seed);
}

/* ---- channels ----------------------------------------------------------- */

static GByteArray *
take(CrpChannel *ch)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(ch, &len);
    GByteArray *out = g_byte_array_new();
    g_byte_array_append(out, data, len);
    crp_channel_consume_output(ch, len);
    return out;
}

static void
send_encoded(CrpChannel *ch, const GByteArray *messages)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_channel_send_encoded(ch, messages->data, messages->len, &error));
    g_assert_no_error(error);
}

/* ---- the parser targets ------------------------------------------------- */

static const char *
kind_name(CrpChannelKind kind)
{
    return kind == CRP_CHANNEL_DISPLAY ? "display" : "broker";
}

static guint8
kind_flag(CrpChannelKind kind)
{
    return kind == CRP_CHANNEL_BROKER ? FUZZ_FLAG_BROKER : 0;
}

/*
 * Seeds of one parser target for @kind from @messages (each a whole
 * encoded message @sender may send): alone and with variants, all in one
 * record and one record each, on every path. @tag tells seeds of
 * different message lists apart.
 */
static void
parser_seeds(const char *target, CrpChannelKind kind, CrpRole sender,
             const char *tag, GPtrArray *messages, const char *const *names)
{
    const char *k = kind_name(kind);
    guint8 kf = kind_flag(kind);
    g_autoptr(GByteArray) all = g_byte_array_new();
    g_autofree char *name = NULL;

    for (guint i = 0; i < messages->len; i++) {
        GByteArray *m = messages->pdata[i];
        g_byte_array_append(all, m->data, m->len);
        if (names) {
            g_autofree char *one = g_strdup_printf("plain-%s-%s", k, names[i]);
            g_autofree char *flip = g_strdup_printf("plain-%s-%s-flip", k, names[i]);
            GByteArray *seed = seed_new(kf | FUZZ_PATH_PLAIN);
            seed_chunk_array(seed, m);
            seed_write(target, one, seed);
            /* A bit flipped in the body, or in the type if there is none. */
            seed = seed_new(kf | FUZZ_PATH_PLAIN);
            seed_chunk_array(seed, m);
            seed->data[seed->len - (m->len > CRP_MESSAGE_HEADER_SIZE ? 1 : m->len)] ^= 0x10;
            seed_write(target, flip, seed);
        }
    }

    GByteArray *seed = seed_new(kf | FUZZ_PATH_PLAIN);
    seed_chunk_array(seed, all);
    name = g_strdup_printf("plain-%s-%s-one-record", k, tag);
    seed_write(target, name, seed);

    seed = seed_new(kf | FUZZ_PATH_PLAIN);
    for (guint i = 0; i < messages->len; i++) {
        seed_chunk_array(seed, messages->pdata[i]);
    }
    g_free(name);
    name = g_strdup_printf("plain-%s-%s-records", k, tag);
    seed_write(target, name, seed);

    seed = seed_new(kf | FUZZ_PATH_SEALED);
    seed_chunk_array(seed, all);
    g_free(name);
    name = g_strdup_printf("sealed-%s-%s-one-record", k, tag);
    seed_write(target, name, seed);

    seed = seed_new(kf | FUZZ_PATH_SEALED_BYE);
    for (guint i = 0; i < messages->len; i++) {
        seed_chunk_array(seed, messages->pdata[i]);
    }
    g_free(name);
    name = g_strdup_printf("sealed-bye-%s-%s-records", k, tag);
    seed_write(target, name, seed);

    /* Wire path: the real sender's stream header and records, recorded
     * from the golden handshake's keys: one record of all, one record per
     * message, then its final record. */
    CrpChannel *client, *server;
    fuzz_connect(kind, &client, &server);
    CrpChannel *tx = sender == CRP_ROLE_CLIENT ? client : server;
    send_encoded(tx, all);
    crp_channel_flush(tx);
    for (guint i = 0; i < messages->len; i++) {
        send_encoded(tx, messages->pdata[i]);
        crp_channel_flush(tx);
    }
    crp_channel_close(tx, CRP_STATUS_OK, "done");
    g_autoptr(GByteArray) wire = take(tx);
    crp_channel_free(client);
    crp_channel_free(server);

    g_free(name);
    name = g_strdup_printf("wire-%s-%s", k, tag);
    /* The flip lands in the first record's ciphertext. */
    seed_write_variants(target, name, kf | FUZZ_PATH_WIRE, wire,
                        4 + crypto_secretstream_xchacha20poly1305_HEADERBYTES + 4 + 3);
    seed = seed_new(kf | FUZZ_PATH_WIRE);
    seed_chunks_split(seed, wire, 13);
    g_free(name);
    name = g_strdup_printf("wire-%s-%s-split", k, tag);
    seed_write(target, name, seed);
}

/* The golden vectors @sender may send on @kind. */
static void
golden_parser_seeds(const char *target, CrpChannelKind kind, CrpRole sender)
{
    g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_byte_array_unref);
    const char *names[G_N_ELEMENTS(goldens)];

    for (gsize i = 0; i < G_N_ELEMENTS(goldens); i++) {
        GByteArray *m = bytes_from_hex(goldens[i].hex);
        if (crp_message_type_allowed(kind, sender, m->data[0])) {
            names[messages->len] = goldens[i].name;
            g_ptr_array_add(messages, m);
        } else {
            g_byte_array_unref(m);
        }
    }
    parser_seeds(target, kind, sender, "golden", messages, names);
}

/* Invalid vectors, and valid messages going the wrong way. */
static void
bad_parser_seeds(const char *target, CrpRole sender)
{
    for (gsize i = 0; i < G_N_ELEMENTS(invalid); i++) {
        g_autoptr(GByteArray) m = bytes_from_hex(invalid[i].hex);
        guint8 kf = crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT, m->data[0]) ||
                    crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_SERVER, m->data[0])
                    ? FUZZ_FLAG_BROKER : 0;
        g_autofree char *name = g_strdup_printf("plain-invalid-%s", invalid[i].name);
        GByteArray *seed = seed_new(kf | FUZZ_PATH_PLAIN);
        seed_chunk_array(seed, m);
        seed_write(target, name, seed);
    }

    /* One message of each kind from the other side. */
    static const char *const wrong[] = { "KEY", "SURFACE", "LAUNCH", "APP_LIST" };
    for (gsize w = 0; w < G_N_ELEMENTS(wrong); w++) {
        for (gsize i = 0; i < G_N_ELEMENTS(goldens); i++) {
            g_autoptr(GByteArray) m = bytes_from_hex(goldens[i].hex);
            gboolean broker = w >= 2;
            CrpChannelKind kind = broker ? CRP_CHANNEL_BROKER : CRP_CHANNEL_DISPLAY;
            if (strcmp(goldens[i].name, wrong[w]) != 0 ||
                crp_message_type_allowed(kind, sender, m->data[0])) {
                continue;
            }
            g_autofree char *name = g_strdup_printf("plain-%s-wrong-way-%s",
                                                    kind_name(kind), wrong[w]);
            GByteArray *seed = seed_new(kind_flag(kind) | FUZZ_PATH_PLAIN);
            seed_chunk_array(seed, m);
            seed_write(target, name, seed);
        }
    }

    /* Framing after the handshake: a length over the cap, a record too
     * short for its MAC, a stream header of the wrong size. */
    static const struct {
        const char *name;
        const char *hex;
    } frames[] = {
        { "wire-display-oversized-header", "7fffffff" },
        { "wire-display-short-header", "00000003 010203" },
        { "wire-display-garbage-header", "00000018 000102030405060708090a0b0c0d0e0f1011121314151617"
          " 00000003 010203" },
        { "wire-display-oversized-record", "00000018 000102030405060708090a0b0c0d0e0f1011121314151617"
          " 00400012" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(frames); i++) {
        g_autoptr(GByteArray) bytes = bytes_from_hex(frames[i].hex);
        GByteArray *seed = seed_new(FUZZ_PATH_WIRE);
        seed_chunk_array(seed, bytes);
        seed_write(target, frames[i].name, seed);
    }
}

static GByteArray *
encode(const CrpMessage *msg)
{
    GByteArray *out = g_byte_array_new();
    crp_message_encode(msg, out);
    return out;
}

/* Deflates @len bytes as the next rect of @zs (ending at a sync point). */
static GByteArray *
deflate_rect(z_stream *zs, const guint8 *data, gsize len)
{
    GByteArray *out = g_byte_array_sized_new(len + 64);
    g_byte_array_set_size(out, deflateBound(zs, len) + 64);
    zs->next_in = (Bytef *)data;
    zs->avail_in = len;
    zs->next_out = out->data;
    zs->avail_out = out->len;
    g_assert_cmpint(deflate(zs, Z_SYNC_FLUSH), ==, Z_OK);
    g_assert_cmpuint(zs->avail_in, ==, 0);
    g_byte_array_set_size(out, out->len - zs->avail_out);
    return out;
}

/* @len bytes as the next flushed piece of @cctx's zstd stream. */
static GByteArray *
zstd_rect(ZSTD_CCtx *cctx, const guint8 *data, gsize len)
{
    GByteArray *out = g_byte_array_new();
    g_byte_array_set_size(out, ZSTD_compressBound(len) + 64);
    ZSTD_inBuffer in = { data, len, 0 };
    ZSTD_outBuffer o = { out->data, out->len, 0 };
    size_t left;
    do {
        left = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_flush);
        g_assert_false(ZSTD_isError(left));
    } while (left > 0);
    g_byte_array_set_size(out, o.pos);
    return out;
}

/* A 32x32 picture to decode: a frame of every encoding, to steer the
 * client target into the decoder's success paths. */
static GPtrArray *
decoder_messages(void)
{
    GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    static const guint8 raw[2 * 2 * 4] = { 0xff, 0, 0, 0, 0, 0xff, 0, 0,
                                           0, 0, 0xff, 0, 0x80, 0x80, 0x80, 0 };

    CrpMessage m = { .type = CRP_MSG_SURFACE, .surface = { 32, 32 } };
    g_ptr_array_add(msgs, encode(&m));
    m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 0, .y = 0, .width = 32,
        .height = 32, .encoding = CRP_ENCODING_FILL, .fill = 0x204060 } };
    g_ptr_array_add(msgs, encode(&m));
    m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 30, .y = 30, .width = 2,
        .height = 2, .encoding = CRP_ENCODING_RAW, .data = { raw, sizeof(raw) } } };
    g_ptr_array_add(msgs, encode(&m));

    /* ZLIB: a palette rect opening the stream, a truecolor one after it. */
    z_stream zs = { 0 };
    g_assert_cmpint(deflateInit(&zs, 6), ==, Z_OK);
    /* Two colours: one bit per index, a byte per row of 4 (docs/protocol.md). */
    guint8 palette[1 + 2 * 3 + 4];
    palette[0] = 2;
    memcpy(palette + 1, "\x00\x00\xff\xff\xff\xff", 6);
    for (int y = 0; y < 4; y++) {
        guint8 row = 0;
        for (int x = 0; x < 4; x++) {
            row |= ((y * 4 + x + y) & 1) << (7 - x);
        }
        palette[7 + y] = row;
    }
    g_autoptr(GByteArray) z1 = deflate_rect(&zs, palette, sizeof(palette));
    m = (CrpMessage){ .type = CRP_MSG_RECT, .flags = CRP_RECT_FLAG_STREAM_RESET,
        .rect = { .x = 4, .y = 4, .width = 4, .height = 4,
                  .encoding = CRP_ENCODING_ZLIB, .data = { z1->data, z1->len } } };
    g_ptr_array_add(msgs, encode(&m));
    guint8 truecolor[1 + 3 * 3 * 3];
    truecolor[0] = 0;
    for (gsize i = 1; i < sizeof(truecolor); i++) {
        truecolor[i] = i * 9;
    }
    g_autoptr(GByteArray) z2 = deflate_rect(&zs, truecolor, sizeof(truecolor));
    m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 10, .y = 4, .width = 3,
        .height = 3, .encoding = CRP_ENCODING_ZLIB, .data = { z2->data, z2->len } } };
    g_ptr_array_add(msgs, encode(&m));
    deflateEnd(&zs);

    /* ZSTD: the same palette payload on the first stream, the truecolor
     * one on the picture stream, each opening its stream. */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    g_autoptr(GByteArray) zs1 = zstd_rect(cctx, palette, sizeof(palette));
    m = (CrpMessage){ .type = CRP_MSG_RECT, .flags = CRP_RECT_FLAG_STREAM_RESET,
        .rect = { .x = 20, .y = 4, .width = 4, .height = 4,
                  .encoding = CRP_ENCODING_ZSTD, .data = { zs1->data, zs1->len } } };
    g_ptr_array_add(msgs, encode(&m));
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    g_autoptr(GByteArray) zs2 = zstd_rect(cctx, truecolor, sizeof(truecolor));
    m = (CrpMessage){ .type = CRP_MSG_RECT,
        .flags = CRP_RECT_FLAG_STREAM_RESET | CRP_RECT_FLAG_PICTURE_STREAM,
        .rect = { .x = 26, .y = 4, .width = 3, .height = 3,
                  .encoding = CRP_ENCODING_ZSTD, .data = { zs2->data, zs2->len } } };
    g_ptr_array_add(msgs, encode(&m));
    ZSTD_freeCCtx(cctx);

    /* H264: a 16x16 stream on stream 2, its IDR picture (SPS, PPS and
     * the slice, opening the stream) and a P picture after it. */
    guint32 frame[16 * 16];
    CrpH264Encoder h264;
    g_assert_true(crp_h264_encoder_init(&h264, 16, 16, 28, 28));
    for (int f = 0; f < 2; f++) {
        for (int i = 0; i < 16 * 16; i++) {
            frame[i] = (guint32)((i * 3 + f * 5) & 0xff) << 16 | (i & 0xff) << 8 | (255 - i);
        }
        CrpView au = crp_h264_encode(&h264, (CrpPixels){ frame, 16, 16, 16 }, f * 33333);
        g_assert_cmpuint(au.len, >, 0);
        m = (CrpMessage){ .type = CRP_MSG_RECT,
            .flags = CRP_RECT_FLAG_LOSSY | (f == 0 ? CRP_RECT_FLAG_STREAM_RESET : 0),
            .rect = { .x = 0, .y = 16, .width = 16, .height = 16,
                      .encoding = CRP_ENCODING_H264, .stream = 2, .data = au } };
        g_ptr_array_add(msgs, encode(&m));
    }
    crp_h264_encoder_finish(&h264);

    /* JPEG: a 16x16 gradient. */
    guint8 pixels[16 * 16 * 4];
    for (int i = 0; i < 16 * 16; i++) {
        pixels[4 * i] = i;
        pixels[4 * i + 1] = 255 - i;
        pixels[4 * i + 2] = (i * 7) & 0xff;
        pixels[4 * i + 3] = 0;
    }
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jpeg_len = 0;
    g_assert_cmpint(tjCompress2(tj, pixels, 16, 16 * 4, 16, TJPF_BGRX, &jpeg,
                                &jpeg_len, TJSAMP_420, 50, 0), ==, 0);
    m = (CrpMessage){ .type = CRP_MSG_RECT, .flags = CRP_RECT_FLAG_LOSSY,
        .rect = { .x = 16, .y = 16, .width = 16, .height = 16,
                  .encoding = CRP_ENCODING_JPEG, .data = { jpeg, jpeg_len } } };
    g_ptr_array_add(msgs, encode(&m));
    tjFree(jpeg);
    tjDestroy(tj);

    m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 0, .y = 16, .width = 16,
        .height = 16, .encoding = CRP_ENCODING_COPY, .src_x = 16, .src_y = 8 } };
    g_ptr_array_add(msgs, encode(&m));
    m = (CrpMessage){ .type = CRP_MSG_FRAME_END, .frame_end = { 1, 2, 3, 4 } };
    g_ptr_array_add(msgs, encode(&m));
    return msgs;
}

static void
decoder_seeds(void)
{
    static const char *const names[] = {
        "frame-SURFACE", "frame-FILL", "frame-RAW", "frame-ZLIB-palette",
        "frame-ZLIB-truecolor", "frame-ZSTD-palette", "frame-ZSTD-picture",
        "frame-H264-idr", "frame-H264-p", "frame-JPEG", "frame-COPY", "frame-FRAME_END",
    };
    g_autoptr(GPtrArray) msgs = decoder_messages();
    g_assert_cmpuint(msgs->len, ==, G_N_ELEMENTS(names));
    parser_seeds("client-parser", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER, "frame",
                 msgs, NULL);

    /* Each rect alone after the SURFACE (the ZLIB truecolor one then lacks
     * its stream's start), and one without any SURFACE. */
    for (guint i = 1; i + 1 < msgs->len; i++) {
        GByteArray *seed = seed_new(FUZZ_PATH_PLAIN);
        seed_chunk_array(seed, msgs->pdata[0]);
        seed_chunk_array(seed, msgs->pdata[i]);
        g_autofree char *name = g_strdup_printf("plain-display-%s", names[i]);
        seed_write("client-parser", name, seed);
    }
    GByteArray *seed = seed_new(FUZZ_PATH_PLAIN);
    seed_chunk_array(seed, msgs->pdata[1]);
    seed_write("client-parser", "plain-display-frame-FILL-no-surface", seed);

    /* A rect past the surface's edge, and a COPY from outside it. */
    CrpMessage m = { .type = CRP_MSG_RECT, .rect = { .x = 30, .y = 0, .width = 8,
        .height = 8, .encoding = CRP_ENCODING_FILL, .fill = 1 } };
    g_autoptr(GByteArray) outside = encode(&m);
    m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 0, .y = 0, .width = 8,
        .height = 8, .encoding = CRP_ENCODING_COPY, .src_x = 28, .src_y = 0 } };
    g_autoptr(GByteArray) copy_outside = encode(&m);
    seed = seed_new(FUZZ_PATH_PLAIN);
    seed_chunk_array(seed, msgs->pdata[0]);
    seed_chunk_array(seed, outside);
    seed_write("client-parser", "plain-display-rect-outside", seed);
    seed = seed_new(FUZZ_PATH_PLAIN);
    seed_chunk_array(seed, msgs->pdata[0]);
    seed_chunk_array(seed, copy_outside);
    seed_write("client-parser", "plain-display-copy-outside", seed);
}

/* Broker replies with several entries. */
static void
broker_list_seeds(void)
{
    CrpAppInfo apps[3] = {
        { crp_str("shell"), crp_str("Shell"), crp_str("A shell"), 1, 256, 3 },
        { crp_str("édit"), crp_str("Éditeur"), crp_str(""), 2, 1024, 0 },
        { crp_str("x"), crp_str(""), crp_str("long long long description"), 0, 0, 2 },
    };
    CrpSessionInfo sessions[3] = {
        { crp_str("s1"), crp_str("shell"), 1700000000, CRP_SESSION_RUNNING },
        { crp_str("s2"), crp_str("édit"), 0, CRP_SESSION_STARTING },
        { crp_str("s3"), crp_str("x"), G_MAXUINT64, CRP_SESSION_CLOSING },
    };
    g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_byte_array_unref);
    CrpMessage m = { .type = CRP_MSG_APP_LIST, .list = { 9, 3, apps } };
    g_ptr_array_add(msgs, encode(&m));
    m = (CrpMessage){ .type = CRP_MSG_SESSIONS, .list = { 10, 3, sessions } };
    g_ptr_array_add(msgs, encode(&m));
    m = (CrpMessage){ .type = CRP_MSG_APP_LIST, .list = { 11, 0, NULL } };
    g_ptr_array_add(msgs, encode(&m));
    static const char *const names[] = { "APP_LIST-3", "SESSIONS-3", "APP_LIST-0" };
    parser_seeds("client-parser", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER, "lists",
                 msgs, names);
}

/* ---- the viewer target -------------------------------------------------- */

/* A seed of fuzz-viewer: @flags, then each message of @msgs (NULL-ended)
 * as its own record, or all in one. */
static void
viewer_seed(const char *name, guint8 flags, gboolean one_record,
            GByteArray *const *msgs)
{
    GByteArray *seed = seed_new(flags);
    g_autoptr(GByteArray) all = g_byte_array_new();
    for (; *msgs; msgs++) {
        if (one_record) {
            g_byte_array_append(all, (*msgs)->data, (*msgs)->len);
        } else {
            seed_chunk_array(seed, *msgs);
        }
    }
    if (one_record) {
        seed_chunk_array(seed, all);
    }
    seed_write("viewer", name, seed);
}

static void
collect_packet(const guint8 *packet, gsize len, guint64 timestamp_us,
               gpointer user_data)
{
    CrpMessage m = { .type = CRP_MSG_AUDIO_OUT,
                     .audio = { timestamp_us, { packet, len } } };
    g_ptr_array_add(user_data, encode(&m));
}

/* AUDIO_OUT messages of 40 ms of a tone, @channels, in @frame_ms packets. */
static GPtrArray *
opus_messages(int channels, int frame_ms)
{
    GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc = crp_opus_encoder_new(channels, frame_ms, 0, &error);
    g_assert_no_error(error);
    gint16 pcm[1920 * 2];
    for (int i = 0; i < 1920; i++) {
        for (int c = 0; c < channels; c++) {
            pcm[i * channels + c] = (gint16)(8000 * sin(i * 2 * G_PI * (440 + 220 * c) / 48000));
        }
    }
    g_assert_true(crp_opus_encoder_push(enc, pcm, 1920, collect_packet, msgs, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(msgs->len, ==, 40 / frame_ms);
    return msgs;
}

/* The clipboard as a server plays it: a grab of text, the answer in
 * chunks (in order, out of order, not UTF-8, refused), a stale answer,
 * and requests of the viewer's own clipboard. */
static void
viewer_clipboard_seeds(void)
{
    g_autoptr(GByteArray) grab = bytes_from_hex("30 00 00000005  00000007 01");
    g_autoptr(GByteArray) first = bytes_from_hex(
        "32 00 00000011  00000007 01 00 00000005 00000000 686579");
    g_autoptr(GByteArray) second = bytes_from_hex(
        "32 00 00000010  00000007 01 00 00000005 00000003 2121");
    g_autoptr(GByteArray) gap = bytes_from_hex(
        "32 00 0000000f  00000007 01 00 00000005 00000004 21");
    g_autoptr(GByteArray) not_utf8 = bytes_from_hex(
        "32 00 00000010  00000007 01 00 00000002 00000000 c328");
    g_autoptr(GByteArray) refused = bytes_from_hex(
        "32 00 0000000e  00000007 01 02 00000000 00000000");
    g_autoptr(GByteArray) stale = bytes_from_hex(
        "32 00 00000010  00000006 01 00 00000002 00000000 6869");
    g_autoptr(GByteArray) request = bytes_from_hex("31 00 00000005  00000001 01");
    g_autoptr(GByteArray) request_png = bytes_from_hex("31 00 00000005  00000001 02");

    GByteArray *whole[] = { grab, first, second, NULL };
    viewer_seed("clipboard-text", 0, FALSE, whole);
    viewer_seed("clipboard-text-one-record", 0, TRUE, whole);
    GByteArray *gapped[] = { grab, first, gap, NULL };
    viewer_seed("clipboard-gap", 0, FALSE, gapped);
    GByteArray *bad[] = { grab, not_utf8, NULL };
    viewer_seed("clipboard-not-utf8", 0, FALSE, bad);
    GByteArray *refusal[] = { grab, stale, refused, NULL };
    viewer_seed("clipboard-refused", 0, FALSE, refusal);
    GByteArray *requests[] = { request, request_png, grab, request, NULL };
    viewer_seed("clipboard-requests", FUZZ_VIEWER_INPUT, FALSE, requests);
}

/*
 * What a server shows a CrpViewer: every golden display message it may
 * send, the decoder's frame, surfaces over 1024 and the largest the wire
 * allows, cursors, audio in both formats and switching between them,
 * PINGs among FRAME_ENDs, and goodbyes; under each of the flags.
 */
static void
viewer_seeds(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(goldens); i++) {
        g_autoptr(GByteArray) m = bytes_from_hex(goldens[i].hex);
        if (!crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER, m->data[0])) {
            continue;
        }
        g_autofree char *name = g_strdup_printf("golden-%s", goldens[i].name);
        GByteArray *msgs[] = { m, NULL };
        viewer_seed(name, 0, FALSE, msgs);
    }

    g_autoptr(GPtrArray) frame = decoder_messages();
    GByteArray *f[16] = { NULL };
    g_assert_cmpuint(frame->len, <, G_N_ELEMENTS(f));
    memcpy(f, frame->pdata, frame->len * sizeof(f[0]));
    viewer_seed("frame-records", 0, FALSE, f);
    viewer_seed("frame-one-record", 0, TRUE, f);
    viewer_seed("frame-manual-ack-input", FUZZ_VIEWER_MANUAL_ACK | FUZZ_VIEWER_INPUT,
                FALSE, f);
    viewer_seed("frame-bye", FUZZ_VIEWER_BYE, FALSE, f);

    /* Larger surfaces: drawn into at the far corner and the middle, a
     * piece copied from the far corner, ended. Only those up to 1920x1080
     * are filled whole: touching every page of the largest costs the
     * fuzzer 150 ms an input. */
    static const guint16 sizes[][2] = {
        { 1920, 1080 }, { 1025, 768 }, { 8192, 4320 }, { 8192, 1 }, { 1, 8192 },
        { 4096, 8192 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        guint16 w = sizes[i][0], h = sizes[i][1];
        GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
        CrpMessage m = { .type = CRP_MSG_SURFACE, .surface = { w, h } };
        g_ptr_array_add(msgs, encode(&m));
        if ((guint32)w * h <= 1920 * 1080) {
            m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 0, .y = 0, .width = w,
                .height = h, .encoding = CRP_ENCODING_FILL, .fill = 0x102030 } };
            g_ptr_array_add(msgs, encode(&m));
        }
        static const guint8 raw[4] = { 1, 2, 3, 0 };
        m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = w - 1, .y = h - 1,
            .width = 1, .height = 1, .encoding = CRP_ENCODING_RAW,
            .data = { raw, sizeof(raw) } } };
        g_ptr_array_add(msgs, encode(&m));
        m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = w / 2, .y = h / 2,
            .width = MIN(w - w / 2, 64), .height = MIN(h - h / 2, 64),
            .encoding = CRP_ENCODING_FILL, .fill = 0xffffff } };
        g_ptr_array_add(msgs, encode(&m));
        m = (CrpMessage){ .type = CRP_MSG_RECT, .rect = { .x = 0, .y = 0,
            .width = MIN(w, 32), .height = MIN(h, 32), .encoding = CRP_ENCODING_COPY,
            .src_x = w - MIN(w, 32), .src_y = h - MIN(h, 32) } };
        g_ptr_array_add(msgs, encode(&m));
        m = (CrpMessage){ .type = CRP_MSG_FRAME_END, .frame_end = { 7, 0, 0, 0 } };
        g_ptr_array_add(msgs, encode(&m));
        g_ptr_array_add(msgs, NULL);
        g_autofree char *name = g_strdup_printf("surface-%ux%u", w, h);
        viewer_seed(name, 0, FALSE, (GByteArray **)msgs->pdata);
        g_ptr_array_steal_index(msgs, msgs->len - 1);
        g_ptr_array_unref(msgs);
    }
    /* Past the limits: a rect outside the surface, then a surface too big. */
    {
        g_autoptr(GByteArray) surface = bytes_from_hex("01 00 00000004  0500 0400");
        g_autoptr(GByteArray) outside = bytes_from_hex(
            "02 00 0000000d  04ff 0000 0002 0001 00 00336699");
        g_autoptr(GByteArray) huge = bytes_from_hex("01 00 00000004  2000 2000");
        GByteArray *msgs[] = { surface, outside, NULL };
        viewer_seed("surface-rect-outside", 0, FALSE, msgs);
        GByteArray *msgs2[] = { surface, huge, NULL };
        viewer_seed("surface-too-many-pixels", 0, FALSE, msgs2);
    }

    /* Cursors: opaque, half transparent, hidden, and moved. */
    {
        g_autoptr(GByteArray) shape = bytes_from_hex(
            "04 00 00000010  0002 0001 0001 0000 ff102030 80ffffff");
        g_autoptr(GByteArray) big = NULL;
        g_autoptr(GByteArray) hidden = bytes_from_hex("04 00 00000008  0000 0000 0000 0000");
        g_autoptr(GByteArray) pos = bytes_from_hex("05 00 00000005  0064 00c8 01");
        g_autoptr(GByteArray) off = bytes_from_hex("05 00 00000005  ffff ffff 00");
        /* The widest cursor, as tall as fits in one chunk. */
        guint8 *pixels = g_malloc0(256 * 63 * 4);
        CrpMessage m = { .type = CRP_MSG_CURSOR_SHAPE, .cursor_shape = {
            256, 63, 255, 62, { pixels, 256 * 63 * 4 } } };
        big = encode(&m);
        g_free(pixels);
        GByteArray *msgs[] = { shape, pos, big, off, hidden, pos, NULL };
        viewer_seed("cursor", 0, FALSE, msgs);
        viewer_seed("cursor-one-record", 0, TRUE, msgs);
    }

    /* Audio: stereo 10 ms packets, then mono 20 ms ones after a format
     * change, then stereo again; a bad packet; the microphone too. */
    {
        g_autoptr(GPtrArray) stereo = opus_messages(2, 10);
        g_autoptr(GPtrArray) mono = opus_messages(1, 20);
        g_autoptr(GByteArray) fmt2 = bytes_from_hex("06 00 00000006  01 02 0000bb80");
        g_autoptr(GByteArray) fmt1 = bytes_from_hex("06 00 00000006  01 01 0000bb80");
        g_autoptr(GByteArray) bad = bytes_from_hex("07 00 0000000b  0000000000004e20 fcfffe");
        GByteArray *msgs[] = { fmt2, stereo->pdata[0], stereo->pdata[1], fmt1,
                               mono->pdata[0], mono->pdata[1], fmt2, stereo->pdata[2],
                               bad, NULL };
        viewer_seed("audio-formats", 0, FALSE, msgs);
        viewer_seed("audio-formats-mic", FUZZ_VIEWER_INPUT | FUZZ_VIEWER_MIC, FALSE, msgs);
        GByteArray *msgs2[] = { stereo->pdata[0], mono->pdata[0], NULL };
        viewer_seed("audio-without-format", 0, TRUE, msgs2);
    }

    /* PINGs among frames, in one record and apart: every one answered. */
    {
        g_autoptr(GByteArray) ping1 = bytes_from_hex("08 00 0000000c  00000001 0000000000000064");
        g_autoptr(GByteArray) ping2 = bytes_from_hex("08 00 0000000c  ffffffff ffffffffffffffff");
        g_autoptr(GByteArray) end1 = bytes_from_hex(
            "03 00 00000014  00000001 00000000 0000000000000000 00000000");
        g_autoptr(GByteArray) end2 = bytes_from_hex(
            "03 00 00000014  fffffffe 00000005 00000000000f4240 000003e8");
        GByteArray *msgs[] = { ping1, end1, ping2, end2, ping1, NULL };
        viewer_seed("ping-frames", FUZZ_VIEWER_INPUT, FALSE, msgs);
        viewer_clipboard_seeds();
        viewer_seed("ping-frames-one-record", FUZZ_VIEWER_MANUAL_ACK, TRUE, msgs);
        g_autoptr(GByteArray) bye = bytes_from_hex("3f 00 00000007  000f 0003 627965");
        GByteArray *msgs2[] = { ping1, bye, ping2, NULL };
        viewer_seed("ping-bye-ping", 0, TRUE, msgs2);
        GByteArray *msgs3[] = { ping1, end1, NULL };
        viewer_seed("ping-server-closes", FUZZ_VIEWER_BYE | FUZZ_VIEWER_INPUT, FALSE, msgs3);

        /* A flood in one record: 1400 PINGs and FRAME_ENDs, each
         * different, whose answers run past what a viewer may queue
         * unread before it coalesces them. */
        g_autoptr(GByteArray) flood = g_byte_array_new();
        for (guint32 i = 1; i <= 1400; i++) {
            CrpMessage m = { .type = CRP_MSG_PING, .ping = { i, 1000 * i } };
            g_autoptr(GByteArray) ping = encode(&m);
            m = (CrpMessage){ .type = CRP_MSG_FRAME_END, .frame_end = { i, 0, 0, 0 } };
            g_autoptr(GByteArray) end = encode(&m);
            g_byte_array_append(flood, ping->data, ping->len);
            g_byte_array_append(flood, end->data, end->len);
        }
        GByteArray *msgs4[] = { flood, NULL };
        viewer_seed("ping-frame-flood", 0, FALSE, msgs4);
        viewer_seed("ping-frame-flood-manual-ack", FUZZ_VIEWER_MANUAL_ACK, FALSE, msgs4);
    }
}

/* ---- the QEMU module targets --------------------------------------------- */

/* A chunk of fuzz-qemu-input that gives the console a @w x @h surface. */
static GByteArray *
console_chunk(guint16 w, guint16 h)
{
    GByteArray *c = g_byte_array_new();
    crp_put_u8(c, 0);
    crp_put_u16(c, w - 1);
    crp_put_u16(c, h - 1);
    return c;
}

/* A client's input against consoles of several sizes: typing, a drag
 * that ends off the surface, buttons left pressed, wheels in every
 * direction and beyond the 10-detent cap, resize requests. */
static void
qemu_input_seeds(void)
{
    static const char *const inputs[] = {
        /* KEY a down, up; shift down (never released); an unmapped code;
         * KEY_MAX */
        "21 00 00000007 00000001 001e 01  21 00 00000007 00000002 001e 00"
        " 21 00 00000007 00000003 002a 01  21 00 00000007 00000004 0003 01"
        " 21 00 00000007 00000005 02ff 01",
        /* left pressed at 10,10, dragged to 5000,5000, released; right
         * and side pressed and left so */
        "22 00 0000000c 00000006 000a 000a 00000001"
        " 22 00 0000000c 00000007 1388 1388 00000001"
        " 22 00 0000000c 00000008 ffff ffff 00000000"
        " 22 00 0000000c 00000009 0001 0002 0000000c"
        " 22 00 0000000c 0000000a 0001 0002 ffffffff",
        /* wheel: 3 down, 1 up, 40 left, -32768 both ways */
        "23 00 00000008 0000000b 0000 0003  23 00 00000008 0000000c 0000 ffff"
        " 23 00 00000008 0000000d ffd8 0000  23 00 00000008 0000000e 8000 8000",
        /* resize requests */
        "26 00 00000004 0500 0320  26 00 00000004 2000 2000  26 00 00000004 0001 0001",
        /* frames acknowledged, a PONG, an empty record's worth of nothing,
         * then a KEY: not input, ignored */
        "25 00 00000008 00000007 000001f4  28 00 0000000c 00000001 0000000000000064"
        " 21 00 00000007 0000000f 001c 01",
    };
    static const char *const names[] = { "keys", "pointer", "wheel", "resize", "other" };
    g_autoptr(GByteArray) small = console_chunk(320, 200);
    g_autoptr(GByteArray) big = console_chunk(16384, 1);
    static const guint8 no_surface[] = { 0 };

    for (gsize i = 0; i < G_N_ELEMENTS(inputs); i++) {
        g_autoptr(GByteArray) msgs = bytes_from_hex(inputs[i]);
        for (guint8 flags = 0; flags < 8; flags++) {
            g_autofree char *name = g_strdup_printf("%s-flags-%u", names[i], flags);
            GByteArray *seed = seed_new(flags);
            seed_chunk_array(seed, msgs);
            seed_write("qemu-input", name, seed);
        }
        /* The console changes between records. */
        g_autofree char *name = g_strdup_printf("%s-console-changes", names[i]);
        GByteArray *seed = seed_new(0x07);
        seed_chunk_array(seed, small);
        seed_chunk_array(seed, msgs);
        seed_chunk_array(seed, big);
        seed_chunk_array(seed, msgs);
        seed_chunk(seed, no_surface, sizeof(no_surface));
        seed_chunk_array(seed, msgs);
        seed_write("qemu-input", name, seed);
    }
    /* A record that breaks the channel half-way: the client is dropped. */
    g_autoptr(GByteArray) broken = bytes_from_hex(
        "22 00 0000000c 00000006 000a 000a 00000007  21 00 00000007 00000005 0300 01");
    GByteArray *seed = seed_new(0x03);
    seed_chunk_array(seed, broken);
    seed_write("qemu-input", "buttons-then-bad-key", seed);
}

static void
collect_mic_packet(const guint8 *packet, gsize len, guint64 timestamp_us,
                   gpointer user_data)
{
    GByteArray *chunk = g_byte_array_new();
    crp_put_u8(chunk, 'p');
    crp_put_bytes(chunk, packet, len);
    g_ptr_array_add(user_data, chunk);
}

/* Opus packets of @ms of a tone, as 'p' chunks of fuzz-qemu-mic. */
static GPtrArray *
mic_packets(int channels, int frame_ms, int ms)
{
    GPtrArray *chunks = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc = crp_opus_encoder_new(channels, frame_ms, 0, &error);
    g_assert_no_error(error);
    gsize n = 48 * ms;
    g_autofree gint16 *pcm = g_new(gint16, n * channels);
    for (gsize i = 0; i < n * channels; i++) {
        pcm[i] = (gint16)(6000 * sin(i / channels * 2 * G_PI * 1000 / 48000));
    }
    g_assert_true(crp_opus_encoder_push(enc, pcm, n, collect_mic_packet, chunks, &error));
    g_assert_no_error(error);
    return chunks;
}

/* A read of @frames by the capture voice. */
static void
mic_read(GByteArray *seed, guint16 frames)
{
    guint8 read[3] = { 'r', frames >> 8, frames & 0xff };
    seed_chunk(seed, read, sizeof(read));
}

/* A client's microphone as QEMU's capture voice drains it: steady, late
 * (the FIFO runs dry and refills), in a burst past the cap, after a
 * reset, with a corrupt packet. */
static void
qemu_mic_seeds(void)
{
    g_autoptr(GPtrArray) stereo = mic_packets(2, 10, 300);
    g_autoptr(GPtrArray) stereo20 = mic_packets(2, 20, 100);
    g_autoptr(GPtrArray) mono = mic_packets(1, 20, 100);

    GByteArray *seed = seed_new(0);
    for (guint i = 0; i < 20; i++) {
        seed_chunk_array(seed, stereo->pdata[i]);
        mic_read(seed, 480);
    }
    seed_write("qemu-mic", "steady", seed);

    seed = seed_new(0);
    for (guint i = 0; i < 10; i++) {
        seed_chunk_array(seed, stereo->pdata[i]);
    }
    for (guint i = 0; i < 8; i++) {
        mic_read(seed, 480);
    }
    for (guint i = 10; i < 20; i++) {
        seed_chunk_array(seed, stereo->pdata[i]);
        mic_read(seed, 480);
    }
    seed_write("qemu-mic", "runs-dry", seed);

    seed = seed_new(0);
    for (guint i = 0; i < stereo->len; i++) {
        seed_chunk_array(seed, stereo->pdata[i]);
    }
    mic_read(seed, 1920);
    mic_read(seed, 65535);
    seed_write("qemu-mic", "burst", seed);

    seed = seed_new(0);
    for (guint i = 0; i < stereo20->len; i++) {
        seed_chunk_array(seed, stereo20->pdata[i]);
        seed_chunk_array(seed, mono->pdata[i]);
    }
    mic_read(seed, 441);
    static const guint8 reset[] = { 'x' };
    seed_chunk(seed, reset, sizeof(reset));
    mic_read(seed, 480);
    GByteArray *bad = stereo20->pdata[0];
    bad->data[1] ^= 0xff;
    seed_chunk_array(seed, bad);
    mic_read(seed, 0);
    seed_write("qemu-mic", "mixed-reset-corrupt", seed);
}

/* ---- the text targets ------------------------------------------------------ */

/* A seed that is @text, after a flags byte unless @flags is negative. */
static void
text_seed(const char *target, const char *name, int flags, const char *text)
{
    GByteArray *seed = g_byte_array_new();
    if (flags >= 0) {
        crp_put_u8(seed, flags);
    }
    crp_put_bytes(seed, (const guint8 *)text, strlen(text));
    seed_write(target, name, seed);
}

static void
text_seeds(const char *target, int flags, const char *const *texts, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        g_autofree char *name = g_strdup_printf("%" G_GSIZE_FORMAT, i);
        text_seed(target, name, flags, texts[i]);
    }
}

/* Links and addresses as the guides, tests and key files write them, and
 * near misses. */
static void
address_seeds(void)
{
    static const char *const uris[] = {
        "crp://broker.example.org/office", "crp://broker.example.org:6000/office",
        "crp:///office", "crp://[::1]:5930/shell", "CRP://Host/app/",
        "crp://10.0.0.1/%C3%A9dit", "crp://h/a/b", "crp://alice@h/app",
        "crp://h/app?x=1", "crp://h/app#f", "http://h/app", "crp://h/",
        "crp://h:99999/app", "crp:office", "crp://h/%2Fetc",
    };
    static const char *const addresses[] = {
        "unix:/run/crp/vm1.sock", "unix:@crp-abstract", "tcp:localhost:5930",
        "tcp:[::1]:5930", "tcp:192.0.2.1:1", "tcp:broker.example.org:65535",
        "tcp:host", "tcp:host:0", "tcp:host:99999", "unix:", "udp:h:1",
        "tcp::5930", "tcp:[fe80::1%eth0]:5930",
    };
    text_seeds("uri", -1, uris, G_N_ELEMENTS(uris));
    text_seeds("address", -1, addresses, G_N_ELEMENTS(addresses));
}

/* Key files as crp-admin writes them, and broken ones. */
static void
key_seeds(void)
{
    guint8 broker_public[32];
    for (int i = 0; i < 32; i++) {
        broker_public[i] = 0x80 + i;
    }
    g_autoptr(CrpUserKey) key = crp_user_key_generate("alice", broker_public,
                                                      "tcp:broker.example.org:5930");
    g_autofree char *text = crp_user_key_to_string(key);
    g_autofree char *crlf = NULL;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    crlf = g_strjoinv("\r\n", lines);
    static const char *const broken[] = {
        "[crp-user-key]\nversion=2\nuser=a\n",
        "[crp-user-key]\nversion=1\nuser=\nbroker-address=tcp:h:1\n"
        "secret-key=AAAA\nbroker-public-key=AAAA\n",
        "[other]\nversion=1\n",
        "no group at all",
        "[crp-user-key]\nversion=1\nuser=a\\sb\\n\nbroker-address=unix:/x\n"
        "secret-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"
        "broker-public-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n",
    };
    text_seed("user-key", "issued", -1, text);
    text_seed("user-key", "issued-crlf", -1, crlf);
    text_seeds("user-key", -1, broken, G_N_ELEMENTS(broken));

    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-seeds-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *path = g_build_filename(dir, "broker.key", NULL);
    g_autoptr(CrpBrokerKey) broker = crp_broker_key_generate();
    g_assert_true(crp_broker_key_save(broker, path, &error));
    g_autofree char *saved = NULL;
    g_assert_true(g_file_get_contents(path, &saved, NULL, &error));
    g_unlink(path);
    g_rmdir(dir);
    static const char *const broken_broker[] = {
        "[crp-broker-key]\nversion=1\nsecret-key=AAAA\n",
        "[crp-broker-key]\nversion=7\n",
        "[crp-user-key]\nversion=1\n",
        "[crp-broker-key]\nversion=1\nsecret-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\n",
    };
    text_seed("broker-key", "saved", -1, saved);
    text_seeds("broker-key", -1, broken_broker, G_N_ELEMENTS(broken_broker));

    static const char *const tickets[] = {
        "s3cret-ticket\n", "  t0k\xc3\xa9n \r\n", "", " \n\t", "caf\xe9\n",
        "one\ntwo\n",
    };
    text_seeds("secret-file", -1, tickets, G_N_ELEMENTS(tickets));
}

/* The shipped example configuration, configurations like the tests', and
 * a QEMU env file like build-qemu's. */
static void
config_seeds(void)
{
    g_autofree char *example_path = g_build_filename(corpus_dir, "..", "..", "..",
                                                     "broker", "crp-broker.conf.example",
                                                     NULL);
    g_autofree char *example = NULL;
    if (g_file_get_contents(example_path, &example, NULL, NULL)) {
        text_seed("broker-config", "example", 0, example);
    }
    static const char *const configs[] = {
        "",
        "[broker]\nlisten = tcp:0.0.0.0:5930\naddress = tcp:broker.example.org:5930\n"
        "state-dir = /var/lib/crp-broker\n",
        "[broker]\nlisten = unix:/run/crp/broker.sock   # local only\n"
        "[compute]\nvcpus = 2   # two cores\nmemory-mib=4096\n",
        "[database]\nurl = postgresql://crp@db/crp\n[storage]\nimages-dir = ~/images\n"
        "overlays-dir=/srv/../srv/overlays/\nuser-quota-mib = 0\n",
        "[sessions]\nidle-timeout-s = 0\nshutdown-grace-s = 3600\nticket-lifetime-s = 1\n"
        "[login]\nhandshake-timeout-s = 10\nmax-failures-per-minute = 1000000\n"
        "[qemu]\nenv-file = /root/.cache/crp/qemu-build.env\n",
        "[broker]\nlisten = tcp:[::1]:5930\n[database]\nurl = sqlite:~/crp.db\n",
        "[compute]\nvcpus = two\n",
        "[broker]\nlisten = tcp:host\n",
        "[nope]\nx = 1\n",
        "[broker]\nlisten =\n",
        "[broker\nlisten = tcp:h:1\n",
    };
    text_seeds("broker-config", 0, configs, G_N_ELEMENTS(configs));
    text_seed("broker-config", "qemu-env", 1,
              "# Generated by qemu-crp-display/build-qemu; use: set -a; . FILE; set +a\n"
              "QEMU_VERSION=10.0.13\n"
              "QEMU=/root/.cache/crp/qemu/10.0.13/build/qemu-system-x86_64\n"
              "QEMU_FIRMWARE_DIRS='/a b/seabios':/c\n"
              "  INDENTED=\"x y\"\n");
    text_seed("broker-config", "qemu-env-bad", 1, "QEMU\n=x\nA='unterminated\n");
}

/* Scripts as tests/clients/headless and tools/crp-run write them, one line and
 * as files, and the errors they can make. */
static void
script_seeds(void)
{
    static const char *const one_line[] = {
        "wait-surface; wait-frames 2; screenshot /tmp/s.png; quit",
        "wait-frames 1; wait-pixel 100 100 ff0000 5000; type aB; key enter; quit",
        "wait-frames 1; type x\\;!\\n; quit",
        "wait-frames 1; click 200 120; wait-pixel 200 120 ffffff 5000; quit",
        "wait-frames 1; click 150 50 right; click 150 50; wait-change 140 40 20 20 5000; quit",
        "wait-frames 1; record-start /tmp/w.wav; sleep 1000; expect-audio 440 5; "
        "record-stop; quit",
        "wait-surface; mic /tmp/tone.wav; sleep 200; quit",
        "wait-frames 2; wheel 3; wheel -2; resize 1280 800; wait-surface 1280 800 3000; quit",
        "keydown shift; key KEY_A; keyup leftshift; move 0 65535; stall 50; close-app",
        "wait-cursor 10 20 500; save-cursor /tmp/c.pam; wait-frames x",
        "quit; wait-frames 1",
        "type \xc3\xa9",
        "clipboard-set hello # kept\\; world; expect-clipboard 5000 from the guest; quit",
        "clipboard-fill 16777217; expect-clipboard-refused 3000 too-large; "
        "expect-clipboard-refused 10; expect-clipboard-refused 10 maybe",
        "clipboard-fill 99999999999; expect-clipboard x; clipboard-set",
        "files-list; files-list docs; files-upload /tmp/a.bin docs/a.bin; "
        "files-download docs/a.bin /tmp/b.bin; files-delete docs/a.bin; quit",
        "files-upload --stop-after 2097152 /tmp/r.bin r.bin; "
        "files-upload --unchecked --expect-error bad-request /tmp/m ../x; "
        "files-download --expect-error NO_SUCH_FILE gone /tmp/g; "
        "files-list --expect-error quota-exceeded --unchecked ..",
        "files-upload --stop-after 0 a b; files-upload --stop-after; "
        "files-delete --expect-error maybe x; files-download a; "
        "files-list --stop-after 1 a; files-upload --bogus a b",
        "clipboard-set-png /tmp/a.png; expect-clipboard-png 5000 /tmp/b # c.png; "
        "expect-clipboard-png x /tmp/b.png; clipboard-set-png; expect-clipboard-png 10",
    };
    static const char *const files[] = {
        "# a script file\n"
        "wait-surface\n"
        "type echo hello # typed, with the hash\n"
        "key enter   # not typed\n"
        "\n"
        "wait-change 0 0 640 480\n"
        "screenshot /tmp/after.png\n"
        "quit\n",
        "wait-frames 1\nresize 0 10\n",
        "bogus-command 1 2 3\n",
        "clipboard-set a # b\nexpect-clipboard 100 a # b\nclipboard-fill 0\n",
    };
    text_seeds("headless-script", 1, one_line, G_N_ELEMENTS(one_line));
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *name = g_strdup_printf("file-%" G_GSIZE_FORMAT, i);
        text_seed("headless-script", name, 0, files[i]);
    }
}

/* ---- the handshake targets ---------------------------------------------- */

/* Records @kind's golden exchange: the client's HELLO, the server's answer
 * (RESPONSE frame, stream header and a PING or OK record), and the
 * client's stream header with one record of @client_msg. With @verdict
 * other than OK, the answer is the encrypted refusal alone. */
static void
record_exchange(CrpChannelKind kind, guint16 verdict, GByteArray **hello,
                GByteArray **answer, GByteArray **client_stream)
{
    g_autoptr(GError) error = NULL;
    CrpEvent ev;

    CrpChannel *client = fuzz_start_client(kind);
    CrpChannel *server = fuzz_channel_new(kind, CRP_ROLE_SERVER);
    *hello = take(client);
    crp_channel_receive(server, (*hello)->data, (*hello)->len);
    fuzz_expect_event(server, CRP_EVENT_AUTHORIZE);
    g_assert_true(crp_channel_authorize(server, verdict, verdict ? "full" : NULL, &error));
    *client_stream = NULL;
    if (verdict == CRP_STATUS_OK) {
        CrpMessage reply = kind == CRP_CHANNEL_DISPLAY ?
            (CrpMessage){ .type = CRP_MSG_PING, .ping = { 1, 2 } } :
            (CrpMessage){ .type = CRP_MSG_OK, .ok_request_id = 1 };
        g_assert_true(crp_channel_send(server, &reply, &error));
        crp_channel_flush(server);
    }
    *answer = take(server);
    if (verdict == CRP_STATUS_OK) {
        crp_channel_receive(client, (*answer)->data, (*answer)->len);
        g_assert_cmpint(crp_channel_next_event(client, &ev, &error), ==, CRP_EVENT_READY);
        CrpMessage req = kind == CRP_CHANNEL_DISPLAY ?
            (CrpMessage){ .type = CRP_MSG_KEY, .key = { 1, 30, 1 } } :
            (CrpMessage){ .type = CRP_MSG_CATALOG_LIST, .request = { 1 } };
        g_assert_true(crp_channel_send(client, &req, &error));
        crp_channel_flush(client);
        *client_stream = take(client);
    }
    g_assert_no_error(error);
    crp_channel_free(client);
    crp_channel_free(server);
}

/* The REJECT a fresh server sends for @hello_hex. */
static GByteArray *
record_reject(CrpChannelKind kind, const char *hello_hex)
{
    g_autoptr(GByteArray) hello = bytes_from_hex(hello_hex);
    CrpChannel *server = fuzz_channel_new(kind, CRP_ROLE_SERVER);
    CrpEvent ev;
    g_autoptr(GError) error = NULL;
    crp_channel_receive(server, hello->data, hello->len);
    g_assert_cmpint(crp_channel_next_event(server, &ev, &error), ==, CRP_EVENT_ERROR);
    GByteArray *reject = take(server);
    crp_channel_free(server);
    return reject;
}

static void
handshake_seeds(CrpChannelKind kind)
{
    const char *target = kind == CRP_CHANNEL_DISPLAY ? "display-handshake"
                                                     : "broker-handshake";
    g_autoptr(GByteArray) hello = NULL, answer = NULL, client_stream = NULL;
    g_autoptr(GByteArray) refused_hello = NULL, refusal = NULL, none = NULL;
    GByteArray *seed;

    record_exchange(kind, CRP_STATUS_OK, &hello, &answer, &client_stream);
    record_exchange(kind, CRP_STATUS_NO_CAPACITY, &refused_hello, &refusal, &none);

    /* Server side: the HELLO, then the client's stream. */
    seed_write_variants(target, "server-hello", 0, hello, -5);
    seed = seed_new(0);
    seed_chunk_array(seed, hello);
    seed_chunk_array(seed, client_stream);
    seed_write(target, "server-hello-stream", seed);
    seed = seed_new(FUZZ_HS_REFUSE);
    seed_chunk_array(seed, hello);
    seed_chunk_array(seed, client_stream);
    seed_write(target, "server-hello-refuse", seed);
    seed = seed_new(FUZZ_HS_CLOSE);
    seed_chunk_array(seed, hello);
    seed_chunk_array(seed, client_stream);
    seed_write(target, "server-hello-stream-close", seed);
    seed = seed_new(0);
    seed_chunks_split(seed, hello, 11);
    seed_chunks_split(seed, client_stream, 5);
    seed_write(target, "server-hello-stream-split", seed);
    seed = seed_new(FUZZ_HS_CLOSE);
    seed_chunk(seed, hello->data, hello->len - 1);
    seed_write(target, "server-hello-short-close", seed);

    /* A newer minor version (kept out of the Noise prologue's agreement),
     * another major version, and the garbage of test-crp-channel.c. */
    g_autoptr(GByteArray) bent = g_byte_array_new();
    g_byte_array_append(bent, hello->data, hello->len);
    bent->data[4 + 5] = 7;
    seed = seed_new(0);
    seed_chunk_array(seed, bent);
    seed_write(target, "server-hello-minor-7", seed);
    bent->data[4 + 5] = 0;
    bent->data[4 + 4] = 2;
    seed = seed_new(0);
    seed_chunk_array(seed, bent);
    seed_write(target, "server-hello-major-2", seed);
    static const char *const garbage[] = {
        "00000006 474554202f20",
        "00000003 435250",
        "00000006 435250420100",
        "00000006 435250440100",
        "00000026 435250440100 00000000000000000000000000000000"
        "00000000000000000000000000000000",
        "00100000",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(garbage); i++) {
        g_autoptr(GByteArray) bytes = bytes_from_hex(garbage[i]);
        g_autofree char *name = g_strdup_printf("server-garbage-%" G_GSIZE_FORMAT, i);
        seed = seed_new(0);
        seed_chunk_array(seed, bytes);
        seed_write(target, name, seed);
    }

    /* A HELLO whose ephemeral key has low order (refused: its `es` or
     * `ee` would be all zero). The display one holds the ticket, so it
     * passes the MAC and reaches the check. */
    for (gsize i = 0; i < G_N_ELEMENTS(crp_test_low_order_points); i += 4) {
        g_autoptr(GByteArray) point = bytes_from_hex(crp_test_low_order_points[i]);
        g_autoptr(GByteArray) low = NULL;
        g_autofree char *name = g_strdup_printf("server-hello-low-order-%" G_GSIZE_FORMAT, i);
        if (kind == CRP_CHANNEL_DISPLAY) {
            low = crp_test_forge_display_hello(FUZZ_TICKET, point->data);
        } else {
            low = g_byte_array_new();
            g_byte_array_append(low, hello->data, hello->len);
            memcpy(low->data + 4 + 6, point->data, point->len);
        }
        seed = seed_new(0);
        seed_chunk_array(seed, low);
        seed_write(target, name, seed);
    }

    /* Client side: the RESPONSE (with the server's stream after it), an
     * encrypted refusal, cleartext REJECTs. */
    seed_write_variants(target, "client-response", FUZZ_HS_CLIENT, answer, 40);
    seed = seed_new(FUZZ_HS_CLIENT | FUZZ_HS_CLOSE);
    seed_chunk_array(seed, answer);
    seed_write(target, "client-response-close", seed);
    seed = seed_new(FUZZ_HS_CLIENT);
    seed_chunks_split(seed, answer, 9);
    seed_write(target, "client-response-split", seed);
    seed_write_variants(target, "client-refused", FUZZ_HS_CLIENT, refusal, -3);
    g_autoptr(GByteArray) reject = record_reject(kind, "00000006 474554202f20");
    seed_write_variants(target, "client-reject", FUZZ_HS_CLIENT, reject, 5);
    g_autoptr(GByteArray) reject_version = record_reject(
        kind, kind == CRP_CHANNEL_DISPLAY ? "00000006 435250440200"
                                          : "00000006 435250420200");
    seed = seed_new(FUZZ_HS_CLIENT);
    seed_chunk_array(seed, reject_version);
    seed_write(target, "client-reject-version", seed);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        g_printerr("usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    corpus_dir = argv[1];
    fuzz_init();

    golden_parser_seeds("server-parser", CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT);
    golden_parser_seeds("server-parser", CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT);
    bad_parser_seeds("server-parser", CRP_ROLE_CLIENT);

    golden_parser_seeds("client-parser", CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER);
    golden_parser_seeds("client-parser", CRP_CHANNEL_BROKER, CRP_ROLE_SERVER);
    bad_parser_seeds("client-parser", CRP_ROLE_SERVER);
    decoder_seeds();
    broker_list_seeds();
    viewer_seeds();
    qemu_input_seeds();
    qemu_mic_seeds();
    address_seeds();
    key_seeds();
    config_seeds();
    script_seeds();

    handshake_seeds(CRP_CHANNEL_DISPLAY);
    handshake_seeds(CRP_CHANNEL_BROKER);

    g_print("wrote %u seeds under %s\n", seeds_written, corpus_dir);
    return 0;
}
