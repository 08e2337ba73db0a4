/*
 * crp-secret-file.h: reading a small secret (a display ticket) from a
 * file, refused if others may read it, as key files are. Shared by
 * crp-client and crp-headless (--ticket-file).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** The file's text with surrounding whitespace removed; an empty,
 *  oversized, non-regular or group/world-accessible file is an error. */
char *crp_secret_file_read(const char *path, GError **error);

/** The same for the file's contents, @len bytes (any bytes); @name says
 *  where they came from in error messages, which never quote them. */
char *crp_secret_parse(const char *data, gsize len, const char *name,
                       GError **error);

/** Overwrites and frees @secret; accepts NULL. */
void crp_secret_free(char *secret);

G_END_DECLS
