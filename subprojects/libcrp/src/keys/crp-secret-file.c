/*
 * crp-secret-file.c: see crp-secret-file.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp/crp-secret-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A ticket is a short token; anything bigger is the wrong file. */
#define MAX_TICKET 4096

static void set_open_error(const char *path, int err, GError **error)
{
    if (err == ELOOP) {
        /* O_NOFOLLOW's answer: a link could point anywhere. */
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is a symbolic link; give the path of the file itself",
                    path);
        return;
    }
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
                "Cannot open %s: %s", path, g_strerror(err));
}

char *crp_secret_file_load(const char *path, gsize max_len, gsize *len,
                           GError **error)
{
    struct stat st;
    /* O_NONBLOCK: a FIFO put there must not hang us before the check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
                  O_NONBLOCK);

    if (fd < 0) {
        set_open_error(path, errno, error);
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        set_open_error(path, err, error);
        return NULL;
    }
    /* Checked on the open file, so it cannot be swapped in between. */
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is not a regular file", path);
        return NULL;
    }
    if (st.st_mode & 077) {
        close(fd);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "%s can be read by other users (mode %04o); it holds a "
                    "secret: run chmod 600 %s", path,
                    (unsigned)(st.st_mode & 07777), path);
        return NULL;
    }

    /* One byte more than allowed says the file is too big. */
    gsize cap = max_len + 1, got = 0;
    char *buf = g_malloc(cap + 1);
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            crp_secret_free_len(buf, cap + 1);
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s",
                        path, g_strerror(err));
            return NULL;
        }
        if (n == 0) {
            break;
        }
        got += n;
    }
    close(fd);
    if (got > max_len) {
        crp_secret_free_len(buf, cap + 1);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is too big for a secret file (more than %zu bytes)",
                    path, max_len);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

void crp_secret_free_len(char *secret, gsize len)
{
    if (secret) {
        explicit_bzero(secret, len);
        g_free(secret);
    }
}

char *crp_secret_parse(const char *data, gsize len, const char *name,
                       GError **error)
{
    if (len > MAX_TICKET) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: too big for a ticket", name);
        return NULL;
    }
    /* With its length: a NUL inside is not text either. */
    if (!g_utf8_validate_len(data, len, NULL)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is not UTF-8 text", name);
        return NULL;
    }
    char *text = g_strndup(data, len);
    char *secret = g_strdup(g_strstrip(text));
    explicit_bzero(text, len);
    g_free(text);
    if (!*secret) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is empty",
                    name);
        crp_secret_free(secret);
        return NULL;
    }
    return secret;
}

char *crp_secret_file_read(const char *path, GError **error)
{
    gsize len;
    char *bytes = crp_secret_file_load(path, MAX_TICKET, &len, error);

    if (!bytes) {
        return NULL;
    }
    char *secret = crp_secret_parse(bytes, len, path, error);
    crp_secret_free_len(bytes, len);
    return secret;
}

void crp_secret_free(char *secret)
{
    if (secret) {
        crp_secret_free_len(secret, strlen(secret));
    }
}
