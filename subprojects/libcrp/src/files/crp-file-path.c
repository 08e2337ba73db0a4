/*
 * crp-file-path.c: the rules of crp-file-path.h, one place for the broker
 * and every client.
 */
#include "crp/crp-file-path.h"
#include "crp/crp-error.h"
#include "crp/crp-message.h"

#include <string.h>

static gboolean
refuse(GError **error, const char *why)
{
    g_set_error(error, CRP_ERROR, CRP_ERROR_PROTOCOL, "invalid file name: %s",
                why);
    return FALSE;
}

/* One component, [start, start + len). */
static gboolean
component_check(const char *start, gsize len, GError **error)
{
    if (len == 0) {
        return refuse(error, "empty name (a leading, trailing or double '/')");
    }
    if (len > CRP_MAX_FILE_NAME) {
        return refuse(error, "a name is longer than 255 bytes");
    }
    if ((len == 1 && start[0] == '.') ||
        (len == 2 && start[0] == '.' && start[1] == '.')) {
        return refuse(error, "\".\" and \"..\" are not names");
    }
    return TRUE;
}

gboolean
crp_file_path_check(const char *path, gsize len, gboolean allow_top,
                    GError **error)
{
    if (len == 0) {
        return allow_top ? TRUE : refuse(error, "empty");
    }
    if (len > CRP_MAX_FILE_PATH) {
        return refuse(error, "longer than 1024 bytes");
    }
    if (!g_utf8_validate_len(path, len, NULL)) {
        return refuse(error, "not UTF-8");
    }
    for (gsize i = 0; i < len; i++) {
        guchar c = (guchar)path[i];
        if (c < 0x20 || c == 0x7f) {
            return refuse(error, "a control character");
        }
    }
    if (path[0] == '/') {
        return refuse(error, "starts with '/' (paths are relative to My files)");
    }
    const char *start = path;
    const char *end = path + len;
    guint depth = 0;
    while (start <= end) {
        if (++depth > CRP_MAX_FILE_DEPTH) {
            return refuse(error, "more than 32 names deep");
        }
        const char *slash = memchr(start, '/', (gsize)(end - start));
        const char *stop = slash ? slash : end;
        if (!component_check(start, (gsize)(stop - start), error)) {
            return FALSE;
        }
        if (!slash) {
            break;
        }
        start = slash + 1;
    }
    return TRUE;
}

gboolean
crp_file_name_valid(const char *name)
{
    return name && !strchr(name, '/') &&
           crp_file_path_check(name, strlen(name), FALSE, NULL);
}
