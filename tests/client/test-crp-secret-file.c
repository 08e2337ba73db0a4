/*
 * test-crp-secret-file.c: ticket files: trimmed, and refused when others
 * may read them, empty, oversized or not regular files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-secret-file.h"

#include <glib/gstdio.h>
#include <string.h>

static char *write_file(const char *name, const char *text, gssize len, int mode)
{
    char *path = g_build_filename(g_get_tmp_dir(), name, NULL);
    g_assert_true(g_file_set_contents(path, text, len, NULL));
    g_assert_cmpint(g_chmod(path, mode), ==, 0);
    return path;
}

static void test_reads_and_trims(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = write_file("ok", "  s3cret-ticket\n\n", -1, 0600);
    char *secret = crp_secret_file_read(path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(secret, ==, "s3cret-ticket");
    crp_secret_free(secret);
    crp_secret_free(NULL);
}

static void test_refusals(void)
{
    g_autofree char *loose = write_file("loose", "t\n", -1, 0640);
    g_autofree char *empty = write_file("empty", " \n", -1, 0600);
    g_autofree char *big_text = g_malloc(5000);
    memset(big_text, 'x', 5000);
    g_autofree char *big = write_file("big", big_text, 5000, 0600);
    g_autofree char *missing = g_build_filename(g_get_tmp_dir(), "missing", NULL);
    struct { const char *path; int code; const char *says; } cases[] = {
        { loose, G_FILE_ERROR_PERM, "chmod 600" },
        { empty, G_FILE_ERROR_INVAL, "empty" },
        { big, G_FILE_ERROR_INVAL, "too big" },
        { missing, G_FILE_ERROR_NOENT, "Cannot open" },
        { g_get_tmp_dir(), G_FILE_ERROR_INVAL, "not a regular file" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_null(crp_secret_file_read(cases[i].path, &error));
        g_assert_error(error, G_FILE_ERROR, cases[i].code);
        g_assert_nonnull(strstr(error->message, cases[i].says));
        /* What the file holds never appears in a message. */
        g_assert_null(strstr(error->message, "xxxx"));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    g_test_add_func("/secret-file/read", test_reads_and_trims);
    g_test_add_func("/secret-file/refusals", test_refusals);
    return g_test_run();
}
