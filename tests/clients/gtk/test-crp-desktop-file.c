/*
 * test-crp-desktop-file.c: clients/gtk/data/org.crp.Client.desktop is a
 * valid entry that launches crp-client with the link and claims crp://.
 *
 * Usage: test-crp-desktop-file CRP_CLIENT (GIO only takes an entry whose
 * program it can find: the built one is put first in PATH).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <gio/gdesktopappinfo.h>
#include <string.h>

static void test_desktop_file(void)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, "..", "clients", "gtk",
                                                  "data", "org.crp.Client.desktop",
                                                  NULL);
    g_autoptr(GDesktopAppInfo) info = g_desktop_app_info_new_from_filename(path);
    g_assert_nonnull(info);
    g_assert_cmpstr(g_app_info_get_name(G_APP_INFO(info)), ==, "CRP");
    g_assert_cmpstr(g_app_info_get_executable(G_APP_INFO(info)), ==, "crp-client");
    g_assert_true(g_app_info_supports_uris(G_APP_INFO(info)));
    const char *const *types = g_app_info_get_supported_types(G_APP_INFO(info));
    g_assert_nonnull(types);
    g_assert_true(g_strv_contains(types, "x-scheme-handler/crp"));
    g_assert_false(g_desktop_app_info_get_nodisplay(info));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (argc > 1) {
        g_autofree char *dir = g_path_get_dirname(argv[1]);
        g_autofree char *path = g_strconcat(dir, ":", g_getenv("PATH"), NULL);
        g_setenv("PATH", path, TRUE);
    }
    g_test_add_func("/desktop-file/valid", test_desktop_file);
    return g_test_run();
}
