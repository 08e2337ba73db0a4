/*
 * fuzz-address.c: the address syntax every CRP client takes
 * (clients/core/crp-address.c), from command lines, key files and
 * crp:// links.
 *
 * Input: the address's text (up to the first NUL). What parses is a
 * unix socket address whose path is the rest of the text, or a network
 * address with a port; no name is looked up.
 */
#include "crp-address.h"

#include <gio/gunixsocketaddress.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketConnectable) addr = crp_address_parse(text, &error);

    if (!addr) {
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        return 0;
    }
    g_assert_no_error(error);
    if (crp_address_is_tcp(text)) {
        g_assert_true(G_IS_NETWORK_ADDRESS(addr));
        GNetworkAddress *net = G_NETWORK_ADDRESS(addr);
        g_assert_cmpuint(g_network_address_get_port(net), !=, 0);
        g_assert_nonnull(g_network_address_get_hostname(net));
    } else {
        g_assert_true(g_str_has_prefix(text, "unix:"));
        g_assert_true(G_IS_UNIX_SOCKET_ADDRESS(addr));
        GUnixSocketAddress *unix_addr = G_UNIX_SOCKET_ADDRESS(addr);
        gboolean abstract = text[5] == '@';
        const char *path = g_unix_socket_address_get_path(unix_addr);
        gsize len = g_unix_socket_address_get_path_len(unix_addr);
        g_assert_cmpint(g_unix_socket_address_get_address_type(unix_addr), ==,
                        abstract ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                                 : G_UNIX_SOCKET_ADDRESS_PATH);
        g_assert_cmpmem(path, len, text + 5 + abstract, strlen(text + 5 + abstract));
    }
    g_autofree char *shown = g_socket_connectable_to_string(addr);
    g_assert_nonnull(shown);
    return 0;
}
