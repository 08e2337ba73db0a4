/*
 * crp-store.c: the store's rules, independent of the backend.
 *
 * Validation, state transitions, idempotence and every operation of more
 * than one step live here; each multi-step operation runs in one
 * transaction (nested into the caller's, if any), so a backend only has to
 * read and write rows.
 */
#include "crp-store-backend.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define BACKEND(store) ((store)->backend)

static gboolean G_GNUC_PRINTF(3, 4)
fail(GError **error, CrpStoreError code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *msg = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error_literal(error, CRP_STORE_ERROR, code, msg);
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Opening, clock, transactions */

CrpStore *
crp_store_open(const char *location, GError **error)
{
    g_return_val_if_fail(location != NULL, NULL);

    if (g_str_has_prefix(location, "sqlite:")) {
        location += strlen("sqlite:");
    } else if (strstr(location, "://")) {
        fail(error, CRP_STORE_ERROR_NOT_SUPPORTED,
             "%s: unsupported store (this build has only sqlite)", location);
        return NULL;
    }
    if (!*location) {
        fail(error, CRP_STORE_ERROR_IO, "empty store path");
        return NULL;
    }
    return crp_store_sqlite_open(location, error);
}

void
crp_store_free(CrpStore *store)
{
    if (store) {
        BACKEND(store)->destroy(store);
    }
}

guint
crp_store_get_schema_version(CrpStore *store)
{
    g_return_val_if_fail(store != NULL, 0);
    return BACKEND(store)->schema_version(store);
}

guint
crp_store_latest_schema_version(void)
{
    return crp_store_sqlite_latest_version();
}

void
crp_store_set_busy_timeout(CrpStore *store, guint timeout_ms)
{
    g_return_if_fail(store != NULL);
    BACKEND(store)->set_busy_timeout(store, timeout_ms);
}

void
crp_store_set_clock(CrpStore *store, CrpStoreClockFunc func,
                    gpointer user_data)
{
    g_return_if_fail(store != NULL);
    store->clock = func;
    store->clock_data = user_data;
}

gint64
crp_store_now(CrpStore *store)
{
    if (store->clock) {
        return store->clock(store->clock_data);
    }
    return g_get_real_time() / G_USEC_PER_SEC;
}

gboolean
crp_store_transaction(CrpStore *store, CrpStoreTransactionFunc func,
                      gpointer user_data, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(func != NULL, FALSE);

    if (!BACKEND(store)->begin(store, error)) {
        return FALSE;
    }
    GError *local = NULL;
    if (!func(store, user_data, &local)) {
        BACKEND(store)->rollback(store);
        if (!local) {
            local = g_error_new_literal(CRP_STORE_ERROR,
                                        CRP_STORE_ERROR_FAILED,
                                        "transaction aborted");
        }
        g_propagate_error(error, local);
        return FALSE;
    }
    g_clear_error(&local);      /* a func that set an error but succeeded */
    return BACKEND(store)->commit(store, error);
}

/* ------------------------------------------------------------------------ */
/* Validation */

static gboolean
valid_chars(const char *s, gsize max, const char *extra, gboolean upper)
{
    gsize len = strlen(s);
    if (len == 0 || len > max || !g_ascii_isalnum(s[0])) {
        return FALSE;
    }
    for (const char *p = s; *p; p++) {
        if (g_ascii_isdigit(*p) || (*p >= 'a' && *p <= 'z') ||
            (upper && *p >= 'A' && *p <= 'Z') || strchr(extra, *p)) {
            continue;
        }
        return FALSE;
    }
    return TRUE;
}

gboolean
crp_store_user_valid_id(const char *id)
{
    return id && valid_chars(id, CRP_STORE_USER_ID_MAX, "._@-", TRUE);
}

gboolean
crp_store_app_valid_name(const char *name)
{
    if (!name) {
        return FALSE;
    }
    /* A leading '-' would read as an option on a command line. */
    gsize len = strlen(name);
    if (len == 0 || len > CRP_STORE_APP_NAME_MAX || name[0] == '-') {
        return FALSE;
    }
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'z') && *p != '-') {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
valid_session_id(const char *id)
{
    return valid_chars(id, CRP_STORE_SESSION_ID_MAX, "_-", TRUE);
}

/* UTF-8 text of min..max bytes; NULL counts as "". */
static gboolean
check_text(const char *field, const char *s, gsize min, gsize max,
           GError **error)
{
    gsize len = s ? strlen(s) : 0;
    if (len < min || len > max) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "%s must be %" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT
                    " bytes, not %" G_GSIZE_FORMAT, field, min, max, len);
    }
    if (s && !g_utf8_validate(s, -1, NULL)) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "%s is not valid UTF-8", field);
    }
    return TRUE;
}

/* A nullable path: NULL or 1..CRP_STORE_PATH_MAX bytes. */
static gboolean
check_path(const char *field, const char *s, GError **error)
{
    return !s || check_text(field, s, 1, CRP_STORE_PATH_MAX, error);
}

/* What can be stored; which accelerators QEMU gets is the broker's
 * check (crp_broker_config_check_accel()). */
static gboolean
check_accel(const char *accel, GError **error)
{
    gsize len = strlen(accel);

    if (len < 1 || len > CRP_STORE_APP_ACCEL_MAX ||
        strspn(accel, "abcdefghijklmnopqrstuvwxyz0123456789:,=._-") != len) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "accel must be 1..%d bytes of [a-z0-9:,=._-]",
                    CRP_STORE_APP_ACCEL_MAX);
    }
    return TRUE;
}

static gboolean
check_app(const CrpStoreApp *app, GError **error)
{
    if (!crp_store_app_valid_name(app->name)) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "invalid app name \"%s\": use 1..%d of [a-z0-9-]",
                    app->name ? app->name : "", CRP_STORE_APP_NAME_MAX);
    }
    if (!check_text("title", app->title, 1, CRP_STORE_APP_TITLE_MAX, error) ||
        !check_text("description", app->description, 0,
                    CRP_STORE_APP_DESCRIPTION_MAX, error) ||
        !check_text("qemu options", app->qemu_options, 0,
                    CRP_STORE_APP_OPTIONS_MAX, error) ||
        !check_path("kernel", app->kernel, error) ||
        !check_path("initrd", app->initrd, error) ||
        !check_path("disk", app->disk, error)) {
        return FALSE;
    }
    if (app->accel && !check_accel(app->accel, error)) {
        return FALSE;
    }
    if (!app->kernel && !app->disk) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "app %s needs a kernel or a disk image", app->name);
    }
    if (app->initrd && !app->kernel) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "app %s has an initrd but no kernel", app->name);
    }
    if (app->vcpus < 1 || app->vcpus > G_MAXUINT16) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "vcpus must be 1..%u, not %u", G_MAXUINT16, app->vcpus);
    }
    if (app->memory_mib < 1) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "memory must be at least 1 MiB");
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Users and keys */

typedef struct {
    const char *id;
    const guint8 *key;
} UserKeyArgs;

static gboolean
user_add_txn(CrpStore *store, gpointer data, GError **error)
{
    UserKeyArgs *a = data;
    gint64 now = crp_store_now(store);
    return BACKEND(store)->user_insert(store, a->id, now, error) &&
           BACKEND(store)->key_insert(store, a->id, a->key, now, error);
}

gboolean
crp_store_user_add(CrpStore *store, const char *id, const guint8 *public_key,
                   GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(public_key != NULL, FALSE);

    if (!crp_store_user_valid_id(id)) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "invalid user id \"%s\": use 1..%d of [A-Za-z0-9._@-],"
                    " starting with a letter or digit", id ? id : "",
                    CRP_STORE_USER_ID_MAX);
    }
    UserKeyArgs args = { id, public_key };
    return crp_store_transaction(store, user_add_txn, &args, error);
}

CrpStoreUser *
crp_store_user_get(CrpStore *store, const char *id, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(id != NULL, NULL);
    return BACKEND(store)->user_get(store, id, error);
}

gboolean
crp_store_user_get_by_key(CrpStore *store, const guint8 *public_key,
                          CrpStoreLogin *result, char **user_id,
                          GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(public_key != NULL, FALSE);
    g_return_val_if_fail(result != NULL, FALSE);

    g_autofree char *owner = NULL;
    CrpStoreKeyState state = 0;
    gboolean revoked = FALSE;
    if (!BACKEND(store)->key_lookup(store, public_key, &owner, &state,
                                    &revoked, error)) {
        return FALSE;
    }
    if (!owner) {
        *result = CRP_STORE_LOGIN_UNKNOWN_KEY;
    } else if (revoked || state != CRP_STORE_KEY_ACTIVE) {
        *result = CRP_STORE_LOGIN_KEY_REVOKED;
    } else {
        *result = CRP_STORE_LOGIN_OK;
    }
    if (user_id) {
        *user_id = g_steal_pointer(&owner);
    }
    return TRUE;
}

GPtrArray *
crp_store_user_list(CrpStore *store, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    return BACKEND(store)->user_list(store, error);
}

static gboolean
user_revoke_txn(CrpStore *store, gpointer data, GError **error)
{
    const char *id = data;
    g_autoptr(CrpStoreUser) user = BACKEND(store)->user_get(store, id, error);
    if (!user) {
        return FALSE;
    }
    if (user->revoked_at) {
        return TRUE;
    }
    gint64 now = crp_store_now(store);
    return BACKEND(store)->user_set_revoked(store, id, now, error) &&
           BACKEND(store)->key_retire_active(store, id, CRP_STORE_KEY_REVOKED,
                                             now, error);
}

gboolean
crp_store_user_revoke(CrpStore *store, const char *id, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);
    return crp_store_transaction(store, user_revoke_txn, (gpointer)id, error);
}

static gboolean
user_rotate_txn(CrpStore *store, gpointer data, GError **error)
{
    UserKeyArgs *a = data;
    g_autoptr(CrpStoreUser) user =
        BACKEND(store)->user_get(store, a->id, error);
    if (!user) {
        return FALSE;
    }
    if (user->revoked_at) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "user %s is revoked", a->id);
    }
    gint64 now = crp_store_now(store);
    return BACKEND(store)->key_retire_active(store, a->id,
                                             CRP_STORE_KEY_ROTATED, now,
                                             error) &&
           BACKEND(store)->key_insert(store, a->id, a->key, now, error);
}

gboolean
crp_store_user_rotate(CrpStore *store, const char *id,
                      const guint8 *new_public_key, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);
    g_return_val_if_fail(new_public_key != NULL, FALSE);

    UserKeyArgs args = { id, new_public_key };
    return crp_store_transaction(store, user_rotate_txn, &args, error);
}

typedef struct {
    const char *id;
    const CrpStoreUserLimits *values;
    CrpStoreLimitField fields;
} UserLimitsArgs;

static gboolean
check_limit(const char *what, gint64 value, gint64 max, GError **error)
{
    if (value < CRP_STORE_LIMIT_DEFAULT || value > max) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "the %s limit must be 0..%" G_GINT64_FORMAT
                    " (0: none), or the default", what, max);
    }
    return TRUE;
}

static gboolean
user_set_limits_txn(CrpStore *store, gpointer data, GError **error)
{
    UserLimitsArgs *a = data;
    g_autoptr(CrpStoreUser) user = BACKEND(store)->user_get(store, a->id,
                                                            error);
    if (!user) {
        return FALSE;
    }
    CrpStoreUserLimits limits = user->limits;
    if (a->fields & CRP_STORE_LIMIT_SESSIONS) {
        limits.sessions = a->values->sessions;
    }
    if (a->fields & CRP_STORE_LIMIT_VCPUS) {
        limits.vcpus = a->values->vcpus;
    }
    if (a->fields & CRP_STORE_LIMIT_MEMORY) {
        limits.memory_mib = a->values->memory_mib;
    }
    return check_limit("sessions", limits.sessions,
                       CRP_STORE_LIMIT_SESSIONS_MAX, error) &&
           check_limit("vCPUs", limits.vcpus, CRP_STORE_LIMIT_VCPUS_MAX,
                       error) &&
           check_limit("memory", limits.memory_mib,
                       CRP_STORE_LIMIT_MEMORY_MAX, error) &&
           BACKEND(store)->user_set_limits(store, a->id, &limits, error);
}

gboolean
crp_store_user_set_limits(CrpStore *store, const char *id,
                          const CrpStoreUserLimits *values,
                          CrpStoreLimitField fields, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);
    g_return_val_if_fail(values != NULL || fields == 0, FALSE);

    UserLimitsArgs args = { id, values, fields };
    return crp_store_transaction(store, user_set_limits_txn, &args, error);
}

static gint64
limit_or_default(gint64 own, gint64 fallback)
{
    return own == CRP_STORE_LIMIT_DEFAULT ? MAX(fallback, 0) : own;
}

CrpStoreUserLimits
crp_store_user_limits_effective(const CrpStoreUser *user,
                                const CrpStoreUserLimits *defaults)
{
    return (CrpStoreUserLimits){
        .sessions = limit_or_default(user->limits.sessions,
                                     defaults->sessions),
        .vcpus = limit_or_default(user->limits.vcpus, defaults->vcpus),
        .memory_mib = limit_or_default(user->limits.memory_mib,
                                       defaults->memory_mib),
    };
}

/* ------------------------------------------------------------------------ */
/* Apps */

/* A copy of @app with empty paths read as unset. */
static CrpStoreApp *
app_copy(const CrpStoreApp *app)
{
    CrpStoreApp *c = g_new(CrpStoreApp, 1);
    *c = *app;
    c->name = g_strdup(app->name);
    c->title = g_strdup(app->title);
    c->description = g_strdup(app->description);
    c->kernel = app->kernel && *app->kernel ? g_strdup(app->kernel) : NULL;
    c->initrd = app->initrd && *app->initrd ? g_strdup(app->initrd) : NULL;
    c->disk = app->disk && *app->disk ? g_strdup(app->disk) : NULL;
    c->qemu_options = g_strdup(app->qemu_options);
    c->accel = app->accel && *app->accel ? g_strdup(app->accel) : NULL;
    return c;
}

static gboolean
app_publish_txn(CrpStore *store, gpointer data, GError **error)
{
    return BACKEND(store)->app_insert(store, data, error);
}

gboolean
crp_store_app_publish(CrpStore *store, const CrpStoreApp *app,
                      GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(app != NULL, FALSE);

    g_autoptr(CrpStoreApp) row = app_copy(app);
    if (!check_app(row, error)) {
        return FALSE;
    }
    row->created = crp_store_now(store);
    row->unpublished_at = 0;
    return crp_store_transaction(store, app_publish_txn, row, error);
}

typedef struct {
    const char *name;
    const CrpStoreApp *values;
    CrpStoreAppField fields;
} AppUpdateArgs;

static void
set_str(char **field, const char *value)
{
    g_free(*field);
    *field = g_strdup(value);
}

static gboolean
app_update_txn(CrpStore *store, gpointer data, GError **error)
{
    AppUpdateArgs *a = data;
    const CrpStoreApp *v = a->values;
    g_autoptr(CrpStoreApp) cur = BACKEND(store)->app_get(store, a->name,
                                                         error);
    if (!cur) {
        return FALSE;
    }
    if (a->fields & CRP_STORE_APP_TITLE) {
        set_str(&cur->title, v->title);
    }
    if (a->fields & CRP_STORE_APP_DESCRIPTION) {
        set_str(&cur->description, v->description);
    }
    if (a->fields & CRP_STORE_APP_KERNEL) {
        set_str(&cur->kernel, v->kernel);
    }
    if (a->fields & CRP_STORE_APP_INITRD) {
        set_str(&cur->initrd, v->initrd);
    }
    if (a->fields & CRP_STORE_APP_DISK) {
        set_str(&cur->disk, v->disk);
    }
    if (a->fields & CRP_STORE_APP_QEMU_OPTIONS) {
        set_str(&cur->qemu_options, v->qemu_options);
    }
    if (a->fields & CRP_STORE_APP_VCPUS) {
        cur->vcpus = v->vcpus;
    }
    if (a->fields & CRP_STORE_APP_MEMORY) {
        cur->memory_mib = v->memory_mib;
    }
    if (a->fields & CRP_STORE_APP_AUDIO) {
        cur->audio = v->audio;
    }
    if (a->fields & CRP_STORE_APP_MAX_INSTANCES) {
        cur->max_instances = v->max_instances;
    }
    if (a->fields & CRP_STORE_APP_PERSISTENT_STORAGE) {
        cur->persistent_storage = v->persistent_storage;
    }
    if (a->fields & CRP_STORE_APP_ACCEL) {
        set_str(&cur->accel, v->accel);
    }
    if (a->fields & CRP_STORE_APP_CLIPBOARD) {
        cur->clipboard = v->clipboard;
    }
    if (a->fields & CRP_STORE_APP_FILES) {
        cur->files = v->files;
    }
    g_autoptr(CrpStoreApp) row = app_copy(cur);
    return check_app(row, error) &&
           BACKEND(store)->app_write(store, row, error);
}

gboolean
crp_store_app_update(CrpStore *store, const char *name,
                     const CrpStoreApp *values, CrpStoreAppField fields,
                     GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(name != NULL, FALSE);
    g_return_val_if_fail(values != NULL || fields == 0, FALSE);

    AppUpdateArgs args = { name, values, fields };
    return crp_store_transaction(store, app_update_txn, &args, error);
}

typedef struct {
    const char *name;
    gboolean publish;
} AppPublishArgs;

static gboolean
app_set_published_txn(CrpStore *store, gpointer data, GError **error)
{
    AppPublishArgs *a = data;
    g_autoptr(CrpStoreApp) app = BACKEND(store)->app_get(store, a->name,
                                                         error);
    if (!app) {
        return FALSE;
    }
    if ((app->unpublished_at == 0) == a->publish) {
        return TRUE;
    }
    app->unpublished_at = a->publish ? 0 : crp_store_now(store);
    return BACKEND(store)->app_write(store, app, error);
}

gboolean
crp_store_app_unpublish(CrpStore *store, const char *name, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(name != NULL, FALSE);

    AppPublishArgs args = { name, FALSE };
    return crp_store_transaction(store, app_set_published_txn, &args, error);
}

gboolean
crp_store_app_republish(CrpStore *store, const char *name, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(name != NULL, FALSE);

    AppPublishArgs args = { name, TRUE };
    return crp_store_transaction(store, app_set_published_txn, &args, error);
}

CrpStoreApp *
crp_store_app_get(CrpStore *store, const char *name, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(name != NULL, NULL);
    return BACKEND(store)->app_get(store, name, error);
}

GPtrArray *
crp_store_app_list(CrpStore *store, gboolean include_unpublished,
                   GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    return BACKEND(store)->app_list(store, include_unpublished, error);
}

/* ------------------------------------------------------------------------ */
/* Subscriptions */

typedef struct {
    const char *user;
    const char *app;
    gboolean subscribe;
} SubscribeArgs;

static gboolean
subscribe_txn(CrpStore *store, gpointer data, GError **error)
{
    SubscribeArgs *a = data;
    g_autoptr(CrpStoreUser) user = BACKEND(store)->user_get(store, a->user,
                                                            error);
    if (!user) {
        return FALSE;
    }
    g_autoptr(CrpStoreApp) app = BACKEND(store)->app_get(store, a->app,
                                                         error);
    if (!app) {
        return FALSE;
    }
    if (!a->subscribe) {
        return BACKEND(store)->subscription_delete(store, a->user, a->app,
                                                   error);
    }
    if (user->revoked_at) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "user %s is revoked", a->user);
    }
    if (app->unpublished_at) {
        return fail(error, CRP_STORE_ERROR_NOT_FOUND,
                    "app %s is not published", a->app);
    }
    return BACKEND(store)->subscription_insert(store, a->user, a->app,
                                               crp_store_now(store), error);
}

gboolean
crp_store_subscribe(CrpStore *store, const char *user, const char *app,
                    GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(user != NULL && app != NULL, FALSE);

    SubscribeArgs args = { user, app, TRUE };
    return crp_store_transaction(store, subscribe_txn, &args, error);
}

gboolean
crp_store_unsubscribe(CrpStore *store, const char *user, const char *app,
                      GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(user != NULL && app != NULL, FALSE);

    SubscribeArgs args = { user, app, FALSE };
    return crp_store_transaction(store, subscribe_txn, &args, error);
}

GPtrArray *
crp_store_subscription_list(CrpStore *store, const char *user,
                            GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(user != NULL, NULL);
    return BACKEND(store)->subscription_list(store, user, error);
}

gboolean
crp_store_is_subscribed(CrpStore *store, const char *user, const char *app,
                        gboolean *subscribed, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(user != NULL && app != NULL, FALSE);
    g_return_val_if_fail(subscribed != NULL, FALSE);
    return BACKEND(store)->subscription_exists(store, user, app, subscribed,
                                               error);
}

/* ------------------------------------------------------------------------ */
/* Sessions */

static char *
random_session_id(GError **error)
{
    guint8 raw[16];
    gsize got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(error, CRP_STORE_ERROR_IO, "getrandom: %s",
                 g_strerror(errno));
            return NULL;
        }
        got += (gsize)n;
    }
    GString *id = g_string_sized_new(2 * sizeof(raw));
    for (gsize i = 0; i < sizeof(raw); i++) {
        g_string_append_printf(id, "%02x", raw[i]);
    }
    return g_string_free(id, FALSE);
}

typedef struct {
    CrpStoreSession row;
    CrpStoreSession *result;
} SessionCreateArgs;

static gboolean
session_create_txn(CrpStore *store, gpointer data, GError **error)
{
    SessionCreateArgs *a = data;
    CrpStoreSession *row = &a->row;
    g_autoptr(CrpStoreUser) user = BACKEND(store)->user_get(store, row->user,
                                                            error);
    if (!user) {
        return FALSE;
    }
    if (user->revoked_at) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "user %s is revoked", row->user);
    }
    g_autoptr(CrpStoreApp) app = BACKEND(store)->app_get(store, row->app,
                                                         error);
    if (!app) {
        return FALSE;
    }
    if (app->unpublished_at) {
        return fail(error, CRP_STORE_ERROR_NOT_FOUND,
                    "app %s is not published", row->app);
    }
    if (!row->vcpus) {
        row->vcpus = app->vcpus;
    }
    if (!row->memory_mib) {
        row->memory_mib = app->memory_mib;
    }
    row->started = crp_store_now(store);
    if (!BACKEND(store)->session_insert(store, row, error)) {
        return FALSE;
    }
    a->result = BACKEND(store)->session_get(store, row->id, error);
    return a->result != NULL;
}

CrpStoreSession *
crp_store_session_create(CrpStore *store, const CrpStoreSession *init,
                         GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(init != NULL, NULL);
    g_return_val_if_fail(init->user != NULL && init->app != NULL, NULL);

    g_autofree char *id = NULL;
    if (init->id) {
        if (!valid_session_id(init->id)) {
            fail(error, CRP_STORE_ERROR_CONSTRAINT,
                 "invalid session id \"%s\": use 1..%d of [A-Za-z0-9_-]",
                 init->id, CRP_STORE_SESSION_ID_MAX);
            return NULL;
        }
        id = g_strdup(init->id);
    } else if (!(id = random_session_id(error))) {
        return NULL;
    }
    if (init->vcpus > G_MAXUINT16) {
        fail(error, CRP_STORE_ERROR_CONSTRAINT, "vcpus must be 1..%u, not %u",
             G_MAXUINT16, init->vcpus);
        return NULL;
    }
    if (init->qemu_pid < 0) {
        fail(error, CRP_STORE_ERROR_CONSTRAINT, "invalid process id");
        return NULL;
    }
    if (!check_path("runtime dir", init->runtime_dir, error) ||
        !check_path("QMP socket", init->qmp_socket, error) ||
        !check_path("display socket", init->display_socket, error) ||
        !check_path("overlay", init->overlay, error)) {
        return NULL;
    }

    SessionCreateArgs args = { .row = *init };
    args.row.id = id;
    args.row.state = CRP_STORE_SESSION_STARTING;
    args.row.ended = 0;
    args.row.bytes_in = args.row.bytes_out = args.row.frames = 0;
    if (!crp_store_transaction(store, session_create_txn, &args, error)) {
        crp_store_session_free(args.result);
        return NULL;
    }
    return args.result;
}

CrpStoreSession *
crp_store_session_get(CrpStore *store, const char *id, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(id != NULL, NULL);
    return BACKEND(store)->session_get(store, id, error);
}

GPtrArray *
crp_store_session_list(CrpStore *store, const char *user, guint states,
                       GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    return BACKEND(store)->session_list(store, user, states, error);
}

static const char *
session_state_name(CrpStoreSessionState state)
{
    static const char *const names[] = {
        "invalid", "starting", "running", "closing", "closed",
    };
    return (guint)state < G_N_ELEMENTS(names) ? names[state] : "invalid";
}

/* Changes a live session: edit() modifies the row, which is then written
 * back, all in one transaction. */
typedef gboolean (*SessionEditFunc)(CrpStoreSession *s, gconstpointer data,
                                    GError **error);

typedef struct {
    const char *id;
    SessionEditFunc edit;
    gconstpointer data;
} SessionEditArgs;

static gboolean
session_edit_txn(CrpStore *store, gpointer data, GError **error)
{
    SessionEditArgs *a = data;
    g_autoptr(CrpStoreSession) s = BACKEND(store)->session_get(store, a->id,
                                                               error);
    if (!s) {
        return FALSE;
    }
    if (s->state == CRP_STORE_SESSION_CLOSED) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "session %s has ended", a->id);
    }
    return a->edit(s, a->data, error) &&
           BACKEND(store)->session_write(store, s, error);
}

static gboolean
session_edit(CrpStore *store, const char *id, SessionEditFunc edit,
             gconstpointer data, GError **error)
{
    SessionEditArgs args = { id, edit, data };
    return crp_store_transaction(store, session_edit_txn, &args, error);
}

static gboolean
edit_state(CrpStoreSession *s, gconstpointer data, GError **error)
{
    CrpStoreSessionState state = *(const CrpStoreSessionState *)data;
    if (state < s->state) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "session %s cannot go from %s back to %s", s->id,
                    session_state_name(s->state), session_state_name(state));
    }
    s->state = state;
    return TRUE;
}

gboolean
crp_store_session_set_state(CrpStore *store, const char *id,
                            CrpStoreSessionState state, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);

    if (state == CRP_STORE_SESSION_CLOSED) {
        return crp_store_session_close(store, id, 0, error);
    }
    if (state < CRP_STORE_SESSION_STARTING ||
        state > CRP_STORE_SESSION_CLOSING) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "invalid session state %d", (int)state);
    }
    return session_edit(store, id, edit_state, &state, error);
}

static gboolean
edit_pid(CrpStoreSession *s, gconstpointer data, GError **error)
{
    s->qemu_pid = *(const gint64 *)data;
    return TRUE;
}

gboolean
crp_store_session_set_pid(CrpStore *store, const char *id, gint64 qemu_pid,
                          GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);

    if (qemu_pid <= 0) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "invalid process id %" G_GINT64_FORMAT, qemu_pid);
    }
    return session_edit(store, id, edit_pid, &qemu_pid, error);
}

typedef struct {
    const char *runtime_dir;
    const char *qmp_socket;
    const char *display_socket;
    const char *overlay;
} SessionPaths;

static gboolean
edit_paths(CrpStoreSession *s, gconstpointer data, GError **error)
{
    const SessionPaths *p = data;
    if (p->runtime_dir) {
        set_str(&s->runtime_dir, p->runtime_dir);
    }
    if (p->qmp_socket) {
        set_str(&s->qmp_socket, p->qmp_socket);
    }
    if (p->display_socket) {
        set_str(&s->display_socket, p->display_socket);
    }
    if (p->overlay) {
        set_str(&s->overlay, p->overlay);
    }
    return TRUE;
}

gboolean
crp_store_session_set_paths(CrpStore *store, const char *id,
                            const char *runtime_dir, const char *qmp_socket,
                            const char *display_socket, const char *overlay,
                            GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);

    if (!check_path("runtime dir", runtime_dir, error) ||
        !check_path("QMP socket", qmp_socket, error) ||
        !check_path("display socket", display_socket, error) ||
        !check_path("overlay", overlay, error)) {
        return FALSE;
    }
    SessionPaths paths = { runtime_dir, qmp_socket, display_socket, overlay };
    return session_edit(store, id, edit_paths, &paths, error);
}

static gboolean
edit_counters(CrpStoreSession *s, gconstpointer data, GError **error)
{
    const guint64 *c = data;
    s->bytes_in = c[0];
    s->bytes_out = c[1];
    s->frames = c[2];
    return TRUE;
}

gboolean
crp_store_session_update_counters(CrpStore *store, const char *id,
                                  guint64 bytes_in, guint64 bytes_out,
                                  guint64 frames, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);

    const guint64 counters[3] = { bytes_in, bytes_out, frames };
    return session_edit(store, id, edit_counters, counters, error);
}

typedef struct {
    const char *id;
    gint64 ended;
} SessionCloseArgs;

static guint64
mul_sat(guint64 a, guint64 b)
{
    return b && a > G_MAXUINT64 / b ? G_MAXUINT64 : a * b;
}

static gboolean
session_close_txn(CrpStore *store, gpointer data, GError **error)
{
    SessionCloseArgs *a = data;
    g_autoptr(CrpStoreSession) s = BACKEND(store)->session_get(store, a->id,
                                                               error);
    if (!s) {
        return FALSE;
    }
    if (s->state == CRP_STORE_SESSION_CLOSED) {
        return TRUE;
    }
    s->state = CRP_STORE_SESSION_CLOSED;
    s->ended = MAX(a->ended ? a->ended : crp_store_now(store), s->started);
    if (!BACKEND(store)->session_write(store, s, error)) {
        return FALSE;
    }
    guint64 duration = (guint64)(s->ended - s->started);
    CrpStoreUsage usage = {
        .session_id = s->id,
        .user = s->user,
        .app = s->app,
        .started = s->started,
        .ended = s->ended,
        .duration_s = duration,
        .vcpu_seconds = mul_sat(duration, s->vcpus),
        .mib_seconds = mul_sat(duration, s->memory_mib),
        .bytes_in = s->bytes_in,
        .bytes_out = s->bytes_out,
        .frames = s->frames,
    };
    gboolean inserted;
    return BACKEND(store)->usage_insert(store, &usage, &inserted, error);
}

gboolean
crp_store_session_close(CrpStore *store, const char *id, gint64 ended,
                        GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(id != NULL, FALSE);

    SessionCloseArgs args = { id, ended };
    return crp_store_transaction(store, session_close_txn, &args, error);
}

/* ------------------------------------------------------------------------ */
/* Usage */

typedef struct {
    const CrpStoreUsage *usage;
    gboolean inserted;
} UsageAddArgs;

static gboolean
usage_add_txn(CrpStore *store, gpointer data, GError **error)
{
    UsageAddArgs *a = data;
    g_autoptr(CrpStoreUser) user =
        BACKEND(store)->user_get(store, a->usage->user, error);
    if (!user) {
        return FALSE;
    }
    g_autoptr(CrpStoreApp) app =
        BACKEND(store)->app_get(store, a->usage->app, error);
    if (!app) {
        return FALSE;
    }
    return BACKEND(store)->usage_insert(store, a->usage, &a->inserted, error);
}

gboolean
crp_store_usage_add(CrpStore *store, const CrpStoreUsage *usage,
                    gboolean *inserted, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(usage != NULL, FALSE);
    g_return_val_if_fail(usage->user != NULL && usage->app != NULL, FALSE);

    if (!usage->session_id || !valid_session_id(usage->session_id)) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT, "invalid session id");
    }
    if (usage->ended < usage->started) {
        return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                    "usage of session %s ends before it starts",
                    usage->session_id);
    }
    UsageAddArgs args = { usage, FALSE };
    if (!crp_store_transaction(store, usage_add_txn, &args, error)) {
        return FALSE;
    }
    if (inserted) {
        *inserted = args.inserted;
    }
    return TRUE;
}

CrpStoreUsage *
crp_store_usage_get(CrpStore *store, const char *session_id, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(session_id != NULL, NULL);
    return BACKEND(store)->usage_get(store, session_id, error);
}

GPtrArray *
crp_store_usage_report(CrpStore *store, const CrpStoreUsageQuery *query,
                       GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    g_return_val_if_fail(query != NULL, NULL);

    if (query->group_by > CRP_STORE_GROUP_USER_APP) {
        fail(error, CRP_STORE_ERROR_CONSTRAINT, "invalid grouping %d",
             (int)query->group_by);
        return NULL;
    }
    GPtrArray *rows = BACKEND(store)->usage_report(store, query, error);
    if (rows && rows->len == 0 && query->group_by == CRP_STORE_GROUP_NONE) {
        g_ptr_array_add(rows, g_new0(CrpStoreUsageRow, 1));
    }
    return rows;
}

/* ------------------------------------------------------------------------ */
/* Pools and overlays */

gboolean
crp_store_pool_totals(CrpStore *store, CrpStorePoolTotals *totals,
                      GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(totals != NULL, FALSE);
    return BACKEND(store)->pool_totals(store, NULL, totals, error);
}

gboolean
crp_store_user_totals(CrpStore *store, const char *user,
                      CrpStorePoolTotals *totals, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(user != NULL && totals != NULL, FALSE);
    return BACKEND(store)->pool_totals(store, user, totals, error);
}

gboolean
crp_store_app_live_instances(CrpStore *store, const char *app, guint *count,
                             GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(app != NULL && count != NULL, FALSE);
    return BACKEND(store)->app_live_instances(store, app, count, error);
}

static gboolean
overlay_set_txn(CrpStore *store, gpointer data, GError **error)
{
    CrpStoreOverlay *o = data;
    g_autoptr(GError) local = NULL;
    g_autoptr(CrpStoreOverlay) old =
        BACKEND(store)->overlay_get(store, o->path, &local);
    if (!old && !g_error_matches(local, CRP_STORE_ERROR,
                                 CRP_STORE_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    if (old) {
        if (g_strcmp0(old->user, o->user) != 0 ||
            g_strcmp0(old->app, o->app) != 0) {
            return fail(error, CRP_STORE_ERROR_CONSTRAINT,
                        "overlay %s belongs to %s/%s", o->path, old->user,
                        old->app);
        }
        o->created = old->created;
    } else {
        g_autoptr(CrpStoreUser) user =
            BACKEND(store)->user_get(store, o->user, error);
        if (!user) {
            return FALSE;
        }
        g_autoptr(CrpStoreApp) app =
            BACKEND(store)->app_get(store, o->app, error);
        if (!app) {
            return FALSE;
        }
        o->created = o->updated;
    }
    return BACKEND(store)->overlay_write(store, o, error);
}

gboolean
crp_store_overlay_set(CrpStore *store, const char *path, const char *user,
                      const char *app, guint64 bytes, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(path != NULL && user != NULL && app != NULL, FALSE);

    if (!check_path("overlay", path, error)) {
        return FALSE;
    }
    CrpStoreOverlay o = {
        .path = (char *)path,
        .user = (char *)user,
        .app = (char *)app,
        .bytes = bytes,
        .updated = crp_store_now(store),
    };
    return crp_store_transaction(store, overlay_set_txn, &o, error);
}

gboolean
crp_store_overlay_remove(CrpStore *store, const char *path, GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(path != NULL, FALSE);
    return BACKEND(store)->overlay_delete(store, path, error);
}

GPtrArray *
crp_store_overlay_list(CrpStore *store, const char *user, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    return BACKEND(store)->overlay_list(store, user, error);
}

gboolean
crp_store_storage_used(CrpStore *store, const char *user, guint64 *bytes,
                       GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_return_val_if_fail(user != NULL && bytes != NULL, FALSE);
    return BACKEND(store)->storage_used(store, user, bytes, error);
}
