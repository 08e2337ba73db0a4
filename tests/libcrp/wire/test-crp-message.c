/*
 * test-crp-message.c: golden byte vectors for every message (the same
 * bytes as the examples in docs/protocol.md), round trips, and rejection
 * of malformed, truncated and oversized bodies.
 */
#include <crp/crp-error.h>
#include <crp/crp-message.h>
#include "crp-test-util.h"

typedef struct {
    const char *name;
    CrpMessage msg;
    const char *hex;
} Golden;

static const guint8 raw_pixels[] = { 0x00, 0x00, 0xff, 0x00, 0x00, 0xff, 0x00, 0x00 };
static const guint8 zlib_data[] = { 0xaa, 0xbb, 0xcc };
/* docs/protocol.md's golden ZSTD rect data: a 1x1 truecolor payload. */
static const guint8 zstd_data[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x21, 0x00,
                                    0x00, 0x00, 0xcc, 0xbb, 0xaa };
/* docs/protocol.md's golden H264 rect data: openh264's SPS, PPS and IDR
 * slice of a 16x16 grey picture (0x808080), at QP 28. */
static const guint8 h264_data[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x0a, 0x8c, 0x8d,
    0x4e, 0x4d, 0xc0, 0x43, 0x41, 0x81, 0xe1, 0x10, 0x8d, 0x40,
    0x00, 0x00, 0x00, 0x01, 0x68, 0xce, 0x3c, 0x80, 0x00, 0x00,
    0x00, 0x01, 0x65, 0xb8, 0x00, 0x04, 0x00, 0x00, 0x13, 0x93,
    0xc0,
};
static const guint8 jpeg_data[] = { 0xff, 0xd8, 0xff, 0xd9 };
static const guint8 cursor_pixel[] = { 0xff, 0x10, 0x20, 0x30 };
static const guint8 opus_out[] = { 0xfc, 0xff, 0xfe };
static const guint8 opus_in[] = { 0xf8, 0xff, 0xfe };
static const guint8 clip_text[] = { 'h', 'i' };

#define S(lit) { lit, sizeof(lit) - 1 }

static const CrpAppInfo golden_apps[] = {
    { .name = S("shell"), .title = S("Shell"), .description = S("A shell"),
      .vcpus = 1, .memory_mib = 256, .flags = CRP_APP_SUBSCRIBED | CRP_APP_AUDIO },
};
static const CrpSessionInfo golden_sessions[] = {
    { .session_id = S("s1"), .app = S("shell"), .started_unix = 1700000000,
      .state = CRP_SESSION_RUNNING },
};

static const CrpFileEntry golden_files[] = {
    { .name = S("a.txt"), .kind = CRP_FILE_KIND_FILE, .size = 5,
      .mtime_ns = 1700000000000000000ull },
    { .name = S("docs"), .kind = CRP_FILE_KIND_DIR, .size = 0,
      .mtime_ns = 1700000000000000000ull },
};
static const guint8 hello[] = "hello";

static const Golden goldens[] = {
    { "SURFACE", { .type = CRP_MSG_SURFACE, .surface = { 1920, 1080 } },
      "01 00 00000004  0780 0438" },
    { "RECT fill", { .type = CRP_MSG_RECT, .rect = { .x = 64, .y = 128, .width = 64,
        .height = 64, .encoding = CRP_ENCODING_FILL, .fill = 0x336699 } },
      "02 00 0000000d  0040 0080 0040 0040 00 00336699" },
    { "RECT raw", { .type = CRP_MSG_RECT, .rect = { .width = 2, .height = 1,
        .encoding = CRP_ENCODING_RAW, .data = { raw_pixels, sizeof(raw_pixels) } } },
      "02 00 00000011  0000 0000 0002 0001 01 0000ff00 00ff0000" },
    { "RECT zlib", { .type = CRP_MSG_RECT, .flags = CRP_RECT_FLAG_STREAM_RESET,
        .rect = { .width = 1, .height = 1, .encoding = CRP_ENCODING_ZLIB,
                  .data = { zlib_data, sizeof(zlib_data) } } },
      "02 02 0000000c  0000 0000 0001 0001 02 aabbcc" },
    { "RECT zstd", { .type = CRP_MSG_RECT,
        .flags = CRP_RECT_FLAG_STREAM_RESET | CRP_RECT_FLAG_PICTURE_STREAM,
        .rect = { .width = 1, .height = 1, .encoding = CRP_ENCODING_ZSTD,
                  .data = { zstd_data, sizeof(zstd_data) } } },
      "02 06 00000016  0000 0000 0001 0001 05 28b52ffd005821000000ccbbaa" },
    { "RECT h264", { .type = CRP_MSG_RECT,
        .flags = CRP_RECT_FLAG_LOSSY | CRP_RECT_FLAG_STREAM_RESET,
        .rect = { .width = 16, .height = 16, .encoding = CRP_ENCODING_H264, .stream = 1,
                  .data = { h264_data, sizeof(h264_data) } } },
      "02 03 00000033  0000 0000 0010 0010 06 01 000000016742c00a8c8d4e4dc0434181e1108d400000000168ce3c800000000165b8000400001393c0" },
    { "RECT jpeg", { .type = CRP_MSG_RECT, .flags = CRP_RECT_FLAG_LOSSY,
        .rect = { .x = 16, .y = 32, .width = 8, .height = 8,
                  .encoding = CRP_ENCODING_JPEG,
                  .data = { jpeg_data, sizeof(jpeg_data) } } },
      "02 01 0000000d  0010 0020 0008 0008 03 ffd8ffd9" },
    { "RECT copy", { .type = CRP_MSG_RECT, .rect = { .x = 0, .y = 16, .width = 256,
        .height = 64, .encoding = CRP_ENCODING_COPY, .src_x = 0, .src_y = 32 } },
      "02 00 0000000d  0000 0010 0100 0040 04 0000 0020" },
    { "FRAME_END", { .type = CRP_MSG_FRAME_END, .frame_end = { .frame_id = 7,
        .input_serial = 42, .capture_us = 1000000, .encode_us = 1000 } },
      "03 00 00000014  00000007 0000002a 00000000000f4240 000003e8" },
    { "CURSOR_SHAPE", { .type = CRP_MSG_CURSOR_SHAPE, .cursor_shape = { .width = 1,
        .height = 1, .pixels = { cursor_pixel, sizeof(cursor_pixel) } } },
      "04 00 0000000c  0001 0001 0000 0000 ff102030" },
    { "CURSOR_POS", { .type = CRP_MSG_CURSOR_POS, .cursor_pos = { 100, 200, 1 } },
      "05 00 00000005  0064 00c8 01" },
    { "AUDIO_FORMAT", { .type = CRP_MSG_AUDIO_FORMAT, .audio_format = {
        .codec = CRP_AUDIO_CODEC_OPUS, .channels = 2, .sample_rate = 48000 } },
      "06 00 00000006  01 02 0000bb80" },
    { "AUDIO_OUT", { .type = CRP_MSG_AUDIO_OUT, .audio = { .timestamp_us = 20000,
        .packet = { opus_out, sizeof(opus_out) } } },
      "07 00 0000000b  0000000000004e20 fcfffe" },
    { "PING", { .type = CRP_MSG_PING, .ping = { 1, 100 } },
      "08 00 0000000c  00000001 0000000000000064" },
    { "KEY", { .type = CRP_MSG_KEY, .key = { .serial = 5, .code = 30, .down = 1 } },
      "21 00 00000007  00000005 001e 01" },
    { "POINTER", { .type = CRP_MSG_POINTER, .pointer = { .serial = 6, .x = 256,
        .y = 128, .buttons = CRP_BUTTON_LEFT } },
      "22 00 0000000c  00000006 0100 0080 00000001" },
    { "WHEEL", { .type = CRP_MSG_WHEEL, .wheel = { .serial = 7, .dx = 0, .dy = -1 } },
      "23 00 00000008  00000007 0000 ffff" },
    { "AUDIO_IN", { .type = CRP_MSG_AUDIO_IN, .audio = { .timestamp_us = 0,
        .packet = { opus_in, sizeof(opus_in) } } },
      "24 00 0000000b  0000000000000000 f8fffe" },
    { "FRAME_ACK", { .type = CRP_MSG_FRAME_ACK, .frame_ack = { 7, 500 } },
      "25 00 00000008  00000007 000001f4" },
    { "RESIZE_REQUEST", { .type = CRP_MSG_RESIZE_REQUEST, .resize = { 1280, 800 } },
      "26 00 00000004  0500 0320" },
    { "CLOSE_APP", { .type = CRP_MSG_CLOSE_APP }, "27 00 00000000" },
    { "PONG", { .type = CRP_MSG_PONG, .ping = { 1, 100 } },
      "28 00 0000000c  00000001 0000000000000064" },
    { "CLIPBOARD_GRAB", { .type = CRP_MSG_CLIPBOARD_GRAB, .clipboard_grab = {
        .serial = 1, .formats = CRP_CLIPBOARD_TEXT | CRP_CLIPBOARD_PNG } },
      "30 00 00000005  00000001 03" },
    { "CLIPBOARD_REQUEST", { .type = CRP_MSG_CLIPBOARD_REQUEST,
        .clipboard_request = { .serial = 1, .format = CRP_CLIPBOARD_TEXT } },
      "31 00 00000005  00000001 01" },
    { "CLIPBOARD_DATA", { .type = CRP_MSG_CLIPBOARD_DATA, .clipboard_data = {
        .serial = 1, .format = CRP_CLIPBOARD_TEXT, .status = CRP_CLIPBOARD_OK,
        .total = 2, .offset = 0, .data = { clip_text, sizeof(clip_text) } } },
      "32 00 00000010  00000001 01 00 00000002 00000000 6869" },
    { "CLIPBOARD_DATA refused", { .type = CRP_MSG_CLIPBOARD_DATA, .clipboard_data = {
        .serial = 2, .format = CRP_CLIPBOARD_PNG, .status = CRP_CLIPBOARD_TOO_LARGE } },
      "32 00 0000000e  00000002 02 02 00000000 00000000" },
    { "BYE", { .type = CRP_MSG_BYE, .bye = { CRP_STATUS_SHUTDOWN, S("bye") } },
      "3f 00 00000007  000f 0003 627965" },
    { "CATALOG_LIST", { .type = CRP_MSG_CATALOG_LIST, .request = { 1 } },
      "41 00 00000004  00000001" },
    { "SUBSCRIBE", { .type = CRP_MSG_SUBSCRIBE, .request = { 2, S("shell") } },
      "42 00 0000000b  00000002 0005 7368656c6c" },
    { "UNSUBSCRIBE", { .type = CRP_MSG_UNSUBSCRIBE, .request = { 3, S("shell") } },
      "43 00 0000000b  00000003 0005 7368656c6c" },
    { "MY_APPS", { .type = CRP_MSG_MY_APPS, .request = { 4 } },
      "44 00 00000004  00000004" },
    { "LAUNCH", { .type = CRP_MSG_LAUNCH, .request = { 5, S("shell") } },
      "45 00 0000000b  00000005 0005 7368656c6c" },
    { "SESSION_LIST", { .type = CRP_MSG_SESSION_LIST, .request = { 6 } },
      "46 00 00000004  00000006" },
    { "SESSION_CLOSE", { .type = CRP_MSG_SESSION_CLOSE, .request = { 7, S("s1") } },
      "47 00 00000008  00000007 0002 7331" },
    { "ATTACH", { .type = CRP_MSG_ATTACH, .request = { 8, S("s1") } },
      "48 00 00000008  00000008 0002 7331" },
    { "SESSION_TICKET", { .type = CRP_MSG_SESSION_TICKET, .request = { 9, S("s1") } },
      "49 00 00000008  00000009 0002 7331" },
    { "FILE_LIST", { .type = CRP_MSG_FILE_LIST, .file = { 10, S("docs") } },
      "4a 00 0000000a  0000000a 0004 646f6373" },
    { "FILE_LIST of the top", { .type = CRP_MSG_FILE_LIST, .file = { 11, S("") } },
      "4a 00 00000006  0000000b 0000" },
    { "UPLOAD_BEGIN", { .type = CRP_MSG_UPLOAD_BEGIN, .file = { 12, S("a.txt"),
        .size = 5 } },
      "4b 00 00000013  0000000c 0005 612e747874 0000000000000005" },
    { "UPLOAD_DATA", { .type = CRP_MSG_UPLOAD_DATA, .file = { 13, S("a.txt"),
        .size = 5, .offset = 0, .data = { hello, 5 } } },
      "4c 00 00000020  0000000d 0005 612e747874 0000000000000005 0000000000000000"
      " 68656c6c6f" },
    { "DOWNLOAD", { .type = CRP_MSG_DOWNLOAD, .file = { 14, S("a.txt"),
        .offset = 0, .length = 1u << 20 } },
      "4d 00 00000017  0000000e 0005 612e747874 0000000000000000 00100000" },
    { "FILE_DELETE", { .type = CRP_MSG_FILE_DELETE, .file = { 15, S("a.txt") } },
      "4e 00 0000000b  0000000f 0005 612e747874" },
    { "OK", { .type = CRP_MSG_OK, .ok_request_id = 2 },
      "61 00 00000004  00000002" },
    { "APP_LIST", { .type = CRP_MSG_APP_LIST, .list = { .request_id = 1,
        .count = 1, .items = golden_apps } },
      "62 00 00000024  00000001 0001"
      " 0005 7368656c6c 0005 5368656c6c 0007 41207368656c6c 0001 00000100 03" },
    { "LAUNCHED", { .type = CRP_MSG_LAUNCHED, .launched = { .request_id = 5,
        .session_id = S("s1"), .ticket = S("t0k3n"), .expires_in_s = 60 } },
      "63 00 00000013  00000005 0002 7331 0005 74306b336e 0000003c" },
    { "SESSIONS", { .type = CRP_MSG_SESSIONS, .list = { .request_id = 6,
        .count = 1, .items = golden_sessions } },
      "64 00 0000001a  00000006 0001 0002 7331 0005 7368656c6c 000000006553f100 02" },
    { "ERROR", { .type = CRP_MSG_ERROR, .error = { .request_id = 5,
        .code = CRP_STATUS_NO_CAPACITY, .message = S("no capacity") } },
      "65 00 00000013  00000005 0009 000b 6e6f206361706163697479" },
    { "FILES", { .type = CRP_MSG_FILES, .files = { .request_id = 10,
        .used_bytes = 5, .quota_bytes = 1u << 20, .count = 2,
        .items = golden_files } },
      "66 00 00000045  0000000a 0000000000000005 0000000000100000 0002"
      " 0005 612e747874 01 0000000000000005 17979cfe362a0000"
      " 0004 646f6373 02 0000000000000000 17979cfe362a0000" },
    { "FILES truncated", { .type = CRP_MSG_FILES, .flags = CRP_FILES_FLAG_TRUNCATED,
        .files = { .request_id = 11, .used_bytes = 0, .quota_bytes = 0 } },
      "66 01 00000016  0000000b 0000000000000000 0000000000000000 0000" },
    { "UPLOAD_READY", { .type = CRP_MSG_UPLOAD_READY, .upload_ready = { 12, 3 } },
      "67 00 0000000c  0000000c 0000000000000003" },
    { "FILE_DATA", { .type = CRP_MSG_FILE_DATA, .file_data = { .request_id = 14,
        .size = 5, .mtime_ns = 1700000000000000000ull, .data = { hello, 5 } } },
      "68 00 00000019  0000000e 0000000000000005 17979cfe362a0000 68656c6c6f" },
};

static void
test_golden(gconstpointer data)
{
    const Golden *g = data;
    g_autoptr(GBytes) expected = crp_test_hex(g->hex);
    g_autoptr(GByteArray) out = g_byte_array_new();
    gsize exp_len;
    const guint8 *exp = g_bytes_get_data(expected, &exp_len);

    gsize written = crp_message_encode(&g->msg, out);
    g_assert_cmpuint(written, ==, exp_len);
    g_assert_cmpmem(out->data, out->len, exp, exp_len);

    /* Decoding the golden bytes and encoding again gives the same bytes. */
    CrpMessage decoded;
    g_autoptr(GError) error = NULL;
    gsize used = crp_message_decode(exp, exp_len, &decoded, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(used, ==, exp_len);
    g_assert_cmpuint(decoded.type, ==, g->msg.type);
    g_assert_cmpuint(decoded.flags, ==, g->msg.flags);

    /* Decoded lists carry raw entries; re-encode them through the iterator. */
    CrpAppInfo apps[4];
    CrpSessionInfo sessions[4];
    CrpFileEntry files[4];
    if (decoded.type == CRP_MSG_FILES) {
        CrpListIter it;
        guint n = 0;
        crp_list_iter_init_files(&it, &decoded.files);
        while (n < 4 && crp_list_iter_next_file(&it, &files[n])) {
            n++;
        }
        g_assert_cmpuint(n, ==, decoded.files.count);
        decoded.files.items = files;
    }
    if (decoded.type == CRP_MSG_APP_LIST || decoded.type == CRP_MSG_SESSIONS) {
        CrpListIter it;
        guint n = 0;
        crp_list_iter_init(&it, &decoded.list);
        if (decoded.type == CRP_MSG_APP_LIST) {
            while (n < 4 && crp_list_iter_next_app(&it, &apps[n])) {
                n++;
            }
            decoded.list.items = apps;
        } else {
            while (n < 4 && crp_list_iter_next_session(&it, &sessions[n])) {
                n++;
            }
            decoded.list.items = sessions;
        }
        g_assert_cmpuint(n, ==, decoded.list.count);
    }
    g_autoptr(GByteArray) again = g_byte_array_new();
    crp_message_encode(&decoded, again);
    g_assert_cmpmem(again->data, again->len, exp, exp_len);

    /* Every truncation is an error, never a crash or a short read. */
    for (gsize cut = 0; cut < exp_len; cut++) {
        g_autoptr(GError) cut_error = NULL;
        g_assert_cmpuint(crp_message_decode(exp, cut, &decoded, &cut_error), ==, 0);
        g_assert_error(cut_error, CRP_ERROR, CRP_ERROR_PROTOCOL);
    }

    /* A body one byte longer than its fields is malformed. */
    g_autoptr(GByteArray) longer = g_byte_array_new();
    g_byte_array_append(longer, exp, exp_len);
    guint8 extra = 0;
    g_byte_array_append(longer, &extra, 1);
    crp_patch_u32(longer, 2, exp_len - CRP_MESSAGE_HEADER_SIZE + 1);
    g_autoptr(GError) long_error = NULL;
    used = crp_message_decode(longer->data, longer->len, &decoded, &long_error);
    if (g->msg.type == CRP_MSG_RECT &&
        (g->msg.rect.encoding == CRP_ENCODING_ZLIB ||
         g->msg.rect.encoding == CRP_ENCODING_ZSTD ||
         g->msg.rect.encoding == CRP_ENCODING_H264 ||
         g->msg.rect.encoding == CRP_ENCODING_JPEG)) {
        /* Compressed data runs to the end of the body: it just got longer. */
        g_assert_no_error(long_error);
        g_assert_cmpuint(decoded.rect.data.len, ==, g->msg.rect.data.len + 1);
    } else if (g->msg.type == CRP_MSG_AUDIO_OUT || g->msg.type == CRP_MSG_AUDIO_IN) {
        g_assert_no_error(long_error);
        g_assert_cmpuint(decoded.audio.packet.len, ==, g->msg.audio.packet.len + 1);
    } else {
        g_assert_error(long_error, CRP_ERROR, CRP_ERROR_PROTOCOL);
        g_assert_cmpuint(used, ==, 0);
    }
}

/* Messages that must be refused, each with why. */
static const struct {
    const char *why;
    const char *hex;
    int code;
} invalid[] = {
    { "unknown type", "7e 00 00000000", CRP_ERROR_PROTOCOL },
    { "body over the cap", "27 00 00400000", CRP_ERROR_TOO_LARGE },
    { "empty SURFACE", "01 00 00000004 0000 0438", CRP_ERROR_PROTOCOL },
    { "SURFACE too wide", "01 00 00000004 2329 0010", CRP_ERROR_PROTOCOL },
    { "SURFACE too many pixels", "01 00 00000004 2000 2000", CRP_ERROR_PROTOCOL },
    { "RECT of zero width", "02 00 0000000d 0000 0000 0000 0001 00 00000000", CRP_ERROR_PROTOCOL },
    { "RECT past the largest surface", "02 00 0000000d 1ff0 0000 0020 0001 00 00000000", CRP_ERROR_PROTOCOL },
    { "RECT fill with high byte", "02 00 0000000d 0000 0000 0001 0001 00 ff000000", CRP_ERROR_PROTOCOL },
    { "RECT raw too short", "02 00 0000000d 0000 0000 0002 0001 01 0000ff00", CRP_ERROR_PROTOCOL },
    { "RECT unknown encoding", "02 00 0000000d 0000 0000 0001 0001 09 00000000", CRP_ERROR_PROTOCOL },
    { "RECT zlib without data", "02 00 00000009 0000 0000 0001 0001 02", CRP_ERROR_PROTOCOL },
    { "RECT h264 without data", "02 00 0000000a 0000 0000 0010 0010 06 00", CRP_ERROR_PROTOCOL },
    { "RECT h264 without a stream", "02 00 00000009 0000 0000 0010 0010 06", CRP_ERROR_PROTOCOL },
    { "RECT h264 stream 4", "02 00 0000000b 0000 0000 0010 0010 06 04 00", CRP_ERROR_PROTOCOL },
    { "RECT h264 of odd width", "02 00 0000000b 0000 0000 0011 0010 06 00 00", CRP_ERROR_PROTOCOL },
    { "RECT h264 of odd height", "02 00 0000000b 0000 0000 0010 0011 06 00 00", CRP_ERROR_PROTOCOL },
    { "RECT h264 wider than 4096", "02 00 0000000b 0000 0000 1002 0010 06 00 00", CRP_ERROR_PROTOCOL },
    { "RECT h264 over the pixel cap", "02 00 0000000b 0000 0000 1000 0902 06 00 00", CRP_ERROR_PROTOCOL },
    { "RECT copy source past the edge", "02 00 0000000d 0000 0000 0100 0100 04 1f80 0000", CRP_ERROR_PROTOCOL },
    { "CURSOR_SHAPE too large", "04 00 00000008 0101 0001 0000 0000", CRP_ERROR_PROTOCOL },
    { "CURSOR_SHAPE hotspot outside", "04 00 0000000c 0001 0001 0001 0000 ff102030", CRP_ERROR_PROTOCOL },
    { "CURSOR_SHAPE zero width only", "04 00 00000008 0000 0001 0000 0000", CRP_ERROR_PROTOCOL },
    { "CURSOR_POS visible=2", "05 00 00000005 0064 00c8 02", CRP_ERROR_PROTOCOL },
    { "AUDIO_FORMAT at 44.1 kHz", "06 00 00000006 01 02 0000ac44", CRP_ERROR_PROTOCOL },
    { "AUDIO_FORMAT unknown codec", "06 00 00000006 02 02 0000bb80", CRP_ERROR_PROTOCOL },
    { "AUDIO_OUT without packet", "07 00 00000008 0000000000004e20", CRP_ERROR_PROTOCOL },
    { "KEY code past KEY_MAX", "21 00 00000007 00000005 0300 01", CRP_ERROR_PROTOCOL },
    { "KEY down=2", "21 00 00000007 00000005 001e 02", CRP_ERROR_PROTOCOL },
    { "RESIZE_REQUEST to zero", "26 00 00000004 0000 0320", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_GRAB unknown format", "30 00 00000005 00000001 04", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_REQUEST of two formats", "31 00 00000005 00000001 03", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_REQUEST of no format", "31 00 00000005 00000001 00", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA total over 16 MiB",
      "32 00 00000010 00000001 01 00 01000001 00000000 6869", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA chunk past the total",
      "32 00 00000010 00000001 01 00 00000002 00000001 6869", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA offset past the total",
      "32 00 0000000e 00000001 01 00 00000002 00000003", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA empty chunk", "32 00 0000000e 00000001 01 00 00000002 00000000",
      CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA refusal with data",
      "32 00 00000010 00000001 01 03 00000000 00000000 6869", CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA unknown status", "32 00 0000000e 00000001 01 04 00000000 00000000",
      CRP_ERROR_PROTOCOL },
    { "CLIPBOARD_DATA truncated", "32 00 0000000d 00000001 01 00 00000000 000000",
      CRP_ERROR_PROTOCOL },
    { "BYE with invalid UTF-8", "3f 00 00000006 000f 0002 c328", CRP_ERROR_PROTOCOL },
    { "BYE string longer than body", "3f 00 00000006 000f 00ff 6162", CRP_ERROR_PROTOCOL },
    { "UPLOAD_BEGIN without a path", "4b 00 0000000e 0000000c 0000 0000000000000005",
      CRP_ERROR_PROTOCOL },
    { "FILE_DELETE without a path", "4e 00 00000006 0000000f 0000", CRP_ERROR_PROTOCOL },
    { "UPLOAD_DATA past the size",
      "4c 00 00000020 0000000d 0005 612e747874 0000000000000005 0000000000000001"
      " 68656c6c6f", CRP_ERROR_PROTOCOL },
    { "UPLOAD_DATA offset near 2^64",
      "4c 00 00000020 0000000d 0005 612e747874 ffffffffffffffff fffffffffffffffe"
      " 68656c6c6f", CRP_ERROR_PROTOCOL },
    { "UPLOAD_DATA without data",
      "4c 00 0000001b 0000000d 0005 612e747874 0000000000000005 0000000000000000",
      CRP_ERROR_PROTOCOL },
    { "DOWNLOAD of zero bytes",
      "4d 00 00000017 0000000e 0005 612e747874 0000000000000000 00000000",
      CRP_ERROR_PROTOCOL },
    { "DOWNLOAD over the chunk cap",
      "4d 00 00000017 0000000e 0005 612e747874 0000000000000000 00100001",
      CRP_ERROR_PROTOCOL },
    { "FILES entry of unknown kind",
      "66 00 0000002e 0000000a 0000000000000005 0000000000100000 0001"
      " 0005 612e747874 03 0000000000000005 17979cfe362a0000", CRP_ERROR_PROTOCOL },
    { "FILES entry without a name",
      "66 00 00000029 0000000a 0000000000000005 0000000000100000 0001"
      " 0000 01 0000000000000005 17979cfe362a0000", CRP_ERROR_PROTOCOL },
    { "FILE_DATA longer than the file",
      "68 00 00000019 0000000e 0000000000000004 17979cfe362a0000 68656c6c6f",
      CRP_ERROR_PROTOCOL },
    { "SUBSCRIBE without a name", "42 00 00000006 00000002 0000", CRP_ERROR_PROTOCOL },
    { "APP_LIST count over the cap", "62 00 00000006 00000001 0401", CRP_ERROR_PROTOCOL },
    { "SESSIONS with fewer entries than counted",
      "64 00 0000001a 00000006 0002 0002 7331 0005 7368656c6c 000000006553f100 02",
      CRP_ERROR_PROTOCOL },
};

static void
test_invalid(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(invalid); i++) {
        g_autoptr(GBytes) bytes = crp_test_hex(invalid[i].hex);
        g_autoptr(GError) error = NULL;
        CrpMessage msg;
        gsize len;
        const guint8 *data = g_bytes_get_data(bytes, &len);
        g_test_message("%s", invalid[i].why);
        g_assert_cmpuint(crp_message_decode(data, len, &msg, &error), ==, 0);
        g_assert_error(error, CRP_ERROR, invalid[i].code);
    }
}

static void
test_directions(void)
{
    g_assert_true(crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER, CRP_MSG_RECT));
    g_assert_false(crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT, CRP_MSG_RECT));
    g_assert_true(crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT, CRP_MSG_KEY));
    g_assert_false(crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT, CRP_MSG_KEY));
    g_assert_true(crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT, CRP_MSG_LAUNCH));
    g_assert_false(crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_SERVER, CRP_MSG_LAUNCH));
    g_assert_true(crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_SERVER, CRP_MSG_BYE));
    g_assert_false(crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER, 0x7e));
    /* The clipboard goes both ways, on the display channel only. */
    g_assert_true(crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_SERVER,
                                           CRP_MSG_CLIPBOARD_GRAB));
    g_assert_true(crp_message_type_allowed(CRP_CHANNEL_DISPLAY, CRP_ROLE_CLIENT,
                                           CRP_MSG_CLIPBOARD_DATA));
    g_assert_false(crp_message_type_allowed(CRP_CHANNEL_BROKER, CRP_ROLE_CLIENT,
                                            CRP_MSG_CLIPBOARD_REQUEST));
    g_assert_cmpstr(crp_message_type_name(CRP_MSG_FRAME_ACK), ==, "FRAME_ACK");
    g_assert_null(crp_message_type_name(0x00));
    g_assert_cmpstr(crp_status_to_string(CRP_STATUS_KEY_REVOKED), ==,
                    "this key has been revoked");
    g_assert_cmpstr(crp_status_to_string(999), ==, "unknown status");
}

/* Several messages back to back decode one at a time. */
static void
test_sequence(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    for (gsize i = 0; i < G_N_ELEMENTS(goldens); i++) {
        crp_message_encode(&goldens[i].msg, out);
    }
    gsize pos = 0, n = 0;
    while (pos < out->len) {
        CrpMessage msg;
        g_autoptr(GError) error = NULL;
        gsize used = crp_message_decode(out->data + pos, out->len - pos, &msg, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(msg.type, ==, goldens[n].msg.type);
        pos += used;
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(goldens));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(goldens); i++) {
        g_autofree char *path = g_strdup_printf("/message/golden/%s", goldens[i].name);
        for (char *p = path; *p; p++) {
            if (*p == ' ') {
                *p = '-';
            }
        }
        g_test_add_data_func(path, &goldens[i], test_golden);
    }
    g_test_add_func("/message/invalid", test_invalid);
    g_test_add_func("/message/directions", test_directions);
    g_test_add_func("/message/sequence", test_sequence);
    return g_test_run();
}
