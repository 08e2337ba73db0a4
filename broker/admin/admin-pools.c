/*
 * admin-pools.c: crp-admin pool status: the three resource pools.
 *
 * - compute: vCPUs and memory held by live sessions (starting, running,
 *   closing) against the [compute] budget;
 * - storage: bytes of the registered per-user overlays against
 *   [storage] user-quota-mib, per user and in total;
 * - applications: live instances of each app against its max-instances
 *   (published apps, and unpublished ones that still run).
 */
#include "admin.h"

#include <sys/statvfs.h>

#define MIB (G_GUINT64_CONSTANT(1) << 20)

typedef struct {
    char *user;
    guint overlays;
    guint64 bytes;
} UserStorage;

static void
user_storage_free(gpointer data)
{
    UserStorage *u = data;
    g_free(u->user);
    g_free(u);
}

static int
compare_user_storage(gconstpointer a, gconstpointer b)
{
    const UserStorage *x = *(UserStorage *const *)a;
    const UserStorage *y = *(UserStorage *const *)b;
    return g_strcmp0(x->user, y->user);
}

typedef struct {
    CrpStoreApp *app;           /* borrowed from apps */
    guint live;
} AppPool;

typedef struct {
    CrpStorePoolTotals compute;
    GPtrArray *users;           /* UserStorage, sorted by user */
    guint64 storage_bytes;
    gint64 fs_free_bytes;       /* -1: unknown */
    GPtrArray *apps;            /* CrpStoreApp */
    GArray *app_pools;          /* AppPool */
} PoolStatus;

static void
pool_status_clear(PoolStatus *s)
{
    g_clear_pointer(&s->users, g_ptr_array_unref);
    g_clear_pointer(&s->app_pools, g_array_unref);
    g_clear_pointer(&s->apps, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PoolStatus, pool_status_clear)

static gboolean
gather(CrpStore *store, const CrpBrokerConfig *config, PoolStatus *s,
       GError **error)
{
    g_autoptr(GPtrArray) overlays = NULL;
    g_autoptr(GHashTable) by_user = NULL;
    struct statvfs fs;

    if (!crp_store_pool_totals(store, &s->compute, error) ||
        !(overlays = crp_store_overlay_list(store, NULL, error)) ||
        !(s->apps = crp_store_app_list(store, TRUE, error))) {
        return FALSE;
    }

    by_user = g_hash_table_new(g_str_hash, g_str_equal);
    s->users = g_ptr_array_new_with_free_func(user_storage_free);
    for (guint i = 0; i < overlays->len; i++) {
        CrpStoreOverlay *overlay = g_ptr_array_index(overlays, i);
        UserStorage *u = g_hash_table_lookup(by_user, overlay->user);
        if (!u) {
            u = g_new0(UserStorage, 1);
            u->user = g_strdup(overlay->user);
            g_hash_table_insert(by_user, u->user, u);
            g_ptr_array_add(s->users, u);
        }
        u->overlays++;
        u->bytes += overlay->bytes;
        s->storage_bytes += overlay->bytes;
    }
    g_ptr_array_sort(s->users, compare_user_storage);
    s->fs_free_bytes = -1;
    if (statvfs(config->overlays_dir, &fs) == 0) {
        s->fs_free_bytes = (gint64)((guint64)fs.f_bavail * fs.f_frsize);
    }

    s->app_pools = g_array_new(FALSE, TRUE, sizeof(AppPool));
    for (guint i = 0; i < s->apps->len; i++) {
        AppPool pool = { g_ptr_array_index(s->apps, i), 0 };
        if (!crp_store_app_live_instances(store, pool.app->name, &pool.live,
                                          error)) {
            return FALSE;
        }
        if (pool.app->unpublished_at == 0 || pool.live > 0) {
            g_array_append_val(s->app_pools, pool);
        }
    }
    return TRUE;
}

static gboolean
over_quota(const CrpBrokerConfig *config, guint64 bytes)
{
    return config->user_quota_mib > 0 && bytes > config->user_quota_mib * MIB;
}

static void
print_json(const CrpBrokerConfig *config, PoolStatus *s)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);

    json_builder_set_member_name(b, "compute");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "sessions");
    json_builder_add_int_value(b, (gint64)s->compute.sessions);
    json_builder_set_member_name(b, "vcpus_used");
    json_builder_add_int_value(b, (gint64)s->compute.vcpus);
    json_builder_set_member_name(b, "vcpus_budget");
    json_builder_add_int_value(b, config->vcpus);
    json_builder_set_member_name(b, "memory_mib_used");
    json_builder_add_int_value(b, (gint64)s->compute.memory_mib);
    json_builder_set_member_name(b, "memory_mib_budget");
    json_builder_add_int_value(b, (gint64)config->memory_mib);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "storage");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "overlays_dir");
    json_builder_add_string_value(b, config->overlays_dir);
    json_builder_set_member_name(b, "user_quota_mib");
    json_builder_add_int_value(b, (gint64)config->user_quota_mib);
    json_builder_set_member_name(b, "used_bytes");
    json_builder_add_int_value(b, (gint64)s->storage_bytes);
    json_builder_set_member_name(b, "filesystem_free_bytes");
    if (s->fs_free_bytes >= 0) {
        json_builder_add_int_value(b, s->fs_free_bytes);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "users");
    json_builder_begin_array(b);
    for (guint i = 0; i < s->users->len; i++) {
        UserStorage *u = g_ptr_array_index(s->users, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "user");
        json_builder_add_string_value(b, u->user);
        json_builder_set_member_name(b, "overlays");
        json_builder_add_int_value(b, u->overlays);
        json_builder_set_member_name(b, "used_bytes");
        json_builder_add_int_value(b, (gint64)u->bytes);
        json_builder_set_member_name(b, "over_quota");
        json_builder_add_boolean_value(b, over_quota(config, u->bytes));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "applications");
    json_builder_begin_array(b);
    for (guint i = 0; i < s->app_pools->len; i++) {
        AppPool *pool = &g_array_index(s->app_pools, AppPool, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, pool->app->name);
        json_builder_set_member_name(b, "published");
        json_builder_add_boolean_value(b, pool->app->unpublished_at == 0);
        json_builder_set_member_name(b, "live_instances");
        json_builder_add_int_value(b, pool->live);
        json_builder_set_member_name(b, "max_instances");
        json_builder_add_int_value(b, pool->app->max_instances);
        json_builder_set_member_name(b, "vcpus");
        json_builder_add_int_value(b, pool->app->vcpus);
        json_builder_set_member_name(b, "memory_mib");
        json_builder_add_int_value(b, pool->app->memory_mib);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_end_object(b);
    root = json_builder_get_root(b);
    crp_admin_print_json(root, stdout);
}

static char *
size_text(guint64 bytes)
{
    return g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static void
print_text(const CrpBrokerConfig *config, PoolStatus *s)
{
    g_autoptr(CrpAdminTable) users = crp_admin_table_new();
    g_autoptr(CrpAdminTable) apps = crp_admin_table_new();
    g_autofree char *total = size_text(s->storage_bytes);
    g_autofree char *quota = size_text(config->user_quota_mib * MIB);

    printf("Compute (%" G_GUINT64_FORMAT " live session%s)\n"
           "  vCPUs    %" G_GUINT64_FORMAT " of %u\n"
           "  memory   %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " MiB\n\n",
           s->compute.sessions, s->compute.sessions == 1 ? "" : "s",
           s->compute.vcpus, config->vcpus, s->compute.memory_mib,
           config->memory_mib);

    printf("Storage (%s)\n  used     %s", config->overlays_dir, total);
    if (s->fs_free_bytes >= 0) {
        g_autofree char *free_text = size_text((guint64)s->fs_free_bytes);
        printf(", %s free on the file system", free_text);
    }
    printf("\n  quota    %s per user\n\n",
           config->user_quota_mib ? quota : "none");
    crp_admin_table_add_column(users, "user", "USER", CRP_ADMIN_COL_TEXT, 0);
    crp_admin_table_add_column(users, "overlays", "OVERLAYS",
                               CRP_ADMIN_COL_UINT, 0);
    crp_admin_table_add_column(users, "used", "USED", CRP_ADMIN_COL_TEXT, 0);
    crp_admin_table_add_column(users, "quota", "QUOTA", CRP_ADMIN_COL_TEXT, 0);
    for (guint i = 0; i < s->users->len; i++) {
        UserStorage *u = g_ptr_array_index(s->users, i);
        g_autofree char *used = size_text(u->bytes);
        crp_admin_table_add_row(users);
        crp_admin_table_add_text(users, u->user);
        crp_admin_table_add_uint(users, u->overlays);
        crp_admin_table_add_text(users, used);
        crp_admin_table_add_text(users, over_quota(config, u->bytes)
                                            ? "OVER" : "ok");
    }
    crp_admin_table_print(users, CRP_ADMIN_FORMAT_TABLE, stdout);

    printf("\nApplications\n");
    crp_admin_table_add_column(apps, "name", "APP", CRP_ADMIN_COL_TEXT, 0);
    crp_admin_table_add_column(apps, "state", "STATE", CRP_ADMIN_COL_TEXT, 0);
    crp_admin_table_add_column(apps, "live", "LIVE", CRP_ADMIN_COL_UINT, 0);
    crp_admin_table_add_column(apps, "max", "MAX", CRP_ADMIN_COL_TEXT, 0);
    crp_admin_table_add_column(apps, "size", "EACH", CRP_ADMIN_COL_TEXT, 0);
    for (guint i = 0; i < s->app_pools->len; i++) {
        AppPool *pool = &g_array_index(s->app_pools, AppPool, i);
        g_autofree char *max = pool->app->max_instances
            ? g_strdup_printf("%u", pool->app->max_instances)
            : g_strdup("unlimited");
        g_autofree char *size = g_strdup_printf("%u vCPU, %u MiB",
                                                pool->app->vcpus,
                                                pool->app->memory_mib);
        crp_admin_table_add_row(apps);
        crp_admin_table_add_text(apps, pool->app->name);
        crp_admin_table_add_text(apps, pool->app->unpublished_at
                                           ? "unpublished" : "published");
        crp_admin_table_add_uint(apps, pool->live);
        crp_admin_table_add_text(apps, max);
        crp_admin_table_add_text(apps, size);
    }
    crp_admin_table_print(apps, CRP_ADMIN_FORMAT_TABLE, stdout);
}

int
crp_admin_cmd_pool_status(CrpAdmin *admin, int argc, char **argv)
{
    gboolean json = FALSE;
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_auto(PoolStatus) s = { 0 };
    const CrpBrokerConfig *config;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, entries, NULL, 0, 0, &argc, &argv, &status)) {
        return status;
    }
    if (!(config = crp_admin_config(admin, &error)) ||
        !(store = crp_admin_store(admin, &error)) ||
        !gather(store, config, &s, &error)) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if (json) {
        print_json(config, &s);
    } else {
        print_text(config, &s);
    }
    return CRP_ADMIN_EXIT_OK;
}
