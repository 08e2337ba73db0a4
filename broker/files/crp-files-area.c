/*
 * crp-files-area.c: a user's My files on disk (see crp-files-area.h).
 */
#define _GNU_SOURCE
#include "crp-files-area.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "crp/crp-file-path.h"

G_DEFINE_QUARK(crp-files-error-quark, crp_files_error)

/* How deep the usage walk goes (an fd per level). Clients cannot upload
 * deeper than CRP_MAX_FILE_DEPTH folders; only a guest can nest further,
 * and what it keeps below this depth is not counted (like what a guest
 * writes, it is not capped: docs/operator-guide.md "My files"). */
#define MAX_DEPTH 64

struct CrpFilesArea {
    char *dir;                  /* FILES/USER */
    char *uploads;              /* FILES/.uploads/USER */
    int root;                   /* dir, O_DIRECTORY */
    int uploads_fd;
};

void
crp_files_entry_free(CrpFilesEntry *entry)
{
    if (entry) {
        g_free(entry->name);
        g_free(entry);
    }
}

/* Opens @path beneath @dirfd; a symbolic link anywhere on the way, or a
 * way out of @dirfd, fails (ELOOP, EXDEV) instead of being followed. */
static int
open_beneath(int dirfd, const char *path, guint64 flags)
{
    struct open_how how = {
        .flags = flags | O_CLOEXEC | O_NOFOLLOW,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* A second fd of @fd (close-on-exec, as every fd here: QEMU is spawned
 * from this process). -1 with errno when out of fds. */
static int
dup_fd(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* An errno from resolving @path, in the terms of crp-files-area.h. */
static gboolean
fail_errno(GError **error, int err, const char *path)
{
    switch (err) {
    case ENOENT:
    case ELOOP:         /* a link on the way: not ours to follow */
    case EXDEV:
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_NOT_FOUND,
                    "no such file or folder: %s", path);
        break;
    case ENOTDIR:
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                    "part of the path is a file, not a folder: %s", path);
        break;
    case ENOSPC:
    case EDQUOT:
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_IO,
                    "the broker's disk is full");
        break;
    default:
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_IO, "%s: %s",
                    path, g_strerror(err));
        break;
    }
    return FALSE;
}

/*
 * TRUE if the regular file @fd is, for the guest, something else: QEMU's
 * mapped-xattr keeps a guest's symbolic link, FIFO, socket or device as
 * a plain file and its real type in this attribute. Such a file is not
 * the user's data (a link's "content" is its target): it is neither
 * listed nor served.
 */
static gboolean
guest_special(int fd)
{
    mode_t mode = 0;

    if (fgetxattr(fd, "user.virtfs.mode", &mode, sizeof mode) !=
        (ssize_t)sizeof mode) {
        return FALSE;
    }
    return !S_ISREG(mode) && !S_ISDIR(mode);
}

static gboolean
path_ok(const char *path, gboolean allow_top, GError **error)
{
    g_autoptr(GError) why = NULL;

    if (!crp_file_path_check(path, strlen(path), allow_top, &why)) {
        g_set_error_literal(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                            why->message);
        return FALSE;
    }
    return TRUE;
}

/* mkdir that ends with @mode whatever the umask. */
static gboolean
make_dir(const char *path, int mode, GError **error)
{
    if (g_mkdir_with_parents(path, 0700) != 0 || g_chmod(path, mode) != 0) {
        int err = errno;
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_IO,
                    "cannot create %s: %s", path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

CrpFilesArea *
crp_files_area_open(const char *files_dir, const char *user, GError **error)
{
    g_autoptr(CrpFilesArea) a = g_new0(CrpFilesArea, 1);
    g_autofree char *uploads_top = g_build_filename(files_dir, ".uploads",
                                                    NULL);

    a->root = a->uploads_fd = -1;
    a->dir = g_build_filename(files_dir, user, NULL);
    a->uploads = g_build_filename(uploads_top, user, NULL);
    /* 0700 whoever made it: the areas inside are 0777 for the guests'
     * sake, and only this user may reach them. */
    if (!make_dir(files_dir, 0700, error)) {
        return NULL;
    }
    if (!make_dir(a->dir, 0777, error) || !make_dir(uploads_top, 0700, error) ||
        !make_dir(a->uploads, 0700, error)) {
        return NULL;
    }
    a->root = open(a->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    a->uploads_fd = open(a->uploads,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (a->root < 0 || a->uploads_fd < 0) {
        int err = errno;
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_IO,
                    "cannot open %s: %s", a->dir, g_strerror(err));
        return NULL;
    }
    /* Whatever looks at the area (a request, a launch's quota check)
     * first drops what nobody resumed in time: it holds quota. */
    crp_files_area_expire_uploads(a, CRP_FILES_UPLOAD_MAX_AGE_S);
    return g_steal_pointer(&a);
}

void
crp_files_area_free(CrpFilesArea *a)
{
    if (!a) {
        return;
    }
    if (a->root >= 0) {
        close(a->root);
    }
    if (a->uploads_fd >= 0) {
        close(a->uploads_fd);
    }
    g_free(a->dir);
    g_free(a->uploads);
    g_free(a);
}

const char *
crp_files_area_dir(CrpFilesArea *a)
{
    return a->dir;
}

/* ---- walking ---------------------------------------------------------- */

/* Calls @func for each entry of the directory @fd (consumed). */
typedef void (*EntryFunc)(int dirfd, const char *name, const struct stat *st,
                          gpointer data);

static void
each_entry(int fd, EntryFunc func, gpointer data)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;

    if (!d) {
        close(fd);
        return;
    }
    /* A dup()ed fd shares its position with the area's own: from the
     * start, whatever the last walk left. */
    rewinddir(d);
    while ((e = readdir(d))) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        func(dirfd(d), e->d_name, &st, data);
    }
    closedir(d);
}

/* each_entry() over one of the area's own directories (kept open). */
static void
walk(int fd, EntryFunc func, gpointer data)
{
    int mine = dup_fd(fd);

    if (mine >= 0) {
        each_entry(mine, func, data);
    }
}

typedef struct {
    guint64 bytes;
    int depth;
} Usage;

/* Sizes a guest sets (a sparse 8 EiB file) must not wrap the sum round
 * to little: it saturates. */
static guint64
add_bytes(guint64 a, guint64 b)
{
    return a > G_MAXUINT64 - b ? G_MAXUINT64 : a + b;
}

static void
add_usage(int dirfd, const char *name, const struct stat *st, gpointer data)
{
    Usage *u = data;

    if (S_ISREG(st->st_mode)) {
        u->bytes = add_bytes(u->bytes, (guint64)st->st_size);
    } else if (S_ISDIR(st->st_mode) && u->depth < MAX_DEPTH) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                         O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            u->depth++;
            each_entry(fd, add_usage, u);
            u->depth--;
        }
    }
}

/* HASH-SIZE.part: the declared size, or FALSE for a stray file. */
static gboolean
upload_size(const char *name, guint64 *size)
{
    const char *dash = strrchr(name, '-');
    char *end = NULL;

    if (!dash || !g_str_has_suffix(name, ".part")) {
        return FALSE;
    }
    *size = g_ascii_strtoull(dash + 1, &end, 10);
    return end && !strcmp(end, ".part");
}

static void
add_upload(int dirfd, const char *name, const struct stat *st, gpointer data)
{
    guint64 size;

    if (S_ISREG(st->st_mode) && upload_size(name, &size)) {
        *(guint64 *)data = add_bytes(*(guint64 *)data, size);
    }
}

guint64
crp_files_area_usage(CrpFilesArea *a, guint64 *uploads)
{
    Usage u = { 0, 0 };
    guint64 pending = 0;

    walk(a->root, add_usage, &u);
    walk(a->uploads_fd, add_upload, &pending);
    if (uploads) {
        *uploads = pending;
    }
    return add_bytes(u.bytes, pending);
}

typedef struct {
    GPtrArray *entries;
} Listing;

static void
add_entry(int dirfd, const char *name, const struct stat *st, gpointer data)
{
    Listing *l = data;
    CrpFilesEntry *e;

    /* Only what a path can name: a guest may make names that are not
     * UTF-8, or links, FIFOs, sockets; none of them is listed. */
    if ((!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) ||
        !crp_file_name_valid(name)) {
        return;
    }
    if (S_ISREG(st->st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW |
                                         O_CLOEXEC);
        gboolean special = fd < 0 || guest_special(fd);
        if (fd >= 0) {
            close(fd);
        }
        if (special) {
            return;
        }
    }
    e = g_new0(CrpFilesEntry, 1);
    e->name = g_strdup(name);
    e->is_dir = S_ISDIR(st->st_mode);
    e->size = e->is_dir ? 0 : (guint64)st->st_size;
    e->mtime_ns = (guint64)st->st_mtim.tv_sec * G_GUINT64_CONSTANT(1000000000) +
                  (guint64)st->st_mtim.tv_nsec;
    g_ptr_array_add(l->entries, e);
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
    const CrpFilesEntry *x = *(CrpFilesEntry *const *)a;
    const CrpFilesEntry *y = *(CrpFilesEntry *const *)b;
    return strcmp(x->name, y->name);
}

GPtrArray *
crp_files_area_list(CrpFilesArea *a, const char *dir, guint max,
                    gboolean *truncated, GError **error)
{
    Listing l;
    struct stat st;
    int fd;

    if (!path_ok(dir, TRUE, error)) {
        return NULL;
    }
    /* Not O_DIRECTORY: a link must fail as one (ELOOP: no such folder),
     * not as a file (ENOTDIR); a FIFO opens at once and is refused below. */
    fd = *dir ? open_beneath(a->root, dir, O_RDONLY | O_NONBLOCK)
              : dup_fd(a->root);
    if (fd < 0) {
        fail_errno(error, errno, dir);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        close(fd);
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                    "a file, not a folder: %s", dir);
        return NULL;
    }
    l.entries = g_ptr_array_new_with_free_func(
        (GDestroyNotify)crp_files_entry_free);
    each_entry(fd, add_entry, &l);
    g_ptr_array_sort(l.entries, by_name);
    *truncated = l.entries->len > max;
    if (*truncated) {
        g_ptr_array_set_size(l.entries, max);
    }
    return l.entries;
}

/* ---- uploads ---------------------------------------------------------- */

static char *
upload_name(const char *path, guint64 size)
{
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                          path, -1);
    return g_strdup_printf("%s-%" G_GUINT64_FORMAT ".part", hash, size);
}

/*
 * The directory @path lies in, opened; with @create, missing folders on
 * the way are made (0777, see the header). @name points into @path at its
 * last component.
 */
static int
open_parent(CrpFilesArea *a, const char *path, gboolean create,
            const char **name, GError **error)
{
    const char *slash = strrchr(path, '/');
    g_auto(GStrv) parts = NULL;
    int fd;

    *name = slash ? slash + 1 : path;
    if (!slash) {
        fd = dup_fd(a->root);
        if (fd < 0) {
            fail_errno(error, errno, path);
        }
        return fd;
    }
    g_autofree char *dir = g_strndup(path, (gsize)(slash - path));
    if (!create) {
        fd = open_beneath(a->root, dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
        if (fd < 0) {
            fail_errno(error, errno, path);
        }
        return fd;
    }
    parts = g_strsplit(dir, "/", -1);
    fd = dup_fd(a->root);
    if (fd < 0) {
        fail_errno(error, errno, path);
    }
    for (guint i = 0; parts[i] && fd >= 0; i++) {
        int next = open_beneath(fd, parts[i],
                                O_RDONLY | O_DIRECTORY | O_NONBLOCK);
        if (next < 0 && errno == ENOENT &&
            (mkdirat(fd, parts[i], 0777) == 0 || errno == EEXIST)) {
            next = open_beneath(fd, parts[i],
                                O_RDONLY | O_DIRECTORY | O_NONBLOCK);
            if (next >= 0) {
                fchmod(next, 0777);
            }
        }
        int err = errno;
        close(fd);
        fd = next;
        if (fd < 0) {
            fail_errno(error, err, path);
        }
    }
    return fd;
}

/* A folder stands where the file would go. */
static gboolean
is_folder(CrpFilesArea *a, const char *path)
{
    struct stat st;
    int fd = open_beneath(a->root, path, O_PATH);
    gboolean dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

    if (fd >= 0) {
        close(fd);
    }
    return dir;
}

/* The folder @path goes in is one, or missing (made at the end): not a
 * link or a file, so an upload that could never complete is refused at
 * its start. */
static gboolean
parent_usable(CrpFilesArea *a, const char *path, GError **error)
{
    const char *slash = strrchr(path, '/');
    int fd;

    if (!slash) {
        return TRUE;
    }
    g_autofree char *dir = g_strndup(path, (gsize)(slash - path));
    fd = open_beneath(a->root, dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK);
    if (fd >= 0) {
        close(fd);
        return TRUE;
    }
    return errno == ENOENT ? TRUE : fail_errno(error, errno, path);
}

/* Moves the finished upload @part to @path in one rename. */
static gboolean
finish_upload(CrpFilesArea *a, const char *part, const char *path,
              GError **error)
{
    const char *name;
    int dir = open_parent(a, path, TRUE, &name, error);
    gboolean ok;

    if (dir < 0) {
        return FALSE;
    }
    ok = renameat(a->uploads_fd, part, dir, name) == 0;
    if (!ok) {
        int err = errno;
        if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
            g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                        "a folder has that name: %s", path);
        } else {
            fail_errno(error, err, path);
        }
    } else {
        fsync(dir);
    }
    close(dir);
    return ok;
}

gboolean
crp_files_area_upload_begin(CrpFilesArea *a, const char *path, guint64 size,
                            guint64 room, guint64 *offset, GError **error)
{
    g_autofree char *part = upload_name(path, size);
    struct stat st;
    int fd;

    *offset = 0;
    if (!path_ok(path, FALSE, error)) {
        return FALSE;
    }
    if (is_folder(a, path)) {
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                    "a folder has that name: %s", path);
        return FALSE;
    }
    if (!parent_usable(a, path, error)) {
        return FALSE;
    }
    if (fstatat(a->uploads_fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && (guint64)st.st_size <= size) {
        *offset = (guint64)st.st_size;
        /* The age that counts is since the upload was last touched. */
        utimensat(a->uploads_fd, part, NULL, AT_SYMLINK_NOFOLLOW);
        /* All there but never put in place (the last chunk's rename
         * failed): "complete" must mean it is at @path. */
        return *offset < size || finish_upload(a, part, path, error);
    }
    if (size > room) {
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_QUOTA,
                    "not enough room in your storage quota for %s: it needs "
                    "%" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " are "
                    "left", path, size, room);
        return FALSE;
    }
    fd = openat(a->uploads_fd, part,
                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        return fail_errno(error, errno, path);
    }
    fchmod(fd, 0666);
    close(fd);
    if (size == 0) {
        return finish_upload(a, part, path, error);
    }
    return TRUE;
}

static gboolean
write_all(int fd, const guint8 *data, gsize len, guint64 offset)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
        offset += (guint64)n;
    }
    return TRUE;
}

gboolean
crp_files_area_upload_write(CrpFilesArea *a, const char *path, guint64 size,
                            guint64 offset, const guint8 *data, gsize len,
                            gboolean *complete, GError **error)
{
    g_autofree char *part = upload_name(path, size);
    struct stat st;
    gboolean ok = FALSE;
    int fd;

    *complete = FALSE;
    if (!path_ok(path, FALSE, error)) {
        return FALSE;
    }
    fd = openat(a->uploads_fd, part, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                    "no upload of %s (%" G_GUINT64_FORMAT " bytes) is under "
                    "way: begin it first", path, size);
        return FALSE;
    }
    if (fstat(fd, &st) != 0) {
        fail_errno(error, errno, path);
        goto out;
    }
    if ((guint64)st.st_size != offset) {
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                    "expected offset %" G_GUINT64_FORMAT " of %s",
                    (guint64)st.st_size, path);
        goto out;
    }
    if (!write_all(fd, data, len, offset)) {
        int err = errno;
        /* Back to where it stood: the next try starts clean. */
        if (ftruncate(fd, (off_t)offset) != 0) {
            g_warning("cannot trim the upload of %s: %s", path,
                      g_strerror(errno));
        }
        fail_errno(error, err, path);
        goto out;
    }
    /* Writeback starts with each chunk, so the sync of the last one
     * (on the broker's one thread) waits for little. */
    sync_file_range(fd, (off64_t)offset, (off64_t)len, SYNC_FILE_RANGE_WRITE);
    if (offset + len < size) {
        ok = TRUE;
        goto out;
    }
    if (fdatasync(fd) != 0) {
        fail_errno(error, errno, path);
        goto out;
    }
    ok = finish_upload(a, part, path, error);
    *complete = ok;
out:
    close(fd);
    return ok;
}

typedef struct {
    const char *prefix;     /* "HASH-" */
    const char *keep;       /* this upload's own part */
} Others;

static void
drop_other(int dirfd, const char *name, const struct stat *st, gpointer data)
{
    Others *o = data;

    if (g_str_has_prefix(name, o->prefix) && strcmp(name, o->keep) != 0) {
        unlinkat(dirfd, name, 0);
    }
}

void
crp_files_area_upload_drop_others(CrpFilesArea *a, const char *path,
                                  guint64 size)
{
    g_autofree char *part = upload_name(path, size);
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                          path, -1);
    g_autofree char *prefix = g_strconcat(hash, "-", NULL);
    Others o = { prefix, part };
    int fd = dup_fd(a->uploads_fd);

    if (fd >= 0) {
        each_entry(fd, drop_other, &o);
    }
}

/* ---- reading and removing --------------------------------------------- */

gboolean
crp_files_area_read(CrpFilesArea *a, const char *path, guint64 offset,
                    guint8 *buf, gsize len, gsize *got, guint64 *size,
                    guint64 *mtime_ns, GError **error)
{
    struct stat st;
    gboolean ok = FALSE;
    int fd;

    *got = 0;
    if (!path_ok(path, FALSE, error)) {
        return FALSE;
    }
    fd = open_beneath(a->root, path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        return fail_errno(error, errno, path);
    }
    if (fstat(fd, &st) != 0) {
        fail_errno(error, errno, path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                    "a folder, not a file: %s", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode) || guest_special(fd)) {
        fail_errno(error, ENOENT, path);
        goto out;
    }
    *size = (guint64)st.st_size;
    *mtime_ns = (guint64)st.st_mtim.tv_sec * G_GUINT64_CONSTANT(1000000000) +
                (guint64)st.st_mtim.tv_nsec;
    /* Never more than the size reported with the bytes (a guest may be
     * appending meanwhile): the client checks one against the other. */
    if (offset < *size) {
        len = MIN(len, *size - offset);
    } else {
        len = 0;
    }
    while (*got < len) {
        ssize_t n = pread(fd, buf + *got, len - *got, (off_t)(offset + *got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail_errno(error, errno, path);
            goto out;
        }
        if (n == 0) {
            /* It shrank meanwhile: report it as it is now, so the client
             * sees the change and starts again. */
            if (fstat(fd, &st) == 0) {
                *size = (guint64)st.st_size;
                *mtime_ns = (guint64)st.st_mtim.tv_sec *
                                G_GUINT64_CONSTANT(1000000000) +
                            (guint64)st.st_mtim.tv_nsec;
                *got = MIN(*got, *size > offset ? *size - offset : 0);
            }
            break;
        }
        *got += (gsize)n;
    }
    ok = TRUE;
out:
    close(fd);
    return ok;
}

gboolean
crp_files_area_delete(CrpFilesArea *a, const char *path, GError **error)
{
    const char *name;
    struct stat st;
    gboolean ok = FALSE;
    int dir;

    if (!path_ok(path, FALSE, error)) {
        return FALSE;
    }
    dir = open_parent(a, path, FALSE, &name, error);
    if (dir < 0) {
        return FALSE;
    }
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        fail_errno(error, ENOENT, path);
    } else if (unlinkat(dir, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0)) {
        if (errno == ENOTEMPTY || errno == EEXIST) {
            g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_INVALID,
                        "the folder is not empty: %s", path);
        } else {
            fail_errno(error, errno, path);
        }
    } else {
        ok = TRUE;
    }
    close(dir);
    return ok;
}

typedef struct {
    gint64 before;          /* Unix seconds; G_MAXINT64: all */
    guint count;
} Expiry;

static void
expire_upload(int dirfd, const char *name, const struct stat *st,
              gpointer data)
{
    Expiry *x = data;

    if (st->st_mtime < x->before && unlinkat(dirfd, name, 0) == 0) {
        x->count++;
    }
}

guint
crp_files_area_expire_uploads(CrpFilesArea *a, gint64 max_age_s)
{
    Expiry x = { g_get_real_time() / G_USEC_PER_SEC - max_age_s, 0 };

    walk(a->uploads_fd, expire_upload, &x);
    return x.count;
}

static void
remove_tree(int dirfd, const char *name, const struct stat *st,
            gpointer data)
{
    if (S_ISDIR(st->st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                         O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            each_entry(fd, remove_tree, data);
        }
    }
    if (unlinkat(dirfd, name, S_ISDIR(st->st_mode) ? AT_REMOVEDIR : 0) != 0) {
        (*(guint *)data)++;
    }
}

gboolean
crp_files_area_clean(CrpFilesArea *a, GError **error)
{
    guint failed = 0;

    walk(a->root, remove_tree, &failed);
    walk(a->uploads_fd, remove_tree, &failed);
    if (failed) {
        g_set_error(error, CRP_FILES_ERROR, CRP_FILES_ERROR_IO,
                    "%u entries of %s could not be removed", failed, a->dir);
        return FALSE;
    }
    return TRUE;
}
