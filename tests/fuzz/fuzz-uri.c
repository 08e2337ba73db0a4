/*
 * fuzz-uri.c: crp:// links (clients/gtk/crp-uri.c), which crp-client
 * takes from a web page or a desktop file: anyone can write one.
 *
 * Input: the link's text (up to the first NUL). A link that parses names
 * one app, 1 to 64 bytes of UTF-8 without '/', and a broker address that
 * the client's address parser (clients/core/crp-address.c) takes.
 */
#include "crp-address.h"
#include "crp-uri.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpUri) uri = crp_uri_parse(text, &error);

    if (!uri) {
        g_assert_error(error, G_URI_ERROR, G_URI_ERROR_FAILED);
        return 0;
    }
    g_assert_no_error(error);
    gsize len = strlen(uri->app);
    g_assert_cmpuint(len, >=, 1);
    g_assert_cmpuint(len, <=, 64);
    g_assert_null(strchr(uri->app, '/'));
    g_assert_true(g_utf8_validate(uri->app, len, NULL));
    if (uri->broker_address) {
        g_autoptr(GSocketConnectable) addr =
            crp_address_parse(uri->broker_address, &error);
        if (!addr) {
            g_error("%s gives %s: %s", text, uri->broker_address, error->message);
        }
        g_assert_true(crp_address_is_tcp(uri->broker_address));
    }
    return 0;
}
