/*
 * broker-web.c: crp-broker's web listener (see the header).
 *
 * The WebSocket handshake is libsoup's; the frames after it are ours
 * (broker-ws-stream.c): SoupWebsocketConnection reads whatever arrives
 * into messages without a way to stop, and the broker must be able to
 * stop reading a client that sends faster than it is served.
 */
#include "broker-web.h"
#include "broker-listener.h"
#include "broker-log.h"
#include "broker-ws-stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <libsoup/soup.h>

#define WEB_WS_PATH "/crp/broker"

/* No inline script or style, nothing from elsewhere, no framing. */
#define WEB_CSP                                                             \
    "default-src 'self'; script-src 'self'; connect-src 'self'; "           \
    "img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"

struct _BrokerWeb {
    const CrpBrokerConfig *config;
    SoupServer *server;
    GStrv origins;              /* allowed Origin headers */
    BrokerWebAcceptFunc func;
    gpointer data;
};

static void
set_common_headers(SoupServerMessage *msg)
{
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);

    soup_message_headers_replace(h, "Content-Security-Policy", WEB_CSP);
    soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
    soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
}

static void
respond_status(SoupServerMessage *msg, guint status)
{
    const char *phrase = soup_status_get_phrase(status);

    set_common_headers(msg);
    soup_message_headers_replace(
        soup_server_message_get_response_headers(msg), "Cache-Control",
        "no-store");
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, "text/plain; charset=utf-8",
                                     SOUP_MEMORY_COPY, phrase,
                                     strlen(phrase));
}

/* ------------------------------------------------------------------------ */
/* The WebSocket */

typedef struct {
    BrokerWeb *web;
    char *peer;
} Upgrade;

static void
upgrade_free(gpointer data, GClosure *closure)
{
    Upgrade *u = data;

    g_free(u->peer);
    g_free(u);
}

/* The 101 is out: the connection is ours now. */
static void
on_upgraded(SoupServerMessage *msg, gpointer data)
{
    Upgrade *u = data;
    GSocket *sock = soup_server_message_get_socket(msg);
    g_autoptr(GIOStream) base = NULL;
    g_autoptr(GIOStream) ws = NULL;

    if (sock) {
        /* Input latency is what users feel once attached. */
        g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
        /* The broker's own timeouts ([login]) apply from now on, not an
         * HTTP server's. */
        g_socket_set_timeout(sock, 0);
    }
    base = soup_server_message_steal_connection(msg);
    ws = broker_ws_stream_new(base);
    u->web->func(ws, u->peer, u->web->data);
}

static gboolean
origin_allowed(BrokerWeb *web, const char *origin)
{
    for (char **o = web->origins; origin && *o; o++) {
        if (g_ascii_strcasecmp(*o, origin) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static void
on_websocket(SoupServer *server, SoupServerMessage *msg, const char *path,
             GHashTable *query, gpointer data)
{
    BrokerWeb *web = data;
    SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
    const char *origin = soup_message_headers_get_one(req, "Origin");
    const char *peer = soup_server_message_get_remote_host(msg);
    g_autoptr(GError) error = NULL;
    Upgrade *u;

    /* Any page may try: only the configured ones may use the user's
     * browser to talk to the broker. */
    if (!origin_allowed(web, origin)) {
        broker_message("event=web-origin-refused peer=%s origin=%s", peer,
                       origin ? origin : "(none)");
        respond_status(msg, SOUP_STATUS_FORBIDDEN);
        return;
    }
    if (!soup_websocket_server_check_handshake(msg, NULL, NULL, NULL,
                                               &error)) {
        broker_info("event=web-bad-upgrade peer=%s error=\"%s\"", peer,
                    error->message);
        respond_status(msg, SOUP_STATUS_BAD_REQUEST);
        return;
    }
    /* No extensions (permessage-deflate would compress ciphertext for
     * nothing) and no subprotocol. */
    soup_websocket_server_process_handshake(msg, NULL, NULL, NULL, NULL);
    u = g_new0(Upgrade, 1);
    u->web = web;
    u->peer = g_strdup(peer);
    g_signal_connect_data(msg, "wrote-informational", G_CALLBACK(on_upgraded),
                          u, upgrade_free, 0);
}

/* ------------------------------------------------------------------------ */
/* Static files */

static const struct {
    const char *suffix;
    const char *type;
} content_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json" },
    { ".map", "application/json" },
    { ".wasm", "application/wasm" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".webmanifest", "application/manifest+json" },
    { ".txt", "text/plain; charset=utf-8" },
};

static const char *
content_type(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(content_types); i++) {
        if (g_str_has_suffix(name, content_types[i].suffix)) {
            return content_types[i].type;
        }
    }
    return "application/octet-stream";
}

/* The file under @root that @path names, or NULL: every segment a plain
 * name (no "..", ".", hidden files, escaped slashes or NULs). */
static char *
file_for_path(const char *root, const char *path)
{
    g_autofree char *decoded = g_uri_unescape_string(path, "/");
    g_auto(GStrv) segments = NULL;
    g_autoptr(GPtrArray) parts = g_ptr_array_new();

    if (!decoded || decoded[0] != '/') {
        return NULL;
    }
    segments = g_strsplit(decoded + 1, "/", -1);
    g_ptr_array_add(parts, (gpointer)root);
    for (char **s = segments; *s; s++) {
        if (!**s) {
            continue;
        }
        if ((*s)[0] == '.' || strchr(*s, '\\')) {
            return NULL;
        }
        g_ptr_array_add(parts, *s);
    }
    if (g_str_has_suffix(decoded, "/")) {
        g_ptr_array_add(parts, (gpointer)"index.html");
    }
    g_ptr_array_add(parts, NULL);
    return g_build_filenamev((char **)parts->pdata);
}

static void
on_file(SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, gpointer data)
{
    BrokerWeb *web = data;
    const char *method = soup_server_message_get_method(msg);
    g_autofree char *file = NULL;
    g_autoptr(GMappedFile) mapped = NULL;
    g_autoptr(GBytes) bytes = NULL;
    SoupMessageHeaders *h;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        respond_status(msg, SOUP_STATUS_METHOD_NOT_ALLOWED);
        return;
    }
    file = file_for_path(web->config->web_root, path);
    /* Regular files only: a directory is never listed. */
    if (!file || !g_file_test(file, G_FILE_TEST_IS_REGULAR) ||
        !(mapped = g_mapped_file_new(file, FALSE, NULL))) {
        respond_status(msg, SOUP_STATUS_NOT_FOUND);
        return;
    }
    bytes = g_mapped_file_get_bytes(mapped);
    set_common_headers(msg);
    h = soup_server_message_get_response_headers(msg);
    /* The page must always be the current one, so that it never loads
     * scripts of another version. */
    soup_message_headers_replace(h, "Cache-Control",
                                 g_str_has_suffix(file, ".html")
                                     ? "no-cache"
                                     : "public, max-age=3600");
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    soup_message_headers_set_content_type(h, content_type(file), NULL);
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg),
                                   bytes);
}

/* ------------------------------------------------------------------------ */

static GStrv
allowed_origins(const CrpBrokerConfig *config,
                const CrpBrokerAddress *address)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();

    if (config->web_allowed_origins) {
        g_auto(GStrv) list = g_strsplit_set(config->web_allowed_origins,
                                            " \t", -1);
        for (char **o = list; *o; o++) {
            if (**o) {
                g_strv_builder_add(b, *o);
            }
        }
    } else {
        /* The listener's own origin, as configured. */
        gboolean v6 = strchr(address->host, ':') != NULL;
        g_autofree char *own = g_strdup_printf(
            "%s://%s%s%s:%u", config->web_certificate ? "https" : "http",
            v6 ? "[" : "", address->host, v6 ? "]" : "", address->port);
        g_strv_builder_add(b, own);
    }
    return g_strv_builder_end(b);
}

BrokerWeb *
broker_web_new(const CrpBrokerConfig *config, BrokerWebAcceptFunc func,
               gpointer data, GError **error)
{
    g_autoptr(BrokerWeb) web = g_new0(BrokerWeb, 1);
    g_autoptr(CrpBrokerAddress) address = NULL;
    g_autoptr(GSocketAddress) sockaddr = NULL;
    g_autoptr(GTlsCertificate) cert = NULL;
    SoupServerListenOptions options = 0;

    web->config = config;
    web->func = func;
    web->data = data;
    address = crp_broker_address_parse(config->web_listen, error);
    if (!address) {
        return NULL;
    }
    if (config->web_certificate) {
        cert = g_tls_certificate_new_from_files(config->web_certificate,
                                                config->web_private_key,
                                                error);
        if (!cert) {
            g_prefix_error(error, "[web] certificate %s: ",
                           config->web_certificate);
            return NULL;
        }
        options |= SOUP_SERVER_LISTEN_HTTPS;
    }
    web->origins = allowed_origins(config, address);
    web->server = soup_server_new("tls-certificate", cert, NULL);
    soup_server_add_handler(web->server, WEB_WS_PATH, on_websocket, web, NULL);
    soup_server_add_handler(web->server, NULL, on_file, web, NULL);
    sockaddr = broker_listener_resolve(address, error);
    if (!sockaddr ||
        !soup_server_listen(web->server, sockaddr, options, error)) {
        g_prefix_error(error, "cannot listen on %s: ", config->web_listen);
        return NULL;
    }
    return g_steal_pointer(&web);
}

void
broker_web_free(BrokerWeb *web)
{
    if (!web) {
        return;
    }
    if (web->server) {
        soup_server_disconnect(web->server);
        g_object_unref(web->server);
    }
    g_strfreev(web->origins);
    g_free(web);
}
