/*
 * crp-clipboard-abuser: a display client that breaks the clipboard's
 * rules, to show that ui-crp refuses it cleanly (test-clipboard.py).
 * A real peer cannot: libcrp's viewer never sends these.
 *
 *   crp-clipboard-abuser unix:/path TICKET_FILE MODE
 *
 * MODE:
 *   grab-without-cap  offers no CLIPBOARD, then sends CLIPBOARD_GRAB
 *   out-of-order      grabs text and answers the server's request with a
 *                     chunk at offset 5 of 10
 *   request-flood     waits for the server's grab, then asks for it 200
 *                     times without reading the answers
 *
 * Prints what the server said at the end ("bye STATUS REASON", or
 * "cut" for a connection closed without BYE) and exits 0; 1 if the
 * session never came up or the server never ended it.
 */
#include <crp/crp-channel.h>
#include <crp/crp-error.h>
#include <crp/crp-secret-file.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
    int fd;
    CrpChannel *ch;
    guint16 bye_status;
    char *bye_reason;
    gboolean ended;
} Abuser;

static void write_out(Abuser *a)
{
    gsize len;
    const guint8 *data;

    while ((data = crp_channel_peek_output(a->ch, &len)) && len) {
        ssize_t n = write(a->fd, data, len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            a->ended = TRUE;
            return;
        }
        crp_channel_consume_output(a->ch, n);
    }
}

/* Reads what there is within @timeout_ms; returns the next event. */
static CrpEventType next(Abuser *a, CrpEvent *ev, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        g_autoptr(GError) error = NULL;
        CrpEventType t = crp_channel_next_event(a->ch, ev, &error);
        guint8 buf[65536];

        if (t == CRP_EVENT_ERROR) {
            g_printerr("abuser: %s\n", error->message);
            a->ended = TRUE;
            return t;
        }
        if (t != CRP_EVENT_NONE) {
            if (t == CRP_EVENT_MESSAGE && ev->message.type == CRP_MSG_BYE) {
                a->bye_status = ev->message.bye.code;
                a->bye_reason = crp_str_dup(ev->message.bye.reason);
            }
            if (t == CRP_EVENT_CLOSED) {
                a->ended = TRUE;
            }
            return t;
        }
        write_out(a);
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd pfd = { a->fd, POLLIN, 0 };
        if (left <= 0 || a->ended || poll(&pfd, 1, left) <= 0) {
            return CRP_EVENT_NONE;
        }
        ssize_t n = read(a->fd, buf, sizeof(buf));
        if (n <= 0) {
            a->ended = TRUE;
            return CRP_EVENT_NONE;
        }
        crp_channel_receive(a->ch, buf, n);
    }
}

static void send_msg(Abuser *a, const CrpMessage *m)
{
    crp_channel_send(a->ch, m, NULL);
    crp_channel_flush(a->ch);
    write_out(a);
}

/* The next message of @type from the server, within @timeout_ms. */
static gboolean wait_for(Abuser *a, guint8 type, CrpMessage *out, int timeout_ms)
{
    CrpEvent ev;
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (!a->ended && g_get_monotonic_time() < deadline) {
        if (next(a, &ev, 200) == CRP_EVENT_MESSAGE && ev.message.type == type) {
            *out = ev.message;
            return TRUE;
        }
    }
    return FALSE;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *ticket = NULL;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    Abuser a = { 0 };
    CrpEvent ev;
    CrpMessage m;

    if (argc != 4 || !g_str_has_prefix(argv[1], "unix:")) {
        g_printerr("usage: %s unix:/path TICKET_FILE MODE\n", argv[0]);
        return 2;
    }
    ticket = crp_secret_file_read(argv[2], &error);
    if (!ticket) {
        g_printerr("abuser: %s\n", error->message);
        return 2;
    }
    const char *mode = argv[3];
    CrpChannelConfig cfg = {
        .kind = CRP_CHANNEL_DISPLAY, .role = CRP_ROLE_CLIENT, .ticket = ticket,
        .capabilities = strcmp(mode, "grab-without-cap") == 0
                        ? CRP_CAP_DISPLAY_ALL & ~CRP_CAP_CLIPBOARD : CRP_CAP_DISPLAY_ALL,
        .software = "crp-clipboard-abuser",
    };
    a.ch = crp_channel_new(&cfg, &error);
    g_strlcpy(sun.sun_path, argv[1] + 5, sizeof(sun.sun_path));
    a.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (!a.ch || !crp_channel_start(a.ch, &error) ||
        connect(a.fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        g_printerr("abuser: cannot start: %s\n", error ? error->message : g_strerror(errno));
        return 1;
    }
    while (!a.ended && next(&a, &ev, 10000) != CRP_EVENT_READY) {
        if (ev.type == CRP_EVENT_NONE) {
            g_printerr("abuser: no session\n");
            return 1;
        }
    }

    if (strcmp(mode, "grab-without-cap") == 0) {
        m = (CrpMessage){ .type = CRP_MSG_CLIPBOARD_GRAB,
                          .clipboard_grab = { 1, CRP_CLIPBOARD_TEXT } };
        send_msg(&a, &m);
    } else if (strcmp(mode, "out-of-order") == 0) {
        static const guint8 bytes[] = "world";
        m = (CrpMessage){ .type = CRP_MSG_CLIPBOARD_GRAB,
                          .clipboard_grab = { 7, CRP_CLIPBOARD_TEXT } };
        send_msg(&a, &m);
        if (!wait_for(&a, CRP_MSG_CLIPBOARD_REQUEST, &m, 30000)) {
            g_printerr("abuser: the server never asked\n");
            return 1;
        }
        m = (CrpMessage){ .type = CRP_MSG_CLIPBOARD_DATA, .clipboard_data = {
            .serial = 7, .format = CRP_CLIPBOARD_TEXT, .total = 10, .offset = 5,
            .data = { bytes, 5 } } };
        send_msg(&a, &m);
    } else if (strcmp(mode, "request-flood") == 0) {
        if (!wait_for(&a, CRP_MSG_CLIPBOARD_GRAB, &m, 30000)) {
            g_printerr("abuser: the server never grabbed\n");
            return 1;
        }
        guint32 serial = m.clipboard_grab.serial;
        for (int i = 0; i < 200; i++) {
            m = (CrpMessage){ .type = CRP_MSG_CLIPBOARD_REQUEST,
                              .clipboard_request = { serial, CRP_CLIPBOARD_TEXT } };
            send_msg(&a, &m);
        }
        /* Without reading for a while: the server's answers pile up. */
        g_usleep(3 * G_USEC_PER_SEC);
    } else {
        g_printerr("abuser: unknown mode %s\n", mode);
        return 2;
    }
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (!a.ended && g_get_monotonic_time() < deadline) {
        next(&a, &ev, 500);
    }
    if (!a.ended) {
        g_printerr("abuser: the server never ended the session\n");
        return 1;
    }
    if (a.bye_reason) {
        g_print("bye %u %s\n", a.bye_status, a.bye_reason);
    } else {
        g_print("cut\n");
    }
    crp_channel_free(a.ch);
    g_free(a.bye_reason);
    close(a.fd);
    return 0;
}
