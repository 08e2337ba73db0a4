/*
 * crp-address.h: the address syntax every CRP client takes.
 *
 *     unix:/path/to/socket    unix:@abstract-name    tcp:host:port
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/** Parses @text; NULL with G_IO_ERROR_INVALID_ARGUMENT if it is neither. */
GSocketConnectable *crp_address_parse(const char *text, GError **error);

/** TRUE for a tcp: address (sockets worth tuning: TCP_NODELAY). */
gboolean crp_address_is_tcp(const char *text);

G_END_DECLS
