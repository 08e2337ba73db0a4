/*
 * test-crp-settings.c: the remembered key file (in an isolated
 * XDG_CONFIG_HOME).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-settings.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static void test_remembers_the_key_file(void)
{
    g_autofree char *ini = g_build_filename(g_get_user_config_dir(), "crp",
                                            "client.ini", NULL);
    g_autoptr(GError) error = NULL;

    g_assert_null(crp_settings_get_key_file());
    g_assert_true(crp_settings_set_key_file("/home/alice/alice.key", &error));
    g_assert_no_error(error);
    g_autofree char *got = crp_settings_get_key_file();
    g_assert_cmpstr(got, ==, "/home/alice/alice.key");

    /* Relative paths are stored absolute: the next run starts elsewhere. */
    g_assert_true(crp_settings_set_key_file("keys/bob.key", &error));
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *want = g_build_filename(cwd, "keys", "bob.key", NULL);
    g_autofree char *got2 = crp_settings_get_key_file();
    g_assert_cmpstr(got2, ==, want);

    /* The file holds the path only. */
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(ini, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "[login]"));
    g_assert_null(strstr(text, "secret"));

    /* A broken file is no remembered key, not a crash. */
    g_assert_true(g_file_set_contents(ini, "[login\nkey-file=\x01", -1, NULL));
    g_assert_null(crp_settings_get_key_file());
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    g_test_add_func("/settings/key-file", test_remembers_the_key_file);
    return g_test_run();
}
