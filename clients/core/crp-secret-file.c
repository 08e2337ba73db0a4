/*
 * crp-secret-file.c: see crp-secret-file.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-secret-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A ticket is a short token; anything bigger is the wrong file. */
#define MAX_SECRET 4096

char *crp_secret_parse(const char *data, gsize len, const char *name,
                       GError **error)
{
    if (len > MAX_SECRET) {
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
    struct stat st;
    char buf[MAX_SECRET + 1];
    gssize len;
    /* O_NONBLOCK: a FIFO put there must not hang us before the check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "Cannot open %s: %s", path, g_strerror(e));
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
                    "secret: run chmod 600 on it", path,
                    (unsigned)(st.st_mode & 07777));
        return NULL;
    }
    do {
        len = read(fd, buf, sizeof(buf));
    } while (len < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (len < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path,
                    g_strerror(e));
        return NULL;
    }
    /* One byte more than a ticket may have says it is too big. */
    char *secret = crp_secret_parse(buf, len, path, error);
    explicit_bzero(buf, sizeof(buf));
    return secret;
}

void crp_secret_free(char *secret)
{
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        g_free(secret);
    }
}
