/*
 * crp-file-path.h: which paths name something in a user's My files
 * (protocol section 5.6).
 *
 * A path is relative to the top of the user's files: components joined by
 * single '/', none empty, "." or "..", none longer than CRP_MAX_FILE_NAME
 * bytes, at most CRP_MAX_FILE_DEPTH of them, the whole at most
 * CRP_MAX_FILE_PATH bytes of valid UTF-8 without NUL or control
 * characters. So a valid path never leaves the top, never
 * starts at the root, and prints safely in a log or a dialog. The broker
 * refuses any other path with an ERROR naming the rule it broke; clients
 * check before sending, to say so before a transfer starts.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * crp_file_path_check:
 * @path: the bytes, not necessarily NUL-terminated
 * @len: their length
 * @allow_top: TRUE if "" (the top itself) is acceptable (FILE_LIST)
 *
 * Returns: TRUE if @path is acceptable; FALSE with @error
 *     (CRP_ERROR_PROTOCOL) saying which rule it breaks, in words fit for
 *     a user.
 */
gboolean crp_file_path_check(const char *path, gsize len, gboolean allow_top,
                             GError **error);

/** TRUE if @name is acceptable as one component (a file's own name). */
gboolean crp_file_name_valid(const char *name);

G_END_DECLS
