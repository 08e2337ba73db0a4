/*
 * fuzz-secret-file.c: ticket files (libcrp src/keys/crp-secret-file.c)
 * that crp-client and crp-headless read for --ticket-file:
 * crp_secret_parse(), which crp_secret_file_read() calls after its file
 * checks.
 *
 * Input: the file's bytes. A ticket that parses is non-empty UTF-8 text
 * without surrounding whitespace, found in the file as it is; an error
 * names the file.
 */
#define _GNU_SOURCE             /* memmem() */
#include <crp/crp-secret-file.h>

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = g_malloc(MAX(size, 1));
    memcpy(text, data, size);
    char *secret = crp_secret_parse(text, size, "fuzz.ticket", &error);

    if (!secret) {
        g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
        g_assert_true(g_str_has_prefix(error->message, "fuzz.ticket"));
        return 0;
    }
    g_assert_no_error(error);
    gsize len = strlen(secret);
    g_assert_cmpuint(len, >=, 1);
    g_assert_cmpuint(len, <=, size);
    g_assert_true(g_utf8_validate(secret, len, NULL));
    g_assert_false(g_ascii_isspace(secret[0]));
    g_assert_false(g_ascii_isspace(secret[len - 1]));
    g_assert_nonnull(memmem(text, size, secret, len));
    crp_secret_free(secret);
    return 0;
}
