/*
 * crp-address.c: "unix:..." and "tcp:host:port" to GSocketConnectables.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-address.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/un.h>

/* Bytes of a socket address's path, with its NUL (or an abstract name's
 * leading NUL): GLib cuts longer ones short, which names another socket. */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path))

gboolean
crp_address_is_tcp(const char *text)
{
    return g_str_has_prefix(text, "tcp:");
}

GSocketConnectable *
crp_address_parse(const char *text, GError **error)
{
    if (g_str_has_prefix(text, "unix:") && text[5] &&
        strlen(text + 5 + (text[5] == '@')) < SUN_PATH_MAX) {
        const char *path = text + 5;
        if (path[0] == '@') {
            return G_SOCKET_CONNECTABLE(g_unix_socket_address_new_with_type(
                path + 1, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT));
        }
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    }
    if (crp_address_is_tcp(text)) {
        GSocketConnectable *addr = g_network_address_parse(text + 4, 0, NULL);
        if (addr && g_network_address_get_port(G_NETWORK_ADDRESS(addr)) != 0) {
            return addr;
        }
        g_clear_object(&addr);
    }
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "bad address '%s' (want unix:/path, at most %zu bytes, or "
                "tcp:host:port)", text, SUN_PATH_MAX - 1);
    return NULL;
}

gboolean
crp_address_allows_no_ticket(const char *text, GError **error)
{
    if (g_str_has_prefix(text, "unix:@")) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "no-ticket mode needs a filesystem socket: any "
                            "local user can claim an abstract one (unix:@name) "
                            "first and pose as the VM; use a ticket there");
        return FALSE;
    }
    if (!g_str_has_prefix(text, "unix:")) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "no-ticket mode is only for unix sockets (over TCP "
                            "a ticket is needed)");
        return FALSE;
    }
    return TRUE;
}
