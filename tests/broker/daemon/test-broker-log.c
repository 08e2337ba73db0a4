/*
 * test-broker-log.c: broker/daemon/broker-log.c, the broker's key=value
 * log lines: values that could forge a line or a key are quoted and
 * escaped, everything else reads as printf would write it.
 */
#include <glib.h>
#include <string.h>

#include "broker-log.h"

#define CHECK(expected, ...)                                               \
    do {                                                                   \
        g_autofree char *line_ = broker_log_format(__VA_ARGS__);           \
        g_assert_cmpstr(line_, ==, (expected));                            \
    } while (0)

static void
test_plain_values(void)
{
    CHECK("event=login conn=7 user=alice peer=127.0.0.1",
          "event=login conn=%u user=%s peer=%s", 7u, "alice", "127.0.0.1");
    CHECK("peer=unix:uid=1000 addr=2001:db8::1 app=my-app_2.0",
          "peer=%s addr=%s app=%s", "unix:uid=1000", "2001:db8::1",
          "my-app_2.0");
    CHECK("user=-", "user=%s", (const char *)NULL);
}

static void
test_quoted_values(void)
{
    CHECK("software=\"crp-client 0.1\"", "software=%s", "crp-client 0.1");
    CHECK("name=\"\"", "name=%s", "");
    CHECK("title=\"été\"", "title=%s", "été");
}

static void
test_forged_line(void)
{
    /* The review's example: a software name that starts a line of its own
     * claiming a login, with control bytes for the terminal. */
    const char *name = "x\n event=login user=admin \x01\x1b[2J\"q\\";

    CHECK("event=login user=alice software=\"x\\n event=login user=admin "
          "\\x01\\x1b[2J\\\"q\\\\\"",
          "event=login user=%s software=%s", "alice", name);
    /* A key=value pair in a value stays inside its quotes. */
    CHECK("user=\"bob status=OK\"", "user=%s", "bob status=OK");
    CHECK("r=\"a\\r\\tb\\x7f\"", "r=%s", "a\r\tb\x7f");
}

static void
test_already_quoted(void)
{
    CHECK("error=\"say \\\"hi\\\"\\nbye\"", "error=\"%s\"",
          "say \"hi\"\nbye");
    CHECK("error=\"plain\"", "error=\"%s\"", "plain");
}

static void
test_not_utf8_and_c1(void)
{
    CHECK("v=\"\\xff\\xfeok\"", "v=%s", "\xff\xfeok");
    CHECK("v=\"\\u009b2J\"", "v=%s", "\xc2\x9b" "2J");
    CHECK("v=\"a\\u2028b\"", "v=%s", "a\xe2\x80\xa8" "b");
    /* A multi-byte character cut short at the end. */
    CHECK("v=\"a\\xc3\"", "v=%s", "a\xc3");
}

static void
test_other_conversions(void)
{
    g_autofree char *want = g_strdup_printf(
        "%d %u %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %zu %x %5.2f "
        "%-4d| 100%%", -3, 4000000000u, G_MAXUINT64, G_MININT64,
        (size_t)42, 255u, 3.14159, 7);

    CHECK(want, "%d %u %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %zu %x "
          "%5.2f %-4d| 100%%", -3, 4000000000u, G_MAXUINT64, G_MININT64,
          (size_t)42, 255u, 3.14159, 7);
    /* Arguments after a string and a '*' are read in the right order. */
    CHECK("a=1 s=x b=2 t=abc c=3", "a=%d s=%s b=%lu t=%.*s c=%*d", 1, "x",
          2ul, 3, "abcdef", 1, 3);
    CHECK("c=x nl=\"\\n\"", "c=%c nl=%c", 'x', '\n');
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/broker-log/plain-values", test_plain_values);
    g_test_add_func("/broker-log/quoted-values", test_quoted_values);
    g_test_add_func("/broker-log/forged-line", test_forged_line);
    g_test_add_func("/broker-log/already-quoted", test_already_quoted);
    g_test_add_func("/broker-log/not-utf8-and-c1", test_not_utf8_and_c1);
    g_test_add_func("/broker-log/other-conversions", test_other_conversions);
    return g_test_run();
}
