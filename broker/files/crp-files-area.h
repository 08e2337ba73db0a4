/*
 * crp-files-area.h: one user's My files on the broker's host (protocol
 * section 5.6; docs/operator-guide.md "My files").
 *
 *   FILES/                     [storage] files-dir, 0700
 *       USER/                  the area: shared into each of USER's VMs
 *                              (9p, mount tag crp-files); its directories
 *                              0777 and files 0666, so that any guest user
 *                              may use what the broker put there (nothing
 *                              else on the host can pass FILES)
 *       .uploads/USER/         uploads under way, never in the area:
 *           HASH-SIZE.part     HASH: SHA-256 of the path; SIZE: declared
 *
 * Every path is checked with crp_file_path_check() and resolved beneath
 * the area without following a symbolic link (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS): what a guest puts in its share can never point
 * the broker elsewhere. Files are opened non-blocking, so a FIFO a guest
 * made stalls nothing; only directories and regular files are used.
 *
 * Used by crp-broker (the transfers) and crp-admin (show, clean). Blocking
 * system calls on the caller's thread: chunks are at most 1 MiB.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_FILES_ERROR (crp_files_error_quark())
GQuark crp_files_error_quark(void);

typedef enum {
    /** Nothing at the path (or a symbolic link, a FIFO: not ours). */
    CRP_FILES_ERROR_NOT_FOUND,
    /** A path, offset or kind the request cannot have: the message says. */
    CRP_FILES_ERROR_INVALID,
    /** A new upload is larger than the room the quota leaves. */
    CRP_FILES_ERROR_QUOTA,
    /** The host's file system failed (disk full, permissions). */
    CRP_FILES_ERROR_IO,
} CrpFilesError;

/** Uploads nobody resumed for this long are discarded (when the area is
 *  next opened). */
#define CRP_FILES_UPLOAD_MAX_AGE_S (24 * 3600)

typedef struct CrpFilesArea CrpFilesArea;

typedef struct {
    char *name;
    gboolean is_dir;
    guint64 size;           /* 0 for a directory */
    guint64 mtime_ns;
} CrpFilesEntry;

void crp_files_entry_free(CrpFilesEntry *entry);

/** Opens @user's area under @files_dir, creating what is missing, and
 *  discards its expired uploads. */
CrpFilesArea *crp_files_area_open(const char *files_dir, const char *user,
                                  GError **error);
void crp_files_area_free(CrpFilesArea *area);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpFilesArea, crp_files_area_free)

/** The area's directory (what QEMU shares). */
const char *crp_files_area_dir(CrpFilesArea *area);

/**
 * crp_files_area_usage:
 * @uploads: (out) (optional): of which uploads under way (their declared
 *     sizes: an upload holds its whole size from its start)
 *
 * Returns: the bytes the area holds against the quota: the sizes of its
 *     regular files and the declared sizes of the uploads under way.
 */
guint64 crp_files_area_usage(CrpFilesArea *area, guint64 *uploads);

/**
 * crp_files_area_list:
 * @dir: a directory of the area ("" for the top)
 * @max: the most entries to return
 * @truncated: (out): TRUE if there were more than @max
 *
 * Returns: (element-type CrpFilesEntry): directories and regular files,
 *     sorted by name (bytes); NULL with @error.
 */
GPtrArray *crp_files_area_list(CrpFilesArea *area, const char *dir, guint max,
                               gboolean *truncated, GError **error);

/**
 * crp_files_area_upload_begin:
 * @room: what the quota leaves (G_MAXUINT64: no quota); a new upload of
 *     more is refused (QUOTA), a resumed one already holds its size
 * @offset: (out): the bytes already held of an earlier upload of @path
 *     with this @size (0 for a new one; @size when complete)
 *
 * Starts or resumes an upload. An upload of @size 0 completes here.
 */
gboolean crp_files_area_upload_begin(CrpFilesArea *area, const char *path,
                                     guint64 size, guint64 room,
                                     guint64 *offset, GError **error);

/** Discards the uploads of @path declared with another size than @size
 *  (a file the user is now sending at its new size): they would hold
 *  quota until they expire. Call before reckoning the room. */
void crp_files_area_upload_drop_others(CrpFilesArea *area, const char *path,
                                       guint64 size);

/**
 * crp_files_area_upload_write:
 * @complete: (out): TRUE if this chunk completed the file, which is now
 *     at @path
 *
 * Appends a chunk at @offset, which must be where the upload stands
 * (INVALID "expected offset N" otherwise; nothing is written).
 */
gboolean crp_files_area_upload_write(CrpFilesArea *area, const char *path,
                                     guint64 size, guint64 offset,
                                     const guint8 *data, gsize len,
                                     gboolean *complete, GError **error);

/**
 * crp_files_area_read:
 * @buf: room for @len bytes
 * @got: (out): bytes read (fewer at the end of the file)
 * @size, @mtime_ns: (out): the file as it is now
 */
gboolean crp_files_area_read(CrpFilesArea *area, const char *path,
                             guint64 offset, guint8 *buf, gsize len,
                             gsize *got, guint64 *size, guint64 *mtime_ns,
                             GError **error);

/** Removes a regular file or an empty directory. */
gboolean crp_files_area_delete(CrpFilesArea *area, const char *path,
                               GError **error);

/** Discards uploads older than @max_age_s; returns how many. */
guint crp_files_area_expire_uploads(CrpFilesArea *area, gint64 max_age_s);

/** Removes everything of @user's: the area's contents and the uploads
 *  under way (the empty area stays). */
gboolean crp_files_area_clean(CrpFilesArea *area, GError **error);

G_END_DECLS
