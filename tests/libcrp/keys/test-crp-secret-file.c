/*
 * test-crp-secret-file.c: the one reader of secret files (keys, tickets):
 * refused when others may read them, oversized, links, FIFOs or not
 * regular files; ticket files trimmed and refused when empty or not text.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <crp/crp-secret-file.h>

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    /* Not cut short at the NUL: a ticket with bytes after it is not text. */
    g_autofree char *nul = write_file("nul", "abc\0def\n", 8, 0600);
    g_autofree char *latin1 = write_file("latin1", "caf\xe9\n", -1, 0600);
    struct { const char *path; int code; const char *says; } cases[] = {
        { loose, G_FILE_ERROR_PERM, "chmod 600" },
        { empty, G_FILE_ERROR_INVAL, "empty" },
        { big, G_FILE_ERROR_INVAL, "too big" },
        { missing, G_FILE_ERROR_NOENT, "Cannot open" },
        { g_get_tmp_dir(), G_FILE_ERROR_INVAL, "not a regular file" },
        { nul, G_FILE_ERROR_INVAL, "not UTF-8 text" },
        { latin1, G_FILE_ERROR_INVAL, "not UTF-8 text" },
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

/* Bytes, for keys: exactly up to the limit, NULs kept. */
static void test_load_bytes(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = write_file("bytes", "k\0y", 3, 0600);
    gsize len = 0;
    char *bytes = crp_secret_file_load(path, 3, &len, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(len, ==, 3);
    g_assert_cmpmem(bytes, 3, "k\0y", 3);
    g_assert_cmpint(bytes[3], ==, '\0');
    crp_secret_free_len(bytes, len);

    g_assert_null(crp_secret_file_load(path, 2, &len, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    g_assert_nonnull(strstr(error->message, "too big"));
}

/*
 * A FIFO at the path must be refused at once, not read (the key loaders
 * opened it blocking and hung until a writer came), and a symbolic link
 * is refused for keys and tickets alike.
 */
static void test_fifo_and_link(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-secret-XXXXXX", &error);
    g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
    g_autofree char *target = write_file("target", "t\n", -1, 0600);
    g_autofree char *link = g_build_filename(dir, "link", NULL);
    gsize len;

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_assert_null(crp_secret_file_load(fifo, 4096, &len, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_clear_error(&error);

    g_assert_cmpint(symlink(target, link), ==, 0);
    g_assert_null(crp_secret_file_read(link, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    g_assert_nonnull(strstr(error->message, "symbolic link"));
    g_unlink(link);
    g_unlink(fifo);
    g_rmdir(dir);
}

/* The parser the file reader uses, on bytes. */
static void test_parse(void)
{
    struct { const char *data; gsize len; const char *secret; } cases[] = {
        { "\t t0k\u00e9n \r\n", 11, "t0k\u00e9n" },
        { "a b", 3, "a b" },
        { "", 0, NULL },
        { "\n\n", 2, NULL },
        { "t\0", 2, NULL },
        { "\xff", 1, NULL },
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        char *secret = crp_secret_parse(cases[i].data, cases[i].len, "T", &error);
        g_assert_cmpstr(secret, ==, cases[i].secret);
        if (secret) {
            g_assert_no_error(error);
        } else {
            g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
            g_assert_true(g_str_has_prefix(error->message, "T"));
        }
        crp_secret_free(secret);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    g_test_add_func("/secret-file/read", test_reads_and_trims);
    g_test_add_func("/secret-file/refusals", test_refusals);
    g_test_add_func("/secret-file/parse", test_parse);
    g_test_add_func("/secret-file/bytes", test_load_bytes);
    g_test_add_func("/secret-file/fifo-and-link", test_fifo_and_link);
    return g_test_run();
}
