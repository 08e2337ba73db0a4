/*
 * crp-broker-test-client: a minimal broker client on libcrp, for
 * test-crp-broker.py.
 *
 *     crp-broker-test-client [--software NAME] KEY_FILE ADDRESS [COMMAND...]
 *
 * Loads the user key file (crp_user_key_load), connects to ADDRESS
 * (unix:/PATH or tcp:HOST:PORT; the key file's own address names the
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
 *     wait                                  waits for the broker's BYE
 *     idle:SECONDS                          sends nothing for that long,
 *                                           printing what the broker says
 *
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
} Client;

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
    gsize written = 0;

    if (len == 0) {
        return TRUE;
    }
    /* A broker that already closed is not an error here: its farewell is
     * still to be read. */
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(c->conn)),
                              data, len, &written, NULL, NULL);
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
        gssize n = g_input_stream_read(
            g_io_stream_get_input_stream(G_IO_STREAM(c->conn)), buf,
            sizeof buf, NULL, error);
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
        if (!g_socket_condition_timed_wait(sock, G_IO_IN, left, NULL, NULL)) {
            return TRUE;
        }
        guint8 buf[16384];
        gssize n = g_socket_receive(sock, (gchar *)buf, sizeof buf, NULL,
                                    &error);
        if (n <= 0) {
            printf("hung up\n");
            return FALSE;
        }
        crp_channel_receive(c->ch, buf, n);
    }
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
    guint32 caps = CRP_CAP_BROKER_FILES;
    g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_bytes_unref);

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        if (argc >= 3 && g_str_equal(argv[1], "--software")) {
            software = argv[2];
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
    address = crp_broker_address_parse(argv[2], &error);
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
        if (g_str_has_prefix(cmd, "idle:")) {
            /* Whatever is queued (the stream header, at least) goes out
             * first: the broker sees a client that then says nothing. */
            flush_out(&c, NULL);
            if (!idle_for(&c, (guint)g_ascii_strtoull(cmd + 5, NULL, 10))) {
                return 1;
            }
            continue;
        }
        if (g_str_has_prefix(cmd, "flood-download:")) {
            g_auto(GStrv) f = g_strsplit(cmd + 15, ":", 2);
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
