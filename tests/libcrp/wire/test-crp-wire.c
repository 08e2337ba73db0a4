/* test-crp-wire.c: the bounds-checked reader and the writer. */
#include <crp/crp-wire.h>

static void
test_round_trip(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    crp_put_u8(out, 0xab);
    crp_put_u16(out, 0x1234);
    crp_put_u32(out, 0xdeadbeef);
    crp_put_u64(out, G_GUINT64_CONSTANT(0x0102030405060708));
    crp_put_i16(out, -2);
    crp_put_str(out, "héllo");

    static const guint8 expected[] = {
        0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
        1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xfe,
        0x00, 0x06, 'h', 0xc3, 0xa9, 'l', 'l', 'o',
    };
    g_assert_cmpmem(out->data, out->len, expected, sizeof(expected));

    CrpReader r;
    crp_reader_init(&r, out->data, out->len);
    g_assert_cmpuint(crp_reader_u8(&r), ==, 0xab);
    g_assert_cmpuint(crp_reader_u16(&r), ==, 0x1234);
    g_assert_cmpuint(crp_reader_u32(&r), ==, 0xdeadbeef);
    g_assert_cmpuint(crp_reader_u64(&r), ==, G_GUINT64_CONSTANT(0x0102030405060708));
    g_assert_cmpint(crp_reader_i16(&r), ==, -2);
    CrpStr s = crp_reader_str(&r, 16);
    g_assert_true(crp_str_equal(s, "héllo"));
    g_assert_true(crp_reader_done(&r));
}

static void
test_sticky_error(void)
{
    static const guint8 data[] = { 1, 2, 3 };
    CrpReader r;
    crp_reader_init(&r, data, sizeof(data));
    g_assert_cmpuint(crp_reader_u16(&r), ==, 0x0102);
    g_assert_cmpuint(crp_reader_u16(&r), ==, 0);     /* runs past the end */
    g_assert_false(crp_reader_ok(&r));
    /* Once failed, even a read that would fit returns 0. */
    g_assert_cmpuint(crp_reader_u8(&r), ==, 0);
    g_assert_cmpuint(crp_reader_remaining(&r), ==, 0);
    g_assert_false(crp_reader_done(&r));
}

static void
test_string_caps(void)
{
    /* Longer than the cap the caller gives. */
    static const guint8 long_str[] = { 0x00, 0x05, 'a', 'b', 'c', 'd', 'e' };
    CrpReader r;
    crp_reader_init(&r, long_str, sizeof(long_str));
    crp_reader_str(&r, 4);
    g_assert_false(crp_reader_ok(&r));

    /* Length beyond the buffer. */
    static const guint8 truncated[] = { 0xff, 0xff, 'a' };
    crp_reader_init(&r, truncated, sizeof(truncated));
    crp_reader_str(&r, CRP_MAX_STRING);
    g_assert_false(crp_reader_ok(&r));

    /* Invalid UTF-8 and embedded NUL are refused. */
    static const guint8 bad_utf8[] = { 0x00, 0x02, 0xc3, 0x28 };
    crp_reader_init(&r, bad_utf8, sizeof(bad_utf8));
    crp_reader_str(&r, CRP_MAX_STRING);
    g_assert_false(crp_reader_ok(&r));

    static const guint8 nul[] = { 0x00, 0x02, 'a', 0x00 };
    crp_reader_init(&r, nul, sizeof(nul));
    crp_reader_str(&r, CRP_MAX_STRING);
    g_assert_false(crp_reader_ok(&r));
}

static void
test_views(void)
{
    static const guint8 data[] = { 9, 8, 7, 6 };
    CrpReader r;
    crp_reader_init(&r, data, sizeof(data));
    CrpView v = crp_reader_view(&r, 2);
    g_assert_true(v.data == data && v.len == 2);
    CrpView rest = crp_reader_rest(&r);
    g_assert_true(rest.data == data + 2 && rest.len == 2);
    g_assert_true(crp_reader_done(&r));
    CrpView past = crp_reader_view(&r, 1);
    g_assert_null(past.data);
    g_assert_false(crp_reader_ok(&r));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wire/round-trip", test_round_trip);
    g_test_add_func("/wire/sticky-error", test_sticky_error);
    g_test_add_func("/wire/string-caps", test_string_caps);
    g_test_add_func("/wire/views", test_views);
    return g_test_run();
}
