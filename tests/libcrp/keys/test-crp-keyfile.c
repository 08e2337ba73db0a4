/* test-crp-keyfile.c: the user key file: format, round trip, refusals. */
#include <crp/crp-error.h>
#include <crp/crp-keyfile.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static const guint8 broker_pub[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                       14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
                                       25, 26, 27, 28, 29, 30, 31, 32 };

/* The format as documented in crp-keyfile.h, with known bytes. */
static const char golden[] =
    "[crp-user-key]\n"
    "version=1\n"
    "user=alice\n"
    "secret-key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    "broker-public-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"
    "broker-address=tcp:broker.example.org:5930\n";

static void
test_golden(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpUserKey) key = crp_user_key_parse(golden, strlen(golden), &error);
    g_assert_no_error(error);
    g_assert_cmpstr(key->user_id, ==, "alice");
    g_assert_cmpstr(key->broker_address, ==, "tcp:broker.example.org:5930");
    for (int i = 0; i < 32; i++) {
        g_assert_cmpuint(key->secret_key[i], ==, i);
    }
    g_assert_cmpmem(key->broker_public_key, 32, broker_pub, 32);

    /* Writing it back and parsing again gives the same key. */
    g_autofree char *text = crp_user_key_to_string(key);
    g_assert_nonnull(strstr(text, "secret-key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"));
    g_autoptr(CrpUserKey) again = crp_user_key_parse(text, strlen(text), &error);
    g_assert_no_error(error);
    g_assert_cmpmem(again->secret_key, 32, key->secret_key, 32);
}

static void
test_refusals(void)
{
    static const char *const bad[] = {
        "",
        "not a key file at all",
        "[crp-user-key]\nversion=2\nuser=a\nbroker-address=x\n",
        "[crp-user-key]\nversion=1\nuser=a\nbroker-address=x\n"
        "secret-key=AAEC\nbroker-public-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n",
        "[crp-user-key]\nversion=1\nbroker-address=x\n"
        "secret-key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        "broker-public-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n",
        "[other]\nversion=1\n",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_null(crp_user_key_parse(bad[i], strlen(bad[i]), &error));
        g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    }
    g_autofree char *huge = g_strnfill(10000, 'x');
    g_autoptr(GError) error = NULL;
    g_assert_null(crp_user_key_parse(huge, 10000, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
}

static void
test_files(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-key-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "alice.crpkey", NULL);
    g_autoptr(CrpUserKey) key = crp_user_key_generate("alice", broker_pub, "unix:/run/crp.sock");
    guint8 pub1[32], pub2[32];

    g_assert_true(crp_user_key_save(key, path, FALSE, &error));
    struct stat st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
    /* Not overwritten by accident. */
    g_assert_false(crp_user_key_save(key, path, FALSE, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    g_clear_error(&error);

    g_autoptr(CrpUserKey) loaded = crp_user_key_load(path, &error);
    g_assert_no_error(error);
    crp_user_key_public(key, pub1);
    crp_user_key_public(loaded, pub2);
    g_assert_cmpmem(pub1, 32, pub2, 32);

    /* Loose permissions are refused with a message that says how to fix. */
    g_chmod(path, 0644);
    g_assert_null(crp_user_key_load(path, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    g_assert_nonnull(strstr(error->message, "chmod 600"));
    g_clear_error(&error);

    /* Overwriting tightens the mode again. */
    g_assert_true(crp_user_key_save(key, path, TRUE, &error));
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);

    /* A missing file and a broken one say which file. */
    g_autofree char *missing = g_build_filename(dir, "nope", NULL);
    g_assert_null(crp_user_key_load(missing, &error));
    g_assert_nonnull(strstr(error->message, "nope"));
    g_clear_error(&error);
    g_assert_true(g_file_set_contents(path, "[crp-user-key]\nversion=1\n", -1, NULL));
    g_chmod(path, 0600);
    g_assert_null(crp_user_key_load(path, &error));
    g_assert_nonnull(strstr(error->message, path));

    g_unlink(path);
    g_rmdir(dir);
}

/* A FIFO where the key should be: refused at once (it used to block in
 * open() until something wrote to it). */
static void
test_fifo_refused(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-key-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "alice.crpkey", NULL);

    g_assert_cmpint(mkfifo(path, 0600), ==, 0);
    g_assert_null(crp_user_key_load(path, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_unlink(path);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keyfile/golden", test_golden);
    g_test_add_func("/keyfile/refusals", test_refusals);
    g_test_add_func("/keyfile/files", test_files);
    g_test_add_func("/keyfile/fifo", test_fifo_refused);
    return g_test_run();
}
