/*
 * test-crp-uri.c: crp:// links.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-uri.h"

static void check(const char *text, const char *broker, const char *app)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpUri) uri = crp_uri_parse(text, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(uri->broker_address, ==, broker);
    g_assert_cmpstr(uri->app, ==, app);
}

static void test_good_links(void)
{
    check("crp://broker.example.org/office", "tcp:broker.example.org:5930", "office");
    check("crp://broker.example.org:6000/office/", "tcp:broker.example.org:6000", "office");
    check("CRP://10.0.0.1/a", "tcp:10.0.0.1:5930", "a");
    check("crp://[::1]:7000/demo", "tcp:[::1]:7000", "demo");
    check("crp:///demo", NULL, "demo");
    check("crp:/demo", NULL, "demo");
}

static void test_bad_links(void)
{
    const char *bad[] = {
        "http://broker/app", "crp://broker", "crp://broker/", "crp://broker/a/b",
        "crp://broker/a%2Fb", "crp://user@broker/app", "crp://broker/app?x=1",
        "crp://broker/app#frag", "", "not a link", "crp:",
        "crp://broker/0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(CrpUri) uri = crp_uri_parse(bad[i], &error);
        if (uri) {
            g_error("'%s' was taken", bad[i]);
        }
        g_assert_error(error, G_URI_ERROR, G_URI_ERROR_FAILED);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/uri/good", test_good_links);
    g_test_add_func("/uri/bad", test_bad_links);
    return g_test_run();
}
