/*
 * crp-uri.h: crp:// links, which open an app:
 *
 *     crp://broker.example.org/office        the broker at its default port
 *     crp://broker.example.org:6000/office   another port
 *     crp:///office                          the broker the key file names
 *
 * The link only says where to look: the login still needs the user's key
 * file, and the broker must hold the key pinned in it, so a link to a
 * stranger's broker fails the login rather than opening anything.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_URI_DEFAULT_PORT 5930

typedef struct {
    /** "tcp:host:port", or NULL for the key file's broker. */
    char *broker_address;
    /** The app's name (protocol: 1-64 bytes). */
    char *app;
} CrpUri;

CrpUri *crp_uri_parse(const char *text, GError **error);
void crp_uri_free(CrpUri *uri);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpUri, crp_uri_free)

G_END_DECLS
