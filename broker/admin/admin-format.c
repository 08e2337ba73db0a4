/* admin-format.c: tables as text, JSON and CSV (see admin-format.h). */
#include "admin-format.h"

#include <string.h>

typedef struct {
    char *name;
    char *header;
    CrpAdminColumnType type;
    CrpAdminColumnFlags flags;
} Column;

typedef struct {
    gboolean null;
    char *text;                 /* TEXT */
    gint64 number;              /* UINT (as bits), BOOL, TIME */
} Cell;

struct _CrpAdminTable {
    GArray *columns;            /* Column */
    GPtrArray *rows;            /* GArray of Cell */
};

static void
column_clear(gpointer data)
{
    Column *column = data;
    g_free(column->name);
    g_free(column->header);
}

static void
cell_clear(gpointer data)
{
    g_free(((Cell *)data)->text);
}

static void
row_free(gpointer data)
{
    g_array_unref(data);
}

CrpAdminTable *
crp_admin_table_new(void)
{
    CrpAdminTable *table = g_new0(CrpAdminTable, 1);

    table->columns = g_array_new(FALSE, TRUE, sizeof(Column));
    g_array_set_clear_func(table->columns, column_clear);
    table->rows = g_ptr_array_new_with_free_func(row_free);
    return table;
}

void
crp_admin_table_free(CrpAdminTable *table)
{
    if (!table) {
        return;
    }
    g_array_unref(table->columns);
    g_ptr_array_unref(table->rows);
    g_free(table);
}

void
crp_admin_table_add_column(CrpAdminTable *table, const char *name,
                           const char *header, CrpAdminColumnType type,
                           CrpAdminColumnFlags flags)
{
    Column column = { g_strdup(name), g_strdup(header), type, flags };

    g_return_if_fail(table->rows->len == 0);
    g_array_append_val(table->columns, column);
}

void
crp_admin_table_add_columns(CrpAdminTable *table,
                            const CrpAdminColumn *columns, gsize n_columns)
{
    for (gsize i = 0; i < n_columns; i++) {
        crp_admin_table_add_column(table, columns[i].name, columns[i].header,
                                   columns[i].type, columns[i].flags);
    }
}

void
crp_admin_table_add_row(CrpAdminTable *table)
{
    GArray *row = g_array_sized_new(FALSE, TRUE, sizeof(Cell),
                                    table->columns->len);

    g_array_set_clear_func(row, cell_clear);
    g_ptr_array_add(table->rows, row);
}

guint
crp_admin_table_get_n_rows(CrpAdminTable *table)
{
    return table->rows->len;
}

static void
add_cell(CrpAdminTable *table, CrpAdminColumnType type, Cell cell)
{
    GArray *row;

    g_return_if_fail(table->rows->len > 0);
    row = g_ptr_array_index(table->rows, table->rows->len - 1);
    g_return_if_fail(row->len < table->columns->len);
    g_return_if_fail(cell.null ||
                     g_array_index(table->columns, Column, row->len).type ==
                     type);
    g_array_append_val(row, cell);
}

void
crp_admin_table_add_text(CrpAdminTable *table, const char *value)
{
    add_cell(table, CRP_ADMIN_COL_TEXT,
             (Cell){ .null = value == NULL, .text = g_strdup(value) });
}

void
crp_admin_table_add_uint(CrpAdminTable *table, guint64 value)
{
    add_cell(table, CRP_ADMIN_COL_UINT, (Cell){ .number = (gint64)value });
}

void
crp_admin_table_add_bool(CrpAdminTable *table, gboolean value)
{
    add_cell(table, CRP_ADMIN_COL_BOOL, (Cell){ .number = value ? 1 : 0 });
}

void
crp_admin_table_add_time(CrpAdminTable *table, gint64 unix_seconds)
{
    add_cell(table, CRP_ADMIN_COL_TIME,
             (Cell){ .null = unix_seconds == 0, .number = unix_seconds });
}

void
crp_admin_table_add_null(CrpAdminTable *table)
{
    add_cell(table, CRP_ADMIN_COL_TEXT, (Cell){ .null = TRUE });
}

/* ------------------------------------------------------------------------ */
/* Values as text */

char *
crp_admin_format_time(gint64 unix_seconds)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(unix_seconds);

    return dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ")
              : g_strdup_printf("%" G_GINT64_FORMAT, unix_seconds);
}

char *
crp_admin_sanitize(const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text, -1);
    GString *out = g_string_sized_new(strlen(valid));

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c) || c == 0x2028 || c == 0x2029) {
            g_string_append_c(out, '?');
        } else {
            g_string_append_unichar(out, c);
        }
    }
    return g_string_free(out, FALSE);
}

char *
crp_admin_csv_field(const char *text)
{
    gsize len = strlen(text);
    gboolean quote = strpbrk(text, ",\"\r\n") != NULL ||
                     (len > 0 && (g_ascii_isspace(text[0]) ||
                                  g_ascii_isspace(text[len - 1])));
    GString *out;

    if (!quote) {
        return g_strdup(text);
    }
    out = g_string_sized_new(len + 2);
    g_string_append_c(out, '"');
    for (const char *p = text; *p; p++) {
        if (*p == '"') {
            g_string_append_c(out, '"');
        }
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
    return g_string_free(out, FALSE);
}

/* The cell as plain text; NULL for a missing value. */
static char *
cell_text(const Column *column, const Cell *cell)
{
    if (cell->null) {
        return NULL;
    }
    switch (column->type) {
    case CRP_ADMIN_COL_TEXT:
        return g_strdup(cell->text);
    case CRP_ADMIN_COL_UINT:
        return g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)cell->number);
    case CRP_ADMIN_COL_BOOL:
        return g_strdup(cell->number ? "true" : "false");
    case CRP_ADMIN_COL_TIME:
        return crp_admin_format_time(cell->number);
    }
    return NULL;
}

static const Cell *
row_cell(GArray *row, guint i)
{
    static const Cell missing = { .null = TRUE };

    return i < row->len ? &g_array_index(row, Cell, i) : &missing;
}

/* ------------------------------------------------------------------------ */
/* The three shapes */

static void
print_text(CrpAdminTable *table, FILE *out)
{
    guint ncol = table->columns->len;
    g_autofree gsize *width = g_new0(gsize, ncol);
    g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
    guint last = 0;

    for (guint c = 0; c < ncol; c++) {
        Column *column = &g_array_index(table->columns, Column, c);
        if (!(column->flags & CRP_ADMIN_COL_MACHINE)) {
            width[c] = g_utf8_strlen(column->header, -1);
            last = c;
        }
    }
    /* Render every cell first to know the widths. */
    for (guint r = 0; r < table->rows->len; r++) {
        GArray *row = g_ptr_array_index(table->rows, r);
        for (guint c = 0; c < ncol; c++) {
            Column *column = &g_array_index(table->columns, Column, c);
            g_autofree char *raw = cell_text(column, row_cell(row, c));
            char *text = raw ? crp_admin_sanitize(raw) : g_strdup("-");
            if (column->type == CRP_ADMIN_COL_BOOL && raw) {
                g_free(text);
                text = g_strdup(row_cell(row, c)->number ? "yes" : "no");
            }
            if (!(column->flags & CRP_ADMIN_COL_MACHINE)) {
                width[c] = MAX(width[c], (gsize)g_utf8_strlen(text, -1));
            }
            g_ptr_array_add(texts, text);
        }
    }
    for (guint r = 0; r <= table->rows->len; r++) {
        GString *line = g_string_new(NULL);
        for (guint c = 0; c < ncol; c++) {
            Column *column = &g_array_index(table->columns, Column, c);
            const char *text = r == 0 ? column->header
                                      : g_ptr_array_index(texts,
                                                          (r - 1) * ncol + c);
            gsize pad;

            if (column->flags & CRP_ADMIN_COL_MACHINE) {
                continue;
            }
            pad = width[c] - (gsize)g_utf8_strlen(text, -1);
            if (line->len) {
                g_string_append(line, "  ");
            }
            if (column->type == CRP_ADMIN_COL_UINT && r > 0) {
                g_string_append_printf(line, "%*s%s", (int)pad, "", text);
            } else if (c == last) {
                g_string_append(line, text);
            } else {
                g_string_append_printf(line, "%s%*s", text, (int)pad, "");
            }
        }
        fprintf(out, "%s\n", line->str);
        g_string_free(line, TRUE);
    }
    if (table->rows->len == 0) {
        fprintf(out, "(none)\n");
    }
}

JsonNode *
crp_admin_table_to_json(CrpAdminTable *table)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();

    json_builder_begin_array(builder);
    for (guint r = 0; r < table->rows->len; r++) {
        GArray *row = g_ptr_array_index(table->rows, r);
        json_builder_begin_object(builder);
        for (guint c = 0; c < table->columns->len; c++) {
            Column *column = &g_array_index(table->columns, Column, c);
            const Cell *cell = row_cell(row, c);

            json_builder_set_member_name(builder, column->name);
            if (cell->null) {
                json_builder_add_null_value(builder);
                continue;
            }
            switch (column->type) {
            case CRP_ADMIN_COL_TEXT:
                json_builder_add_string_value(builder, cell->text);
                break;
            case CRP_ADMIN_COL_UINT:
                /* JSON numbers here are int64: clamp the (unreachable)
                 * values above it rather than wrap. */
                json_builder_add_int_value(builder,
                    (guint64)cell->number > G_MAXINT64 ? G_MAXINT64
                                                        : cell->number);
                break;
            case CRP_ADMIN_COL_BOOL:
                json_builder_add_boolean_value(builder, cell->number != 0);
                break;
            case CRP_ADMIN_COL_TIME: {
                g_autofree char *text = crp_admin_format_time(cell->number);
                json_builder_add_string_value(builder, text);
                break;
            }
            }
        }
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
    return json_builder_get_root(builder);
}

void
crp_admin_print_json(JsonNode *node, FILE *out)
{
    g_autoptr(JsonGenerator) generator = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_pretty(generator, TRUE);
    json_generator_set_indent(generator, 2);
    json_generator_set_root(generator, node);
    text = json_generator_to_data(generator, NULL);
    fprintf(out, "%s\n", text);
}

static void
print_csv(CrpAdminTable *table, FILE *out)
{
    for (guint r = 0; r <= table->rows->len; r++) {
        GArray *row = r ? g_ptr_array_index(table->rows, r - 1) : NULL;
        for (guint c = 0; c < table->columns->len; c++) {
            Column *column = &g_array_index(table->columns, Column, c);
            g_autofree char *raw = row ? cell_text(column, row_cell(row, c))
                                       : g_strdup(column->name);
            g_autofree char *field = crp_admin_csv_field(raw ? raw : "");
            fprintf(out, "%s%s", c ? "," : "", field);
        }
        fputs("\r\n", out);
    }
}

void
crp_admin_table_print(CrpAdminTable *table, CrpAdminFormat format, FILE *out)
{
    switch (format) {
    case CRP_ADMIN_FORMAT_TABLE:
        print_text(table, out);
        break;
    case CRP_ADMIN_FORMAT_JSON: {
        g_autoptr(JsonNode) node = crp_admin_table_to_json(table);
        crp_admin_print_json(node, out);
        break;
    }
    case CRP_ADMIN_FORMAT_CSV:
        print_csv(table, out);
        break;
    }
}
