/*
 * crp-store.h: the broker's state store.
 *
 * Users and their keys, the app catalog, subscriptions, sessions, usage
 * records and storage overlays, behind one interface. CrpStore is opaque and
 * dispatches to a backend; SQLite (one file, WAL) is the only backend today,
 * the interface is shaped so that PostgreSQL can be added for multi-broker
 * deployments.
 *
 * Everything is synchronous: the broker calls the store from its main loop
 * (SQLite is local and fast). A CrpStore is not thread-safe; use it from one
 * thread. Several CrpStore handles (or processes) may open the same file;
 * writers wait for each other up to the busy timeout.
 *
 * Conventions:
 * - Times are Unix seconds (gint64). In structs, 0 means "not set" for the
 *   nullable times (revoked_at, retired_at, unpublished_at, ended).
 * - Functions return FALSE / NULL and set @error on failure, in the
 *   CRP_STORE_ERROR domain; "no such row" is CRP_STORE_ERROR_NOT_FOUND.
 * - Returned structs are owned by the caller (free with the matching
 *   *_free(), or g_autoptr). Lists are GPtrArrays that free their elements;
 *   an empty result is an empty array, never NULL.
 * - Input structs are borrowed; the store copies what it keeps.
 * - Creation times (users, keys, apps, subscriptions, sessions) are stamped
 *   by the store's clock (see crp_store_set_clock()).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Errors */

#define CRP_STORE_ERROR (crp_store_error_quark())
GQuark crp_store_error_quark(void);

typedef enum {
    /** Unexpected backend failure (see the message). */
    CRP_STORE_ERROR_FAILED,
    /** No such user, key, app, session or overlay. */
    CRP_STORE_ERROR_NOT_FOUND,
    /** A unique thing (user id, public key, app name, session id) exists. */
    CRP_STORE_ERROR_EXISTS,
    /** A value breaks a rule (bad name, out of range, illegal transition,
     *  revoked user, ended session). The message says which. */
    CRP_STORE_ERROR_CONSTRAINT,
    /** The file is not a CRP store, or the database is damaged. */
    CRP_STORE_ERROR_CORRUPT,
    /** The database was written by a newer broker (schema too new). */
    CRP_STORE_ERROR_VERSION,
    /** The file cannot be opened, read or written (permissions, disk). */
    CRP_STORE_ERROR_IO,
    /** Another writer held the database longer than the busy timeout. */
    CRP_STORE_ERROR_BUSY,
    /** The location names a backend this build does not have. */
    CRP_STORE_ERROR_NOT_SUPPORTED,
} CrpStoreError;

/* ------------------------------------------------------------------------ */
/* Opening */

typedef struct _CrpStore CrpStore;

/**
 * crp_store_open:
 * @location: a file path, or "sqlite:PATH". ("postgresql://..." is reserved
 *   and fails with CRP_STORE_ERROR_NOT_SUPPORTED.)
 *
 * Opens (creating it if needed) the store and brings its schema up to date:
 * a new file gets the whole schema, an older one is migrated in one
 * transaction. A database whose schema is newer than this build fails with
 * CRP_STORE_ERROR_VERSION and is left untouched; a file that is not an
 * SQLite database, or an SQLite database that is not a CRP store, fails with
 * CRP_STORE_ERROR_CORRUPT.
 *
 * Returns: (transfer full): the store, or NULL with @error set.
 */
CrpStore *crp_store_open(const char *location, GError **error);

/** Closes the store and frees it. Accepts NULL. */
void crp_store_free(CrpStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStore, crp_store_free)

/** The schema version of the open database (after migrations). */
guint crp_store_get_schema_version(CrpStore *store);

/** The newest schema version this build knows (for the SQLite backend). */
guint crp_store_latest_schema_version(void);

/** How long a write waits for another writer before CRP_STORE_ERROR_BUSY
 *  (default 5000 ms). */
void crp_store_set_busy_timeout(CrpStore *store, guint timeout_ms);

typedef gint64 (*CrpStoreClockFunc)(gpointer user_data);

/**
 * crp_store_set_clock:
 * @func: (nullable): returns "now" in Unix seconds; NULL restores the real
 *   clock.
 *
 * Replaces the clock used to stamp creation, revocation and end times.
 * Meant for tests and for replaying history.
 */
void crp_store_set_clock(CrpStore *store, CrpStoreClockFunc func,
                         gpointer user_data);

/** "Now" by the store's clock, in Unix seconds. */
gint64 crp_store_now(CrpStore *store);

/* ------------------------------------------------------------------------ */
/* Transactions */

/**
 * CrpStoreTransactionFunc:
 *
 * Runs inside a transaction; may call any store function on @store. Returns
 * FALSE with @error set to roll everything back.
 */
typedef gboolean (*CrpStoreTransactionFunc)(CrpStore *store,
                                            gpointer user_data,
                                            GError **error);

/**
 * crp_store_transaction:
 *
 * Runs @func atomically: either all its writes are committed or none are.
 * The transaction takes the write lock at its start (SQLite: BEGIN
 * IMMEDIATE), so "check capacity, then create the session" in one @func
 * cannot race with another launch, in this process or another one; a second
 * writer waits up to the busy timeout. Calls nest (inner calls are
 * savepoints: an inner failure the outer @func handles rolls back only the
 * inner part).
 *
 * Returns: TRUE if @func succeeded and the transaction committed.
 */
gboolean crp_store_transaction(CrpStore *store, CrpStoreTransactionFunc func,
                               gpointer user_data, GError **error);

/* ------------------------------------------------------------------------ */
/* Users and keys */

/** Length of a user public key (X25519 / Ed25519), in bytes. */
#define CRP_STORE_KEY_LEN 32
/** Longest user id, in bytes. */
#define CRP_STORE_USER_ID_MAX 64

typedef enum {
    CRP_STORE_KEY_ACTIVE = 1,
    CRP_STORE_KEY_REVOKED = 2,   /* the user was revoked */
    CRP_STORE_KEY_ROTATED = 3,   /* replaced by a newer key */
} CrpStoreKeyState;

/** A limit that follows the broker's configured default. */
#define CRP_STORE_LIMIT_DEFAULT (-1)

/**
 * CrpStoreUserLimits:
 *
 * What one user's live sessions (starting, running, closing) may hold at
 * once. Each is a number >= 1, 0 for no limit (only the host's pools
 * limit), or CRP_STORE_LIMIT_DEFAULT for the broker's default.
 */
typedef struct {
    gint64 sessions;
    gint64 vcpus;
    gint64 memory_mib;
} CrpStoreUserLimits;

/** Fields of CrpStoreUserLimits, for crp_store_user_set_limits(). */
typedef enum {
    CRP_STORE_LIMIT_SESSIONS = 1 << 0,
    CRP_STORE_LIMIT_VCPUS = 1 << 1,
    CRP_STORE_LIMIT_MEMORY = 1 << 2,
} CrpStoreLimitField;

/** Largest value of each limit (sessions, vCPUs, MiB). */
#define CRP_STORE_LIMIT_SESSIONS_MAX 1000000
#define CRP_STORE_LIMIT_VCPUS_MAX 1000000
#define CRP_STORE_LIMIT_MEMORY_MAX (G_GINT64_CONSTANT(1) << 40)

typedef struct {
    char *id;
    gint64 created;
    gint64 revoked_at;                       /* 0: not revoked */
    /* The user's current key: the active one, or the last one it had. */
    guint8 public_key[CRP_STORE_KEY_LEN];
    CrpStoreKeyState key_state;
    gint64 key_created;
    CrpStoreUserLimits limits;               /* as set; see _effective() */
} CrpStoreUser;

void crp_store_user_free(CrpStoreUser *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStoreUser, crp_store_user_free)

/** Result of the login check (the broker maps it to a status code). */
typedef enum {
    CRP_STORE_LOGIN_OK = 0,
    CRP_STORE_LOGIN_UNKNOWN_KEY,   /* -> CRP_STATUS_UNKNOWN_KEY */
    CRP_STORE_LOGIN_KEY_REVOKED,   /* -> CRP_STATUS_KEY_REVOKED */
} CrpStoreLogin;

/**
 * crp_store_user_valid_id:
 *
 * User ids are 1..64 bytes of [A-Za-z0-9._@-] starting with a letter or a
 * digit (they end up in file names and command lines).
 */
gboolean crp_store_user_valid_id(const char *id);

/**
 * crp_store_user_add:
 * @public_key: CRP_STORE_KEY_LEN bytes.
 *
 * Adds a user with one active key. Fails with CRP_STORE_ERROR_EXISTS if the
 * id was ever used (revoked ids are not reused: usage history refers to
 * them) or the key was ever registered; CRP_STORE_ERROR_CONSTRAINT for an
 * invalid id.
 */
gboolean crp_store_user_add(CrpStore *store, const char *id,
                            const guint8 *public_key, GError **error);

/** Returns (transfer full): the user, or NULL (NOT_FOUND). */
CrpStoreUser *crp_store_user_get(CrpStore *store, const char *id,
                                 GError **error);

/**
 * crp_store_user_get_by_key:
 * @result: (out): OK, UNKNOWN_KEY, or KEY_REVOKED (revoked user, or a
 *   revoked or rotated key).
 * @user_id: (out) (optional) (transfer full): the key's owner, also when
 *   revoked (for the log); NULL for an unknown key.
 *
 * The login check. An unknown key is a result, not an error: this returns
 * FALSE only when the store itself fails.
 */
gboolean crp_store_user_get_by_key(CrpStore *store, const guint8 *public_key,
                                   CrpStoreLogin *result, char **user_id,
                                   GError **error);

/** Returns (transfer full) (element-type CrpStoreUser): all users, revoked
 *  ones included, sorted by id. */
GPtrArray *crp_store_user_list(CrpStore *store, GError **error);

/**
 * crp_store_user_revoke:
 *
 * Revokes the user and its active key. Idempotent: revoking a revoked user
 * succeeds and keeps the first revocation time.
 */
gboolean crp_store_user_revoke(CrpStore *store, const char *id,
                               GError **error);

/**
 * crp_store_user_rotate:
 *
 * Atomically retires the user's active key (state ROTATED) and makes
 * @new_public_key the active one. Fails with CONSTRAINT for a revoked user,
 * EXISTS if the new key was ever registered.
 */
gboolean crp_store_user_rotate(CrpStore *store, const char *id,
                               const guint8 *new_public_key, GError **error);

/**
 * crp_store_user_set_limits:
 * @values: new values; only the fields in @fields are read.
 *
 * Changes some of a user's limits. CONSTRAINT for a value out of range
 * (below CRP_STORE_LIMIT_DEFAULT or above its _MAX); NOT_FOUND for an
 * unknown user. Live sessions are not touched: a lower limit applies to
 * the next launch.
 */
gboolean crp_store_user_set_limits(CrpStore *store, const char *id,
                                   const CrpStoreUserLimits *values,
                                   CrpStoreLimitField fields, GError **error);

/**
 * crp_store_user_limits_effective:
 * @defaults: the broker's defaults (each 0 or more).
 *
 * Returns: @user's limits with every CRP_STORE_LIMIT_DEFAULT replaced by
 * the default: each is then 0 (no limit) or the limit.
 */
CrpStoreUserLimits crp_store_user_limits_effective(
    const CrpStoreUser *user, const CrpStoreUserLimits *defaults);

/* ------------------------------------------------------------------------ */
/* Apps (the catalog) */

/** Longest app name, in bytes (see crp_store_app_valid_name()). */
#define CRP_STORE_APP_NAME_MAX 64
#define CRP_STORE_APP_TITLE_MAX 256
#define CRP_STORE_APP_DESCRIPTION_MAX 4096
#define CRP_STORE_APP_OPTIONS_MAX 4096
#define CRP_STORE_PATH_MAX 4096
#define CRP_STORE_APP_ACCEL_MAX 256

typedef struct {
    char *name;
    char *title;                /* 1..256 bytes of UTF-8 */
    char *description;          /* 0..4096 bytes of UTF-8; NULL reads as "" */
    char *kernel;               /* guest image paths, each nullable; */
    char *initrd;               /* kernel or disk is required, initrd only */
    char *disk;                 /* with a kernel */
    char *qemu_options;         /* extra QEMU arguments; NULL reads as "" */
    char *accel;                /* QEMU accelerators ("kvm:tcg"); NULL: the
                                 * broker's default. 1..256 bytes of
                                 * [a-z0-9:,=._-] (the broker checks more) */
    guint vcpus;                /* 1..65535 */
    guint32 memory_mib;         /* >= 1 */
    gboolean audio;
    guint max_instances;        /* 0: no limit besides the pools */
    gboolean persistent_storage;/* a per-user overlay survives sessions */
    gboolean clipboard;         /* the VM gets QEMU's clipboard agent
                                 * (qemu-vdagent on a virtio-serial port) */
    gboolean files;             /* the VM gets the user's My files (9p) */
    gint64 created;             /* set by the store */
    gint64 unpublished_at;      /* set by the store; 0: published */
} CrpStoreApp;

void crp_store_app_free(CrpStoreApp *app);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStoreApp, crp_store_app_free)

/** Fields of CrpStoreApp, for crp_store_app_update(). */
typedef enum {
    CRP_STORE_APP_TITLE = 1 << 0,
    CRP_STORE_APP_DESCRIPTION = 1 << 1,
    CRP_STORE_APP_KERNEL = 1 << 2,
    CRP_STORE_APP_INITRD = 1 << 3,
    CRP_STORE_APP_DISK = 1 << 4,
    CRP_STORE_APP_QEMU_OPTIONS = 1 << 5,
    CRP_STORE_APP_VCPUS = 1 << 6,
    CRP_STORE_APP_MEMORY = 1 << 7,
    CRP_STORE_APP_AUDIO = 1 << 8,
    CRP_STORE_APP_MAX_INSTANCES = 1 << 9,
    CRP_STORE_APP_PERSISTENT_STORAGE = 1 << 10,
    CRP_STORE_APP_ACCEL = 1 << 11,
    CRP_STORE_APP_CLIPBOARD = 1 << 12,
    CRP_STORE_APP_FILES = 1 << 13,
} CrpStoreAppField;

/** App names are 1..64 bytes of [a-z0-9-], not starting with '-'. */
gboolean crp_store_app_valid_name(const char *name);

/**
 * crp_store_app_publish:
 *
 * Adds @app to the catalog (its created and unpublished_at are ignored).
 * CONSTRAINT for an invalid field; EXISTS if the name was ever used,
 * unpublished apps included (see crp_store_app_republish()).
 */
gboolean crp_store_app_publish(CrpStore *store, const CrpStoreApp *app,
                               GError **error);

/**
 * crp_store_app_update:
 * @values: new values; only the fields in @fields are read (name is not).
 *
 * Changes some fields of an app, published or not, atomically. The result
 * is validated as a whole (e.g. clearing the kernel of a kernel-only app is
 * refused). Running sessions keep the vcpus and memory they started with.
 */
gboolean crp_store_app_update(CrpStore *store, const char *name,
                              const CrpStoreApp *values,
                              CrpStoreAppField fields, GError **error);

/**
 * crp_store_app_unpublish:
 *
 * Hides the app from the published catalog; it stays in the database so
 * sessions and usage keep referring to it. Idempotent. Live sessions are
 * not touched; new sessions cannot be created.
 */
gboolean crp_store_app_unpublish(CrpStore *store, const char *name,
                                 GError **error);

/** Publishes an unpublished app again. Idempotent. */
gboolean crp_store_app_republish(CrpStore *store, const char *name,
                                 GError **error);

/** Returns (transfer full): the app, published or not, or NULL
 *  (NOT_FOUND). */
CrpStoreApp *crp_store_app_get(CrpStore *store, const char *name,
                               GError **error);

/** Returns (transfer full) (element-type CrpStoreApp): apps sorted by name;
 *  only published ones unless @include_unpublished. */
GPtrArray *crp_store_app_list(CrpStore *store, gboolean include_unpublished,
                              GError **error);

/* ------------------------------------------------------------------------ */
/* Subscriptions */

/**
 * crp_store_subscribe:
 *
 * Subscribes @user to @app. Idempotent. NOT_FOUND for an unknown user or an
 * unknown or unpublished app; CONSTRAINT for a revoked user.
 */
gboolean crp_store_subscribe(CrpStore *store, const char *user,
                             const char *app, GError **error);

/** Removes the subscription. Idempotent (not subscribed is fine);
 *  NOT_FOUND for an unknown user or app. */
gboolean crp_store_unsubscribe(CrpStore *store, const char *user,
                               const char *app, GError **error);

/** Returns (transfer full) (element-type CrpStoreApp): the published apps
 *  @user is subscribed to, sorted by name. */
GPtrArray *crp_store_subscription_list(CrpStore *store, const char *user,
                                       GError **error);

/** Sets @subscribed; FALSE only on a store failure. */
gboolean crp_store_is_subscribed(CrpStore *store, const char *user,
                                 const char *app, gboolean *subscribed,
                                 GError **error);

/* ------------------------------------------------------------------------ */
/* Sessions */

/** Longest session id, in bytes (protocol: str session (1..64)). */
#define CRP_STORE_SESSION_ID_MAX 64

/** Values 1..3 are the protocol's SESSIONS entry states. */
typedef enum {
    CRP_STORE_SESSION_STARTING = 1,
    CRP_STORE_SESSION_RUNNING = 2,
    CRP_STORE_SESSION_CLOSING = 3,
    CRP_STORE_SESSION_CLOSED = 4,
} CrpStoreSessionState;

/** State masks for crp_store_session_list(). */
#define CRP_STORE_SESSION_MASK(state) (1u << (state))
#define CRP_STORE_SESSIONS_LIVE                                             \
    (CRP_STORE_SESSION_MASK(CRP_STORE_SESSION_STARTING) |                  \
     CRP_STORE_SESSION_MASK(CRP_STORE_SESSION_RUNNING) |                   \
     CRP_STORE_SESSION_MASK(CRP_STORE_SESSION_CLOSING))
#define CRP_STORE_SESSIONS_ALL                                              \
    (CRP_STORE_SESSIONS_LIVE |                                              \
     CRP_STORE_SESSION_MASK(CRP_STORE_SESSION_CLOSED))

typedef struct {
    char *id;
    char *user;
    char *app;
    CrpStoreSessionState state;
    char *runtime_dir;          /* nullable */
    char *qmp_socket;           /* nullable */
    char *display_socket;       /* nullable */
    gint64 qemu_pid;            /* 0: not spawned (yet) */
    guint vcpus;
    guint32 memory_mib;
    char *overlay;              /* nullable: the qcow2 overlay it runs on */
    gint64 started;
    gint64 ended;               /* 0: not ended */
    /* Last known counters from query-crp (absolute, not increments). */
    guint64 bytes_in;
    guint64 bytes_out;
    guint64 frames;
} CrpStoreSession;

void crp_store_session_free(CrpStoreSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStoreSession, crp_store_session_free)

/**
 * crp_store_session_create:
 * @init: user and app are required. id may be NULL (a random 32-hex-digit
 *   id is made). vcpus / memory_mib of 0 take the app's. runtime_dir,
 *   sockets, qemu_pid and overlay are optional. state, started, ended and
 *   the counters are ignored: a session starts STARTING, now, at zero.
 *
 * NOT_FOUND for an unknown user or an unknown or unpublished app,
 * CONSTRAINT for a revoked user, EXISTS for a taken id. Subscription,
 * capacity and quota are the caller's checks: do them and this call in one
 * crp_store_transaction().
 *
 * Returns: (transfer full): the new session as stored, or NULL.
 */
CrpStoreSession *crp_store_session_create(CrpStore *store,
                                          const CrpStoreSession *init,
                                          GError **error);

/** Returns (transfer full): the session, or NULL (NOT_FOUND). */
CrpStoreSession *crp_store_session_get(CrpStore *store, const char *id,
                                       GError **error);

/**
 * crp_store_session_list:
 * @user: (nullable): only this user's sessions.
 * @states: a mask of CRP_STORE_SESSION_MASK(state) bits, e.g.
 *   CRP_STORE_SESSIONS_LIVE.
 *
 * Returns: (transfer full) (element-type CrpStoreSession): sorted by start
 *   time, then id.
 */
GPtrArray *crp_store_session_list(CrpStore *store, const char *user,
                                  guint states, GError **error);

/**
 * crp_store_session_set_state:
 *
 * Moves a session forward: STARTING -> RUNNING -> CLOSING (skipping is
 * allowed, going back is not; the same state is a no-op). Setting CLOSED is
 * crp_store_session_close(@id, 0). CONSTRAINT for going back or for a
 * closed session.
 */
gboolean crp_store_session_set_state(CrpStore *store, const char *id,
                                     CrpStoreSessionState state,
                                     GError **error);

/** Records the QEMU process id (> 0). CONSTRAINT for a closed session. */
gboolean crp_store_session_set_pid(CrpStore *store, const char *id,
                                   gint64 qemu_pid, GError **error);

/** Records where the session's files are; a NULL argument keeps the stored
 *  value. CONSTRAINT for a closed session. */
gboolean crp_store_session_set_paths(CrpStore *store, const char *id,
                                     const char *runtime_dir,
                                     const char *qmp_socket,
                                     const char *display_socket,
                                     const char *overlay, GError **error);

/** Stores the last known counters from query-crp (absolute values).
 *  CONSTRAINT for a closed session: update before closing. */
gboolean crp_store_session_update_counters(CrpStore *store, const char *id,
                                           guint64 bytes_in,
                                           guint64 bytes_out,
                                           guint64 frames, GError **error);

/**
 * crp_store_session_close:
 * @ended: end time, or 0 for now (after a broker restart, pass when the
 *   VM was last seen alive). Clamped to no earlier than the start.
 *
 * Marks the session CLOSED and, in the same transaction, records its usage
 * row (see crp_store_usage_add()) from the stored vcpus, memory and
 * counters. Idempotent: closing a closed session changes nothing and
 * succeeds, so a restart cannot close twice or count twice.
 */
gboolean crp_store_session_close(CrpStore *store, const char *id,
                                 gint64 ended, GError **error);

/* ------------------------------------------------------------------------ */
/* Usage */

typedef struct {
    char *session_id;
    char *user;
    char *app;
    gint64 started;
    gint64 ended;
    guint64 duration_s;
    guint64 vcpu_seconds;
    guint64 mib_seconds;
    guint64 bytes_in;
    guint64 bytes_out;
    guint64 frames;
} CrpStoreUsage;

void crp_store_usage_free(CrpStoreUsage *usage);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStoreUsage, crp_store_usage_free)

/**
 * crp_store_usage_add:
 * @inserted: (out) (optional): TRUE if a row was written, FALSE if the
 *   session already had one.
 *
 * Records the usage of one session. Idempotent per session: there is at
 * most one row per session id, and adding again is a no-op that succeeds
 * (the first row wins), so a broker that restarts between closing and
 * acknowledging cannot count a session twice. crp_store_session_close()
 * calls this; call it directly only to import history. user and app must
 * exist; ended >= started.
 */
gboolean crp_store_usage_add(CrpStore *store, const CrpStoreUsage *usage,
                             gboolean *inserted, GError **error);

/** Returns (transfer full): the usage row of a session, or NULL
 *  (NOT_FOUND). */
CrpStoreUsage *crp_store_usage_get(CrpStore *store, const char *session_id,
                                   GError **error);

typedef enum {
    CRP_STORE_GROUP_NONE = 0,
    CRP_STORE_GROUP_USER,
    CRP_STORE_GROUP_APP,
    CRP_STORE_GROUP_USER_APP,
} CrpStoreGroupBy;

typedef struct {
    const char *user;           /* nullable: all users */
    const char *app;            /* nullable: all apps */
    /* Sessions that started in [from, to); 0 leaves that end open. */
    gint64 from;
    gint64 to;
    CrpStoreGroupBy group_by;
} CrpStoreUsageQuery;

typedef struct {
    char *user;                 /* NULL unless grouped by user */
    char *app;                  /* NULL unless grouped by app */
    guint64 sessions;
    guint64 duration_s;
    guint64 vcpu_seconds;
    guint64 mib_seconds;
    guint64 bytes_in;
    guint64 bytes_out;
    guint64 frames;
} CrpStoreUsageRow;

void crp_store_usage_row_free(CrpStoreUsageRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStoreUsageRow, crp_store_usage_row_free)

/**
 * crp_store_usage_report:
 *
 * Sums usage rows matching @query. A session counts wholly in the range it
 * started in. Grouped reports have one row per group that has sessions,
 * sorted by user then app; CRP_STORE_GROUP_NONE always returns exactly one
 * row (zeros when nothing matches).
 *
 * Returns: (transfer full) (element-type CrpStoreUsageRow): the rows.
 */
GPtrArray *crp_store_usage_report(CrpStore *store,
                                  const CrpStoreUsageQuery *query,
                                  GError **error);

/* ------------------------------------------------------------------------ */
/* Pool accounting */

typedef struct {
    guint64 sessions;           /* live: state != CLOSED */
    guint64 vcpus;
    guint64 memory_mib;
} CrpStorePoolTotals;

/** Sums the vcpus and memory of live sessions (compute pool in use). */
gboolean crp_store_pool_totals(CrpStore *store, CrpStorePoolTotals *totals,
                               GError **error);

/** Sums the live sessions of one user (for the user's limits). */
gboolean crp_store_user_totals(CrpStore *store, const char *user,
                               CrpStorePoolTotals *totals, GError **error);

/** Counts the live sessions of @app (for max_instances). */
gboolean crp_store_app_live_instances(CrpStore *store, const char *app,
                                      guint *count, GError **error);

/*
 * Storage overlays. The store cannot know file sizes: the caller registers
 * each overlay it makes (per user and app; a persistent one outlives its
 * sessions) and reports its size when it changes. The quota itself is the
 * caller's.
 */
typedef struct {
    char *path;
    char *user;
    char *app;
    guint64 bytes;
    gint64 created;
    gint64 updated;
} CrpStoreOverlay;

void crp_store_overlay_free(CrpStoreOverlay *overlay);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpStoreOverlay, crp_store_overlay_free)

/**
 * crp_store_overlay_set:
 *
 * Registers the overlay at @path for @user and @app, or updates its size.
 * CONSTRAINT if @path is registered for another user or app.
 */
gboolean crp_store_overlay_set(CrpStore *store, const char *path,
                               const char *user, const char *app,
                               guint64 bytes, GError **error);

/** Forgets an overlay (after deleting the file). NOT_FOUND if unknown. */
gboolean crp_store_overlay_remove(CrpStore *store, const char *path,
                                  GError **error);

/** Returns (transfer full) (element-type CrpStoreOverlay): overlays of
 *  @user (or all, for NULL), sorted by path. */
GPtrArray *crp_store_overlay_list(CrpStore *store, const char *user,
                                  GError **error);

/** Sums the sizes of @user's overlays. */
gboolean crp_store_storage_used(CrpStore *store, const char *user,
                                guint64 *bytes, GError **error);

G_END_DECLS
