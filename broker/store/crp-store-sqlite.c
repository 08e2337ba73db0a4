/*
 * crp-store-sqlite.c: the SQLite backend of the store.
 *
 * One database file in WAL mode (readers never block the writer), foreign
 * keys on, a busy timeout so a second writer waits instead of failing.
 * Statements are prepared once and cached; values are always bound.
 *
 * Opening applies the missing schema migrations (crp-store-sqlite-schema.c)
 * in one transaction; a database with a higher version than we know is
 * refused without being touched.
 */
#include "crp-store-backend.h"
#include "crp-store-sqlite.h"

#include <sqlite3.h>
#include <string.h>

#define BUSY_TIMEOUT_DEFAULT_MS 5000

typedef struct {
    CrpStore parent;
    sqlite3 *db;
    char *path;
    guint version;
    guint depth;                /* transaction nesting */
    sqlite3_stmt *stmts[N_STATEMENTS];
} CrpStoreSqlite;

#define SELF(store) ((CrpStoreSqlite *)(store))

/*
 * A cached statement borrowed for one use: g_autoptr(Stmt) resets it and
 * clears its bindings when it goes out of scope, so it can be reused and
 * never holds a read transaction open.
 */
typedef sqlite3_stmt Stmt;

static void
stmt_release(Stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Stmt, stmt_release)

/* ------------------------------------------------------------------------ */
/* Errors */

static CrpStoreError
error_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE ||
            rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return CRP_STORE_ERROR_EXISTS;
        }
        return CRP_STORE_ERROR_CONSTRAINT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
        return CRP_STORE_ERROR_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CRP_STORE_ERROR_BUSY;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
        return CRP_STORE_ERROR_IO;
    default:
        return CRP_STORE_ERROR_FAILED;
    }
}

/* Sets @error from @rc and the connection's message, after @what. */
static void
set_error(CrpStoreSqlite *self, GError **error, int rc, const char *what)
{
    const char *msg = self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_NOTADB) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT,
                    "%s: not a CRP store (%s)", self->path, msg);
        return;
    }
    g_set_error(error, CRP_STORE_ERROR, error_code(rc), "%s: %s: %s",
                self->path, what, msg);
}

/* ------------------------------------------------------------------------ */
/* Statement helpers */

static Stmt *
stmt_get(CrpStoreSqlite *self, StatementId id, GError **error)
{
    if (!self->stmts[id]) {
        int rc = sqlite3_prepare_v3(self->db,
                                    crp_store_sqlite_statements[id], -1,
                                    SQLITE_PREPARE_PERSISTENT,
                                    &self->stmts[id], NULL);
        if (rc != SQLITE_OK) {
            set_error(self, error, rc, "preparing a statement");
            return NULL;
        }
    }
    return self->stmts[id];
}

/* Binding: out-of-range or misuse is a programming error, caught by the
 * step that follows (it returns SQLITE_MISUSE / RANGE). */
static void
bind_text(Stmt *st, int i, const char *s)
{
    if (s) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static void
bind_u64(Stmt *st, int i, guint64 v)
{
    sqlite3_bind_int64(st, i, (gint64)MIN(v, (guint64)G_MAXINT64));
}

/* Binds a time where 0 means NULL. */
static void
bind_time(Stmt *st, int i, gint64 t)
{
    if (t) {
        sqlite3_bind_int64(st, i, t);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static char *
col_text(Stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return NULL;
    }
    return g_strdup((const char *)sqlite3_column_text(st, i));
}

static guint64
col_u64(Stmt *st, int i)
{
    gint64 v = sqlite3_column_int64(st, i);
    return v > 0 ? (guint64)v : 0;
}

/* Steps @st once: returns SQLITE_ROW or SQLITE_DONE, or 0 with @error. */
static int
step(CrpStoreSqlite *self, Stmt *st, const char *what, GError **error)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        return rc;
    }
    set_error(self, error, rc, what);
    return 0;
}

/* Runs a statement that returns no rows; *changes gets the rows changed. */
static gboolean
run(CrpStoreSqlite *self, Stmt *st, const char *what, int *changes,
    GError **error)
{
    int rc = step(self, st, what, error);
    if (!rc) {
        return FALSE;
    }
    if (changes) {
        *changes = sqlite3_changes(self->db);
    }
    return TRUE;
}

/* Runs a statement with a NOT_FOUND error when it changed nothing. */
static gboolean
run_one(CrpStoreSqlite *self, Stmt *st, const char *what, const char *key,
        GError **error)
{
    int changes = 0;
    if (!run(self, st, what, &changes, error)) {
        return FALSE;
    }
    if (changes == 0) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND,
                    "%s: no such row: %s", what, key);
        return FALSE;
    }
    return TRUE;
}

/* Executes constant SQL (pragmas, migrations, transaction control). */
static gboolean
exec_sql(CrpStoreSqlite *self, const char *sql, const char *what,
         GError **error)
{
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_error(self, error, rc, what);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Row decoding */

static const char *
key_state_str(CrpStoreKeyState state)
{
    switch (state) {
    case CRP_STORE_KEY_ACTIVE:
        return "active";
    case CRP_STORE_KEY_REVOKED:
        return "revoked";
    case CRP_STORE_KEY_ROTATED:
        return "rotated";
    }
    return "invalid";           /* refused by the CHECK constraint */
}

static CrpStoreKeyState
key_state_parse(const char *s)
{
    if (g_strcmp0(s, "active") == 0) {
        return CRP_STORE_KEY_ACTIVE;
    }
    if (g_strcmp0(s, "rotated") == 0) {
        return CRP_STORE_KEY_ROTATED;
    }
    return CRP_STORE_KEY_REVOKED;
}

static const char *
session_state_str(CrpStoreSessionState state)
{
    switch (state) {
    case CRP_STORE_SESSION_STARTING:
        return "starting";
    case CRP_STORE_SESSION_RUNNING:
        return "running";
    case CRP_STORE_SESSION_CLOSING:
        return "closing";
    case CRP_STORE_SESSION_CLOSED:
        return "closed";
    }
    return "invalid";           /* refused by the CHECK constraint */
}

static CrpStoreSessionState
session_state_parse(const char *s)
{
    if (g_strcmp0(s, "starting") == 0) {
        return CRP_STORE_SESSION_STARTING;
    }
    if (g_strcmp0(s, "running") == 0) {
        return CRP_STORE_SESSION_RUNNING;
    }
    if (g_strcmp0(s, "closing") == 0) {
        return CRP_STORE_SESSION_CLOSING;
    }
    return CRP_STORE_SESSION_CLOSED;
}

/* A limit column: NULL is the broker's default. */
static gint64
col_limit(Stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return CRP_STORE_LIMIT_DEFAULT;
    }
    return MAX(sqlite3_column_int64(st, i), 0);
}

static void
bind_limit(Stmt *st, int i, gint64 limit)
{
    if (limit == CRP_STORE_LIMIT_DEFAULT) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_int64(st, i, limit);
    }
}

static CrpStoreUser *
user_from_row(Stmt *st)
{
    CrpStoreUser *u = g_new0(CrpStoreUser, 1);
    u->id = col_text(st, 0);
    u->created = sqlite3_column_int64(st, 1);
    u->revoked_at = sqlite3_column_int64(st, 2);
    if (sqlite3_column_bytes(st, 3) == CRP_STORE_KEY_LEN) {
        memcpy(u->public_key, sqlite3_column_blob(st, 3), CRP_STORE_KEY_LEN);
        u->key_state =
            key_state_parse((const char *)sqlite3_column_text(st, 4));
        u->key_created = sqlite3_column_int64(st, 5);
    }
    u->limits.sessions = col_limit(st, 6);
    u->limits.vcpus = col_limit(st, 7);
    u->limits.memory_mib = col_limit(st, 8);
    return u;
}

static void
bind_app(Stmt *st, const CrpStoreApp *app)
{
    bind_text(st, 1, app->name);
    bind_text(st, 2, app->title);
    bind_text(st, 3, app->description ? app->description : "");
    bind_text(st, 4, app->kernel);
    bind_text(st, 5, app->initrd);
    bind_text(st, 6, app->disk);
    bind_text(st, 7, app->qemu_options ? app->qemu_options : "");
    sqlite3_bind_int64(st, 8, app->vcpus);
    sqlite3_bind_int64(st, 9, app->memory_mib);
    sqlite3_bind_int(st, 10, app->audio ? 1 : 0);
    sqlite3_bind_int64(st, 11, app->max_instances);
    sqlite3_bind_int(st, 12, app->persistent_storage ? 1 : 0);
    sqlite3_bind_int64(st, 13, app->created);
    bind_time(st, 14, app->unpublished_at);
    bind_text(st, 15, app->accel);
    sqlite3_bind_int(st, 16, app->clipboard ? 1 : 0);
    sqlite3_bind_int(st, 17, app->files ? 1 : 0);
}

static CrpStoreApp *
app_from_row(Stmt *st)
{
    CrpStoreApp *a = g_new0(CrpStoreApp, 1);
    a->name = col_text(st, 0);
    a->title = col_text(st, 1);
    a->description = col_text(st, 2);
    a->kernel = col_text(st, 3);
    a->initrd = col_text(st, 4);
    a->disk = col_text(st, 5);
    a->qemu_options = col_text(st, 6);
    a->vcpus = (guint)sqlite3_column_int64(st, 7);
    a->memory_mib = (guint32)sqlite3_column_int64(st, 8);
    a->audio = sqlite3_column_int(st, 9) != 0;
    a->max_instances = (guint)sqlite3_column_int64(st, 10);
    a->persistent_storage = sqlite3_column_int(st, 11) != 0;
    a->created = sqlite3_column_int64(st, 12);
    a->unpublished_at = sqlite3_column_int64(st, 13);
    a->accel = col_text(st, 14);
    a->clipboard = sqlite3_column_int(st, 15) != 0;
    a->files = sqlite3_column_int(st, 16) != 0;
    return a;
}

static void
bind_session(Stmt *st, const CrpStoreSession *s)
{
    bind_text(st, 1, s->id);
    bind_text(st, 2, s->user);
    bind_text(st, 3, s->app);
    bind_text(st, 4, session_state_str(s->state));
    bind_text(st, 5, s->runtime_dir);
    bind_text(st, 6, s->qmp_socket);
    bind_text(st, 7, s->display_socket);
    bind_time(st, 8, s->qemu_pid);
    sqlite3_bind_int64(st, 9, s->vcpus);
    sqlite3_bind_int64(st, 10, s->memory_mib);
    bind_text(st, 11, s->overlay);
    sqlite3_bind_int64(st, 12, s->started);
    bind_time(st, 13, s->ended);
    bind_u64(st, 14, s->bytes_in);
    bind_u64(st, 15, s->bytes_out);
    bind_u64(st, 16, s->frames);
}

static CrpStoreSession *
session_from_row(Stmt *st)
{
    CrpStoreSession *s = g_new0(CrpStoreSession, 1);
    s->id = col_text(st, 0);
    s->user = col_text(st, 1);
    s->app = col_text(st, 2);
    s->state = session_state_parse((const char *)sqlite3_column_text(st, 3));
    s->runtime_dir = col_text(st, 4);
    s->qmp_socket = col_text(st, 5);
    s->display_socket = col_text(st, 6);
    s->qemu_pid = sqlite3_column_int64(st, 7);
    s->vcpus = (guint)sqlite3_column_int64(st, 8);
    s->memory_mib = (guint32)sqlite3_column_int64(st, 9);
    s->overlay = col_text(st, 10);
    s->started = sqlite3_column_int64(st, 11);
    s->ended = sqlite3_column_int64(st, 12);
    s->bytes_in = col_u64(st, 13);
    s->bytes_out = col_u64(st, 14);
    s->frames = col_u64(st, 15);
    return s;
}

static CrpStoreUsage *
usage_from_row(Stmt *st)
{
    CrpStoreUsage *u = g_new0(CrpStoreUsage, 1);
    u->session_id = col_text(st, 0);
    u->user = col_text(st, 1);
    u->app = col_text(st, 2);
    u->started = sqlite3_column_int64(st, 3);
    u->ended = sqlite3_column_int64(st, 4);
    u->duration_s = col_u64(st, 5);
    u->vcpu_seconds = col_u64(st, 6);
    u->mib_seconds = col_u64(st, 7);
    u->bytes_in = col_u64(st, 8);
    u->bytes_out = col_u64(st, 9);
    u->frames = col_u64(st, 10);
    return u;
}

static CrpStoreOverlay *
overlay_from_row(Stmt *st)
{
    CrpStoreOverlay *o = g_new0(CrpStoreOverlay, 1);
    o->path = col_text(st, 0);
    o->user = col_text(st, 1);
    o->app = col_text(st, 2);
    o->bytes = col_u64(st, 3);
    o->created = sqlite3_column_int64(st, 4);
    o->updated = sqlite3_column_int64(st, 5);
    return o;
}

typedef gpointer (*RowFunc)(Stmt *st);

/* Fetches at most one row: NULL with NOT_FOUND when there is none. */
static gpointer
fetch_one(CrpStoreSqlite *self, Stmt *st, RowFunc decode, const char *what,
          const char *key, GError **error)
{
    int rc = step(self, st, what, error);
    if (!rc) {
        return NULL;
    }
    if (rc == SQLITE_DONE) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND,
                    "no such %s: %s", what, key);
        return NULL;
    }
    return decode(st);
}

static GPtrArray *
fetch_all(CrpStoreSqlite *self, Stmt *st, RowFunc decode,
          GDestroyNotify free_func, const char *what, GError **error)
{
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(free_func);
    int rc;
    while ((rc = step(self, st, what, error)) == SQLITE_ROW) {
        g_ptr_array_add(rows, decode(st));
    }
    if (!rc) {
        return NULL;
    }
    return g_steal_pointer(&rows);
}

/* ------------------------------------------------------------------------ */
/* Lifetime and transactions */

static void
sqlite_destroy(CrpStore *store)
{
    CrpStoreSqlite *self = SELF(store);
    for (int i = 0; i < N_STATEMENTS; i++) {
        sqlite3_finalize(self->stmts[i]);
    }
    /* A transaction left open by a caller is rolled back by close. */
    sqlite3_close_v2(self->db);
    g_free(self->path);
    g_free(self);
}

static guint
sqlite_schema_version(CrpStore *store)
{
    return SELF(store)->version;
}

static void
sqlite_set_busy_timeout(CrpStore *store, guint timeout_ms)
{
    sqlite3_busy_timeout(SELF(store)->db, (int)MIN(timeout_ms, G_MAXINT));
}

/*
 * The outermost transaction is BEGIN IMMEDIATE: it takes the write lock
 * up front, so a read-then-write transaction never fails half-way with
 * SQLITE_BUSY, and two launches racing for the last slot are serialised.
 * Inner ones are savepoints.
 */
static gboolean
sqlite_begin(CrpStore *store, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    if (self->depth == 0) {
        if (!exec_sql(self, "BEGIN IMMEDIATE", "starting a transaction",
                      error)) {
            return FALSE;
        }
    } else if (!exec_sql(self, "SAVEPOINT crp_nested",
                         "starting a savepoint", error)) {
        return FALSE;
    }
    self->depth++;
    return TRUE;
}

static void
sqlite_rollback(CrpStore *store)
{
    CrpStoreSqlite *self = SELF(store);
    g_return_if_fail(self->depth > 0);
    self->depth--;
    /* Errors here cannot be reported usefully; some failures (disk full,
     * I/O) already rolled the whole transaction back. */
    if (self->depth == 0) {
        if (!sqlite3_get_autocommit(self->db)) {
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        }
    } else if (!sqlite3_get_autocommit(self->db)) {
        sqlite3_exec(self->db, "ROLLBACK TO crp_nested; RELEASE crp_nested",
                     NULL, NULL, NULL);
    }
}

static gboolean
sqlite_commit(CrpStore *store, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_return_val_if_fail(self->depth > 0, FALSE);
    if (sqlite3_get_autocommit(self->db)) {
        /* SQLite already rolled back after an error the caller ignored. */
        self->depth--;
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_FAILED,
                    "%s: the transaction was rolled back by an earlier error",
                    self->path);
        return FALSE;
    }
    const char *sql = self->depth == 1 ? "COMMIT" : "RELEASE crp_nested";
    if (!exec_sql(self, sql, "committing", error)) {
        sqlite_rollback(store);
        return FALSE;
    }
    self->depth--;
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Users and keys */

static gboolean
sqlite_user_insert(CrpStore *store, const char *id, gint64 created,
                   GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USER_INSERT, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, created);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS,
                    "user %s already exists", id);
        return FALSE;
    }
    if (rc != SQLITE_DONE) {
        set_error(self, error, rc, "adding a user");
        return FALSE;
    }
    return TRUE;
}

static gboolean
sqlite_user_set_revoked(CrpStore *store, const char *id, gint64 when,
                        GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USER_REVOKE, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, when);
    return run(self, st, "revoking a user", NULL, error);
}

static CrpStoreUser *
sqlite_user_get(CrpStore *store, const char *id, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USER_GET, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, id);
    return fetch_one(self, st, (RowFunc)user_from_row, "user", id, error);
}

static GPtrArray *
sqlite_user_list(CrpStore *store, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USER_LIST, error);
    if (!st) {
        return NULL;
    }
    return fetch_all(self, st, (RowFunc)user_from_row,
                     (GDestroyNotify)crp_store_user_free, "listing users",
                     error);
}

static gboolean
sqlite_user_set_limits(CrpStore *store, const char *id,
                       const CrpStoreUserLimits *limits, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USER_SET_LIMITS, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, id);
    bind_limit(st, 2, limits->sessions);
    bind_limit(st, 3, limits->vcpus);
    bind_limit(st, 4, limits->memory_mib);
    return run_one(self, st, "setting a user's limits", id, error);
}

static gboolean
sqlite_key_insert(CrpStore *store, const char *user, const guint8 *key,
                  gint64 created, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_KEY_INSERT, error);
    if (!st) {
        return FALSE;
    }
    sqlite3_bind_blob(st, 1, key, CRP_STORE_KEY_LEN, SQLITE_TRANSIENT);
    bind_text(st, 2, user);
    sqlite3_bind_int64(st, 3, created);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS,
                    "this public key is already registered");
        return FALSE;
    }
    if (rc != SQLITE_DONE) {
        set_error(self, error, rc, "adding a key");
        return FALSE;
    }
    return TRUE;
}

static gboolean
sqlite_key_retire_active(CrpStore *store, const char *user,
                         CrpStoreKeyState state, gint64 when, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_KEY_RETIRE, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, user);
    bind_text(st, 2, key_state_str(state));
    sqlite3_bind_int64(st, 3, when);
    return run(self, st, "retiring a key", NULL, error);
}

static gboolean
sqlite_key_lookup(CrpStore *store, const guint8 *key, char **user_id,
                  CrpStoreKeyState *state, gboolean *user_revoked,
                  GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_KEY_LOOKUP, error);
    if (!st) {
        return FALSE;
    }
    sqlite3_bind_blob(st, 1, key, CRP_STORE_KEY_LEN, SQLITE_TRANSIENT);
    int rc = step(self, st, "looking up a key", error);
    if (!rc) {
        return FALSE;
    }
    if (rc == SQLITE_DONE) {
        *user_id = NULL;
        *state = 0;
        *user_revoked = FALSE;
        return TRUE;
    }
    *user_id = col_text(st, 0);
    *state = key_state_parse((const char *)sqlite3_column_text(st, 1));
    *user_revoked = sqlite3_column_int(st, 2) != 0;
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Apps and subscriptions */

static gboolean
sqlite_app_insert(CrpStore *store, const CrpStoreApp *app, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_APP_INSERT, error);
    if (!st) {
        return FALSE;
    }
    bind_app(st, app);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS,
                    "app %s already exists (perhaps unpublished)", app->name);
        return FALSE;
    }
    if (rc != SQLITE_DONE) {
        set_error(self, error, rc, "publishing an app");
        return FALSE;
    }
    return TRUE;
}

static gboolean
sqlite_app_write(CrpStore *store, const CrpStoreApp *app, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_APP_WRITE, error);
    if (!st) {
        return FALSE;
    }
    bind_app(st, app);
    return run_one(self, st, "updating an app", app->name, error);
}

static CrpStoreApp *
sqlite_app_get(CrpStore *store, const char *name, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_APP_GET, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, name);
    return fetch_one(self, st, (RowFunc)app_from_row, "app", name, error);
}

static GPtrArray *
sqlite_app_list(CrpStore *store, gboolean include_unpublished,
                GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_APP_LIST, error);
    if (!st) {
        return NULL;
    }
    sqlite3_bind_int(st, 1, include_unpublished ? 1 : 0);
    return fetch_all(self, st, (RowFunc)app_from_row,
                     (GDestroyNotify)crp_store_app_free, "listing apps",
                     error);
}

static gboolean
sqlite_subscription_insert(CrpStore *store, const char *user,
                           const char *app, gint64 created, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SUB_INSERT, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, user);
    bind_text(st, 2, app);
    sqlite3_bind_int64(st, 3, created);
    return run(self, st, "subscribing", NULL, error);
}

static gboolean
sqlite_subscription_delete(CrpStore *store, const char *user,
                           const char *app, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SUB_DELETE, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, user);
    bind_text(st, 2, app);
    return run(self, st, "unsubscribing", NULL, error);
}

static gboolean
sqlite_subscription_exists(CrpStore *store, const char *user,
                           const char *app, gboolean *exists, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SUB_EXISTS, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, user);
    bind_text(st, 2, app);
    int rc = step(self, st, "reading a subscription", error);
    if (!rc) {
        return FALSE;
    }
    *exists = rc == SQLITE_ROW;
    return TRUE;
}

static GPtrArray *
sqlite_subscription_list(CrpStore *store, const char *user, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SUB_LIST, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, user);
    return fetch_all(self, st, (RowFunc)app_from_row,
                     (GDestroyNotify)crp_store_app_free,
                     "listing subscriptions", error);
}

/* ------------------------------------------------------------------------ */
/* Sessions and usage */

static gboolean
sqlite_session_insert(CrpStore *store, const CrpStoreSession *s,
                      GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SESSION_INSERT, error);
    if (!st) {
        return FALSE;
    }
    bind_session(st, s);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS,
                    "session %s already exists", s->id);
        return FALSE;
    }
    if (rc != SQLITE_DONE) {
        set_error(self, error, rc, "creating a session");
        return FALSE;
    }
    return TRUE;
}

static gboolean
sqlite_session_write(CrpStore *store, const CrpStoreSession *s,
                     GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SESSION_WRITE, error);
    if (!st) {
        return FALSE;
    }
    bind_session(st, s);
    return run_one(self, st, "updating a session", s->id, error);
}

static CrpStoreSession *
sqlite_session_get(CrpStore *store, const char *id, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_SESSION_GET, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, id);
    return fetch_one(self, st, (RowFunc)session_from_row, "session", id,
                     error);
}

static GPtrArray *
sqlite_session_list(CrpStore *store, const char *user, guint states,
                    GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    /* Without CLOSED the partial index on live sessions applies. */
    gboolean closed =
        (states & CRP_STORE_SESSION_MASK(CRP_STORE_SESSION_CLOSED)) != 0;
    g_autoptr(Stmt) st = stmt_get(
        self, closed ? S_SESSION_LIST_ANY : S_SESSION_LIST_LIVE, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, states);
    return fetch_all(self, st, (RowFunc)session_from_row,
                     (GDestroyNotify)crp_store_session_free,
                     "listing sessions", error);
}

static gboolean
sqlite_usage_insert(CrpStore *store, const CrpStoreUsage *u,
                    gboolean *inserted, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USAGE_INSERT, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, u->session_id);
    bind_text(st, 2, u->user);
    bind_text(st, 3, u->app);
    sqlite3_bind_int64(st, 4, u->started);
    sqlite3_bind_int64(st, 5, u->ended);
    bind_u64(st, 6, u->duration_s);
    bind_u64(st, 7, u->vcpu_seconds);
    bind_u64(st, 8, u->mib_seconds);
    bind_u64(st, 9, u->bytes_in);
    bind_u64(st, 10, u->bytes_out);
    bind_u64(st, 11, u->frames);
    int changes = 0;
    if (!run(self, st, "recording usage", &changes, error)) {
        return FALSE;
    }
    *inserted = changes > 0;
    return TRUE;
}

static CrpStoreUsage *
sqlite_usage_get(CrpStore *store, const char *session_id, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USAGE_GET, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, session_id);
    return fetch_one(self, st, (RowFunc)usage_from_row, "usage row",
                     session_id, error);
}

static CrpStoreUsageRow *
usage_row_from_row(Stmt *st)
{
    CrpStoreUsageRow *r = g_new0(CrpStoreUsageRow, 1);
    r->user = col_text(st, 0);
    r->app = col_text(st, 1);
    r->sessions = col_u64(st, 2);
    r->duration_s = col_u64(st, 3);
    r->vcpu_seconds = col_u64(st, 4);
    r->mib_seconds = col_u64(st, 5);
    r->bytes_in = col_u64(st, 6);
    r->bytes_out = col_u64(st, 7);
    r->frames = col_u64(st, 8);
    return r;
}

static GPtrArray *
sqlite_usage_report(CrpStore *store, const CrpStoreUsageQuery *q,
                    GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_USAGE_REPORT, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, q->user);
    bind_text(st, 2, q->app);
    bind_time(st, 3, q->from);
    bind_time(st, 4, q->to);
    sqlite3_bind_int(st, 5, (int)q->group_by);
    return fetch_all(self, st, (RowFunc)usage_row_from_row,
                     (GDestroyNotify)crp_store_usage_row_free,
                     "summing usage", error);
}

/* ------------------------------------------------------------------------ */
/* Pools and overlays */

static gboolean
sqlite_pool_totals(CrpStore *store, const char *user,
                   CrpStorePoolTotals *totals, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_POOL_TOTALS, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, user);
    if (!step(self, st, "summing live sessions", error)) {
        return FALSE;
    }
    totals->sessions = col_u64(st, 0);
    totals->vcpus = col_u64(st, 1);
    totals->memory_mib = col_u64(st, 2);
    return TRUE;
}

static gboolean
sqlite_app_live_instances(CrpStore *store, const char *app, guint *count,
                          GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_APP_LIVE, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, app);
    if (!step(self, st, "counting live sessions", error)) {
        return FALSE;
    }
    *count = (guint)sqlite3_column_int64(st, 0);
    return TRUE;
}

static gboolean
sqlite_overlay_write(CrpStore *store, const CrpStoreOverlay *o,
                     GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_OVERLAY_WRITE, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, o->path);
    bind_text(st, 2, o->user);
    bind_text(st, 3, o->app);
    bind_u64(st, 4, o->bytes);
    sqlite3_bind_int64(st, 5, o->created);
    sqlite3_bind_int64(st, 6, o->updated);
    return run(self, st, "recording an overlay", NULL, error);
}

static CrpStoreOverlay *
sqlite_overlay_get(CrpStore *store, const char *path, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_OVERLAY_GET, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, path);
    return fetch_one(self, st, (RowFunc)overlay_from_row, "overlay", path,
                     error);
}

static gboolean
sqlite_overlay_delete(CrpStore *store, const char *path, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_OVERLAY_DELETE, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, path);
    return run_one(self, st, "removing an overlay", path, error);
}

static GPtrArray *
sqlite_overlay_list(CrpStore *store, const char *user, GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_OVERLAY_LIST, error);
    if (!st) {
        return NULL;
    }
    bind_text(st, 1, user);
    return fetch_all(self, st, (RowFunc)overlay_from_row,
                     (GDestroyNotify)crp_store_overlay_free,
                     "listing overlays", error);
}

static gboolean
sqlite_storage_used(CrpStore *store, const char *user, guint64 *bytes,
                    GError **error)
{
    CrpStoreSqlite *self = SELF(store);
    g_autoptr(Stmt) st = stmt_get(self, S_STORAGE_USED, error);
    if (!st) {
        return FALSE;
    }
    bind_text(st, 1, user);
    if (!step(self, st, "summing overlays", error)) {
        return FALSE;
    }
    *bytes = col_u64(st, 0);
    return TRUE;
}

static const CrpStoreBackend sqlite_backend = {
    .name = "sqlite",
    .destroy = sqlite_destroy,
    .schema_version = sqlite_schema_version,
    .set_busy_timeout = sqlite_set_busy_timeout,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .user_insert = sqlite_user_insert,
    .user_set_revoked = sqlite_user_set_revoked,
    .user_get = sqlite_user_get,
    .user_list = sqlite_user_list,
    .user_set_limits = sqlite_user_set_limits,
    .key_insert = sqlite_key_insert,
    .key_retire_active = sqlite_key_retire_active,
    .key_lookup = sqlite_key_lookup,
    .app_insert = sqlite_app_insert,
    .app_write = sqlite_app_write,
    .app_get = sqlite_app_get,
    .app_list = sqlite_app_list,
    .subscription_insert = sqlite_subscription_insert,
    .subscription_delete = sqlite_subscription_delete,
    .subscription_exists = sqlite_subscription_exists,
    .subscription_list = sqlite_subscription_list,
    .session_insert = sqlite_session_insert,
    .session_write = sqlite_session_write,
    .session_get = sqlite_session_get,
    .session_list = sqlite_session_list,
    .usage_insert = sqlite_usage_insert,
    .usage_get = sqlite_usage_get,
    .usage_report = sqlite_usage_report,
    .pool_totals = sqlite_pool_totals,
    .app_live_instances = sqlite_app_live_instances,
    .overlay_write = sqlite_overlay_write,
    .overlay_get = sqlite_overlay_get,
    .overlay_delete = sqlite_overlay_delete,
    .overlay_list = sqlite_overlay_list,
    .storage_used = sqlite_storage_used,
};

/* ------------------------------------------------------------------------ */
/* Opening and migrating */

guint
crp_store_sqlite_latest_version(void)
{
    return crp_store_sqlite_n_migrations;
}

/* Runs a one-row query of constant SQL and returns its first column. */
static gboolean
query_int(CrpStoreSqlite *self, const char *sql, gint64 *value,
          gboolean *found, const char *what, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(self, error, rc, what);
        sqlite3_finalize(st);
        return FALSE;
    }
    *found = rc == SQLITE_ROW;
    *value = *found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return TRUE;
}

/* Reads the schema version inside the open transaction: 0 for an empty
 * database, CORRUPT for one that is not ours. */
static gboolean
read_version(CrpStoreSqlite *self, gint64 *version, GError **error)
{
    gint64 n = 0;
    gboolean found = FALSE;
    if (!query_int(self,
                   "SELECT count(*) FROM sqlite_master"
                   " WHERE name = 'schema_version' AND type = 'table'",
                   &n, &found, "reading the schema", error)) {
        return FALSE;
    }
    if (n == 0) {
        if (!query_int(self, "SELECT count(*) FROM sqlite_master", &n,
                       &found, "reading the schema", error)) {
            return FALSE;
        }
        if (n != 0) {
            g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT,
                        "%s: not a CRP store: an SQLite database without"
                        " a schema_version table", self->path);
            return FALSE;
        }
        *version = 0;
        return TRUE;
    }
    if (!query_int(self, "SELECT count(*) FROM schema_version", &n, &found,
                   "reading the schema version", error)) {
        return FALSE;
    }
    if (n != 1) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT,
                    "%s: schema_version must hold one row, it holds %"
                    G_GINT64_FORMAT, self->path, n);
        return FALSE;
    }
    if (!query_int(self, "SELECT version FROM schema_version", version,
                   &found, "reading the schema version", error)) {
        return FALSE;
    }
    if (*version < 1) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT,
                    "%s: invalid schema version %" G_GINT64_FORMAT,
                    self->path, *version);
        return FALSE;
    }
    return TRUE;
}

static gboolean
migrate_locked(CrpStoreSqlite *self, GError **error)
{
    gint64 version = 0;
    if (!read_version(self, &version, error)) {
        return FALSE;
    }
    if (version > (gint64)crp_store_sqlite_n_migrations) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_VERSION,
                    "%s: schema version %" G_GINT64_FORMAT " is newer than"
                    " this broker supports (%u); upgrade crp-broker",
                    self->path, version, crp_store_sqlite_n_migrations);
        return FALSE;
    }
    gint64 latest = crp_store_sqlite_n_migrations;
    for (gint64 v = version; v < latest; v++) {
        g_autofree char *what =
            g_strdup_printf("migrating to schema version %" G_GINT64_FORMAT,
                            v + 1);
        if (!exec_sql(self, crp_store_sqlite_migrations[v], what, error)) {
            return FALSE;
        }
        g_autoptr(Stmt) st = stmt_get(self, S_SET_VERSION, error);
        if (!st) {
            return FALSE;
        }
        sqlite3_bind_int64(st, 1, v + 1);
        if (!run(self, st, what, NULL, error)) {
            return FALSE;
        }
    }
    self->version = crp_store_sqlite_n_migrations;
    return TRUE;
}

static gboolean
migrate(CrpStoreSqlite *self, GError **error)
{
    CrpStore *store = &self->parent;
    if (!sqlite_begin(store, error)) {
        return FALSE;
    }
    if (!migrate_locked(self, error)) {
        sqlite_rollback(store);
        return FALSE;
    }
    /* Only migrations use it: don't keep it prepared. */
    sqlite3_finalize(self->stmts[S_SET_VERSION]);
    self->stmts[S_SET_VERSION] = NULL;
    return sqlite_commit(store, error);
}

static gboolean
configure(CrpStoreSqlite *self, GError **error)
{
    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_timeout(self->db, BUSY_TIMEOUT_DEFAULT_MS);
    return exec_sql(self, "PRAGMA foreign_keys = ON",
                    "enabling foreign keys", error);
}

/* After the version check, so that a file we refuse is left as it was. */
static gboolean
enable_wal(CrpStoreSqlite *self, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, "PRAGMA journal_mode = WAL", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        set_error(self, error, rc, "enabling WAL");
        sqlite3_finalize(st);
        return FALSE;
    }
    gboolean wal = g_ascii_strcasecmp(
                       (const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_IO,
                    "%s: cannot switch the database to WAL mode", self->path);
        return FALSE;
    }
    return TRUE;
}

CrpStore *
crp_store_sqlite_open(const char *path, GError **error)
{
    CrpStoreSqlite *self = g_new0(CrpStoreSqlite, 1);
    self->parent.backend = &sqlite_backend;
    self->path = g_strdup(path);
    g_autoptr(CrpStore) store = &self->parent;

    int rc = sqlite3_open_v2(path, &self->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        set_error(self, error, rc, "opening");
        return NULL;
    }
    if (!configure(self, error) || !migrate(self, error) ||
        !enable_wal(self, error)) {
        return NULL;
    }
    return g_steal_pointer(&store);
}
