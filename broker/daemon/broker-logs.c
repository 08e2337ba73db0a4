/*
 * broker-logs.c: STATE/logs, where each session's QEMU log and serial
 * console stay after it ends, kept within [logs] max-age-days and
 * max-total-mib: expired at start, every hour, and whenever a session's
 * logs are added.
 *
 * Only regular files directly in STATE/logs are considered (the broker
 * puts nothing else there); the oldest go first, by modification time.
 */
#include "broker-logs.h"

#include <errno.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#define LOGS_EXPIRE_INTERVAL_S 3600

typedef struct {
    char *path;
    gint64 mtime;
    guint64 bytes;
} LogFile;

static void
log_file_free(gpointer data)
{
    LogFile *f = data;
    g_free(f->path);
    g_free(f);
}

static gint
by_age(gconstpointer a, gconstpointer b)
{
    const LogFile *x = *(LogFile *const *)a, *y = *(LogFile *const *)b;

    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }
    return g_strcmp0(x->path, y->path);
}

/* The log files, oldest first; NULL when there is no logs dir. */
static GPtrArray *
list_logs(const char *dir, guint64 *total)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    GPtrArray *files;
    const char *name;

    *total = 0;
    if (!d) {
        return NULL;
    }
    files = g_ptr_array_new_with_free_func(log_file_free);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        struct stat st;

        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        LogFile *f = g_new0(LogFile, 1);
        f->path = g_steal_pointer(&path);
        f->mtime = st.st_mtime;
        f->bytes = (guint64)st.st_size;
        *total += f->bytes;
        g_ptr_array_add(files, f);
    }
    g_ptr_array_sort(files, by_age);
    return files;
}

void
broker_logs_expire(BrokerServer *server)
{
    const CrpBrokerConfig *config = server->config;
    g_autofree char *dir = g_build_filename(config->state_dir, "logs", NULL);
    gint64 max_age = (gint64)config->logs_max_age_days * 86400;
    guint64 max_total = config->logs_max_total_mib << 20;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    guint64 total, freed = 0;
    guint removed = 0;
    g_autoptr(GPtrArray) files = list_logs(dir, &total);

    for (guint i = 0; files && i < files->len; i++) {
        LogFile *f = g_ptr_array_index(files, i);
        gboolean too_old = max_age && now - f->mtime > max_age;
        gboolean too_many = max_total && total > max_total;

        if (!too_old && !too_many) {
            break;              /* the rest is younger */
        }
        if (g_unlink(f->path) < 0 && errno != ENOENT) {
            broker_warning("event=log-expiry-failed path=%s error=\"%s\"",
                           f->path, g_strerror(errno));
            continue;
        }
        total -= f->bytes;
        freed += f->bytes;
        removed++;
    }
    if (removed) {
        broker_message("event=logs-expired removed=%u freed_bytes=%"
                       G_GUINT64_FORMAT " kept_bytes=%" G_GUINT64_FORMAT, removed,
                       freed, total);
    }
}

static gboolean
on_expire_timer(gpointer data)
{
    broker_logs_expire(data);
    return G_SOURCE_CONTINUE;
}

void
broker_logs_start(BrokerServer *server)
{
    broker_logs_expire(server);
    server->logs_timer = g_timeout_add_seconds(LOGS_EXPIRE_INTERVAL_S,
                                               on_expire_timer, server);
}

void
broker_logs_stop(BrokerServer *server)
{
    g_clear_handle_id(&server->logs_timer, g_source_remove);
}
