/*
 * crp-secret-file.h: the one reader of files that hold a secret: user
 * keys (crp-keyfile.h), the broker's key, display tickets.
 *
 * A secret file must be a regular file that neither group nor others may
 * access (mode 0600 or stricter); symbolic links, FIFOs and devices are
 * refused. The checks run on the open file, so the file cannot be swapped
 * between check and read, and a FIFO cannot hang the reader. Messages
 * name the path and never quote the contents.
 *
 *     gsize len;
 *     char *bytes = crp_secret_file_load(path, 4096, &len, &error);
 *     ... parse bytes ...
 *     crp_secret_free_len(bytes, len);
 *
 * Errors are G_FILE_ERROR: PERM for a file others may access (the message
 * says to run chmod 600), the open's own code (NOENT, ACCES...) when it
 * cannot be opened, INVAL for anything else.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** The file's bytes, NUL-terminated (*@len excludes the NUL); a file
 *  larger than @max_len bytes is an error. */
char *crp_secret_file_load(const char *path, gsize max_len, gsize *len,
                           GError **error);

/** Overwrites @len bytes of @secret, then frees it; accepts NULL. */
void crp_secret_free_len(char *secret, gsize len);

/* ---- text secrets: display tickets ---------------------------------- */

/** A text secret (a ticket) read from @path: its text with surrounding
 *  whitespace removed; an empty, oversized (over 4 KiB) or non-UTF-8
 *  file is an error too. */
char *crp_secret_file_read(const char *path, GError **error);

/** The same for contents already read, @len bytes (any bytes); @name says
 *  where they came from in error messages. */
char *crp_secret_parse(const char *data, gsize len, const char *name,
                       GError **error);

/** Overwrites and frees a text secret; accepts NULL. */
void crp_secret_free(char *secret);

G_END_DECLS
