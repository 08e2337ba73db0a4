/*
 * admin-format.h: crp-admin's output, one table in three shapes.
 *
 * A command fills a CrpAdminTable (typed columns, rows of cells appended
 * left to right) and prints it as:
 * - TABLE: aligned columns for people (numbers right-aligned, "-" for
 *   missing values, control characters replaced so that a stored title
 *   cannot drive the terminal);
 * - JSON: an array of objects keyed by column name, typed (numbers,
 *   booleans, null), strings escaped by json-glib;
 * - CSV: RFC 4180 (header of column names, fields quoted when they hold a
 *   comma, quote, CR, LF or edge spaces; quotes doubled; CRLF line ends).
 * Times are ISO 8601 UTC ("2025-01-31T12:00:00Z") in every shape.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

G_BEGIN_DECLS

typedef enum {
    CRP_ADMIN_FORMAT_TABLE,
    CRP_ADMIN_FORMAT_JSON,
    CRP_ADMIN_FORMAT_CSV,
} CrpAdminFormat;

typedef enum {
    CRP_ADMIN_COL_TEXT,
    CRP_ADMIN_COL_UINT,
    CRP_ADMIN_COL_BOOL,
    CRP_ADMIN_COL_TIME,         /* Unix seconds; 0 is "not set" (null) */
} CrpAdminColumnType;

typedef enum {
    CRP_ADMIN_COL_DEFAULT = 0,
    /** Only in JSON and CSV (too wide for the human table). */
    CRP_ADMIN_COL_MACHINE = 1 << 0,
} CrpAdminColumnFlags;

typedef struct _CrpAdminTable CrpAdminTable;

CrpAdminTable *crp_admin_table_new(void);
void crp_admin_table_free(CrpAdminTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpAdminTable, crp_admin_table_free)

/** @name is the JSON key and CSV header; @header the table's heading. */
void crp_admin_table_add_column(CrpAdminTable *table, const char *name,
                                const char *header, CrpAdminColumnType type,
                                CrpAdminColumnFlags flags);

/** One column, for crp_admin_table_add_columns(). */
typedef struct {
    const char *name;
    const char *header;
    CrpAdminColumnType type;
    CrpAdminColumnFlags flags;
} CrpAdminColumn;

/** crp_admin_table_add_column() for each of @columns: a list's columns
 *  written as a table of data. */
void crp_admin_table_add_columns(CrpAdminTable *table,
                                 const CrpAdminColumn *columns,
                                 gsize n_columns);

/** Starts a row; cells follow in column order. */
void crp_admin_table_add_row(CrpAdminTable *table);
/** A text cell; NULL is a missing value. */
void crp_admin_table_add_text(CrpAdminTable *table, const char *value);
void crp_admin_table_add_uint(CrpAdminTable *table, guint64 value);
void crp_admin_table_add_bool(CrpAdminTable *table, gboolean value);
void crp_admin_table_add_time(CrpAdminTable *table, gint64 unix_seconds);
/** A missing value of any type. */
void crp_admin_table_add_null(CrpAdminTable *table);

guint crp_admin_table_get_n_rows(CrpAdminTable *table);

/** Prints the table in @format to @out. */
void crp_admin_table_print(CrpAdminTable *table, CrpAdminFormat format,
                           FILE *out);

/** The rows as a JSON array node (for embedding in a larger document). */
JsonNode *crp_admin_table_to_json(CrpAdminTable *table);

/** Prints @node as pretty JSON with a final newline. */
void crp_admin_print_json(JsonNode *node, FILE *out);

/** ISO 8601 UTC for Unix seconds ("2025-01-31T12:00:00Z"). */
char *crp_admin_format_time(gint64 unix_seconds);

/** A copy of @text safe for a terminal: control characters become '?',
 *  invalid UTF-8 is replaced. */
char *crp_admin_sanitize(const char *text);

/** One CSV field, quoted if needed. */
char *crp_admin_csv_field(const char *text);

G_END_DECLS
