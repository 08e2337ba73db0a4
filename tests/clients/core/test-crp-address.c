/*
 * test-crp-address.c: the address syntax every client takes: what parses,
 * and unix socket paths too long for a socket address refused rather
 * than cut short (which would name another socket).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-address.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/un.h>

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path))

static void test_parses(void)
{
    static const char *const good[] = {
        "unix:/run/crp/vm1.sock", "unix:@crp", "tcp:localhost:5930", "tcp:[::1]:1",
    };
    static const char *const bad[] = {
        "unix:", "tcp:host", "tcp:host:0", "udp:h:1", "", "tcp:",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GSocketConnectable) addr = crp_address_parse(good[i], &error);
        g_assert_no_error(error);
        g_assert_nonnull(addr);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_null(crp_address_parse(bad[i], &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

/* A path of @len bytes, after "unix:" and @prefix. */
static char *long_address(const char *prefix, gsize len)
{
    g_autofree char *path = g_strnfill(len, 'p');
    path[0] = '/';
    return g_strconcat("unix:", prefix, path, NULL);
}

static void test_long_paths(void)
{
    /* sun_path holds the path and its NUL; an abstract name, its leading
     * NUL and the name. */
    g_autofree char *longest = long_address("", SUN_PATH_MAX - 1);
    g_autofree char *too_long = long_address("", SUN_PATH_MAX);
    g_autofree char *abstract_longest = long_address("@", SUN_PATH_MAX - 1);
    g_autofree char *abstract_too_long = long_address("@", SUN_PATH_MAX);
    g_autoptr(GError) error = NULL;

    g_autoptr(GSocketConnectable) ok = crp_address_parse(longest, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(g_unix_socket_address_get_path(G_UNIX_SOCKET_ADDRESS(ok)), ==,
                    longest + 5);
    g_autoptr(GSocketConnectable) abstract = crp_address_parse(abstract_longest, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_unix_socket_address_get_path_len(G_UNIX_SOCKET_ADDRESS(abstract)),
                     ==, SUN_PATH_MAX - 1);

    g_assert_null(crp_address_parse(too_long, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_null(crp_address_parse(abstract_too_long, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/address/parses", test_parses);
    g_test_add_func("/address/long-paths", test_long_paths);
    return g_test_run();
}
