/*
 * broker-vm-console.c: a session's serial console into a capped log (see
 * broker-vm-console.h).
 */
#include "broker-vm-console.h"
#include "broker-log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

/* One read; also the most a rotation can leave out of a file's half. */
#define CONSOLE_READ_SIZE (16 * 1024)
/* Per wakeup, so that a guest flooding its serial port cannot keep the
 * main loop (and everybody else's requests) waiting. */
#define CONSOLE_READS_PER_WAKEUP 8
/* What freeing still copies out of the socket at most. */
#define CONSOLE_DRAIN_MAX (1024 * 1024)

struct BrokerVmConsole {
    char *session;
    int fd;                     /* the socket; -1 once it ended */
    guint watch;
    char *path;                 /* DIR/console.log */
    char *old_path;             /* DIR/console.log.1 */
    int log_fd;                 /* -1 until the first byte */
    guint64 log_size;
    guint64 half;               /* the cap of each file */
    gboolean write_failed;      /* warned once */
    guint64 read_bytes;         /* what the guest wrote, while we read */
    guint rotations;
};

static gboolean
open_log(BrokerVmConsole *c)
{
    struct stat st;

    c->log_fd = g_open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                       0600);
    if (c->log_fd < 0) {
        return FALSE;
    }
    /* A broker that restarted goes on where the last one stopped. */
    c->log_size = fstat(c->log_fd, &st) == 0 ? (guint64)st.st_size : 0;
    return TRUE;
}

static void
rotate(BrokerVmConsole *c)
{
    close(c->log_fd);
    c->log_fd = -1;
    g_rename(c->path, c->old_path);
    /* O_TRUNC: should the rename have failed, the cap still holds. */
    c->log_fd = g_open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
                       O_CLOEXEC, 0600);
    c->log_size = 0;
}

static void
keep(BrokerVmConsole *c, const char *data, gsize len)
{
    if (c->log_fd < 0 && !open_log(c)) {
        goto failed;
    }
    if (c->log_size > 0 && c->log_size + len > c->half) {
        rotate(c);
        c->rotations++;
        if (c->log_fd < 0) {
            goto failed;
        }
    }
    len = MIN(len, c->half);    /* never: a read is smaller than half */
    while (len > 0) {
        ssize_t n = write(c->log_fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto failed;
        }
        data += n;
        len -= (gsize)n;
        c->log_size += (guint64)n;
    }
    return;

failed:
    /* Disk full or the like: the console is lost, the session goes on. */
    if (!c->write_failed) {
        c->write_failed = TRUE;
        broker_warning("event=console-log-failed path=%s error=\"%s\"", c->path,
                       g_strerror(errno));
    }
}

static void
end(BrokerVmConsole *c)
{
    g_clear_handle_id(&c->watch, g_source_remove);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

/* Reads up to @max_reads chunks; FALSE when the socket ended. */
static gboolean
pump(BrokerVmConsole *c, guint max_reads)
{
    char buf[CONSOLE_READ_SIZE];

    for (guint i = 0; i < max_reads; i++) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0) {
            c->read_bytes += (guint64)n;
            keep(c, buf, (gsize)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return TRUE;
        } else {
            return FALSE;       /* QEMU closed it (it quit) or an error */
        }
    }
    return TRUE;
}

static gboolean
on_readable(int fd, GIOCondition condition, gpointer data)
{
    BrokerVmConsole *c = data;

    if (!pump(c, CONSOLE_READS_PER_WAKEUP)) {
        c->watch = 0;
        end(c);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

BrokerVmConsole *
broker_vm_console_new(int fd, const char *session, const char *dir,
                      guint64 max_bytes)
{
    BrokerVmConsole *c = g_new0(BrokerVmConsole, 1);

    c->session = g_strdup(session);
    c->fd = fd;
    c->log_fd = -1;
    c->path = g_build_filename(dir, "console.log", NULL);
    c->old_path = g_build_filename(dir, "console.log.1", NULL);
    c->half = MAX(max_bytes / 2, CONSOLE_READ_SIZE);
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    c->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable,
                             c);
    return c;
}

BrokerVmConsole *
broker_vm_console_connect(const char *path, const char *session,
                          const char *dir, guint64 max_bytes, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                    "%s: too long for a socket path", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                    "cannot connect to %s: %s", path, g_strerror(e));
        return NULL;
    }
    return broker_vm_console_new(fd, session, dir, max_bytes);
}

void
broker_vm_console_free(BrokerVmConsole *c)
{
    if (!c) {
        return;
    }
    if (c->fd >= 0) {
        /* The last lines before QEMU went away. */
        pump(c, CONSOLE_DRAIN_MAX / CONSOLE_READ_SIZE);
    }
    end(c);
    if (c->log_fd >= 0) {
        close(c->log_fd);
    }
    broker_message("event=console-closed session=%s read_bytes=%" G_GUINT64_FORMAT
                   " rotations=%u", c->session, c->read_bytes, c->rotations);
    g_free(c->session);
    g_free(c->path);
    g_free(c->old_path);
    g_free(c);
}
