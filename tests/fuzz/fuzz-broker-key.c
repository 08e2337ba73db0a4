/*
 * fuzz-broker-key.c: the broker's key file (broker/config/crp-broker-key.c):
 * crp_broker_key_parse(), which crp_broker_key_load() calls after its
 * file checks.
 *
 * Input: the file's bytes. A key that parses has the public key of its
 * secret key; an error names the file and quotes nothing from it but the
 * version number.
 */
#include "crp-broker-key.h"

#include <crp/crp-error.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = g_malloc(MAX(size, 1));
    memcpy(text, data, size);
    g_autoptr(CrpBrokerKey) key = crp_broker_key_parse(text, size, "fuzz.key", &error);

    if (!key) {
        g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
        /* One of the parser's messages, quoting nothing but the version. */
        if (!g_regex_match_simple("^fuzz\\.key: (not a broker key file \\(no "
                                  "\\[crp-broker-key\\] section\\)|version -?[0-9]+ "
                                  "is not supported \\(this is 1\\)|'secret-key' is "
                                  "missing or not 32 bytes of base64)$",
                                  error->message, 0, 0)) {
            g_error("unexpected message: %s", error->message);
        }
        return 0;
    }
    g_assert_no_error(error);
    guint8 public_key[CRP_BROKER_KEY_LEN];
    crypto_scalarmult_base(public_key, key->secret_key);
    g_assert_cmpmem(key->public_key, sizeof(public_key), public_key, sizeof(public_key));
    return 0;
}
