/*
 * crp-vdagent - the guest side of the clipboard in the CRP test guest
 *
 * Speaks the SPICE agent protocol (spice-protocol's spice/vd_agent.h) on
 * the virtio-serial port "com.redhat.spice.0", the way spice-vdagent does
 * in a desktop guest, so QEMU's qemu-vdagent chardev (clipboard=on) hands
 * the guest's clipboard to its clipboard peers (VNC, -display crp) and
 * theirs to the guest. The busybox guest has no X server: its clipboard is
 * what `crp-vdagent copy` put there, kept in a file by the daemon.
 *
 *   crp-vdagent daemon [-p PORTNAME | -d DEVICE] [-s SOCKET] [-D DIR] [-l LOG]
 *   crp-vdagent copy   [-s SOCKET] [-t text|png] (-f FILE | TEXT...)
 *   crp-vdagent paste  [-s SOCKET] [-t text|png] [-o FILE]
 *   crp-vdagent status [-s SOCKET]
 *
 * The daemon owns the port; copy, paste and status talk to it over a unix
 * socket. copy takes the clipboard (CLIPBOARD_GRAB; the host then asks
 * with CLIPBOARD_REQUEST and gets CLIPBOARD); paste prints what the host's
 * clipboard holds (asked for with CLIPBOARD_REQUEST), or the guest's own
 * if the guest took it last. Text is UTF-8, images PNG; both are checked
 * and capped at CRP_VDAGENT_MAX_DATA bytes, CRP's clipboard limit
 * (CRP_MAX_CLIPBOARD, 16 MiB; QEMU's vdagent carries that much with
 * qemu-crp-display's 0002-clipboard-png.patch, stock QEMU 10 drops what
 * it sends the guest beyond about 1 MiB).
 *
 * A malformed message from the host is refused, logged ("refused: ...")
 * and counted (status: refused=N); one that breaks the framing (a chunk or
 * message too large, a chunk running past its message) also reopens the
 * port, which makes QEMU reset its side of the stream.
 */
#define _GNU_SOURCE /* accept4 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guest-tools.h"

#define CRP_VDAGENT_MAX_DATA (16 * 1024 * 1024)
#define DEFAULT_PORT_NAME "com.redhat.spice.0"
#define DEFAULT_SOCKET "/run/crp-vdagent.sock"
#define DEFAULT_DIR "/run/crp-vdagent"
#define VIRTIO_PORTS "/sys/class/virtio-ports"

/* spice/vd_agent.h, kept here so the guest builds without spice-protocol. */
#define VD_AGENT_PROTOCOL 1
#define VDP_CLIENT_PORT 1
#define VD_AGENT_MAX_DATA_SIZE 2048  /* what agents put in one chunk */
enum {
    VD_AGENT_CLIPBOARD = 4,
    VD_AGENT_ANNOUNCE_CAPABILITIES = 6,
    VD_AGENT_CLIPBOARD_GRAB = 7,
    VD_AGENT_CLIPBOARD_REQUEST = 8,
    VD_AGENT_CLIPBOARD_RELEASE = 9,
};
enum {
    VD_AGENT_CAP_CLIPBOARD_BY_DEMAND = 5,
    VD_AGENT_CAP_CLIPBOARD_SELECTION = 6,
};
enum {
    VD_AGENT_CLIPBOARD_NONE = 0,
    VD_AGENT_CLIPBOARD_UTF8_TEXT = 1,
    VD_AGENT_CLIPBOARD_IMAGE_PNG = 2,
};
#define CHUNK_HEADER_SIZE 8     /* VDIChunkHeader: port, size */
#define MESSAGE_HEADER_SIZE 20  /* VDAgentMessage: protocol, type, opaque, size */
/* QEMU sends chunks of at most 1 KiB, spice 2 KiB; anything far above that
 * is not a chunk but a broken stream. */
#define CHUNK_MAX (64 * 1024)
/* selection word + type word + the data */
#define MESSAGE_MAX (MESSAGE_HEADER_SIZE + 8 + CRP_VDAGENT_MAX_DATA)
#define MAX_GRAB_TYPES 16
/* A paste fails when the host has sent nothing for this long: a large
 * clipboard may take longer than that in all, but it keeps coming. */
#define PASTE_TIMEOUT_MS 5000
/* How long the commands wait for the daemon's answer: a 16 MiB paste
 * under TCG takes seconds. */
#define COMMAND_TIMEOUT_S 120

#define OUR_CAPS ((1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND) | \
                  (1u << VD_AGENT_CAP_CLIPBOARD_SELECTION))

/* The daemon's socket protocol: a request header, then @len bytes (copy);
 * a reply header, then @len bytes (the data, or an error message). */
struct ctl_request {
    char op[4];          /* "COPY", "PAST", "STAT" */
    uint32_t type;       /* VD_AGENT_CLIPBOARD_* */
    uint32_t len;
};
struct ctl_reply {
    uint32_t status;     /* 0: ok, 1: error (the data is its message) */
    uint32_t len;
};

struct agent {
    const char *port_name;
    const char *device;        /* -d: this device instead of the named port */
    char port_path[300];
    const char *socket_path;
    const char *dir;
    int port_fd;
    int listen_fd;

    /* stream reassembly */
    uint8_t chunk_hdr[CHUNK_HEADER_SIZE];
    size_t chunk_hdr_len;
    uint32_t chunk_left;
    uint8_t *msg;              /* the message being assembled */
    size_t msg_len;
    size_t msg_size;           /* header + size, once the header is in */

    /* the host */
    int caps_received;
    uint32_t host_caps;
    uint32_t host_types;       /* 1 << VD_AGENT_CLIPBOARD_* the host offers */
    unsigned refused;

    /* the guest's clipboard: in DIR/clipboard once copied */
    int guest_owns;
    uint32_t guest_type;

    /* one paste waiting for the host's CLIPBOARD */
    int paste_fd;
    uint32_t paste_type;
    int64_t paste_deadline;
};

static FILE *log_file;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    FILE *f = log_file ? log_file : stderr;

    fprintf(f, "crp-vdagent: ");
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

static const char *type_name(uint32_t type)
{
    switch (type) {
    case VD_AGENT_CLIPBOARD_UTF8_TEXT: return "text";
    case VD_AGENT_CLIPBOARD_IMAGE_PNG: return "png";
    case VD_AGENT_CLIPBOARD_NONE: return "none";
    default: return "other";
    }
}

static int parse_type(const char *s, uint32_t *type)
{
    if (!strcmp(s, "text") || !strcmp(s, "text/plain")) {
        *type = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    } else if (!strcmp(s, "png") || !strcmp(s, "image/png")) {
        *type = VD_AGENT_CLIPBOARD_IMAGE_PNG;
    } else {
        return -1;
    }
    return 0;
}

/* All of @len bytes, or -1 (a short read or write: the peer went away). */
static int io_all(int fd, void *buf, size_t len, int writing)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return io_all(fd, (void *)buf, len, 1);
}

static int read_all(int fd, void *buf, size_t len)
{
    return io_all(fd, buf, len, 0);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1; cp = c & 0x1f; min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2; cp = c & 0x0f; min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (i + n >= len) {
            return 0;  /* truncated sequence */
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

/* NULL if @data is acceptable clipboard content of @type, else why not. */
static const char *check_content(uint32_t type, const uint8_t *data, size_t len)
{
    static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    if (len > CRP_VDAGENT_MAX_DATA) {
        return "too large";
    }
    switch (type) {
    case VD_AGENT_CLIPBOARD_UTF8_TEXT:
        return valid_utf8(data, len) ? NULL : "text is not valid UTF-8";
    case VD_AGENT_CLIPBOARD_IMAGE_PNG:
        return len >= 8 && !memcmp(data, png_magic, 8) ? NULL : "not a PNG image";
    default:
        return "unsupported type";
    }
}

/* ------------------------------------------------------------------ */
/* the port                                                           */

/* /dev/vportNpM of the virtio-serial port named @name, in @out. */
static int find_port(const char *name, char *out, size_t len)
{
    DIR *d = opendir(VIRTIO_PORTS);
    struct dirent *e;
    int found = -1;

    if (!d) {
        return -1;
    }
    while (found < 0 && (e = readdir(d))) {
        char path[512], buf[256];
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), VIRTIO_PORTS "/%s/name", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) {
            continue;
        }
        if (fgets(buf, sizeof(buf), f)) {
            buf[strcspn(buf, "\n")] = '\0';
            if (!strcmp(buf, name)) {
                snprintf(out, len, "/dev/%s", e->d_name);
                found = 0;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void reset_stream(struct agent *a)
{
    a->chunk_hdr_len = 0;
    a->chunk_left = 0;
    free(a->msg);
    a->msg = NULL;
    a->msg_len = 0;
    a->msg_size = 0;
}

static void close_port(struct agent *a)
{
    if (a->port_fd >= 0) {
        close(a->port_fd);
        a->port_fd = -1;
    }
    reset_stream(a);
    a->caps_received = 0;
    a->host_caps = 0;
    a->host_types = 0;
}

/* The message in chunks of at most VD_AGENT_MAX_DATA_SIZE, the first
 * carrying the message header, as agents send them. */
static int send_message(struct agent *a, uint32_t type, const uint8_t *body,
                        size_t body_len)
{
    uint8_t hdr[MESSAGE_HEADER_SIZE] = { 0 };
    uint8_t buf[CHUNK_HEADER_SIZE + VD_AGENT_MAX_DATA_SIZE];
    size_t total = MESSAGE_HEADER_SIZE + body_len, off = 0;

    if (a->port_fd < 0) {
        return -1;
    }
    put_le32(hdr, VD_AGENT_PROTOCOL);
    put_le32(hdr + 4, type);
    put_le32(hdr + 16, (uint32_t)body_len);
    while (off < total) {
        size_t n = total - off;
        if (n > VD_AGENT_MAX_DATA_SIZE) {
            n = VD_AGENT_MAX_DATA_SIZE;
        }
        put_le32(buf, VDP_CLIENT_PORT);
        put_le32(buf + 4, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            size_t at = off + i;
            buf[CHUNK_HEADER_SIZE + i] =
                at < MESSAGE_HEADER_SIZE ? hdr[at] : body[at - MESSAGE_HEADER_SIZE];
        }
        if (write_all(a->port_fd, buf, CHUNK_HEADER_SIZE + n) < 0) {
            logf_("writing to %s: %s", a->port_path, strerror(errno));
            return -1;
        }
        off += n;
    }
    return 0;
}

static int use_selection(struct agent *a)
{
    return a->host_caps & (1u << VD_AGENT_CAP_CLIPBOARD_SELECTION);
}

static int host_has_clipboard(struct agent *a)
{
    return a->caps_received && (a->host_caps & (1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
}

static int send_caps(struct agent *a, int request)
{
    uint8_t body[8];

    put_le32(body, (uint32_t)request);
    put_le32(body + 4, OUR_CAPS);
    return send_message(a, VD_AGENT_ANNOUNCE_CAPABILITIES, body, sizeof(body));
}

/* A clipboard message: [selection word], then @words, then @data. */
static int send_clipboard_msg(struct agent *a, uint32_t type, const uint32_t *words,
                              size_t nwords, const uint8_t *data, size_t len)
{
    size_t off = 0, body_len = 4 + 4 * nwords + len;
    uint8_t *body = calloc(1, body_len);
    int ret;

    if (!body) {
        return -1;
    }
    if (use_selection(a)) {
        off = 4;  /* VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD, 3 reserved */
    }
    for (size_t i = 0; i < nwords; i++, off += 4) {
        put_le32(body + off, words[i]);
    }
    if (len) {
        memcpy(body + off, data, len);
    }
    ret = send_message(a, type, body, off + len);
    free(body);
    return ret;
}

static int open_port(struct agent *a)
{
    if (a->device) {
        snprintf(a->port_path, sizeof(a->port_path), "%s", a->device);
    } else if (find_port(a->port_name, a->port_path, sizeof(a->port_path)) < 0) {
        return -1;
    }
    a->port_fd = open(a->port_path, O_RDWR | O_CLOEXEC);
    if (a->port_fd < 0) {
        return -1;
    }
    reset_stream(a);
    /* Opening the port tells QEMU the agent is there; it announces its
     * capabilities too, but ask anyway so a reopen always resyncs. */
    if (send_caps(a, 1) < 0) {
        close_port(a);
        return -1;
    }
    logf_("opened %s", a->port_path);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the guest's clipboard file                                         */

static void clip_path(struct agent *a, char *out, size_t len)
{
    snprintf(out, len, "%s/clipboard", a->dir);
}

static uint8_t *read_file_capped(const char *path, size_t *len, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint8_t *buf;
    size_t cap = CRP_VDAGENT_MAX_DATA + 1, n = 0;

    *why = NULL;
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        *why = "out of memory";
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            *why = strerror(errno);
            break;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        if (n == cap) {
            *why = "too large";
            break;
        }
    }
    close(fd);
    if (*why) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int store_clipboard(struct agent *a, const uint8_t *data, size_t len)
{
    char path[512], tmp[520];
    int fd;

    clip_path(a, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    if (write_all(fd, data, len) < 0 || close(fd) < 0) {
        unlink(tmp);
        return -1;
    }
    return rename(tmp, path);
}

/* ------------------------------------------------------------------ */
/* control clients                                                    */

static void reply(int fd, uint32_t status, const void *data, size_t len)
{
    struct ctl_reply r = { status, (uint32_t)len };

    if (write_all(fd, &r, sizeof(r)) == 0 && len) {
        write_all(fd, data, len);
    }
}

static void reply_error(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_error(int fd, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply(fd, 1, msg, strlen(msg));
}

static void finish_paste(struct agent *a, uint32_t status, const void *data, size_t len)
{
    reply(a->paste_fd, status, data, len);
    close(a->paste_fd);
    a->paste_fd = -1;
}

static void do_copy(struct agent *a, int fd, const struct ctl_request *req)
{
    const char *why;
    uint8_t *data;
    uint32_t types[1] = { req->type };

    if (req->len > CRP_VDAGENT_MAX_DATA) {
        reply_error(fd, "refused: %u bytes is over the clipboard limit of %u bytes",
                    req->len, CRP_VDAGENT_MAX_DATA);
        return;
    }
    data = malloc(req->len ? req->len : 1);
    if (!data || read_all(fd, data, req->len) < 0) {
        free(data);
        reply_error(fd, "short request");
        return;
    }
    why = check_content(req->type, data, req->len);
    if (why) {
        free(data);
        reply_error(fd, "refused: %s", why);
        return;
    }
    if (!host_has_clipboard(a)) {
        free(data);
        reply_error(fd, "the host offers no clipboard (%s)",
                    a->port_fd < 0 ? "no agent port" : "no clipboard-by-demand capability");
        return;
    }
    if (store_clipboard(a, data, req->len) < 0) {
        reply_error(fd, "storing the clipboard in %s: %s", a->dir, strerror(errno));
        free(data);
        return;
    }
    free(data);
    a->guest_owns = 1;
    a->guest_type = req->type;
    if (send_clipboard_msg(a, VD_AGENT_CLIPBOARD_GRAB, types, 1, NULL, 0) < 0) {
        reply_error(fd, "the port to the host failed");
        return;
    }
    logf_("guest took the clipboard: %u bytes of %s", req->len, type_name(req->type));
    reply(fd, 0, NULL, 0);
}

static void do_paste(struct agent *a, int fd, const struct ctl_request *req)
{
    uint32_t types[1] = { req->type };

    if (a->guest_owns) {
        const char *why;
        char path[512];
        size_t len;
        uint8_t *data;
        if (a->guest_type != req->type) {
            reply_error(fd, "the clipboard holds %s, not %s",
                        type_name(a->guest_type), type_name(req->type));
            return;
        }
        clip_path(a, path, sizeof(path));
        data = read_file_capped(path, &len, &why);
        if (!data) {
            reply_error(fd, "reading %s: %s", path, why);
            return;
        }
        reply(fd, 0, data, len);
        free(data);
        return;
    }
    if (!host_has_clipboard(a)) {
        reply_error(fd, "the host offers no clipboard");
        return;
    }
    if (!(a->host_types & (1u << req->type))) {
        reply_error(fd, "the host's clipboard holds no %s", type_name(req->type));
        return;
    }
    if (a->paste_fd >= 0) {
        reply_error(fd, "busy: another paste is waiting for the host");
        return;
    }
    if (send_clipboard_msg(a, VD_AGENT_CLIPBOARD_REQUEST, types, 1, NULL, 0) < 0) {
        reply_error(fd, "the port to the host failed");
        return;
    }
    a->paste_fd = fd;
    a->paste_type = req->type;
    a->paste_deadline = now_ms() + PASTE_TIMEOUT_MS;
}

static void do_status(struct agent *a, int fd)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "port=%s connected=%d host-clipboard=%d host-types=%s%s%s "
                     "guest-owns=%s refused=%u pid=%d\n",
                     a->port_fd >= 0 ? a->port_path : "none", a->port_fd >= 0,
                     host_has_clipboard(a),
                     a->host_types & (1u << VD_AGENT_CLIPBOARD_UTF8_TEXT) ? "text," : "",
                     a->host_types & (1u << VD_AGENT_CLIPBOARD_IMAGE_PNG) ? "png," : "",
                     a->host_types ? "" : "none",
                     a->guest_owns ? type_name(a->guest_type) : "no", a->refused,
                     (int)getpid());
    reply(fd, 0, buf, (size_t)n);
}

/* Returns 1 if @fd is now owned by a waiting paste (do not close it). */
static int serve_client(struct agent *a, int fd)
{
    struct ctl_request req;
    struct timeval tv = { 2, 0 };

    /* A stuck client must not stall the daemon. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (read_all(fd, &req, sizeof(req)) < 0) {
        return 0;
    }
    if (!memcmp(req.op, "STAT", 4)) {
        do_status(a, fd);
    } else if (req.type != VD_AGENT_CLIPBOARD_UTF8_TEXT &&
               req.type != VD_AGENT_CLIPBOARD_IMAGE_PNG) {
        reply_error(fd, "unsupported type %u", req.type);
    } else if (!memcmp(req.op, "COPY", 4)) {
        do_copy(a, fd, &req);
    } else if (!memcmp(req.op, "PAST", 4)) {
        do_paste(a, fd, &req);
        return a->paste_fd == fd;
    } else {
        reply_error(fd, "unknown request");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* messages from the host                                             */

static void refuse(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct agent *a, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->refused++;
    /* A host that keeps sending garbage does not fill /run with the log. */
    if (a->refused <= 100 || a->refused % 1000 == 0) {
        logf_("refused: %s (%u so far)", msg, a->refused);
    }
}

static void recv_caps(struct agent *a, const uint8_t *p, size_t len)
{
    if (len < 8) {
        refuse(a, "capabilities of %zu bytes", len);
        return;
    }
    a->caps_received = 1;
    a->host_caps = get_le32(p + 4);
    /* A new announcement is a new connection: its clipboard state is new. */
    a->host_types = 0;
    logf_("host capabilities 0x%08x (request=%u)", a->host_caps, get_le32(p));
    if (get_le32(p)) {
        send_caps(a, 0);
    }
    if (a->guest_owns && host_has_clipboard(a)) {
        uint32_t types[1] = { a->guest_type };
        send_clipboard_msg(a, VD_AGENT_CLIPBOARD_GRAB, types, 1, NULL, 0);
    }
}

static void recv_grab(struct agent *a, const uint8_t *p, size_t len)
{
    uint32_t types = 0;

    if (len % 4 || len / 4 > MAX_GRAB_TYPES) {
        refuse(a, "clipboard grab of %zu bytes", len);
        return;
    }
    for (size_t i = 0; i < len; i += 4) {
        uint32_t t = get_le32(p + i);
        if (t == VD_AGENT_CLIPBOARD_UTF8_TEXT || t == VD_AGENT_CLIPBOARD_IMAGE_PNG) {
            types |= 1u << t;
        }
    }
    a->host_types = types;
    a->guest_owns = 0;
    logf_("host took the clipboard (%s%s)",
          types & (1u << VD_AGENT_CLIPBOARD_UTF8_TEXT) ? "text " : "",
          types & (1u << VD_AGENT_CLIPBOARD_IMAGE_PNG) ? "png" : "");
}

static void recv_request(struct agent *a, const uint8_t *p, size_t len)
{
    uint32_t type, none[1] = { VD_AGENT_CLIPBOARD_NONE };
    const char *why = NULL;
    uint8_t *data = NULL;
    size_t data_len = 0;
    char path[512];

    if (len != 4) {
        refuse(a, "clipboard request of %zu bytes", len);
        return;
    }
    type = get_le32(p);
    if (a->guest_owns && type == a->guest_type) {
        clip_path(a, path, sizeof(path));
        data = read_file_capped(path, &data_len, &why);
        if (data && !(why = check_content(type, data, data_len))) {
            uint32_t t[1] = { type };
            send_clipboard_msg(a, VD_AGENT_CLIPBOARD, t, 1, data, data_len);
            logf_("sent the host %zu bytes of %s", data_len, type_name(type));
            free(data);
            return;
        }
        free(data);
        logf_("cannot serve the clipboard: %s", why);
    }
    /* Nothing of that type: an empty answer, so the host does not wait. */
    send_clipboard_msg(a, VD_AGENT_CLIPBOARD, none, 1, NULL, 0);
}

static void recv_data(struct agent *a, const uint8_t *p, size_t len)
{
    uint32_t type;
    const char *why;

    if (len < 4) {
        refuse(a, "clipboard data of %zu bytes", len);
        return;
    }
    type = get_le32(p);
    p += 4;
    len -= 4;
    if (a->paste_fd < 0) {
        refuse(a, "clipboard data nobody asked for (%zu bytes of %s)", len, type_name(type));
        return;
    }
    if (type == VD_AGENT_CLIPBOARD_NONE) {
        finish_paste(a, 1, "the host's clipboard is empty", 29);
        return;
    }
    if (type == VD_AGENT_CLIPBOARD_UTF8_TEXT && len && p[len - 1] == '\0') {
        len--;  /* a C string's end (VNC viewers send one), not text */
    }
    if (type != a->paste_type) {
        refuse(a, "clipboard data of type %s for a request of %s", type_name(type),
               type_name(a->paste_type));
        finish_paste(a, 1, "the host answered with another type", 35);
        return;
    }
    why = check_content(type, p, len);
    if (why) {
        refuse(a, "clipboard data from the host: %s", why);
        finish_paste(a, 1, why, strlen(why));
        return;
    }
    logf_("host sent %zu bytes of %s", len, type_name(type));
    finish_paste(a, 0, p, len);
}

static void recv_message(struct agent *a)
{
    const uint8_t *m = a->msg;
    uint32_t protocol = get_le32(m), type = get_le32(m + 4);
    const uint8_t *body = m + MESSAGE_HEADER_SIZE;
    size_t len = a->msg_size - MESSAGE_HEADER_SIZE;

    if (protocol != VD_AGENT_PROTOCOL) {
        refuse(a, "protocol %u", protocol);
        return;
    }
    if (type == VD_AGENT_ANNOUNCE_CAPABILITIES) {
        recv_caps(a, body, len);
        return;
    }
    if (type != VD_AGENT_CLIPBOARD && type != VD_AGENT_CLIPBOARD_GRAB &&
        type != VD_AGENT_CLIPBOARD_REQUEST && type != VD_AGENT_CLIPBOARD_RELEASE) {
        return;  /* mouse, monitors, file transfer: not ours */
    }
    if (!host_has_clipboard(a)) {
        refuse(a, "clipboard message %u from a host without clipboard", type);
        return;
    }
    if (use_selection(a)) {
        if (len < 4) {
            refuse(a, "clipboard message %u without its selection", type);
            return;
        }
        if (body[0] != 0) {
            /* PRIMARY/SECONDARY: X11 selections this guest has none of */
            return;
        }
        body += 4;
        len -= 4;
    }
    switch (type) {
    case VD_AGENT_CLIPBOARD_GRAB:
        recv_grab(a, body, len);
        break;
    case VD_AGENT_CLIPBOARD_REQUEST:
        recv_request(a, body, len);
        break;
    case VD_AGENT_CLIPBOARD:
        recv_data(a, body, len);
        break;
    case VD_AGENT_CLIPBOARD_RELEASE:
        a->host_types = 0;
        logf_("host released the clipboard");
        break;
    }
}

/* Feeds bytes from the port; returns -1 if the framing broke. */
static int feed(struct agent *a, const uint8_t *p, size_t n)
{
    while (n) {
        if (a->chunk_hdr_len < CHUNK_HEADER_SIZE) {
            size_t k = CHUNK_HEADER_SIZE - a->chunk_hdr_len;
            if (k > n) {
                k = n;
            }
            memcpy(a->chunk_hdr + a->chunk_hdr_len, p, k);
            a->chunk_hdr_len += k;
            p += k;
            n -= k;
            if (a->chunk_hdr_len < CHUNK_HEADER_SIZE) {
                break;
            }
            a->chunk_left = get_le32(a->chunk_hdr + 4);
            if (a->chunk_left == 0 || a->chunk_left > CHUNK_MAX) {
                refuse(a, "chunk of %u bytes", a->chunk_left);
                return -1;
            }
            continue;
        }
        if (!a->msg) {
            a->msg = malloc(MESSAGE_HEADER_SIZE);
            if (!a->msg) {
                return -1;
            }
        }
        size_t want = a->msg_size ? a->msg_size - a->msg_len
                                  : MESSAGE_HEADER_SIZE - a->msg_len;
        size_t k = want;
        if (k > n) {
            k = n;
        }
        if (k > a->chunk_left) {
            k = a->chunk_left;
        }
        memcpy(a->msg + a->msg_len, p, k);
        a->msg_len += k;
        a->chunk_left -= (uint32_t)k;
        p += k;
        n -= k;
        if (!a->msg_size && a->msg_len == MESSAGE_HEADER_SIZE) {
            uint32_t size = get_le32(a->msg + 16);
            uint8_t *grown;
            if (size > MESSAGE_MAX - MESSAGE_HEADER_SIZE) {
                refuse(a, "message of %u bytes (limit %u)", size,
                       MESSAGE_MAX - MESSAGE_HEADER_SIZE);
                return -1;
            }
            a->msg_size = MESSAGE_HEADER_SIZE + (size_t)size;
            grown = realloc(a->msg, a->msg_size);
            if (!grown) {
                return -1;
            }
            a->msg = grown;
        }
        if (a->msg_size && a->msg_len == a->msg_size) {
            /* Agents never start a message inside another's chunk. */
            if (a->chunk_left) {
                refuse(a, "chunk runs %u bytes past its message", a->chunk_left);
                return -1;
            }
            recv_message(a);
            free(a->msg);
            a->msg = NULL;
            a->msg_len = 0;
            a->msg_size = 0;
        }
        if (a->chunk_left == 0) {
            a->chunk_hdr_len = 0;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* the daemon                                                         */

static int listen_socket(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    chmod(path, 0600);
    return fd;
}

static int daemon_main(int argc, char **argv)
{
    struct agent a = {
        .port_name = DEFAULT_PORT_NAME,
        .socket_path = DEFAULT_SOCKET,
        .dir = DEFAULT_DIR,
        .port_fd = -1,
        .listen_fd = -1,
        .paste_fd = -1,
    };
    const char *log_path = NULL;
    int opt, waiting_logged = 0;

    while ((opt = getopt(argc, argv, "p:d:s:D:l:")) != -1) {
        switch (opt) {
        case 'p': a.port_name = optarg; break;
        case 'd': a.device = optarg; break;
        case 's': a.socket_path = optarg; break;
        case 'D': a.dir = optarg; break;
        case 'l': log_path = optarg; break;
        default:
            fprintf(stderr, "usage: crp-vdagent daemon [-p PORTNAME | -d DEVICE] "
                    "[-s SOCKET] [-D DIR] [-l LOG]\n");
            return 2;
        }
    }
    if (log_path && !(log_file = fopen(log_path, "a"))) {
        fprintf(stderr, "crp-vdagent: %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(a.dir, 0700) < 0 && errno != EEXIST) {
        logf_("%s: %s", a.dir, strerror(errno));
        return 1;
    }
    a.listen_fd = listen_socket(a.socket_path);
    if (a.listen_fd < 0) {
        logf_("%s: %s", a.socket_path, strerror(errno));
        return 1;
    }
    logf_("listening on %s (pid %d)", a.socket_path, (int)getpid());

    for (;;) {
        struct pollfd pfd[2];
        int nfd = 0, timeout = -1;

        if (a.port_fd < 0 && open_port(&a) < 0) {
            if (!waiting_logged) {
                logf_("waiting for the port %s", a.device ? a.device : a.port_name);
                waiting_logged = 1;
            }
            timeout = 1000;
        } else {
            waiting_logged = 0;
        }
        pfd[nfd++] = (struct pollfd){ .fd = a.listen_fd, .events = POLLIN };
        if (a.port_fd >= 0) {
            pfd[nfd++] = (struct pollfd){ .fd = a.port_fd, .events = POLLIN };
        }
        if (a.paste_fd >= 0) {
            int64_t left = a.paste_deadline - now_ms();
            timeout = left < 0 ? 0 : (timeout < 0 || left < timeout ? (int)left : timeout);
        }
        if (poll(pfd, nfd, timeout) < 0 && errno != EINTR) {
            logf_("poll: %s", strerror(errno));
            return 1;
        }
        if (a.paste_fd >= 0 && now_ms() >= a.paste_deadline) {
            logf_("the host did not answer a clipboard request");
            finish_paste(&a, 1, "the host did not answer in time", 31);
        }
        if (a.port_fd >= 0 && pfd[1].revents) {
            uint8_t buf[4096];
            ssize_t r = read(a.port_fd, buf, sizeof(buf));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                /* The host closed its side: try again in a moment. */
                logf_("%s: %s", a.port_path, r < 0 ? strerror(errno) : "closed by the host");
                close_port(&a);
                sleep(1);
            } else {
                if (a.paste_fd >= 0) {
                    /* The host is still sending: the paste's deadline
                     * moves with the progress. */
                    a.paste_deadline = now_ms() + PASTE_TIMEOUT_MS;
                }
                if (feed(&a, buf, (size_t)r) < 0) {
                    /* Reopening makes QEMU reset its end: the stream
                     * restarts at a chunk boundary. */
                    logf_("resynchronising: reopening %s", a.port_path);
                    close_port(&a);
                }
            }
            if (a.port_fd < 0 && a.paste_fd >= 0) {
                finish_paste(&a, 1, "the port to the host was reset", 30);
            }
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept4(a.listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && !serve_client(&a, fd)) {
                close(fd);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* the commands                                                       */

static int connect_daemon(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct timeval tv = { COMMAND_TIMEOUT_S, 0 };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "crp-vdagent: no daemon at %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends a request, reads the reply into *@data (malloc'd); returns the
 * reply's status, or -1 if the daemon could not be asked. */
static int ask(const char *sock, const char op[4], uint32_t type, const uint8_t *body,
               uint32_t len, uint8_t **data, uint32_t *data_len)
{
    struct ctl_request req = { .type = type, .len = len };
    struct ctl_reply rep;
    int fd = connect_daemon(sock);

    memcpy(req.op, op, 4);
    if (fd < 0) {
        return -1;
    }
    if (write_all(fd, &req, sizeof(req)) < 0 || (len && write_all(fd, body, len) < 0)) {
        fprintf(stderr, "crp-vdagent: the daemon hung up\n");
        close(fd);
        return -1;
    }
    if (read_all(fd, &rep, sizeof(rep)) < 0 || rep.len > CRP_VDAGENT_MAX_DATA) {
        fprintf(stderr, "crp-vdagent: no reply from the daemon\n");
        close(fd);
        return -1;
    }
    *data = malloc(rep.len + 1);
    if (!*data || read_all(fd, *data, rep.len) < 0) {
        close(fd);
        return -1;
    }
    (*data)[rep.len] = '\0';
    *data_len = rep.len;
    close(fd);
    return (int)rep.status;
}

static uint8_t *read_input(const char *path, size_t *len)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    size_t cap = 65536, n = 0;
    uint8_t *buf = NULL;

    if (fd < 0) {
        fprintf(stderr, "crp-vdagent: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap || !buf) {
            uint8_t *grown;
            if (buf) {
                cap *= 2;
            }
            grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "crp-vdagent: %s: %s\n", path, strerror(errno));
            free(buf);
            return NULL;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        /* Past the limit it is refused anyway: no need to read it all. */
        if (n > (size_t)CRP_VDAGENT_MAX_DATA + 1) {
            break;
        }
    }
    if (fd) {
        close(fd);
    }
    *len = n;
    return buf;
}

static int client_main(int argc, char **argv, const char *cmd)
{
    const char *sock = DEFAULT_SOCKET, *file = NULL, *out = NULL;
    uint32_t type = VD_AGENT_CLIPBOARD_UTF8_TEXT, len = 0;
    uint8_t *body = NULL, *data = NULL;
    int opt, status;

    while ((opt = getopt(argc, argv, "s:t:f:o:")) != -1) {
        switch (opt) {
        case 's': sock = optarg; break;
        case 't':
            if (parse_type(optarg, &type) < 0) {
                fprintf(stderr, "crp-vdagent: type must be text or png\n");
                return 2;
            }
            break;
        case 'f': file = optarg; break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: crp-vdagent copy [-s SOCKET] [-t text|png] (-f FILE | TEXT...)\n"
                    "       crp-vdagent paste [-s SOCKET] [-t text|png] [-o FILE]\n"
                    "       crp-vdagent status [-s SOCKET]\n");
            return 2;
        }
    }
    if (!strcmp(cmd, "copy")) {
        size_t n = 0;
        if (file) {
            body = read_input(file, &n);
            if (!body) {
                return 1;
            }
        } else {
            /* The arguments, joined by spaces, as echo would. */
            for (int i = optind; i < argc; i++) {
                n += strlen(argv[i]) + 1;
            }
            body = calloc(1, n + 1);
            for (int i = optind; body && i < argc; i++) {
                strcat((char *)body, argv[i]);
                if (i + 1 < argc) {
                    strcat((char *)body, " ");
                }
            }
            n = body ? strlen((char *)body) : 0;
        }
        if (n > CRP_VDAGENT_MAX_DATA) {
            fprintf(stderr, "crp-vdagent: refused: over the clipboard limit of %u bytes\n",
                    CRP_VDAGENT_MAX_DATA);
            free(body);
            return 1;
        }
        len = (uint32_t)n;
    }
    status = ask(sock, !strcmp(cmd, "copy") ? "COPY" : !strcmp(cmd, "paste") ? "PAST" : "STAT",
                 type, body, len, &data, &len);
    free(body);
    if (status < 0) {
        return 1;
    }
    if (status != 0) {
        fprintf(stderr, "crp-vdagent: %s\n", data);
        free(data);
        return 1;
    }
    if (!strcmp(cmd, "copy")) {
        printf("crp-vdagent: copied\n");
    } else if (out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, data, len) < 0 || close(fd) < 0) {
            fprintf(stderr, "crp-vdagent: %s: %s\n", out, strerror(errno));
            free(data);
            return 1;
        }
    } else {
        fflush(stdout);
        write_all(1, data, len);
    }
    free(data);
    return 0;
}

int crp_vdagent_main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    if (!strcmp(cmd, "daemon")) {
        return daemon_main(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "copy") || !strcmp(cmd, "paste") || !strcmp(cmd, "status")) {
        return client_main(argc - 1, argv + 1, cmd);
    }
    fprintf(stderr, "usage: crp-vdagent daemon|copy|paste|status [OPTIONS] (see its source)\n");
    return 2;
}
