/*
 * broker-log.c: crp-broker's key=value log lines (see broker-log.h).
 *
 * The format is walked conversion by conversion: %s arguments are written
 * by append_value(), every other conversion by printf with its own
 * specification, so the arguments are read with the types printf would
 * read (G_GNUC_PRINTF on broker_log() keeps the call sites checked).
 */
#include "broker-log.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Letters, digits and these make a value that needs no quotes. Not the
 * space (it separates keys) nor the quote and backslash (they delimit). */
#define PLAIN_PUNCT "-._:/@+,="

static gboolean
is_plain(const char *s, gsize len)
{
    if (len == 0) {
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        guchar ch = (guchar)s[i];
        if (!g_ascii_isalnum(ch) && !(ch && strchr(PLAIN_PUNCT, ch))) {
            return FALSE;
        }
    }
    return TRUE;
}

static void
append_escaped(GString *out, const char *s, gsize len)
{
    const char *p = s, *end = s + len;

    while (p < end) {
        guchar ch = (guchar)*p;

        if (ch < 0x80) {
            switch (ch) {
            case '"':
            case '\\':
                g_string_append_c(out, '\\');
                g_string_append_c(out, ch);
                break;
            case '\n':
                g_string_append(out, "\\n");
                break;
            case '\r':
                g_string_append(out, "\\r");
                break;
            case '\t':
                g_string_append(out, "\\t");
                break;
            default:
                if (ch < 0x20 || ch == 0x7f) {
                    g_string_append_printf(out, "\\x%02x", ch);
                } else {
                    g_string_append_c(out, ch);
                }
                break;
            }
            p++;
            continue;
        }
        gunichar u = g_utf8_get_char_validated(p, end - p);
        if (u == (gunichar)-1 || u == (gunichar)-2) {
            g_string_append_printf(out, "\\x%02x", ch);
            p++;
            continue;
        }
        const char *next = g_utf8_next_char(p);
        /* C1 controls (a terminal takes U+009B for an escape sequence)
         * and the Unicode line and paragraph separators. */
        if (u < 0xa0 || u == 0x2028 || u == 0x2029) {
            g_string_append_printf(out, "\\u%04x", u);
        } else {
            g_string_append_len(out, p, next - p);
        }
        p = next;
    }
}

/* One %s value; @quoted: the format already has quotes around it. */
static void
append_value(GString *out, const char *s, gsize len, gboolean quoted)
{
    if (!s) {
        g_string_append_c(out, '-');
    } else if (quoted) {
        append_escaped(out, s, len);
    } else if (is_plain(s, len)) {
        g_string_append_len(out, s, len);
    } else {
        g_string_append_c(out, '"');
        append_escaped(out, s, len);
        g_string_append_c(out, '"');
    }
}

typedef enum {
    LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_J, LEN_Z, LEN_T, LEN_LD,
} LengthMod;

/* printf of one conversion @spec with its '*' arguments and @value. */
#define APPEND_ONE(out, spec, stars, star, value)                          \
    do {                                                                   \
        if ((stars) == 0) {                                                \
            g_string_append_printf((out), (spec), (value));                \
        } else if ((stars) == 1) {                                         \
            g_string_append_printf((out), (spec), (star)[0], (value));     \
        } else {                                                           \
            g_string_append_printf((out), (spec), (star)[0], (star)[1],    \
                                   (value));                               \
        }                                                                  \
    } while (0)

char *
broker_log_vformat(const char *format, va_list ap)
{
    GString *out = g_string_new(NULL);
    const char *f = format;
    va_list args;

    va_copy(args, ap);
    while (*f) {
        const char *pct = strchr(f, '%');
        if (!pct) {
            g_string_append(out, f);
            break;
        }
        g_string_append_len(out, f, pct - f);

        const char *q = pct + 1;
        int star[2] = { 0, 0 };
        int stars = 0;
        int precision = -1;
        LengthMod mod = LEN_NONE;

        while (*q && strchr("-+ #0'", *q)) {
            q++;
        }
        if (*q == '*') {
            star[stars++] = va_arg(args, int);
            q++;
        } else {
            while (g_ascii_isdigit(*q)) {
                q++;
            }
        }
        if (*q == '.') {
            q++;
            if (*q == '*') {
                precision = star[stars++] = va_arg(args, int);
                q++;
            } else {
                precision = 0;
                while (g_ascii_isdigit(*q)) {
                    precision = MIN(precision * 10 + (*q - '0'), G_MAXINT / 10);
                    q++;
                }
            }
        }
        switch (*q) {
        case 'h':
            mod = q[1] == 'h' ? LEN_HH : LEN_H;
            q += mod == LEN_HH ? 2 : 1;
            break;
        case 'l':
            mod = q[1] == 'l' ? LEN_LL : LEN_L;
            q += mod == LEN_LL ? 2 : 1;
            break;
        case 'q':
            mod = LEN_LL;
            q++;
            break;
        case 'j':
            mod = LEN_J;
            q++;
            break;
        case 'z':
            mod = LEN_Z;
            q++;
            break;
        case 't':
            mod = LEN_T;
            q++;
            break;
        case 'L':
            mod = LEN_LD;
            q++;
            break;
        }
        if (!*q) {
            g_string_append(out, pct);      /* a truncated spec: as text */
            break;
        }

        g_autofree char *spec = g_strndup(pct, q + 1 - pct);
        switch (*q) {
        case '%':
            g_string_append_c(out, '%');
            break;
        case 's': {
            const char *v = va_arg(args, const char *);
            gsize len = !v ? 0 : precision >= 0 ? strnlen(v, precision)
                                               : strlen(v);
            gboolean quoted = pct > format && pct[-1] == '"' && q[1] == '"';
            append_value(out, v, len, quoted);
            break;
        }
        case 'd':
        case 'i':
            switch (mod) {
            case LEN_L:
                APPEND_ONE(out, spec, stars, star, va_arg(args, long));
                break;
            case LEN_LL:
                APPEND_ONE(out, spec, stars, star, va_arg(args, long long));
                break;
            case LEN_J:
                APPEND_ONE(out, spec, stars, star, va_arg(args, intmax_t));
                break;
            case LEN_Z:
                APPEND_ONE(out, spec, stars, star, va_arg(args, ssize_t));
                break;
            case LEN_T:
                APPEND_ONE(out, spec, stars, star, va_arg(args, ptrdiff_t));
                break;
            default:
                APPEND_ONE(out, spec, stars, star, va_arg(args, int));
                break;
            }
            break;
        case 'o':
        case 'u':
        case 'x':
        case 'X':
            switch (mod) {
            case LEN_L:
                APPEND_ONE(out, spec, stars, star,
                           va_arg(args, unsigned long));
                break;
            case LEN_LL:
                APPEND_ONE(out, spec, stars, star,
                           va_arg(args, unsigned long long));
                break;
            case LEN_J:
                APPEND_ONE(out, spec, stars, star, va_arg(args, uintmax_t));
                break;
            case LEN_Z:
                APPEND_ONE(out, spec, stars, star, va_arg(args, size_t));
                break;
            case LEN_T:
                APPEND_ONE(out, spec, stars, star, va_arg(args, ptrdiff_t));
                break;
            default:
                APPEND_ONE(out, spec, stars, star, va_arg(args, unsigned));
                break;
            }
            break;
        case 'c':
            /* A character is a value too: through the same escaping. */
            {
                char ch = (char)va_arg(args, int);
                append_value(out, &ch, 1, FALSE);
            }
            break;
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (mod == LEN_LD) {
                APPEND_ONE(out, spec, stars, star, va_arg(args, long double));
            } else {
                APPEND_ONE(out, spec, stars, star, va_arg(args, double));
            }
            break;
        case 'p':
            APPEND_ONE(out, spec, stars, star, va_arg(args, void *));
            break;
        case 'n':
            (void)va_arg(args, void *);     /* never written through */
            break;
        default:
            g_string_append(out, spec);     /* not a conversion: as text */
            break;
        }
        f = q + 1;
    }
    va_end(args);
    return g_string_free(out, FALSE);
}

char *
broker_log_format(const char *format, ...)
{
    va_list ap;
    char *line;

    va_start(ap, format);
    line = broker_log_vformat(format, ap);
    va_end(ap);
    return line;
}

void
broker_log(GLogLevelFlags level, const char *format, ...)
{
    va_list ap;
    g_autofree char *line = NULL;

    va_start(ap, format);
    line = broker_log_vformat(format, ap);
    va_end(ap);
    g_log(G_LOG_DOMAIN, level, "%s", line);
}
