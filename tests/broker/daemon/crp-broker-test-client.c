/*
 * crp-broker-test-client: a minimal broker client on libcrp, for
 * test-crp-broker.py.
 *
 *     crp-broker-test-client [--software NAME] KEY_FILE ADDRESS [COMMAND...]
 *
 * Loads the user key file (crp_user_key_load), connects to ADDRESS
 * (unix:/PATH, tcp:HOST:PORT, or ws://HOST:PORT/PATH for the broker's web
 * listener: a WebSocket of its own, RFC 6455 client side, written apart
 * from the broker's; the key file's own address names the
 * production broker, not the test one), logs in over a broker channel and
 * runs the commands in order, printing one line per reply:
 *
 *     catalog | my-apps | sessions | subscribe:APP | unsubscribe:APP |
 *     launch:APP | close:SESSION | ticket:SESSION | attach:SESSION
 *                                           a request, its reply (ATTACH
 *                                           goes in the final record)
 *     files:DIR | upload-begin:SIZE:PATH | upload-data:SIZE:OFFSET:TEXT:PATH |
 *     download:OFFSET:LENGTH:PATH | delete:PATH
 *                                           My files requests (protocol
 *                                           5.6); PATH and TEXT take %XX
 *                                           escapes, so a test can send
 *                                           any bytes
 *     flood-download:N:PATH                 N DOWNLOADs of 1 MiB at once,
 *                                           then reads every reply
 *                                           (prints "FILE_DATA replies=N")
 *     flood-download-late:N:PATH            the same, reading only after
 *                                           2 s (a broker that queued
 *                                           replies instead of waiting
 *                                           would have queued them all)
 *     display:SESSION | display-wrong-ticket:SESSION
 *                                           a ticket (SESSION_TICKET), then
 *                                           ATTACH, then the display
 *                                           handshake with that ticket (or
 *                                           a wrong one) through the
 *                                           gateway: prints "OK id=N",
 *                                           then "display ready software=S"
 *                                           and the type of QEMU's first
 *                                           message ("display message
 *                                           type=N"); the last command
 *     wait                                  waits for the broker's BYE
 *     idle:SECONDS                          sends nothing for that long,
 *                                           printing what the broker says
 *
 * --origin sets the WebSocket's Origin header (default http://HOST:PORT);
 * a refused upgrade prints "failed code=HTTP: STATUS LINE".
 * --software names the client in its HELLO (default
 * "crp-broker-test-client"): tests of how the broker logs it. --no-files
 * leaves the FILES capability out of the handshake (offered otherwise).
 *
 * Output (stdout): "ready", then per reply "OK id=N",
 * "ERROR id=N code=N message=TEXT", "LAUNCHED id=N session=ID
 * ticket_len=N expires=S", "APP_LIST id=N count=N" followed by
 * "app NAME flags=N vcpus=N memory=N title=TEXT" lines, "SESSIONS id=N
 * count=N" followed by "session ID app=APP state=N"; "BYE code=N
 * reason=TEXT" when the broker says goodbye. Failures print
 * "failed code=NAME: MESSAGE" (code: the CrpError name) and exit 1.
 */
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <stdio.h>
#include <string.h>

#include "crp/crp-channel.h"
#include "crp/crp-error.h"
#include "crp/crp-keyfile.h"
#include "crp-broker-config.h"

static const char *
error_name(const GError *error)
{
    if (error->domain != CRP_ERROR) {
        return "IO";
    }
    switch (error->code) {
    case CRP_ERROR_PROTOCOL: return "PROTOCOL";
    case CRP_ERROR_TOO_LARGE: return "TOO_LARGE";
    case CRP_ERROR_AUTH: return "AUTH";
    case CRP_ERROR_VERSION: return "VERSION";
    case CRP_ERROR_REJECTED: return "REJECTED";
    case CRP_ERROR_CLOSED: return "CLOSED";
    default: return "OTHER";
    }
}

static int
fail(const GError *error)
{
    printf("failed code=%s: %s\n", error_name(error), error->message);
    return 1;
}

typedef struct {
    GSocketConnection *conn;
    CrpChannel *ch;
    gboolean ws;                /* a WebSocket: frames around the bytes */
    guint64 ws_left;            /* payload bytes left in the frame read */
    guint8 ws_mask[4];          /* the broker must not mask: checked */
} Client;

/* ------------------------------------------------------------------------ */
/* WebSocket, client side (RFC 6455), blocking */

static gboolean
sock_read_all(Client *c, guint8 *buf, gsize len, GError **error)
{
    gsize got = 0;

    if (!g_input_stream_read_all(
            g_io_stream_get_input_stream(G_IO_STREAM(c->conn)), buf, len,
            &got, NULL, error)) {
        return FALSE;
    }
    if (got < len) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_CLOSED,
                            "the broker hung up");
        return FALSE;
    }
    return TRUE;
}

static void
ws_send(Client *c, guint8 opcode, const guint8 *data, gsize len)
{
    g_autoptr(GByteArray) f = g_byte_array_new();
    guint8 h[2] = { 0x80 | opcode, 0x80 };
    guint32 mask = g_random_int();
    guint8 m[4];

    memcpy(m, &mask, 4);
    if (len < 126) {
        h[1] |= len;
        g_byte_array_append(f, h, 2);
    } else if (len <= 0xffff) {
        guint8 ext[2] = { len >> 8, len & 0xff };
        h[1] |= 126;
        g_byte_array_append(f, h, 2);
        g_byte_array_append(f, ext, 2);
    } else {
        guint8 ext[8];
        for (int i = 0; i < 8; i++) {
            ext[i] = (guint64)len >> (56 - 8 * i);
        }
        h[1] |= 127;
        g_byte_array_append(f, h, 2);
        g_byte_array_append(f, ext, 8);
    }
    g_byte_array_append(f, m, 4);
    for (gsize i = 0; i < len; i++) {
        guint8 b = data[i] ^ m[i & 3];
        g_byte_array_append(f, &b, 1);
    }
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(c->conn)),
                              f->data, f->len, NULL, NULL, NULL);
}

/* Payload bytes of binary frames; 0 at the broker's Close or hangup. */
static gssize
ws_read(Client *c, guint8 *buf, gsize size, GError **error)
{
    while (c->ws_left == 0) {
        guint8 h[2], ext[8], control[125];
        guint64 len;

        if (!sock_read_all(c, h, 2, error)) {
            if (g_error_matches(*error, CRP_ERROR, CRP_ERROR_CLOSED)) {
                g_clear_error(error);
                return 0;
            }
            return -1;
        }
        if (h[1] & 0x80) {
            g_set_error_literal(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                                "the broker masked a WebSocket frame");
            return -1;
        }
        len = h[1] & 0x7f;
        if (len >= 126) {
            gsize n = len == 126 ? 2 : 8;
            if (!sock_read_all(c, ext, n, error)) {
                return -1;
            }
            len = 0;
            for (gsize i = 0; i < n; i++) {
                len = (len << 8) | ext[i];
            }
        }
        switch (h[0] & 0x0f) {
        case 0x0:
        case 0x2:
            c->ws_left = len;
            break;
        case 0x8:
        case 0x9:
        case 0xa:
            if (len > sizeof control ||
                !sock_read_all(c, control, len, error)) {
                return -1;
            }
            if ((h[0] & 0x0f) == 0x8) {
                return 0;
            }
            if ((h[0] & 0x0f) == 0x9) {
                ws_send(c, 0xa, control, len);
            }
            break;
        default:
            g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                        "WebSocket opcode %u from the broker", h[0] & 0x0f);
            return -1;
        }
    }
    gssize n = g_input_stream_read(
        g_io_stream_get_input_stream(G_IO_STREAM(c->conn)), buf,
        MIN(size, c->ws_left), NULL, error);
    if (n > 0) {
        c->ws_left -= n;
    }
    return n;
}

/* The upgrade: FALSE with the status line in @error when refused. */
static gboolean
ws_handshake(Client *c, const char *host_port, const char *path,
             const char *origin, GError **error)
{
    guint8 nonce[16];
    g_autofree char *key = NULL;
    g_autofree char *request = NULL;
    g_autofree char *accept_src = NULL;
    g_autoptr(GString) response = g_string_new(NULL);
    g_autoptr(GChecksum) sha1 = g_checksum_new(G_CHECKSUM_SHA1);
    guint8 digest[20];
    gsize dlen = sizeof digest;
    g_autofree char *expect = NULL;
    g_autofree char *expect_line = NULL;

    for (gsize i = 0; i < sizeof nonce; i++) {
        nonce[i] = g_random_int_range(0, 256);
    }
    key = g_base64_encode(nonce, sizeof nonce);
    request = g_strdup_printf("GET %s HTTP/1.1\r\nHost: %s\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: %s\r\n"
                              "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n",
                              path, host_port, key, origin);
    if (!g_output_stream_write_all(
            g_io_stream_get_output_stream(G_IO_STREAM(c->conn)), request,
            strlen(request), NULL, NULL, error)) {
        return FALSE;
    }
    /* Byte by byte: what follows the headers is the broker's. */
    while (!g_str_has_suffix(response->str, "\r\n\r\n")) {
        guint8 b;
        if (response->len > 16384 || !sock_read_all(c, &b, 1, error)) {
            if (error && !*error) {
                g_set_error_literal(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                                    "endless HTTP response");
            }
            return FALSE;
        }
        g_string_append_c(response, b);
    }
    if (!g_str_has_prefix(response->str, "HTTP/1.1 101 ")) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%.*s",
                    (int)strcspn(response->str, "\r"), response->str);
        return FALSE;
    }
    accept_src = g_strconcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                             NULL);
    g_checksum_update(sha1, (const guchar *)accept_src, strlen(accept_src));
    g_checksum_get_digest(sha1, digest, &dlen);
    expect = g_base64_encode(digest, dlen);
    expect_line = g_strdup_printf("sec-websocket-accept: %s\r\n", expect);
    g_autofree char *lower = g_ascii_strdown(response->str, -1);
    g_autofree char *expect_lower = g_ascii_strdown(expect_line, -1);
    if (!strstr(lower, expect_lower)) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_PROTOCOL,
                            "wrong Sec-WebSocket-Accept");
        return FALSE;
    }
    c->ws = TRUE;
    return TRUE;
}

static gssize
client_read(Client *c, guint8 *buf, gsize size, GError **error)
{
    if (c->ws) {
        return ws_read(c, buf, size, error);
    }
    return g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(c->conn)),
                               buf, size, NULL, error);
}

static void
client_write(Client *c, const guint8 *data, gsize len)
{
    /* A broker that already closed is not an error here: its farewell is
     * still to be read. */
    if (c->ws) {
        /* Frames of odd sizes: message boundaries must mean nothing. */
        while (len > 0) {
            gsize most = g_random_int_range(1000, 31000);
            gsize n = MIN(len, most);
            ws_send(c, 0x2, data, n);
            data += n;
            len -= n;
        }
        return;
    }
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(c->conn)),
                              data, len, NULL, NULL, NULL);
}

/* Every way out of main, early ones included, frees the connection: the
 * sanitizer run checks this tool for leaks like any other. */
static void
client_clear(Client *c)
{
    g_clear_pointer(&c->ch, crp_channel_free);
    g_clear_object(&c->conn);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Client, client_clear)

static gboolean
flush_out(Client *c, GError **error)
{
    gsize len;
    const guint8 *data = crp_channel_peek_output(c->ch, &len);

    if (len == 0) {
        return TRUE;
    }
    client_write(c, data, len);
    crp_channel_consume_output(c->ch, len);
    return TRUE;
}

/* Reads until the next event other than NONE. */
static CrpEventType
next_event(Client *c, CrpEvent *ev, GError **error)
{
    guint8 buf[16384];

    for (;;) {
        CrpEventType t = crp_channel_next_event(c->ch, ev, error);
        if (t != CRP_EVENT_NONE) {
            return t;
        }
        gssize n = client_read(c, buf, sizeof buf, error);
        if (n < 0) {
            return CRP_EVENT_ERROR;
        }
        if (n == 0) {
            g_set_error_literal(error, CRP_ERROR, CRP_ERROR_CLOSED,
                                "the broker hung up");
            return CRP_EVENT_ERROR;
        }
        crp_channel_receive(c->ch, buf, n);
    }
}

static void
print_reply(const CrpMessage *m)
{
    CrpListIter it;

    switch (m->type) {
    case CRP_MSG_OK:
        printf("OK id=%u\n", m->ok_request_id);
        break;
    case CRP_MSG_ERROR:
        printf("ERROR id=%u code=%u message=%.*s\n", m->error.request_id,
               m->error.code, (int)m->error.message.len, m->error.message.ptr);
        break;
    case CRP_MSG_APP_LIST: {
        CrpAppInfo app;
        printf("APP_LIST id=%u count=%u\n", m->list.request_id, m->list.count);
        crp_list_iter_init(&it, &m->list);
        while (crp_list_iter_next_app(&it, &app)) {
            printf("app %.*s flags=%u vcpus=%u memory=%u title=%.*s\n",
                   (int)app.name.len, app.name.ptr, app.flags, app.vcpus,
                   app.memory_mib, (int)app.title.len, app.title.ptr);
        }
        break;
    }
    case CRP_MSG_SESSIONS: {
        CrpSessionInfo s;
        printf("SESSIONS id=%u count=%u\n", m->list.request_id, m->list.count);
        crp_list_iter_init(&it, &m->list);
        while (crp_list_iter_next_session(&it, &s)) {
            printf("session %.*s app=%.*s state=%u\n", (int)s.session_id.len,
                   s.session_id.ptr, (int)s.app.len, s.app.ptr, s.state);
        }
        break;
    }
    case CRP_MSG_LAUNCHED:
        /* The ticket is a secret: only its length is printed. */
        printf("LAUNCHED id=%u session=%.*s ticket_len=%zu expires=%u\n",
               m->launched.request_id, (int)m->launched.session_id.len,
               m->launched.session_id.ptr, (size_t)m->launched.ticket.len,
               m->launched.expires_in_s);
        break;
    case CRP_MSG_BYE:
        printf("BYE code=%u reason=%.*s\n", m->bye.code,
               (int)m->bye.reason.len, m->bye.reason.ptr);
        break;
    case CRP_MSG_FILES: {
        CrpFileEntry e;
        printf("FILES id=%u flags=%u used=%" G_GUINT64_FORMAT " quota=%"
               G_GUINT64_FORMAT " count=%u\n", m->files.request_id, m->flags,
               m->files.used_bytes, m->files.quota_bytes, m->files.count);
        crp_list_iter_init_files(&it, &m->files);
        while (crp_list_iter_next_file(&it, &e)) {
            printf("file %.*s kind=%u size=%" G_GUINT64_FORMAT "\n",
                   (int)e.name.len, e.name.ptr, e.kind, e.size);
        }
        break;
    }
    case CRP_MSG_UPLOAD_READY:
        printf("UPLOAD_READY id=%u offset=%" G_GUINT64_FORMAT "\n",
               m->upload_ready.request_id, m->upload_ready.offset);
        break;
    case CRP_MSG_FILE_DATA:
        printf("FILE_DATA id=%u size=%" G_GUINT64_FORMAT " bytes=%zu data=%.*s\n",
               m->file_data.request_id, m->file_data.size,
               (size_t)m->file_data.data.len,
               (int)MIN(m->file_data.data.len, 64),
               (const char *)m->file_data.data.data);
        break;
    default:
        printf("message type=%u\n", m->type);
        break;
    }
}

/* A %XX-escaped argument as bytes (a NUL or a lone '/' included). */
static GBytes *
unescape(const char *text)
{
    GBytes *bytes = g_uri_unescape_bytes(text, -1, NULL, NULL);
    return bytes ? bytes : g_bytes_new(NULL, 0);
}

/*
 * Builds the My files request @cmd names into @req; @keep holds the bytes
 * its views point at. FALSE if @cmd is not one.
 */
static gboolean
file_request(const char *cmd, guint32 id, CrpMessage *req, GPtrArray *keep)
{
    g_auto(GStrv) f = NULL;
    GBytes *path, *text;

    memset(req, 0, sizeof *req);
    req->file.request_id = id;
    if (g_str_has_prefix(cmd, "files:")) {
        req->type = CRP_MSG_FILE_LIST;
        path = unescape(cmd + 6);
    } else if (g_str_has_prefix(cmd, "delete:")) {
        req->type = CRP_MSG_FILE_DELETE;
        path = unescape(cmd + 7);
    } else if (g_str_has_prefix(cmd, "upload-begin:")) {
        f = g_strsplit(cmd + 13, ":", 2);
        req->type = CRP_MSG_UPLOAD_BEGIN;
        req->file.size = g_ascii_strtoull(f[0], NULL, 10);
        path = unescape(f[1] ? f[1] : "");
    } else if (g_str_has_prefix(cmd, "upload-data:")) {
        f = g_strsplit(cmd + 12, ":", 4);
        if (g_strv_length(f) != 4) {
            return FALSE;
        }
        req->type = CRP_MSG_UPLOAD_DATA;
        req->file.size = g_ascii_strtoull(f[0], NULL, 10);
        req->file.offset = g_ascii_strtoull(f[1], NULL, 10);
        text = unescape(f[2]);
        g_ptr_array_add(keep, text);
        req->file.data.data = g_bytes_get_data(text, &req->file.data.len);
        path = unescape(f[3]);
    } else if (g_str_has_prefix(cmd, "download:")) {
        f = g_strsplit(cmd + 9, ":", 3);
        if (g_strv_length(f) != 3) {
            return FALSE;
        }
        req->type = CRP_MSG_DOWNLOAD;
        req->file.offset = g_ascii_strtoull(f[0], NULL, 10);
        req->file.length = (guint32)g_ascii_strtoull(f[1], NULL, 10);
        path = unescape(f[2]);
    } else {
        return FALSE;
    }
    g_ptr_array_add(keep, path);
    gsize len;
    req->file.path.ptr = g_bytes_get_data(path, &len);
    req->file.path.len = len;
    return TRUE;
}

/* Reads and prints until the broker closes or @seconds pass. Returns
 * FALSE once the connection is over (after printing "closed" or the
 * failure). */
static gboolean
idle_for(Client *c, guint seconds)
{
    GSocket *sock = g_socket_connection_get_socket(c->conn);
    gint64 end = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;

    for (;;) {
        g_autoptr(GError) error = NULL;
        CrpEvent ev;
        CrpEventType t = crp_channel_next_event(c->ch, &ev, &error);
        gint64 left = end - g_get_monotonic_time();

        if (t == CRP_EVENT_MESSAGE) {
            print_reply(&ev.message);
            continue;
        }
        if (t == CRP_EVENT_CLOSED) {
            printf("closed\n");
            return FALSE;
        }
        if (t == CRP_EVENT_ERROR) {
            fail(error);
            return FALSE;
        }
        if (left <= 0) {
            return TRUE;
        }
        if (!c->ws_left &&
            !g_socket_condition_timed_wait(sock, G_IO_IN, left, NULL, NULL)) {
            return TRUE;
        }
        guint8 buf[16384];
        gssize n = client_read(c, buf, sizeof buf, &error);
        if (n <= 0) {
            printf("hung up\n");
            return FALSE;
        }
        crp_channel_receive(c->ch, buf, n);
    }
}

/* Sends a request with a string argument and reads its reply. */
static CrpEventType
request(Client *c, guint8 type, guint32 id, const char *arg, CrpEvent *ev,
        GError **error)
{
    CrpMessage req = { .type = type,
                       .request = { .request_id = id, .arg = crp_str(arg) } };

    if (!crp_channel_send(c->ch, &req, error)) {
        return CRP_EVENT_ERROR;
    }
    if (type == CRP_MSG_ATTACH) {
        crp_channel_finish(c->ch, NULL);
    } else {
        crp_channel_flush(c->ch);
    }
    flush_out(c, NULL);
    return next_event(c, ev, error);
}

/*
 * display:SESSION: the gateway splices this connection (a WebSocket
 * included) to the VM's display socket; QEMU answering the display
 * handshake proves the bytes reach it and its answer comes back.
 */
static int
attach_display(Client *c, const char *session, guint32 id, gboolean wrong)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *ticket = NULL;
    g_autoptr(GBytes) rest = NULL;
    CrpEvent ev;
    gsize len;

    if (request(c, CRP_MSG_SESSION_TICKET, id, session, &ev, &error) !=
            CRP_EVENT_MESSAGE || ev.message.type != CRP_MSG_LAUNCHED) {
        if (!error) {
            print_reply(&ev.message);
            return 1;
        }
        return fail(error);
    }
    ticket = g_strndup(ev.message.launched.ticket.ptr,
                       ev.message.launched.ticket.len);
    if (wrong && ticket[0]) {
        ticket[0] = ticket[0] == 'A' ? 'B' : 'A';
    }
    if (request(c, CRP_MSG_ATTACH, id + 1, session, &ev, &error) !=
        CRP_EVENT_MESSAGE) {
        return fail(error);
    }
    print_reply(&ev.message);
    if (ev.message.type != CRP_MSG_OK) {
        return 1;
    }
    if (next_event(c, &ev, &error) != CRP_EVENT_CLOSED) {
        return fail(error);
    }
    rest = crp_channel_steal_input(c->ch);
    crp_channel_free(c->ch);
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_DISPLAY,
        .role = CRP_ROLE_CLIENT,
        .ticket = ticket,
        .software = "crp-broker-test-client",
    };
    c->ch = crp_channel_new(&cfg, &error);
    if (!c->ch || !crp_channel_start(c->ch, &error)) {
        return fail(error);
    }
    flush_out(c, NULL);
    const guint8 *r = g_bytes_get_data(rest, &len);
    if (len) {
        crp_channel_receive(c->ch, r, len);
    }
    if (next_event(c, &ev, &error) != CRP_EVENT_READY) {
        return fail(error);
    }
    printf("display ready software=%s\n", ev.peer_software);
    CrpEventType t = next_event(c, &ev, &error);
    if (t != CRP_EVENT_MESSAGE) {
        return fail(error);
    }
    printf("display message type=%u\n", ev.message.type);
    crp_channel_close(c->ch, CRP_STATUS_OK, "done");
    flush_out(c, NULL);
    return 0;
}

static const struct {
    const char *name;
    guint8 type;
    gboolean has_arg;
} commands[] = {
    { "catalog", CRP_MSG_CATALOG_LIST, FALSE },
    { "my-apps", CRP_MSG_MY_APPS, FALSE },
    { "sessions", CRP_MSG_SESSION_LIST, FALSE },
    { "subscribe", CRP_MSG_SUBSCRIBE, TRUE },
    { "unsubscribe", CRP_MSG_UNSUBSCRIBE, TRUE },
    { "launch", CRP_MSG_LAUNCH, TRUE },
    { "close", CRP_MSG_SESSION_CLOSE, TRUE },
    { "attach", CRP_MSG_ATTACH, TRUE },
    { "ticket", CRP_MSG_SESSION_TICKET, TRUE },
};

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpUserKey) key = NULL;
    g_autoptr(CrpBrokerAddress) address = NULL;
    g_autoptr(GSocketAddress) sockaddr = NULL;
    g_autoptr(GSocketClient) sc = g_socket_client_new();
    g_auto(Client) c = { 0 };
    CrpEvent ev;
    const char *software = "crp-broker-test-client";
    const char *origin = NULL;
    g_autofree char *ws_host_port = NULL;
    g_autofree char *ws_path = NULL;
    guint32 caps = CRP_CAP_BROKER_FILES;
    g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_bytes_unref);

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        if (argc >= 3 && g_str_equal(argv[1], "--software")) {
            software = argv[2];
            argv += 2;
            argc -= 2;
        } else if (argc >= 3 && g_str_equal(argv[1], "--origin")) {
            origin = argv[2];
            argv += 2;
            argc -= 2;
        } else if (argc >= 2 && g_str_equal(argv[1], "--no-files")) {
            caps = 0;
            argv++;
            argc--;
        } else {
            break;
        }
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s [--software NAME] KEY_FILE ADDRESS "
                "[COMMAND...]\n", argv[0]);
        return 2;
    }
    key = crp_user_key_load(argv[1], &error);
    if (!key) {
        return fail(error);
    }
    if (g_str_has_prefix(argv[2], "ws://")) {
        /* ws://HOST:PORT/PATH: the TCP address, then the upgrade. */
        const char *hp = argv[2] + 5;
        const char *slash = strchr(hp, '/');
        ws_host_port = g_strndup(hp, slash ? (gsize)(slash - hp) : strlen(hp));
        ws_path = g_strdup(slash ? slash : "/");
        g_autofree char *tcp = g_strconcat("tcp:", ws_host_port, NULL);
        address = crp_broker_address_parse(tcp, &error);
    } else {
        address = crp_broker_address_parse(argv[2], &error);
    }
    if (!address) {
        return fail(error);
    }
    if (address->kind == CRP_BROKER_ADDRESS_UNIX) {
        sockaddr = g_unix_socket_address_new(address->path);
    } else {
        g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(address->host);
        if (!ip) {
            fprintf(stderr, "tcp needs an IP literal here\n");
            return 2;
        }
        sockaddr = g_inet_socket_address_new(ip, address->port);
    }
    c.conn = g_socket_client_connect(sc, G_SOCKET_CONNECTABLE(sockaddr), NULL,
                                     &error);
    if (!c.conn) {
        return fail(error);
    }
    if (ws_path) {
        g_autofree char *own = g_strconcat("http://", ws_host_port, NULL);
        if (!ws_handshake(&c, ws_host_port, ws_path, origin ? origin : own,
                          &error)) {
            if (error->domain == G_IO_ERROR) {
                printf("failed code=HTTP: %s\n", error->message);
                return 1;
            }
            return fail(error);
        }
    }

    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_BROKER,
        .role = CRP_ROLE_CLIENT,
        .static_secret = key->secret_key,
        .remote_static_public = key->broker_public_key,
        .capabilities = caps,
        .software = software,
    };
    c.ch = crp_channel_new(&cfg, &error);
    if (!c.ch || !crp_channel_start(c.ch, &error)) {
        return fail(error);
    }
    flush_out(&c, NULL);
    if (next_event(&c, &ev, &error) != CRP_EVENT_READY) {
        return fail(error);
    }
    printf("ready software=%s files=%d\n", ev.peer_software,
           (ev.capabilities & CRP_CAP_BROKER_FILES) != 0);

    for (int i = 3; i < argc; i++) {
        const char *cmd = argv[i];
        gboolean known = FALSE;

        if (g_str_equal(cmd, "wait")) {
            for (;;) {
                CrpEventType t = next_event(&c, &ev, &error);
                if (t == CRP_EVENT_MESSAGE) {
                    print_reply(&ev.message);
                } else if (t == CRP_EVENT_CLOSED) {
                    printf("closed\n");
                    break;
                } else {
                    return fail(error);
                }
            }
            continue;
        }
        if (g_str_has_prefix(cmd, "display:")) {
            return attach_display(&c, cmd + 8, 100 + i, FALSE);
        }
        if (g_str_has_prefix(cmd, "display-wrong-ticket:")) {
            return attach_display(&c, cmd + 21, 100 + i, TRUE);
        }
        if (g_str_has_prefix(cmd, "idle:")) {
            /* Whatever is queued (the stream header, at least) goes out
             * first: the broker sees a client that then says nothing. */
            flush_out(&c, NULL);
            if (!idle_for(&c, (guint)g_ascii_strtoull(cmd + 5, NULL, 10))) {
                return 1;
            }
            continue;
        }
        if (g_str_has_prefix(cmd, "flood-download:") ||
            g_str_has_prefix(cmd, "flood-download-late:")) {
            gboolean late = g_str_has_prefix(cmd, "flood-download-late:");
            g_auto(GStrv) f = g_strsplit(strchr(cmd, ':') + 1, ":", 2);
            guint n = (guint)g_ascii_strtoull(f[0], NULL, 10);
            g_autoptr(GBytes) path = unescape(f[1] ? f[1] : "");
            gsize len;
            guint replies = 0;

            for (guint k = 0; k < n; k++) {
                CrpMessage req = { .type = CRP_MSG_DOWNLOAD,
                                   .file = { .request_id = k,
                                             .length = CRP_MAX_FILE_CHUNK } };
                req.file.path.ptr = g_bytes_get_data(path, &len);
                req.file.path.len = len;
                if (!crp_channel_send(c.ch, &req, &error)) {
                    return fail(error);
                }
            }
            crp_channel_flush(c.ch);
            flush_out(&c, NULL);
            if (late) {
                g_usleep(2 * G_USEC_PER_SEC);
            }
            while (replies < n) {
                if (next_event(&c, &ev, &error) != CRP_EVENT_MESSAGE) {
                    return fail(error);
                }
                if (ev.message.type == CRP_MSG_FILE_DATA) {
                    replies++;
                } else {
                    print_reply(&ev.message);
                    break;
                }
            }
            printf("FILE_DATA replies=%u\n", replies);
            continue;
        }
        CrpMessage freq;
        if (file_request(cmd, 100 + i, &freq, keep)) {
            if (!crp_channel_send(c.ch, &freq, &error)) {
                return fail(error);
            }
            crp_channel_flush(c.ch);
            flush_out(&c, NULL);
            CrpEventType t = next_event(&c, &ev, &error);
            if (t == CRP_EVENT_CLOSED) {
                printf("closed\n");
                return 1;
            }
            if (t != CRP_EVENT_MESSAGE) {
                return fail(error);
            }
            print_reply(&ev.message);
            continue;
        }
        for (guint k = 0; k < G_N_ELEMENTS(commands); k++) {
            gsize n = strlen(commands[k].name);
            if (strncmp(cmd, commands[k].name, n) != 0 ||
                (commands[k].has_arg ? cmd[n] != ':' : cmd[n] != '\0')) {
                continue;
            }
            CrpMessage req = {
                .type = commands[k].type,
                .request = { .request_id = 100 + i,
                             .arg = crp_str(commands[k].has_arg ? cmd + n + 1
                                                                : NULL) },
            };
            if (!crp_channel_send(c.ch, &req, &error)) {
                return fail(error);
            }
            if (req.type == CRP_MSG_ATTACH) {
                /* Protocol section 7: ATTACH ends the broker stream. */
                crp_channel_finish(c.ch, NULL);
            } else {
                crp_channel_flush(c.ch);
            }
            flush_out(&c, NULL);
            CrpEventType t = next_event(&c, &ev, &error);
            if (t != CRP_EVENT_MESSAGE) {
                if (t == CRP_EVENT_CLOSED) {
                    printf("closed\n");
                    return 1;
                }
                return fail(error);
            }
            print_reply(&ev.message);
            known = TRUE;
            break;
        }
        if (!known) {
            fprintf(stderr, "unknown command %s\n", cmd);
            return 2;
        }
    }
    crp_channel_close(c.ch, CRP_STATUS_OK, "done");
    flush_out(&c, NULL);
    return 0;
}
