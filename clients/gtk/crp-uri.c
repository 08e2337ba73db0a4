/*
 * crp-uri.c: see crp-uri.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-uri.h"

#include <string.h>

static gboolean bad(GError **error, const char *text, const char *why)
{
    g_set_error(error, G_URI_ERROR, G_URI_ERROR_FAILED,
                "'%s' is not a crp:// link to an app: %s", text, why);
    return FALSE;
}

CrpUri *crp_uri_parse(const char *text, GError **error)
{
    g_autoptr(GUri) uri = g_uri_parse(text, G_URI_FLAGS_NONE, NULL);

    if (!uri || g_ascii_strcasecmp(g_uri_get_scheme(uri), "crp") != 0) {
        bad(error, text, "want crp://BROKER/APP");
        return NULL;
    }
    if (g_uri_get_userinfo(uri) || g_uri_get_query(uri) || g_uri_get_fragment(uri)) {
        bad(error, text, "no user, query or fragment is allowed");
        return NULL;
    }
    /* The path is "/APP": one segment, no slashes in it. */
    const char *path = g_uri_get_path(uri);
    const char *app = path[0] == '/' ? path + 1 : path;
    gsize len = strlen(app);
    if (len > 0 && app[len - 1] == '/') {
        len--;
    }
    if (len == 0 || len > 64 || memchr(app, '/', len)) {
        bad(error, text, "the path must name one app");
        return NULL;
    }
    CrpUri *result = g_new0(CrpUri, 1);
    result->app = g_strndup(app, len);
    const char *host = g_uri_get_host(uri);
    if (host && *host) {
        int port = g_uri_get_port(uri);
        /* IPv6 literals come back without brackets. */
        result->broker_address = g_strdup_printf(strchr(host, ':') ? "tcp:[%s]:%d"
                                                                     : "tcp:%s:%d",
                                                 host, port > 0 ? port
                                                                : CRP_URI_DEFAULT_PORT);
    }
    return result;
}

void crp_uri_free(CrpUri *uri)
{
    if (uri) {
        g_free(uri->broker_address);
        g_free(uri->app);
        g_free(uri);
    }
}
