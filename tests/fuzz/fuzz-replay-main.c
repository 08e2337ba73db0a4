/*
 * fuzz-replay-main.c: main() for fuzz targets in builds without libFuzzer.
 * Runs LLVMFuzzerTestOneInput() once on every file named, and on every
 * file directly inside every directory named (in name order), so the
 * corpora run as ordinary tests. Fails if nothing ran.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean
run_file(const char *path, guint *count)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    gsize len;

    if (!g_file_get_contents(path, &contents, &len, &error)) {
        g_printerr("%s\n", error->message);
        return FALSE;
    }
    if (g_getenv("CRP_FUZZ_TRACE")) {
        g_printerr("%s\n", path);
    }
    /* An allocation of exactly the input's size, as libFuzzer makes (and
     * never NULL: g_memdup2() of nothing is). */
    g_autofree guint8 *data = len ? g_memdup2(contents, len) : g_malloc(1);
    LLVMFuzzerTestOneInput(data, len);
    (*count)++;
    return TRUE;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gboolean
run_dir(const char *path, guint *count)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) dir = g_dir_open(path, 0, &error);
    if (!dir) {
        g_printerr("%s\n", error->message);
        return FALSE;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        if (name[0] != '.') {
            g_ptr_array_add(names, g_strdup(name));
        }
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *file = g_build_filename(path, names->pdata[i], NULL);
        if (g_file_test(file, G_FILE_TEST_IS_REGULAR) && !run_file(file, count)) {
            return FALSE;
        }
    }
    return TRUE;
}

int
main(int argc, char **argv)
{
    guint count = 0;

    for (int i = 1; i < argc; i++) {
        gboolean ok = g_file_test(argv[i], G_FILE_TEST_IS_DIR) ?
                      run_dir(argv[i], &count) : run_file(argv[i], &count);
        if (!ok) {
            return 1;
        }
    }
    g_print("%s: ran %u inputs\n", argc > 0 ? argv[0] : "fuzz", count);
    if (count == 0) {
        g_printerr("no inputs found\n");
        return 1;
    }
    return 0;
}
