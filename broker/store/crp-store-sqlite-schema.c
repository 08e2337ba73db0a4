/*
 * crp-store-sqlite-schema.c: the SQLite schema and every statement.
 *
 * The schema is versioned: schema_version holds how many entries of
 * crp_store_sqlite_migrations[] have been applied. Migrations are
 * append-only: never edit one that has shipped, add a new one.
 * All SQL is constant; values are always bound (?N), never formatted in.
 */
#include "crp-store-sqlite.h"

/* ------------------------------------------------------------------------ */
/* Schema */

const char *const crp_store_sqlite_migrations[] = {
    /* 1: users, keys, catalog, subscriptions, sessions, usage. */
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "INSERT INTO schema_version (version) VALUES (0);"

    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY NOT NULL"
    "    CHECK (length(id) BETWEEN 1 AND 64),"
    "  created INTEGER NOT NULL,"
    "  revoked_at INTEGER"
    ");"

    "CREATE TABLE user_keys ("
    "  public_key BLOB PRIMARY KEY NOT NULL"
    "    CHECK (typeof(public_key) = 'blob' AND length(public_key) = 32),"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  state TEXT NOT NULL CHECK (state IN ('active', 'revoked', 'rotated')),"
    "  created INTEGER NOT NULL,"
    "  retired_at INTEGER"
    ");"
    "CREATE INDEX user_keys_user ON user_keys (user_id);"
    /* At most one active key per user. */
    "CREATE UNIQUE INDEX user_keys_active ON user_keys (user_id)"
    "  WHERE state = 'active';"

    "CREATE TABLE apps ("
    "  name TEXT PRIMARY KEY NOT NULL"
    "    CHECK (length(name) BETWEEN 1 AND 64"
    "           AND name NOT GLOB '*[^a-z0-9-]*'),"
    "  title TEXT NOT NULL CHECK (length(title) >= 1),"
    "  description TEXT NOT NULL DEFAULT '',"
    "  kernel TEXT,"
    "  initrd TEXT,"
    "  disk TEXT,"
    "  qemu_options TEXT NOT NULL DEFAULT '',"
    "  vcpus INTEGER NOT NULL CHECK (vcpus BETWEEN 1 AND 65535),"
    "  memory_mib INTEGER NOT NULL CHECK (memory_mib BETWEEN 1 AND 4294967295),"
    "  audio INTEGER NOT NULL DEFAULT 0 CHECK (audio IN (0, 1)),"
    "  max_instances INTEGER NOT NULL DEFAULT 0 CHECK (max_instances >= 0),"
    "  persistent_storage INTEGER NOT NULL DEFAULT 0"
    "    CHECK (persistent_storage IN (0, 1)),"
    "  created INTEGER NOT NULL,"
    "  unpublished_at INTEGER"
    ");"

    "CREATE TABLE subscriptions ("
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  app_name TEXT NOT NULL REFERENCES apps (name),"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, app_name)"
    ") WITHOUT ROWID;"

    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  app_name TEXT NOT NULL REFERENCES apps (name),"
    "  state TEXT NOT NULL"
    "    CHECK (state IN ('starting', 'running', 'closing', 'closed')),"
    "  runtime_dir TEXT,"
    "  qmp_socket TEXT,"
    "  display_socket TEXT,"
    "  qemu_pid INTEGER CHECK (qemu_pid > 0),"
    "  vcpus INTEGER NOT NULL CHECK (vcpus >= 1),"
    "  memory_mib INTEGER NOT NULL CHECK (memory_mib >= 1),"
    "  overlay TEXT,"
    "  started INTEGER NOT NULL,"
    "  ended INTEGER CHECK (ended >= started),"
    "  bytes_in INTEGER NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),"
    "  bytes_out INTEGER NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),"
    "  frames INTEGER NOT NULL DEFAULT 0 CHECK (frames >= 0),"
    "  CHECK ((state = 'closed') = (ended IS NOT NULL))"
    ");"
    "CREATE INDEX sessions_user ON sessions (user_id, started);"
    /* Live sessions are few; pool accounting reads only them. */
    "CREATE INDEX sessions_live ON sessions (app_name)"
    "  WHERE state != 'closed';"

    /* No foreign key to sessions: usage outlives pruned sessions. */
    "CREATE TABLE usage ("
    "  session_id TEXT PRIMARY KEY NOT NULL,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  app_name TEXT NOT NULL REFERENCES apps (name),"
    "  started INTEGER NOT NULL,"
    "  ended INTEGER NOT NULL CHECK (ended >= started),"
    "  duration_s INTEGER NOT NULL CHECK (duration_s >= 0),"
    "  vcpu_seconds INTEGER NOT NULL CHECK (vcpu_seconds >= 0),"
    "  mib_seconds INTEGER NOT NULL CHECK (mib_seconds >= 0),"
    "  bytes_in INTEGER NOT NULL CHECK (bytes_in >= 0),"
    "  bytes_out INTEGER NOT NULL CHECK (bytes_out >= 0),"
    "  frames INTEGER NOT NULL CHECK (frames >= 0)"
    ");",

    /* 2: storage overlays (per-user quota accounting), report indexes. */
    "CREATE TABLE overlays ("
    "  path TEXT PRIMARY KEY NOT NULL,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  app_name TEXT NOT NULL REFERENCES apps (name),"
    "  bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL"
    ");"
    "CREATE INDEX overlays_user ON overlays (user_id);"
    "CREATE INDEX usage_started ON usage (started);"
    "CREATE INDEX usage_user ON usage (user_id, started);",

    /* 3: per-user limits (NULL: the broker's default; 0: none), an app's
     * own QEMU accelerators (NULL: the broker's default). */
    "ALTER TABLE users ADD COLUMN max_sessions INTEGER"
    "  CHECK (max_sessions >= 0);"
    "ALTER TABLE users ADD COLUMN max_vcpus INTEGER CHECK (max_vcpus >= 0);"
    "ALTER TABLE users ADD COLUMN max_memory_mib INTEGER"
    "  CHECK (max_memory_mib >= 0);"
    "ALTER TABLE apps ADD COLUMN accel TEXT"
    "  CHECK (accel IS NULL OR length(accel) BETWEEN 1 AND 256);",

    /* 4: whether an app's VMs get the clipboard (QEMU's qemu-vdagent);
     * apps published before it have it, as new ones do by default. */
    "ALTER TABLE apps ADD COLUMN clipboard INTEGER NOT NULL DEFAULT 1"
    "  CHECK (clipboard IN (0, 1));",

    /* 5: whether an app's VMs get the user's My files (9p); apps
     * published before it get them, as new ones do by default. */
    "ALTER TABLE apps ADD COLUMN files INTEGER NOT NULL DEFAULT 1"
    "  CHECK (files IN (0, 1));",
};

const guint crp_store_sqlite_n_migrations =
    G_N_ELEMENTS(crp_store_sqlite_migrations);

/* ------------------------------------------------------------------------ */
/* Statements */

#define USER_SELECT                                                         \
    "SELECT u.id, u.created, u.revoked_at, k.public_key, k.state, k.created," \
    " u.max_sessions, u.max_vcpus, u.max_memory_mib"                         \
    " FROM users u LEFT JOIN user_keys k ON k.rowid ="                      \
    " (SELECT max(rowid) FROM user_keys WHERE user_id = u.id)"

#define APP_COLS                                                            \
    "name, title, description, kernel, initrd, disk, qemu_options, vcpus,"  \
    " memory_mib, audio, max_instances, persistent_storage, created,"       \
    " unpublished_at, accel, clipboard, files"
#define APP_COLS_A                                                          \
    "a.name, a.title, a.description, a.kernel, a.initrd, a.disk,"           \
    " a.qemu_options, a.vcpus, a.memory_mib, a.audio, a.max_instances,"     \
    " a.persistent_storage, a.created, a.unpublished_at, a.accel,"          \
    " a.clipboard, a.files"

#define SESSION_COLS                                                        \
    "id, user_id, app_name, state, runtime_dir, qmp_socket,"                \
    " display_socket, qemu_pid, vcpus, memory_mib, overlay, started, ended," \
    " bytes_in, bytes_out, frames"

#define USAGE_COLS                                                          \
    "session_id, user_id, app_name, started, ended, duration_s,"            \
    " vcpu_seconds, mib_seconds, bytes_in, bytes_out, frames"

#define OVERLAY_COLS "path, user_id, app_name, bytes, created, updated"


/* The mask bit of a session state, in SQL (see CRP_STORE_SESSION_MASK). */
#define SESSION_STATE_BIT                                                   \
    "(1 << CASE state WHEN 'starting' THEN 1 WHEN 'running' THEN 2"         \
    " WHEN 'closing' THEN 3 ELSE 4 END)"

const char *const crp_store_sqlite_statements[N_STATEMENTS] = {
    [S_SET_VERSION] = "UPDATE schema_version SET version = ?1",
    [S_USER_INSERT] = "INSERT INTO users (id, created) VALUES (?1, ?2)",
    [S_USER_REVOKE] = "UPDATE users SET revoked_at = ?2"
                      " WHERE id = ?1 AND revoked_at IS NULL",
    [S_USER_GET] = USER_SELECT " WHERE u.id = ?1",
    [S_USER_LIST] = USER_SELECT " ORDER BY u.id",
    [S_USER_SET_LIMITS] = "UPDATE users SET max_sessions = ?2,"
                          " max_vcpus = ?3, max_memory_mib = ?4"
                          " WHERE id = ?1",
    [S_KEY_INSERT] = "INSERT INTO user_keys (public_key, user_id, state,"
                     " created) VALUES (?1, ?2, 'active', ?3)",
    [S_KEY_RETIRE] = "UPDATE user_keys SET state = ?2, retired_at = ?3"
                     " WHERE user_id = ?1 AND state = 'active'",
    [S_KEY_LOOKUP] = "SELECT k.user_id, k.state, u.revoked_at IS NOT NULL"
                     " FROM user_keys k JOIN users u ON u.id = k.user_id"
                     " WHERE k.public_key = ?1",
    [S_APP_INSERT] = "INSERT INTO apps (" APP_COLS ") VALUES (?1, ?2, ?3,"
                     " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                     " ?15, ?16, ?17)",
    [S_APP_WRITE] = "UPDATE apps SET title = ?2, description = ?3,"
                    " kernel = ?4, initrd = ?5, disk = ?6,"
                    " qemu_options = ?7, vcpus = ?8, memory_mib = ?9,"
                    " audio = ?10, max_instances = ?11,"
                    " persistent_storage = ?12, unpublished_at = ?14,"
                    " accel = ?15, clipboard = ?16, files = ?17"
                    " WHERE name = ?1",
    [S_APP_GET] = "SELECT " APP_COLS " FROM apps WHERE name = ?1",
    [S_APP_LIST] = "SELECT " APP_COLS " FROM apps"
                   " WHERE ?1 OR unpublished_at IS NULL ORDER BY name",
    [S_SUB_INSERT] = "INSERT INTO subscriptions (user_id, app_name, created)"
                     " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    [S_SUB_DELETE] = "DELETE FROM subscriptions"
                     " WHERE user_id = ?1 AND app_name = ?2",
    [S_SUB_EXISTS] = "SELECT 1 FROM subscriptions"
                     " WHERE user_id = ?1 AND app_name = ?2",
    [S_SUB_LIST] = "SELECT " APP_COLS_A " FROM subscriptions s"
                   " JOIN apps a ON a.name = s.app_name"
                   " WHERE s.user_id = ?1 AND a.unpublished_at IS NULL"
                   " ORDER BY a.name",
    [S_SESSION_INSERT] = "INSERT INTO sessions (" SESSION_COLS ") VALUES"
                         " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                         " ?12, ?13, ?14, ?15, ?16)",
    [S_SESSION_WRITE] = "UPDATE sessions SET state = ?4, runtime_dir = ?5,"
                        " qmp_socket = ?6, display_socket = ?7,"
                        " qemu_pid = ?8, vcpus = ?9, memory_mib = ?10,"
                        " overlay = ?11, ended = ?13, bytes_in = ?14,"
                        " bytes_out = ?15, frames = ?16"
                        " WHERE id = ?1",
    [S_SESSION_GET] = "SELECT " SESSION_COLS " FROM sessions WHERE id = ?1",
    [S_SESSION_LIST_LIVE] = "SELECT " SESSION_COLS " FROM sessions"
                            " WHERE state != 'closed'"
                            " AND (?1 IS NULL OR user_id = ?1)"
                            " AND (?2 & " SESSION_STATE_BIT ") != 0"
                            " ORDER BY started, id",
    [S_SESSION_LIST_ANY] = "SELECT " SESSION_COLS " FROM sessions"
                           " WHERE (?1 IS NULL OR user_id = ?1)"
                           " AND (?2 & " SESSION_STATE_BIT ") != 0"
                           " ORDER BY started, id",
    [S_USAGE_INSERT] = "INSERT INTO usage (" USAGE_COLS ") VALUES (?1, ?2,"
                       " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                       " ON CONFLICT (session_id) DO NOTHING",
    [S_USAGE_GET] = "SELECT " USAGE_COLS " FROM usage WHERE session_id = ?1",
    /* ?5: CrpStoreGroupBy (1 user, 2 app, 3 both). Groups are never
     * empty, so the sums are never NULL; a 64-bit overflow is an error. */
    [S_USAGE_REPORT] = "SELECT CASE WHEN ?5 IN (1, 3) THEN user_id END AS u,"
                       " CASE WHEN ?5 IN (2, 3) THEN app_name END AS a,"
                       " count(*), sum(duration_s), sum(vcpu_seconds),"
                       " sum(mib_seconds), sum(bytes_in), sum(bytes_out),"
                       " sum(frames)"
                       " FROM usage"
                       " WHERE (?1 IS NULL OR user_id = ?1)"
                       " AND (?2 IS NULL OR app_name = ?2)"
                       " AND (?3 IS NULL OR started >= ?3)"
                       " AND (?4 IS NULL OR started < ?4)"
                       " GROUP BY u, a ORDER BY u, a",
    [S_POOL_TOTALS] = "SELECT count(*), coalesce(sum(vcpus), 0),"
                      " coalesce(sum(memory_mib), 0) FROM sessions"
                      " WHERE state != 'closed'"
                      " AND (?1 IS NULL OR user_id = ?1)",
    [S_APP_LIVE] = "SELECT count(*) FROM sessions"
                   " WHERE state != 'closed' AND app_name = ?1",
    [S_OVERLAY_WRITE] = "INSERT INTO overlays (" OVERLAY_COLS ")"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                        " ON CONFLICT (path) DO UPDATE"
                        " SET bytes = excluded.bytes,"
                        " updated = excluded.updated",
    [S_OVERLAY_GET] = "SELECT " OVERLAY_COLS " FROM overlays WHERE path = ?1",
    [S_OVERLAY_DELETE] = "DELETE FROM overlays WHERE path = ?1",
    [S_OVERLAY_LIST] = "SELECT " OVERLAY_COLS " FROM overlays"
                       " WHERE ?1 IS NULL OR user_id = ?1 ORDER BY path",
    [S_STORAGE_USED] = "SELECT coalesce(sum(bytes), 0) FROM overlays"
                       " WHERE user_id = ?1",
};
