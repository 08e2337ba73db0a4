/*
 * test-crp-clipboard.c: clipboard content out in chunks and back in
 * (crp-clipboard.c): the largest content whole, the caps, refusals, and
 * the chunks or content a hostile peer could send.
 */
#include <crp/crp-clipboard.h>
#include <crp/crp-error.h>
#include <string.h>

/* Every chunk @out makes, encoded and decoded again as a receiver would,
 * fed to @in; the result of the last. */
static CrpClipboardInResult
transfer(CrpClipboardOut *out, CrpClipboardIn *in, guint *chunks, GError **error)
{
    CrpClipboardInResult r = CRP_CLIPBOARD_IN_IGNORED;
    CrpMessage m;

    *chunks = 0;
    while (crp_clipboard_out_next(out, &m)) {
        g_autoptr(GByteArray) wire = g_byte_array_new();
        CrpMessage back;
        crp_message_encode(&m, wire);
        g_assert_cmpuint(wire->len, <=, CRP_MAX_RECORD_PLAINTEXT);
        g_assert_cmpuint(crp_message_decode(wire->data, wire->len, &back, NULL),
                         ==, wire->len);
        r = crp_clipboard_in_feed(in, &back.clipboard_data, error);
        (*chunks)++;
        if (r == CRP_CLIPBOARD_IN_ERROR) {
            break;
        }
    }
    return r;
}

static GBytes *
text_of(gsize len, char c)
{
    char *s = g_malloc(len);
    memset(s, c, len);
    return g_bytes_new_take(s, len);
}

/* 16 MiB, the cap, crosses whole in 256 KiB chunks. */
static void
test_largest(void)
{
    g_autoptr(GBytes) text = text_of(CRP_MAX_CLIPBOARD, 'a');
    g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(7, CRP_CLIPBOARD_TEXT, text);
    g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) got = NULL;
    guint chunks;
    guint8 format;

    crp_clipboard_in_expect(in, 7, CRP_CLIPBOARD_TEXT);
    g_assert_cmpint(transfer(out, in, &chunks, &error), ==, CRP_CLIPBOARD_IN_DONE);
    g_assert_no_error(error);
    g_assert_cmpuint(chunks, ==, CRP_MAX_CLIPBOARD / CRP_CLIPBOARD_CHUNK);
    g_assert_cmpint(crp_clipboard_in_take(in, &format, &got), ==, CRP_CLIPBOARD_OK);
    g_assert_cmpuint(format, ==, CRP_CLIPBOARD_TEXT);
    g_assert_true(g_bytes_equal(got, text));
    g_assert_false(crp_clipboard_in_pending(in, NULL, NULL));
}

/* One byte over the cap is refused TOO_LARGE, in one message. */
static void
test_too_large(void)
{
    g_autoptr(GBytes) text = text_of(CRP_MAX_CLIPBOARD + 1, 'a');
    g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(3, CRP_CLIPBOARD_TEXT, text);
    g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) got = NULL;
    guint chunks;
    guint8 format;

    crp_clipboard_in_expect(in, 3, CRP_CLIPBOARD_TEXT);
    g_assert_cmpint(transfer(out, in, &chunks, &error), ==, CRP_CLIPBOARD_IN_DONE);
    g_assert_cmpuint(chunks, ==, 1);
    g_assert_cmpint(crp_clipboard_in_take(in, &format, &got), ==,
                    CRP_CLIPBOARD_TOO_LARGE);
    g_assert_null(got);
}

/* Empty text is content (one empty chunk); no content is NONE. */
static void
test_empty_and_none(void)
{
    g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
    g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(1, CRP_CLIPBOARD_TEXT, empty);
    g_autoptr(CrpClipboardOut) none = crp_clipboard_out_new(2, CRP_CLIPBOARD_PNG, NULL);
    g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
    g_autoptr(GBytes) got = NULL;
    guint chunks;
    guint8 format;

    crp_clipboard_in_expect(in, 1, CRP_CLIPBOARD_TEXT);
    g_assert_cmpint(transfer(out, in, &chunks, NULL), ==, CRP_CLIPBOARD_IN_DONE);
    g_assert_cmpint(crp_clipboard_in_take(in, &format, &got), ==, CRP_CLIPBOARD_OK);
    g_assert_cmpuint(g_bytes_get_size(got), ==, 0);
    g_clear_pointer(&got, g_bytes_unref);

    crp_clipboard_in_expect(in, 2, CRP_CLIPBOARD_PNG);
    g_assert_cmpint(transfer(none, in, &chunks, NULL), ==, CRP_CLIPBOARD_IN_DONE);
    g_assert_cmpint(crp_clipboard_in_take(in, &format, &got), ==, CRP_CLIPBOARD_NONE);
    g_assert_cmpuint(format, ==, CRP_CLIPBOARD_PNG);
    g_assert_null(got);
}

/* Answers nobody waits for (no request, an older serial, another
 * format) are dropped without being kept. */
static void
test_unrequested(void)
{
    g_autoptr(GBytes) text = text_of(10, 'b');
    g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
    guint chunks;

    {
        g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(5, CRP_CLIPBOARD_TEXT, text);
        g_assert_cmpint(transfer(out, in, &chunks, NULL), ==, CRP_CLIPBOARD_IN_IGNORED);
    }
    crp_clipboard_in_expect(in, 6, CRP_CLIPBOARD_TEXT);
    {
        g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(5, CRP_CLIPBOARD_TEXT, text);
        g_assert_cmpint(transfer(out, in, &chunks, NULL), ==, CRP_CLIPBOARD_IN_IGNORED);
    }
    {
        g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(6, CRP_CLIPBOARD_PNG, text);
        g_assert_cmpint(transfer(out, in, &chunks, NULL), ==, CRP_CLIPBOARD_IN_IGNORED);
    }
    g_assert_true(crp_clipboard_in_pending(in, NULL, NULL));
}

static CrpClipboardDataMsg
chunk(guint32 total, guint32 offset, const char *data)
{
    return (CrpClipboardDataMsg){ .serial = 1, .format = CRP_CLIPBOARD_TEXT,
                                  .total = total, .offset = offset,
                                  .data = { (const guint8 *)data, strlen(data) } };
}

/* Chunks out of order, a total that changes, or a first chunk that does
 * not start at 0 are protocol errors. */
static void
test_out_of_order(void)
{
    const struct {
        const char *why;
        CrpClipboardDataMsg first, second;
    } cases[] = {
        { "a gap", chunk(6, 0, "ab"), chunk(6, 3, "cd") },
        { "a chunk again", chunk(6, 0, "ab"), chunk(6, 0, "ab") },
        { "another total", chunk(6, 0, "ab"), chunk(7, 2, "cd") },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
        g_autoptr(GError) error = NULL;
        g_test_message("%s", cases[i].why);
        crp_clipboard_in_expect(in, 1, CRP_CLIPBOARD_TEXT);
        g_assert_cmpint(crp_clipboard_in_feed(in, &cases[i].first, NULL), ==,
                        CRP_CLIPBOARD_IN_MORE);
        g_assert_cmpint(crp_clipboard_in_feed(in, &cases[i].second, &error), ==,
                        CRP_CLIPBOARD_IN_ERROR);
        g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
    }
    g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
    g_autoptr(GError) error = NULL;
    CrpClipboardDataMsg late = chunk(6, 2, "cd");
    crp_clipboard_in_expect(in, 1, CRP_CLIPBOARD_TEXT);
    g_assert_cmpint(crp_clipboard_in_feed(in, &late, &error), ==, CRP_CLIPBOARD_IN_ERROR);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
}

/* Content is what its format says, or the peer broke the protocol. */
static void
test_content_checked(void)
{
    static const guint8 png_head[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0 };
    const struct {
        const char *why;
        guint8 format;
        const guint8 *data;
        gsize len;
        gboolean ok;
    } cases[] = {
        { "text", CRP_CLIPBOARD_TEXT, (const guint8 *)"gr\xc3\xbc\xc3\x9f", 6, TRUE },
        { "text, not UTF-8", CRP_CLIPBOARD_TEXT, (const guint8 *)"a\xc3(", 3, FALSE },
        { "text with a NUL", CRP_CLIPBOARD_TEXT, (const guint8 *)"a\0b", 3, FALSE },
        { "a PNG", CRP_CLIPBOARD_PNG, png_head, sizeof(png_head), TRUE },
        { "a PNG without its signature", CRP_CLIPBOARD_PNG, png_head + 1,
          sizeof(png_head) - 1, FALSE },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GBytes) content = g_bytes_new(cases[i].data, cases[i].len);
        g_autoptr(CrpClipboardOut) out = crp_clipboard_out_new(9, cases[i].format, content);
        g_autoptr(CrpClipboardIn) in = crp_clipboard_in_new();
        g_autoptr(GError) error = NULL;
        guint chunks;
        g_test_message("%s", cases[i].why);
        crp_clipboard_in_expect(in, 9, cases[i].format);
        CrpClipboardInResult r = transfer(out, in, &chunks, &error);
        if (cases[i].ok) {
            g_assert_no_error(error);
            g_assert_cmpint(r, ==, CRP_CLIPBOARD_IN_DONE);
        } else {
            g_assert_cmpint(r, ==, CRP_CLIPBOARD_IN_ERROR);
            g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
        }
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/clipboard/largest", test_largest);
    g_test_add_func("/clipboard/too-large", test_too_large);
    g_test_add_func("/clipboard/empty-and-none", test_empty_and_none);
    g_test_add_func("/clipboard/unrequested", test_unrequested);
    g_test_add_func("/clipboard/out-of-order", test_out_of_order);
    g_test_add_func("/clipboard/content-checked", test_content_checked);
    return g_test_run();
}
