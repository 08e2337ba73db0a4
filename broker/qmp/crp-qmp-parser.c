/*
 * crp-qmp-parser.c: QMP line framing and message classification.
 */
#include "crp-qmp-parser.h"

#include <string.h>

/* Stands in the line queue for a line dropped for being too long. */
static char overlong_line;

struct CrpQmpParser {
    gsize max_line;
    /* Complete lines (GBytes, without the newline) and &overlong_line. */
    GQueue lines;
    /* The line being received; never longer than max_line. */
    GByteArray *partial;
    /* Dropping the rest of a line that went past max_line. */
    gboolean skipping;
    gsize queued_bytes;

    JsonParser *json;
    /* What the current message's views point into. */
    JsonNode *root;
    JsonObject *empty_data;
    GPtrArray *capabilities;
};

CrpQmpParser *
crp_qmp_parser_new(gsize max_line)
{
    CrpQmpParser *parser = g_new0(CrpQmpParser, 1);

    parser->max_line = max_line ? max_line : CRP_QMP_MAX_LINE;
    g_queue_init(&parser->lines);
    parser->partial = g_byte_array_new();
    parser->json = json_parser_new_immutable();
    return parser;
}

static void
line_free(gpointer item)
{
    if (item != &overlong_line) {
        g_bytes_unref(item);
    }
}

static void
parser_release_message(CrpQmpParser *parser)
{
    g_clear_pointer(&parser->root, json_node_unref);
    g_clear_pointer(&parser->empty_data, json_object_unref);
    g_clear_pointer(&parser->capabilities, g_ptr_array_unref);
}

void
crp_qmp_parser_free(CrpQmpParser *parser)
{
    if (!parser) {
        return;
    }
    parser_release_message(parser);
    g_queue_clear_full(&parser->lines, line_free);
    g_byte_array_unref(parser->partial);
    g_object_unref(parser->json);
    g_free(parser);
}

gsize
crp_qmp_parser_buffered(const CrpQmpParser *parser)
{
    return parser->queued_bytes + parser->partial->len;
}

void
crp_qmp_parser_feed(CrpQmpParser *parser, const void *data, gsize len)
{
    const guint8 *p = data;

    while (len > 0) {
        const guint8 *nl = memchr(p, '\n', len);
        gsize n = nl ? (gsize)(nl - p) : len;

        if (!parser->skipping) {
            if (n > parser->max_line - parser->partial->len) {
                g_byte_array_set_size(parser->partial, 0);
                parser->skipping = TRUE;
                g_queue_push_tail(&parser->lines, &overlong_line);
            } else if (nl) {
                GBytes *line;
                if (parser->partial->len == 0) {
                    line = g_bytes_new(p, n);
                } else {
                    g_byte_array_append(parser->partial, p, n);
                    line = g_byte_array_free_to_bytes(parser->partial);
                    parser->partial = g_byte_array_new();
                }
                parser->queued_bytes += g_bytes_get_size(line);
                g_queue_push_tail(&parser->lines, line);
            } else {
                g_byte_array_append(parser->partial, p, n);
            }
        }
        if (nl) {
            parser->skipping = FALSE;
            n++;
        }
        p += n;
        len -= n;
    }
}

/*
 * json-glib accepts more than JSON: several values on a line (it keeps the
 * last), JavaScript "var x = ..." statements, single-quoted strings and
 * comments. QMP is one JSON object per line: check that before json-glib
 * sees the line. Outside double-quoted strings only JSON's own characters
 * may appear, so that the nesting counted here is the nesting json-glib
 * will recurse into: deep nesting is refused before it gets there.
 */
static gboolean
check_shape(const char *s, gsize len, GError **error)
{
    gboolean in_string = FALSE, escaped = FALSE;
    guint depth = 0;

    if (len == 0 || s[0] != '{') {
        g_set_error_literal(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                            "bad QMP line: not a JSON object");
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (escaped) {
                escaped = FALSE;
            } else if (c == '\\') {
                escaped = TRUE;
            } else if (c == '"') {
                in_string = FALSE;
            }
        } else if (c == '"') {
            in_string = TRUE;
        } else if (c == '{' || c == '[') {
            if (++depth > CRP_QMP_MAX_DEPTH) {
                g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_TOO_LARGE,
                            "QMP message nested deeper than %d levels",
                            CRP_QMP_MAX_DEPTH);
                return FALSE;
            }
        } else if (c == '}' || c == ']') {
            if (depth > 0 && --depth == 0 && i + 1 < len) {
                /* The line is stripped: anything after the object is more. */
                g_set_error_literal(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                                    "bad QMP line: text after the JSON object");
                return FALSE;
            }
        } else if (!g_ascii_isalnum(c) && (c == '\0' || !strchr(" \t\r,:+-.", c))) {
            g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                        "malformed QMP line: unexpected byte 0x%02x", (guint8)c);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- members ------------------------------------------------------------ */

static JsonObject *
get_object(JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member(obj, name);
    return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static gboolean
is_value_of(JsonNode *node, GType type)
{
    return node && JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == type;
}

static const char *
get_string(JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member(obj, name);
    return is_value_of(node, G_TYPE_STRING) ? json_node_get_string(node) : NULL;
}

static gboolean
get_int(JsonObject *obj, const char *name, gint64 *out)
{
    JsonNode *node = json_object_get_member(obj, name);
    if (!is_value_of(node, G_TYPE_INT64)) {
        return FALSE;
    }
    *out = json_node_get_int(node);
    return TRUE;
}

static CrpQmpMessageType
invalid(GError **error, const char *what)
{
    g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL, "bad QMP %s", what);
    return CRP_QMP_MSG_INVALID;
}

/* ---- messages ----------------------------------------------------------- */

static CrpQmpMessageType
parse_greeting(CrpQmpParser *parser, JsonObject *root, CrpQmpMessage *msg,
               GError **error)
{
    JsonObject *qmp = get_object(root, "QMP");
    JsonObject *version = qmp ? get_object(qmp, "version") : NULL;
    JsonObject *qemu = version ? get_object(version, "qemu") : NULL;
    JsonNode *caps = qmp ? json_object_get_member(qmp, "capabilities") : NULL;

    if (!qemu || !get_int(qemu, "major", &msg->version_major) ||
        !get_int(qemu, "minor", &msg->version_minor) ||
        !get_int(qemu, "micro", &msg->version_micro)) {
        return invalid(error, "greeting: no QEMU version");
    }
    msg->version_package = get_string(version, "package");
    if (!msg->version_package) {
        msg->version_package = "";
    }
    if (!caps || !JSON_NODE_HOLDS_ARRAY(caps)) {
        return invalid(error, "greeting: no capabilities");
    }
    JsonArray *array = json_node_get_array(caps);
    guint n = json_array_get_length(array);
    parser->capabilities = g_ptr_array_sized_new(n + 1);
    for (guint i = 0; i < n; i++) {
        JsonNode *cap = json_array_get_element(array, i);
        if (!is_value_of(cap, G_TYPE_STRING)) {
            return invalid(error, "greeting: a capability is not a string");
        }
        g_ptr_array_add(parser->capabilities, (gpointer)json_node_get_string(cap));
    }
    g_ptr_array_add(parser->capabilities, NULL);
    msg->capabilities = (const char *const *)parser->capabilities->pdata;
    return CRP_QMP_MSG_GREETING;
}

/* @required: whether a reply without an id is malformed. */
static gboolean
parse_id(JsonObject *root, CrpQmpMessage *msg, gboolean required)
{
    JsonNode *id = json_object_get_member(root, "id");
    if (!id) {
        return !required;
    }
    msg->id = is_value_of(id, G_TYPE_STRING) ? json_node_get_string(id) : NULL;
    return msg->id != NULL;
}

static CrpQmpMessageType
parse_return(JsonObject *root, CrpQmpMessage *msg, GError **error)
{
    if (!parse_id(root, msg, TRUE)) {
        return invalid(error, "return: no string id");
    }
    msg->ret = json_object_get_member(root, "return");
    return CRP_QMP_MSG_RETURN;
}

static CrpQmpMessageType
parse_error(JsonObject *root, CrpQmpMessage *msg, GError **error)
{
    JsonObject *err = get_object(root, "error");

    if (!err || !(msg->error_class = get_string(err, "class")) ||
        !(msg->error_desc = get_string(err, "desc"))) {
        return invalid(error, "error: no class and desc");
    }
    if (!parse_id(root, msg, FALSE)) {
        return invalid(error, "error: id is not a string");
    }
    return CRP_QMP_MSG_ERROR;
}

static CrpQmpMessageType
parse_event(CrpQmpParser *parser, JsonObject *root, CrpQmpMessage *msg,
            GError **error)
{
    JsonObject *timestamp = get_object(root, "timestamp");
    JsonNode *data = json_object_get_member(root, "data");

    msg->event = get_string(root, "event");
    if (!msg->event) {
        return invalid(error, "event: name is not a string");
    }
    if (!timestamp || !get_int(timestamp, "seconds", &msg->seconds) ||
        !get_int(timestamp, "microseconds", &msg->microseconds)) {
        return invalid(error, "event: no timestamp");
    }
    if (!data) {
        parser->empty_data = json_object_new();
        msg->data = parser->empty_data;
    } else if (JSON_NODE_HOLDS_OBJECT(data)) {
        msg->data = json_node_get_object(data);
    } else {
        return invalid(error, "event: data is not an object");
    }
    return CRP_QMP_MSG_EVENT;
}

static CrpQmpMessageType
parse_line(CrpQmpParser *parser, const char *line, gsize len,
           CrpQmpMessage *msg, GError **error)
{
    g_autoptr(GError) json_error = NULL;

    if (!check_shape(line, len, error)) {
        return CRP_QMP_MSG_INVALID;
    }
    if (!json_parser_load_from_data(parser->json, line, (gssize)len, &json_error)) {
        g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_PROTOCOL,
                    "malformed QMP line: %s", json_error->message);
        return CRP_QMP_MSG_INVALID;
    }
    parser->root = json_parser_steal_root(parser->json);
    if (!parser->root || !JSON_NODE_HOLDS_OBJECT(parser->root)) {
        return invalid(error, "line: not a JSON object");
    }

    JsonObject *root = json_node_get_object(parser->root);
    static const char *const kinds[] = { "QMP", "return", "error", "event" };
    int kind = -1;
    for (int i = 0; i < (int)G_N_ELEMENTS(kinds); i++) {
        if (json_object_has_member(root, kinds[i])) {
            if (kind >= 0) {
                return invalid(error, "message: more than one of QMP, return, error, event");
            }
            kind = i;
        }
    }
    switch (kind) {
    case 0:
        return parse_greeting(parser, root, msg, error);
    case 1:
        return parse_return(root, msg, error);
    case 2:
        return parse_error(root, msg, error);
    case 3:
        return parse_event(parser, root, msg, error);
    default:
        return invalid(error, "message: none of QMP, return, error, event");
    }
}

CrpQmpMessageType
crp_qmp_parser_next(CrpQmpParser *parser, CrpQmpMessage *msg, GError **error)
{
    memset(msg, 0, sizeof(*msg));
    parser_release_message(parser);

    for (;;) {
        gpointer item = g_queue_pop_head(&parser->lines);
        if (!item) {
            return CRP_QMP_MSG_NONE;
        }
        if (item == &overlong_line) {
            g_set_error(error, CRP_QMP_ERROR, CRP_QMP_ERROR_TOO_LARGE,
                        "QMP line longer than %" G_GSIZE_FORMAT " bytes",
                        parser->max_line);
            msg->type = CRP_QMP_MSG_INVALID;
            return msg->type;
        }

        g_autoptr(GBytes) bytes = item;
        gsize len;
        const char *line = g_bytes_get_data(bytes, &len);
        parser->queued_bytes -= len;
        while (len > 0 && g_ascii_isspace(line[len - 1])) {
            len--;
        }
        gsize start = 0;
        while (start < len && g_ascii_isspace(line[start])) {
            start++;
        }
        if (start == len) {
            continue;
        }

        msg->type = parse_line(parser, line + start, len - start, msg, error);
        if (msg->type == CRP_QMP_MSG_INVALID) {
            CrpQmpMessageType type = msg->type;
            memset(msg, 0, sizeof(*msg));
            msg->type = type;
            parser_release_message(parser);
        }
        return msg->type;
    }
}

const char *
crp_qmp_message_type_name(CrpQmpMessageType type)
{
    switch (type) {
    case CRP_QMP_MSG_INVALID:
        return "invalid";
    case CRP_QMP_MSG_NONE:
        return "none";
    case CRP_QMP_MSG_GREETING:
        return "greeting";
    case CRP_QMP_MSG_RETURN:
        return "return";
    case CRP_QMP_MSG_ERROR:
        return "error";
    case CRP_QMP_MSG_EVENT:
        return "event";
    }
    return "unknown";
}
