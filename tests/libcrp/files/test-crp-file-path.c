/*
 * test-crp-file-path.c: which My files paths are acceptable, and that each
 * refusal says which rule was broken.
 */
#include <string.h>
#include "crp/crp-error.h"
#include "crp/crp-file-path.h"

static gboolean
check(const char *path, gboolean allow_top, GError **error)
{
    return crp_file_path_check(path, strlen(path), allow_top, error);
}

static void
test_accepted(void)
{
    static const char *const good[] = {
        "a", "report.pdf", "docs/report.pdf", "a/b/c/d", ".hidden",
        "...", "a..b", "Fotos 2026/Été.jpg", "x/..y", "日本語.txt",
        "back\\slash",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_true(check(good[i], FALSE, &error));
        g_assert_no_error(error);
    }
    g_assert_true(check("", TRUE, NULL));

    /* The longest component and the longest path. */
    g_autofree char *name = g_strnfill(255, 'n');
    g_assert_true(check(name, FALSE, NULL));
    g_autofree char *path = g_strnfill(1024, 'p');
    for (int i = 200; i < 1024; i += 200) {
        path[i] = '/';
    }
    g_assert_true(check(path, FALSE, NULL));
}

static void
test_refused(void)
{
    static const struct {
        const char *path;
        const char *says;
    } bad[] = {
        { "", "empty" },
        { "..", "\"..\"" },
        { "../etc/passwd", "\"..\"" },
        { "a/../../b", "\"..\"" },
        { "a/..", "\"..\"" },
        { ".", "\"..\"" },
        { "a/./b", "\"..\"" },
        { "/etc/passwd", "starts with '/'" },
        { "a//b", "empty name" },
        { "a/", "empty name" },
        { "a\nb", "control character" },
        { "a\tb", "control character" },
        { "a\x7f", "control character" },
        { "\xc3\x28", "not UTF-8" },
        { "\xed\xa0\x80", "not UTF-8" },   /* a lone surrogate */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_false(check(bad[i].path, FALSE, &error));
        g_assert_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL);
        if (!strstr(error->message, bad[i].says)) {
            g_error("%s: \"%s\" does not say %s", bad[i].path, error->message,
                    bad[i].says);
        }
    }

    /* A NUL inside the bytes is a control character, not an end. */
    g_autoptr(GError) nul = NULL;
    g_assert_false(crp_file_path_check("a\0b", 3, FALSE, &nul));
    g_assert_error(nul, CRP_ERROR, CRP_ERROR_PROTOCOL);

    g_autofree char *name = g_strnfill(256, 'n');
    g_autoptr(GError) long_name = NULL;
    g_assert_false(check(name, FALSE, &long_name));
    g_assert_nonnull(strstr(long_name->message, "255"));

    /* 32 names deep is the most: a server walks the tree for the quota. */
    GString *deep = g_string_new("n");
    for (int i = 1; i < 32; i++) {
        g_string_append(deep, "/n");
    }
    g_assert_true(check(deep->str, FALSE, NULL));
    g_string_append(deep, "/n");
    g_autoptr(GError) too_deep = NULL;
    g_assert_false(check(deep->str, FALSE, &too_deep));
    g_assert_nonnull(strstr(too_deep->message, "32 names deep"));
    g_string_free(deep, TRUE);

    g_autofree char *path = g_strnfill(1025, 'p');
    for (int i = 200; i < 1025; i += 200) {
        path[i] = '/';
    }
    g_autoptr(GError) long_path = NULL;
    g_assert_false(check(path, FALSE, &long_path));
    g_assert_nonnull(strstr(long_path->message, "1024"));
}

static void
test_names(void)
{
    g_assert_true(crp_file_name_valid("a.txt"));
    g_assert_false(crp_file_name_valid("a/b"));
    g_assert_false(crp_file_name_valid(".."));
    g_assert_false(crp_file_name_valid(""));
    g_assert_false(crp_file_name_valid(NULL));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/file-path/accepted", test_accepted);
    g_test_add_func("/file-path/refused", test_refused);
    g_test_add_func("/file-path/names", test_names);
    return g_test_run();
}
