/*
 * fuzz-broker-config.c: the broker's configuration file and the QEMU env
 * file it names (broker/config/crp-broker-config.c):
 * crp_broker_config_load_data() and crp_broker_config_parse_qemu_env(),
 * which the file readers call.
 *
 * Input: a flags byte, then the file's bytes. Flags bit 0 picks the QEMU
 * env file, whose variables have a name (no '=', no surrounding space)
 * and a value. Otherwise a configuration that loads has every key within
 * its range and a listen address that parses; its effective form
 * (crp_broker_config_to_string(), what `crp-admin config` prints) loads
 * again to the same configuration.
 */
#include "crp-broker-config.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_qemu_env(const char *text)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) vars = crp_broker_config_parse_qemu_env(text, "fuzz.env",
                                                                  &error);
    if (!vars) {
        g_assert_error(error, CRP_BROKER_CONFIG_ERROR, CRP_BROKER_CONFIG_ERROR_SYNTAX);
        g_assert_true(g_str_has_prefix(error->message, "fuzz.env:"));
        return;
    }
    g_assert_no_error(error);
    GHashTableIter it;
    gpointer name, value;
    g_hash_table_iter_init(&it, vars);
    while (g_hash_table_iter_next(&it, &name, &value)) {
        const char *n = name;
        g_assert_cmpstr(n, !=, "");
        g_assert_null(strchr(n, '='));
        g_assert_false(g_ascii_isspace(n[0]));
        g_assert_false(g_ascii_isspace(n[strlen(n) - 1]));
        g_assert_nonnull(value);
    }
}

static void
check_config(const char *data, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerConfig) config = crp_broker_config_load_data(data, len,
                                                                    "fuzz.conf", &error);
    if (!config) {
        g_assert_true(error->domain == CRP_BROKER_CONFIG_ERROR);
        g_assert_true(g_str_has_prefix(error->message, "fuzz.conf: "));
        return;
    }
    g_assert_no_error(error);
    g_assert_cmpuint(config->vcpus, >=, 1);
    g_assert_cmpuint(config->vcpus, <=, 65535);
    g_assert_cmpuint(config->ticket_lifetime_s, >=, 1);
    g_assert_cmpuint(config->handshake_timeout_s, >=, 1);
    g_autoptr(CrpBrokerAddress) listen = crp_broker_address_parse(config->listen, &error);
    g_assert_no_error(error);
    g_assert_nonnull(listen);
    g_assert_true(g_path_is_absolute(config->state_dir));
    g_assert_true(g_path_is_absolute(config->images_dir));
    g_assert_true(g_path_is_absolute(config->overlays_dir));

    g_autofree char *shown = crp_broker_config_to_string(config);
    g_autoptr(CrpBrokerConfig) again = crp_broker_config_load_data(shown, strlen(shown),
                                                                   "fuzz.conf", &error);
    if (!again) {
        g_error("the effective configuration does not load: %s\n%s",
                error->message, shown);
    }
    g_autofree char *shown_again = crp_broker_config_to_string(again);
    g_assert_cmpstr(shown_again, ==, shown);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    /* A copy of exactly the file's size for the config (it takes a
     * length); the env parser takes a string. */
    g_autofree char *text = g_malloc(MAX(size - 1, 1));
    memcpy(text, data + 1, size - 1);
    if (data[0] & 1) {
        g_autofree char *str = g_strndup(text, size - 1);
        check_qemu_env(str);
    } else {
        check_config(text, size - 1);
    }
    return 0;
}
