/*
 * fuzz-user-key.c: the user key file (libcrp src/keys/crp-keyfile.c)
 * that crp-client and crp-headless load: crp_user_key_parse(), which
 * crp_user_key_load() calls after its file checks.
 *
 * Input: the file's bytes. A key that parses has a user and a broker
 * address; written out again (crp_user_key_to_string()) and parsed, it
 * gives the same keys, and the same user and address where those are
 * names the broker issues (no spaces, escapes or control characters: the
 * writer does not escape, the broker's names need none).
 */
#include "fuzz-common.h"
#include <crp/crp-keyfile.h>

/* Printable ASCII but space and backslash: what GKeyFile reads back as
 * written. */
static gboolean
plain(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s > '~' || *s == '\\') {
            return FALSE;
        }
    }
    return TRUE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;

    fuzz_init();
    /* A copy of exactly the input's size (the parser takes a length). */
    g_autofree char *text = g_malloc(MAX(size, 1));
    memcpy(text, data, size);
    g_autoptr(CrpUserKey) key = crp_user_key_parse(text, size, &error);
    if (!key) {
        g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
        g_assert_true(g_str_has_prefix(error->message, "key file: "));
        return 0;
    }
    g_assert_no_error(error);
    g_assert_nonnull(key->user_id);
    g_assert_cmpstr(key->user_id, !=, "");
    g_assert_nonnull(key->broker_address);
    g_assert_cmpstr(key->broker_address, !=, "");

    g_autofree char *again_text = crp_user_key_to_string(key);
    g_autoptr(CrpUserKey) again = crp_user_key_parse(again_text, strlen(again_text),
                                                     &error);
    if (plain(key->user_id) && plain(key->broker_address)) {
        g_assert_no_error(error);
        g_assert_cmpstr(again->user_id, ==, key->user_id);
        g_assert_cmpstr(again->broker_address, ==, key->broker_address);
    }
    if (again) {
        g_assert_cmpmem(again->secret_key, 32, key->secret_key, 32);
        g_assert_cmpmem(again->broker_public_key, 32, key->broker_public_key, 32);
    }
    return 0;
}
