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

/**
 * Whether a server at @text may be trusted without a ticket (no-ticket
 * mode): only at a filesystem unix socket, whose permissions decide who
 * can listen there. Over TCP anyone who reaches the port could connect;
 * an abstract unix socket (unix:@name) has no permissions at all, so any
 * local user can claim the name first and pose as the VM. FALSE with
 * G_IO_ERROR_INVALID_ARGUMENT saying so.
 */
gboolean crp_address_allows_no_ticket(const char *text, GError **error);

G_END_DECLS
