/*
 * test-crp-settings.c: the remembered key file, the view preference and
 * what each app's window remembers (in an isolated XDG_CONFIG_HOME).
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

static char *ini_path(void)
{
    return g_build_filename(g_get_user_config_dir(), "crp", "client.ini", NULL);
}

static void test_fit_guest_preference(void)
{
    g_autoptr(GError) error = NULL;

    /* Nothing remembered: the guest follows the window. */
    g_assert_true(crp_settings_get_fit_guest());
    g_assert_true(crp_settings_set_fit_guest(FALSE, &error));
    g_assert_no_error(error);
    g_assert_false(crp_settings_get_fit_guest());

    /* It lives beside the key file; neither loses the other. */
    g_assert_true(crp_settings_set_key_file("/k/alice.key", &error));
    g_assert_false(crp_settings_get_fit_guest());
    g_assert_true(crp_settings_set_fit_guest(TRUE, &error));
    g_autofree char *key = crp_settings_get_key_file();
    g_assert_cmpstr(key, ==, "/k/alice.key");
    g_assert_true(crp_settings_get_fit_guest());

    /* A value that is no boolean is the default. */
    g_autofree char *ini = ini_path();
    g_assert_true(g_file_set_contents(ini, "[view]\nfit-guest=perhaps\n", -1, NULL));
    g_assert_true(crp_settings_get_fit_guest());
}

static void test_per_app_memory(void)
{
    g_autoptr(GError) error = NULL;
    CrpAppSettings got;

    g_assert_false(crp_settings_get_app("office", &got));
    g_assert_cmpint(got.width, ==, 0);
    g_assert_false(got.one_to_one);
    g_assert_false(got.muted);

    CrpAppSettings office = { .width = 1024, .height = 700, .one_to_one = TRUE,
                              .muted = FALSE };
    CrpAppSettings shell = { .width = 800, .height = 600, .one_to_one = FALSE,
                             .muted = TRUE, .clipboard_muted = TRUE };
    g_assert_true(crp_settings_set_app("office", &office, &error));
    g_assert_no_error(error);
    /* A direct mode address, brackets and all, is an app name too. */
    g_assert_true(crp_settings_set_app("tcp:[::1]:5930", &shell, &error));
    g_assert_no_error(error);

    /* Each app gets back its own. */
    g_assert_true(crp_settings_get_app("office", &got));
    g_assert_cmpint(got.width, ==, 1024);
    g_assert_cmpint(got.height, ==, 700);
    g_assert_true(got.one_to_one);
    g_assert_false(got.muted);
    g_assert_false(got.clipboard_muted);
    g_assert_true(crp_settings_get_app("tcp:[::1]:5930", &got));
    g_assert_cmpint(got.width, ==, 800);
    g_assert_cmpint(got.height, ==, 600);
    g_assert_false(got.one_to_one);
    g_assert_true(got.muted);
    g_assert_true(got.clipboard_muted);
    g_assert_false(crp_settings_get_app("tcp:[::1]:5931", &got));

    /* Saving one app keeps the others and the login. */
    g_assert_true(crp_settings_set_key_file("/k/bob.key", &error));
    office.muted = TRUE;
    g_assert_true(crp_settings_set_app("office", &office, &error));
    g_assert_true(crp_settings_get_app("tcp:[::1]:5930", &got));
    g_assert_cmpint(got.width, ==, 800);
    g_autofree char *key = crp_settings_get_key_file();
    g_assert_cmpstr(key, ==, "/k/bob.key");
    g_assert_true(crp_settings_get_app("office", &got));
    g_assert_true(got.muted);

    /* A size that makes no sense is not kept, and not believed. */
    CrpAppSettings silly = { .width = -5, .height = 100000 };
    g_assert_true(crp_settings_set_app("silly", &silly, &error));
    g_assert_true(crp_settings_get_app("silly", &got));
    g_assert_cmpint(got.width, ==, 0);
    g_assert_cmpint(got.height, ==, 0);
    g_autofree char *ini = ini_path();
    g_assert_true(g_file_set_contents(ini, "[app office]\nwidth=99999999999\n"
                                      "height=x\nmuted=true\n", -1, NULL));
    g_assert_true(crp_settings_get_app("office", &got));
    g_assert_cmpint(got.width, ==, 0);
    g_assert_cmpint(got.height, ==, 0);
    g_assert_true(got.muted);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    g_test_add_func("/settings/key-file", test_remembers_the_key_file);
    g_test_add_func("/settings/fit-guest", test_fit_guest_preference);
    g_test_add_func("/settings/per-app", test_per_app_memory);
    return g_test_run();
}
