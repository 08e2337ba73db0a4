/*
 * broker-log.h: crp-broker's key=value log lines.
 *
 * Every line the daemon logs goes through broker_log(): a printf format
 * such as "event=login conn=%u user=%s software=%s" whose %s arguments are
 * values, and values may come from a client (its software name, the names
 * in its requests) or from other programs (error texts). Each %s is
 * written so that it stays one value on one line:
 *
 * - a plain token (letters, digits and - . _ : / @ + , =) as it is;
 * - anything else in double quotes, with " and \ escaped by a backslash,
 *   \n \r \t as such, other control bytes and C1 controls as \xNN or
 *   \uNNNN, and bytes that are not UTF-8 as \xNN;
 * - a %s that the format already puts in double quotes (error=\"%s\")
 *   escaped the same way, without a second pair of quotes;
 * - NULL as "-".
 *
 * Other conversions (%u, %d, %" G_GUINT64_FORMAT ", ...) are printf's.
 * So no value can start a line of its own or pose as another key.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** Formats @format as described above and logs it at @level. */
void broker_log(GLogLevelFlags level, const char *format, ...)
    G_GNUC_PRINTF(2, 3);

/** The line broker_log() would log, for tests. */
char *broker_log_format(const char *format, ...) G_GNUC_PRINTF(1, 2);
char *broker_log_vformat(const char *format, va_list ap);

#define broker_message(...) broker_log(G_LOG_LEVEL_MESSAGE, __VA_ARGS__)
#define broker_info(...) broker_log(G_LOG_LEVEL_INFO, __VA_ARGS__)
#define broker_warning(...) broker_log(G_LOG_LEVEL_WARNING, __VA_ARGS__)
#define broker_critical(...) broker_log(G_LOG_LEVEL_CRITICAL, __VA_ARGS__)

G_END_DECLS
