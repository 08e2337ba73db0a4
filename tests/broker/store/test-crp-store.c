/* test-crp-store.c: the broker's state store, on real SQLite files. */
#include "crp-store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

typedef struct {
    char *dir;
    char *path;
    CrpStore *store;
    gint64 now;
} Fixture;

static gint64
fake_clock(gpointer data)
{
    return ((Fixture *)data)->now;
}

static CrpStore *
open_store(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    CrpStore *store = crp_store_open(f->path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(store);
    crp_store_set_clock(store, fake_clock, f);
    return store;
}

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("crp-store-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "broker.db", NULL);
    f->now = 1700000000;
    f->store = open_store(f);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    crp_store_free(f->store);
    GDir *dir = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_assert_cmpint(g_unlink(p), ==, 0);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_assert_cmpint(g_rmdir(f->dir), ==, 0);
    g_free(f->path);
    g_free(f->dir);
}

static void
reopen(Fixture *f)
{
    crp_store_free(f->store);
    f->store = open_store(f);
}

static const guint8 *
key(guint8 seed)
{
    static guint8 keys[256][CRP_STORE_KEY_LEN];
    memset(keys[seed], seed, CRP_STORE_KEY_LEN);
    keys[seed][0] = 0xc0;       /* distinct from any seed byte pattern */
    return keys[seed];
}

/* Raw SQL on the file, to stage states the API would never produce. */
static void
raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        g_error("%s: %s", sql, msg);
    }
    sqlite3_close(db);
}

static gint64
raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==,
                    SQLITE_OK);
    g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
    gint64 v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void
add_user(Fixture *f, const char *id, guint8 seed)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_store_user_add(f->store, id, key(seed), &error));
    g_assert_no_error(error);
}

static CrpStoreApp
app_template(const char *name)
{
    return (CrpStoreApp){
        .name = (char *)name,
        .title = (char *)"Text editor",
        .description = (char *)"Edits text.",
        .kernel = (char *)"/srv/crp/images/vmlinuz",
        .initrd = (char *)"/srv/crp/images/initrd.img",
        .qemu_options = (char *)"-machine q35",
        .vcpus = 2,
        .memory_mib = 1024,
        .audio = TRUE,
        .max_instances = 3,
        .clipboard = TRUE,
    };
}

static void
publish(Fixture *f, const char *name, guint vcpus, guint32 memory_mib)
{
    g_autoptr(GError) error = NULL;
    CrpStoreApp app = app_template(name);
    app.vcpus = vcpus;
    app.memory_mib = memory_mib;
    g_assert_true(crp_store_app_publish(f->store, &app, &error));
    g_assert_no_error(error);
}

static CrpStoreLogin
login(Fixture *f, const guint8 *public_key, char **user)
{
    g_autoptr(GError) error = NULL;
    CrpStoreLogin result = 99;
    g_assert_true(crp_store_user_get_by_key(f->store, public_key, &result,
                                            user, &error));
    g_assert_no_error(error);
    return result;
}

static CrpStoreSession *
launch(Fixture *f, const char *user, const char *app)
{
    g_autoptr(GError) error = NULL;
    CrpStoreSession init = { .user = (char *)user, .app = (char *)app };
    CrpStoreSession *s = crp_store_session_create(f->store, &init, &error);
    g_assert_no_error(error);
    g_assert_nonnull(s);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Opening and migrations */

static void
test_open_new(Fixture *f, gconstpointer data)
{
    g_assert_cmpuint(crp_store_latest_schema_version(), >=, 2);
    g_assert_cmpuint(crp_store_get_schema_version(f->store), ==,
                     crp_store_latest_schema_version());
    g_assert_cmpint(raw_int(f->path, "SELECT version FROM schema_version"),
                    ==, crp_store_latest_schema_version());
    /* WAL is a property of the file: a fresh connection sees it. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
                                       NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
    g_assert_cmpstr((const char *)sqlite3_column_text(st, 0), ==, "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    g_autoptr(GPtrArray) users = crp_store_user_list(f->store, NULL);
    g_assert_nonnull(users);
    g_assert_cmpuint(users->len, ==, 0);
}

static void
test_reopen_keeps_data(Fixture *f, gconstpointer data)
{
    add_user(f, "alice", 1);
    publish(f, "editor", 2, 1024);
    g_assert_true(crp_store_subscribe(f->store, "alice", "editor", NULL));
    g_autoptr(CrpStoreSession) s = launch(f, "alice", "editor");

    reopen(f);
    g_assert_cmpuint(crp_store_get_schema_version(f->store), ==,
                     crp_store_latest_schema_version());
    g_autofree char *who = NULL;
    g_assert_cmpint(login(f, key(1), &who), ==, CRP_STORE_LOGIN_OK);
    g_assert_cmpstr(who, ==, "alice");
    gboolean subscribed = FALSE;
    g_assert_true(crp_store_is_subscribed(f->store, "alice", "editor",
                                          &subscribed, NULL));
    g_assert_true(subscribed);
    g_autoptr(CrpStoreSession) again =
        crp_store_session_get(f->store, s->id, NULL);
    g_assert_nonnull(again);
    g_assert_cmpstr(again->app, ==, "editor");
    g_assert_cmpint(again->state, ==, CRP_STORE_SESSION_STARTING);
}

/* SQL that takes migrations 5, 4 and 3 out of a current file. */
#define UNDO_MIGRATION_5 "ALTER TABLE apps DROP COLUMN files;"
#define UNDO_MIGRATION_4                                                    \
    UNDO_MIGRATION_5 " ALTER TABLE apps DROP COLUMN clipboard;"
#define UNDO_MIGRATION_3                                                    \
    UNDO_MIGRATION_4                                                        \
    " ALTER TABLE users DROP COLUMN max_sessions;"                          \
    " ALTER TABLE users DROP COLUMN max_vcpus;"                             \
    " ALTER TABLE users DROP COLUMN max_memory_mib;"                        \
    " ALTER TABLE apps DROP COLUMN accel;"

/* A version 2 store with users, apps and sessions gains the limits (all
 * at the broker's default) and the app accelerator (none). */
static void
test_migrate_2_to_3(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    publish(f, "editor", 2, 1024);
    g_autoptr(CrpStoreSession) s = launch(f, "alice", "editor");
    crp_store_free(f->store);
    f->store = NULL;
    raw_exec(f->path, UNDO_MIGRATION_3 " UPDATE schema_version SET version = 2");

    f->store = open_store(f);
    g_assert_cmpuint(crp_store_get_schema_version(f->store), ==,
                     crp_store_latest_schema_version());
    g_autoptr(CrpStoreUser) alice = crp_store_user_get(f->store, "alice",
                                                       &error);
    g_assert_no_error(error);
    g_assert_cmpint(alice->limits.sessions, ==, CRP_STORE_LIMIT_DEFAULT);
    g_assert_cmpint(alice->limits.vcpus, ==, CRP_STORE_LIMIT_DEFAULT);
    g_assert_cmpint(alice->limits.memory_mib, ==, CRP_STORE_LIMIT_DEFAULT);
    g_autoptr(CrpStoreApp) app = crp_store_app_get(f->store, "editor",
                                                   &error);
    g_assert_null(app->accel);
    CrpStorePoolTotals t;
    g_assert_true(crp_store_user_totals(f->store, "alice", &t, &error));
    g_assert_cmpuint(t.sessions, ==, 1);
}

/* A version 3 store's apps keep giving their VMs the clipboard, the
 * default of apps published from then on. */
static void
test_migrate_3_to_4(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    publish(f, "editor", 2, 1024);
    crp_store_free(f->store);
    f->store = NULL;
    raw_exec(f->path, UNDO_MIGRATION_4 " UPDATE schema_version SET version = 3");
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM pragma_table_info"
                                     "('apps') WHERE name = 'clipboard'"), ==, 0);

    f->store = open_store(f);
    g_assert_cmpuint(crp_store_get_schema_version(f->store), ==,
                     crp_store_latest_schema_version());
    g_autoptr(CrpStoreApp) app = crp_store_app_get(f->store, "editor",
                                                   &error);
    g_assert_no_error(error);
    g_assert_true(app->clipboard);
    /* In the file itself, not only as read. */
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM apps"
                                     " WHERE clipboard = 1"), ==, 1);
}

/* A version 4 store's apps keep sharing My files with their VMs, the
 * default of apps published from then on; the switch is kept. */
static void
test_migrate_4_to_5(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    publish(f, "editor", 2, 1024);
    crp_store_free(f->store);
    f->store = NULL;
    raw_exec(f->path, UNDO_MIGRATION_5 " UPDATE schema_version SET version = 4");
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM pragma_table_info"
                                     "('apps') WHERE name = 'files'"), ==, 0);

    f->store = open_store(f);
    g_assert_cmpuint(crp_store_get_schema_version(f->store), ==, 5);
    g_autoptr(CrpStoreApp) app = crp_store_app_get(f->store, "editor",
                                                   &error);
    g_assert_no_error(error);
    g_assert_true(app->files);
    CrpStoreApp off = { .files = FALSE };
    g_assert_true(crp_store_app_update(f->store, "editor", &off,
                                       CRP_STORE_APP_FILES, &error));
    g_assert_no_error(error);
    g_autoptr(CrpStoreApp) again = crp_store_app_get(f->store, "editor",
                                                     &error);
    g_assert_false(again->files);
    g_assert_true(again->clipboard);
}

static void
test_migrate_older(Fixture *f, gconstpointer data)
{
    add_user(f, "alice", 1);
    publish(f, "editor", 2, 1024);
    crp_store_free(f->store);
    f->store = NULL;
    /* Make the file look like schema version 1: without migrations 2, 3. */
    raw_exec(f->path, UNDO_MIGRATION_3
             "DROP TABLE overlays; DROP INDEX usage_started;"
             " DROP INDEX usage_user; UPDATE schema_version SET version = 1");
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM sqlite_master"
                                     " WHERE name = 'overlays'"), ==, 0);

    f->store = open_store(f);
    g_assert_cmpuint(crp_store_get_schema_version(f->store), ==,
                     crp_store_latest_schema_version());
    g_assert_cmpint(raw_int(f->path, "SELECT version FROM schema_version"),
                    ==, crp_store_latest_schema_version());
    g_assert_cmpint(login(f, key(1), NULL), ==, CRP_STORE_LOGIN_OK);
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_store_overlay_set(f->store, "/var/o/alice-editor.qcow2",
                                        "alice", "editor", 4096, &error));
    g_assert_no_error(error);
}

static void
test_newer_refused(Fixture *f, gconstpointer data)
{
    crp_store_free(f->store);
    f->store = NULL;
    raw_exec(f->path, "UPDATE schema_version SET version = 999");

    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStore) store = crp_store_open(f->path, &error);
    g_assert_null(store);
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_VERSION);
    g_assert_nonnull(strstr(error->message, "999"));
    g_assert_nonnull(strstr(error->message, "newer"));
    /* Refused without being touched. */
    g_assert_cmpint(raw_int(f->path, "SELECT version FROM schema_version"),
                    ==, 999);
    raw_exec(f->path, "UPDATE schema_version SET version = 5");
    f->store = open_store(f);
}

static void
test_corrupt_file(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *junk = g_build_filename(f->dir, "junk.db", NULL);
    guint8 bytes[8192];
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    for (gsize i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (guint8)g_rand_int(rand);
    }
    g_assert_true(g_file_set_contents(junk, (const char *)bytes,
                                      sizeof(bytes), NULL));
    g_autoptr(CrpStore) store = crp_store_open(junk, &error);
    g_assert_null(store);
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT);
    g_assert_nonnull(strstr(error->message, junk));
    g_clear_error(&error);

    /* An SQLite database of something else is not migrated into ours. */
    g_autofree char *other = g_build_filename(f->dir, "other.db", NULL);
    raw_exec(other, "CREATE TABLE notes (body TEXT)");
    store = crp_store_open(other, &error);
    g_assert_null(store);
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT);
    g_assert_cmpint(raw_int(other, "SELECT count(*) FROM sqlite_master"),
                    ==, 1);
    g_clear_error(&error);

    /* A CRP store whose header was overwritten. */
    crp_store_free(f->store);
    f->store = NULL;
    g_autofree char *contents = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(f->path, &contents, &len, NULL));
    g_assert_cmpuint(len, >, 100);
    memset(contents, 0x5a, 100);
    g_assert_true(g_file_set_contents(f->path, contents, len, NULL));
    store = crp_store_open(f->path, &error);
    g_assert_null(store);
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CORRUPT);
    g_clear_error(&error);

    g_autofree char *missing = g_build_filename(f->dir, "no", "such.db",
                                                NULL);
    store = crp_store_open(missing, &error);
    g_assert_null(store);
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_IO);
    g_clear_error(&error);

    store = crp_store_open("postgresql://db/crp", &error);
    g_assert_null(store);
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_SUPPORTED);
    g_clear_error(&error);

    g_assert_cmpint(g_unlink(f->path), ==, 0);
    g_autofree char *prefixed = g_strconcat("sqlite:", f->path, NULL);
    f->store = crp_store_open(prefixed, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->store);
}

/* ------------------------------------------------------------------------ */
/* Users */

static void
test_users(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    f->now += 10;
    add_user(f, "bob@example.org", 2);

    g_assert_false(crp_store_user_add(f->store, "alice", key(3), &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_false(crp_store_user_add(f->store, "carol", key(1), &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);
    /* The failed add left no half-made user behind. */
    g_assert_null(crp_store_user_get(f->store, "carol", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);

    static const char *const bad_ids[] = {
        "", "-alice", "al ice", "alice/x", "ålice",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad_ids); i++) {
        g_assert_false(crp_store_user_add(f->store, bad_ids[i], key(9),
                                          &error));
        g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
        g_clear_error(&error);
    }
    g_assert_true(crp_store_user_valid_id(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));

    g_autofree char *who = NULL;
    g_assert_cmpint(login(f, key(1), &who), ==, CRP_STORE_LOGIN_OK);
    g_assert_cmpstr(who, ==, "alice");
    g_clear_pointer(&who, g_free);
    g_assert_cmpint(login(f, key(7), &who), ==, CRP_STORE_LOGIN_UNKNOWN_KEY);
    g_assert_null(who);

    g_autoptr(GPtrArray) users = crp_store_user_list(f->store, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(users->len, ==, 2);
    CrpStoreUser *a = users->pdata[0], *b = users->pdata[1];
    g_assert_cmpstr(a->id, ==, "alice");
    g_assert_cmpint(a->created, ==, 1700000000);
    g_assert_cmpint(a->revoked_at, ==, 0);
    g_assert_cmpint(a->key_state, ==, CRP_STORE_KEY_ACTIVE);
    g_assert_cmpmem(a->public_key, CRP_STORE_KEY_LEN, key(1),
                    CRP_STORE_KEY_LEN);
    g_assert_cmpstr(b->id, ==, "bob@example.org");
    g_assert_cmpint(b->created, ==, 1700000010);
}

static void
test_user_rotate_revoke(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);

    f->now += 100;
    g_assert_true(crp_store_user_rotate(f->store, "alice", key(11), &error));
    g_assert_no_error(error);
    g_assert_cmpint(login(f, key(1), NULL), ==, CRP_STORE_LOGIN_KEY_REVOKED);
    g_assert_cmpint(login(f, key(11), NULL), ==, CRP_STORE_LOGIN_OK);
    g_autoptr(CrpStoreUser) alice = crp_store_user_get(f->store, "alice",
                                                       &error);
    g_assert_no_error(error);
    g_assert_cmpmem(alice->public_key, CRP_STORE_KEY_LEN, key(11),
                    CRP_STORE_KEY_LEN);
    g_assert_cmpint(alice->key_state, ==, CRP_STORE_KEY_ACTIVE);
    g_assert_cmpint(alice->key_created, ==, 1700000100);
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM user_keys WHERE"
                                     " state = 'rotated' AND retired_at ="
                                     " 1700000100"), ==, 1);

    /* Rotating to a key that was ever registered fails and changes nothing. */
    g_assert_false(crp_store_user_rotate(f->store, "alice", key(2), &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_false(crp_store_user_rotate(f->store, "alice", key(1), &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_cmpint(login(f, key(11), NULL), ==, CRP_STORE_LOGIN_OK);
    g_assert_cmpint(login(f, key(2), NULL), ==, CRP_STORE_LOGIN_OK);

    g_assert_false(crp_store_user_rotate(f->store, "nobody", key(12),
                                         &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);

    f->now += 100;
    g_assert_true(crp_store_user_revoke(f->store, "alice", &error));
    g_assert_no_error(error);
    g_autofree char *who = NULL;
    g_assert_cmpint(login(f, key(11), &who), ==, CRP_STORE_LOGIN_KEY_REVOKED);
    g_assert_cmpstr(who, ==, "alice");
    g_assert_cmpint(login(f, key(2), NULL), ==, CRP_STORE_LOGIN_OK);

    f->now += 100;
    g_assert_true(crp_store_user_revoke(f->store, "alice", &error));
    g_clear_pointer(&alice, crp_store_user_free);
    alice = crp_store_user_get(f->store, "alice", &error);
    g_assert_cmpint(alice->revoked_at, ==, 1700000200);
    g_assert_cmpint(alice->key_state, ==, CRP_STORE_KEY_REVOKED);

    g_assert_false(crp_store_user_rotate(f->store, "alice", key(12), &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_assert_cmpint(login(f, key(12), NULL), ==, CRP_STORE_LOGIN_UNKNOWN_KEY);
    g_assert_false(crp_store_user_add(f->store, "alice", key(13), &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_false(crp_store_user_revoke(f->store, "nobody", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
}

/* ------------------------------------------------------------------------ */
/* Apps */

static void
test_apps(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    CrpStoreApp app = app_template("editor");
    g_assert_true(crp_store_app_publish(f->store, &app, &error));
    g_assert_no_error(error);

    g_autoptr(CrpStoreApp) got = crp_store_app_get(f->store, "editor",
                                                   &error);
    g_assert_no_error(error);
    g_assert_cmpstr(got->title, ==, "Text editor");
    g_assert_cmpstr(got->description, ==, "Edits text.");
    g_assert_cmpstr(got->kernel, ==, "/srv/crp/images/vmlinuz");
    g_assert_cmpstr(got->initrd, ==, "/srv/crp/images/initrd.img");
    g_assert_null(got->disk);
    g_assert_cmpstr(got->qemu_options, ==, "-machine q35");
    g_assert_cmpuint(got->vcpus, ==, 2);
    g_assert_cmpuint(got->memory_mib, ==, 1024);
    g_assert_true(got->audio);
    g_assert_cmpuint(got->max_instances, ==, 3);
    g_assert_false(got->persistent_storage);
    g_assert_cmpint(got->created, ==, 1700000000);
    g_assert_cmpint(got->unpublished_at, ==, 0);

    g_assert_false(crp_store_app_publish(f->store, &app, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);

    static const char *const bad_names[] = {
        "", "Editor", "my_app", "a b", "-lead", "é",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad_names); i++) {
        CrpStoreApp bad = app_template(bad_names[i]);
        g_assert_false(crp_store_app_publish(f->store, &bad, &error));
        g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
        g_clear_error(&error);
    }
    CrpStoreApp bad = app_template("ok-name-2");
    bad.title = (char *)"";
    g_assert_false(crp_store_app_publish(f->store, &bad, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    bad = app_template("ok-name-2");
    bad.kernel = NULL;          /* an initrd but no kernel, and no disk */
    g_assert_false(crp_store_app_publish(f->store, &bad, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    bad = app_template("ok-name-2");
    bad.vcpus = 0;
    g_assert_false(crp_store_app_publish(f->store, &bad, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_autoptr(GPtrArray) all = crp_store_app_list(f->store, TRUE, &error);
    g_assert_cmpuint(all->len, ==, 1);

    /* Update: only the named fields change. */
    CrpStoreApp values = { .title = (char *)"Editor", .vcpus = 4,
                           .description = (char *)"ignored" };
    g_assert_true(crp_store_app_update(f->store, "editor", &values,
                                       CRP_STORE_APP_TITLE |
                                       CRP_STORE_APP_VCPUS, &error));
    g_assert_no_error(error);
    g_clear_pointer(&got, crp_store_app_free);
    got = crp_store_app_get(f->store, "editor", &error);
    g_assert_cmpstr(got->title, ==, "Editor");
    g_assert_cmpuint(got->vcpus, ==, 4);
    g_assert_cmpstr(got->description, ==, "Edits text.");
    g_assert_cmpuint(got->memory_mib, ==, 1024);

    /* An update whose result is invalid is refused as a whole. */
    CrpStoreApp clear = { .title = (char *)"New", .kernel = NULL };
    g_assert_false(crp_store_app_update(f->store, "editor", &clear,
                                        CRP_STORE_APP_TITLE |
                                        CRP_STORE_APP_KERNEL, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_clear_pointer(&got, crp_store_app_free);
    got = crp_store_app_get(f->store, "editor", &error);
    g_assert_cmpstr(got->title, ==, "Editor");
    g_assert_nonnull(got->kernel);

    /* Switching to a disk image: set the disk, clear kernel and initrd. */
    CrpStoreApp disk = { .disk = (char *)"/srv/crp/images/editor.qcow2" };
    g_assert_true(crp_store_app_update(f->store, "editor", &disk,
                                       CRP_STORE_APP_KERNEL |
                                       CRP_STORE_APP_INITRD |
                                       CRP_STORE_APP_DISK, &error));
    g_assert_no_error(error);
    g_clear_pointer(&got, crp_store_app_free);
    got = crp_store_app_get(f->store, "editor", &error);
    g_assert_null(got->kernel);
    g_assert_null(got->initrd);
    g_assert_cmpstr(got->disk, ==, "/srv/crp/images/editor.qcow2");

    g_assert_false(crp_store_app_update(f->store, "nothing", &values,
                                        CRP_STORE_APP_TITLE, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
}

static void
test_unpublish(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    publish(f, "browser", 2, 2048);
    publish(f, "editor", 1, 512);
    g_autoptr(CrpStoreSession) s = launch(f, "alice", "editor");
    f->now += 60;
    g_assert_true(crp_store_session_close(f->store, s->id, 0, &error));

    f->now += 10;
    g_assert_true(crp_store_app_unpublish(f->store, "editor", &error));
    g_assert_no_error(error);
    f->now += 10;
    g_assert_true(crp_store_app_unpublish(f->store, "editor", &error));

    g_autoptr(GPtrArray) published = crp_store_app_list(f->store, FALSE,
                                                        &error);
    g_assert_cmpuint(published->len, ==, 1);
    g_assert_cmpstr(((CrpStoreApp *)published->pdata[0])->name, ==,
                    "browser");
    g_autoptr(GPtrArray) all = crp_store_app_list(f->store, TRUE, &error);
    g_assert_cmpuint(all->len, ==, 2);
    g_assert_cmpstr(((CrpStoreApp *)all->pdata[1])->name, ==, "editor");
    g_autoptr(CrpStoreApp) got = crp_store_app_get(f->store, "editor",
                                                   &error);
    g_assert_cmpint(got->unpublished_at, ==, 1700000070);

    /* History stays: the session and its usage still name the app. */
    g_autoptr(CrpStoreUsage) u = crp_store_usage_get(f->store, s->id, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(u->app, ==, "editor");
    CrpStoreUsageQuery q = { .app = "editor" };
    g_autoptr(GPtrArray) rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(((CrpStoreUsageRow *)rows->pdata[0])->duration_s, ==,
                     60);

    /* No new sessions, no new subscriptions; the name is still taken. */
    CrpStoreSession init = { .user = (char *)"alice", .app = (char *)"editor" };
    g_assert_null(crp_store_session_create(f->store, &init, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(crp_store_subscribe(f->store, "alice", "editor", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    CrpStoreApp again = app_template("editor");
    g_assert_false(crp_store_app_publish(f->store, &again, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);

    g_assert_true(crp_store_app_republish(f->store, "editor", &error));
    g_clear_pointer(&published, g_ptr_array_unref);
    published = crp_store_app_list(f->store, FALSE, &error);
    g_assert_cmpuint(published->len, ==, 2);
    g_assert_false(crp_store_app_unpublish(f->store, "nothing", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
}

/* ------------------------------------------------------------------------ */
/* Subscriptions */

static void
test_subscriptions(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    publish(f, "editor", 1, 512);
    publish(f, "browser", 2, 2048);

    g_assert_true(crp_store_subscribe(f->store, "alice", "editor", &error));
    g_assert_true(crp_store_subscribe(f->store, "alice", "editor", &error));
    g_assert_true(crp_store_subscribe(f->store, "alice", "browser", &error));
    g_assert_no_error(error);
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM subscriptions"),
                    ==, 2);

    g_autoptr(GPtrArray) mine = crp_store_subscription_list(f->store, "alice",
                                                            &error);
    g_assert_cmpuint(mine->len, ==, 2);
    CrpStoreApp *first = mine->pdata[0];
    g_assert_cmpstr(first->name, ==, "browser");
    g_assert_cmpuint(first->memory_mib, ==, 2048);
    g_autoptr(GPtrArray) bobs = crp_store_subscription_list(f->store, "bob",
                                                            &error);
    g_assert_cmpuint(bobs->len, ==, 0);

    gboolean sub = TRUE;
    g_assert_true(crp_store_is_subscribed(f->store, "bob", "editor", &sub,
                                          &error));
    g_assert_false(sub);
    g_assert_true(crp_store_is_subscribed(f->store, "alice", "editor", &sub,
                                          &error));
    g_assert_true(sub);

    g_assert_true(crp_store_unsubscribe(f->store, "alice", "editor", &error));
    g_assert_true(crp_store_unsubscribe(f->store, "alice", "editor", &error));
    g_assert_no_error(error);
    g_assert_true(crp_store_is_subscribed(f->store, "alice", "editor", &sub,
                                          &error));
    g_assert_false(sub);

    /* Unpublished apps drop out of "my apps" but the row stays. */
    g_assert_true(crp_store_app_unpublish(f->store, "browser", &error));
    g_clear_pointer(&mine, g_ptr_array_unref);
    mine = crp_store_subscription_list(f->store, "alice", &error);
    g_assert_cmpuint(mine->len, ==, 0);
    g_assert_true(crp_store_is_subscribed(f->store, "alice", "browser", &sub,
                                          &error));
    g_assert_true(sub);

    g_assert_false(crp_store_subscribe(f->store, "nobody", "editor", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(crp_store_subscribe(f->store, "alice", "nothing", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_true(crp_store_user_revoke(f->store, "bob", &error));
    g_assert_false(crp_store_subscribe(f->store, "bob", "editor", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
}

/* ------------------------------------------------------------------------ */
/* Sessions */

static void
test_session_lifecycle(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    publish(f, "editor", 2, 1024);
    publish(f, "browser", 4, 4096);

    g_autoptr(CrpStoreSession) s = launch(f, "alice", "editor");
    g_assert_cmpuint(strlen(s->id), ==, 32);
    g_assert_cmpint(s->state, ==, CRP_STORE_SESSION_STARTING);
    g_assert_cmpuint(s->vcpus, ==, 2);
    g_assert_cmpuint(s->memory_mib, ==, 1024);
    g_assert_cmpint(s->started, ==, 1700000000);
    g_assert_cmpint(s->ended, ==, 0);
    g_assert_cmpint(s->qemu_pid, ==, 0);
    g_assert_null(s->qmp_socket);

    g_autoptr(CrpStoreSession) other = launch(f, "alice", "editor");
    g_assert_cmpstr(other->id, !=, s->id);

    CrpStoreSession init = {
        .id = (char *)"bob-1", .user = (char *)"bob",
        .app = (char *)"browser", .vcpus = 1,
        .overlay = (char *)"/var/o/bob-browser.qcow2",
    };
    g_autoptr(CrpStoreSession) b = crp_store_session_create(f->store, &init,
                                                            &error);
    g_assert_no_error(error);
    g_assert_cmpuint(b->vcpus, ==, 1);
    g_assert_cmpuint(b->memory_mib, ==, 4096);
    g_assert_cmpstr(b->overlay, ==, "/var/o/bob-browser.qcow2");
    g_assert_null(crp_store_session_create(f->store, &init, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);
    init.id = (char *)"bad id";
    g_assert_null(crp_store_session_create(f->store, &init, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);

    /* Pool accounting over live sessions. */
    CrpStorePoolTotals t = { 0 };
    g_assert_true(crp_store_pool_totals(f->store, &t, &error));
    g_assert_cmpuint(t.sessions, ==, 3);
    g_assert_cmpuint(t.vcpus, ==, 2 + 2 + 1);
    g_assert_cmpuint(t.memory_mib, ==, 1024 + 1024 + 4096);
    guint n = 99;
    g_assert_true(crp_store_app_live_instances(f->store, "editor", &n,
                                               &error));
    g_assert_cmpuint(n, ==, 2);
    g_assert_true(crp_store_app_live_instances(f->store, "nothing", &n,
                                               &error));
    g_assert_cmpuint(n, ==, 0);

    g_assert_true(crp_store_session_set_paths(f->store, s->id, "/run/crp/s1",
                                              "/run/crp/s1/qmp",
                                              "/run/crp/s1/display", NULL,
                                              &error));
    g_assert_true(crp_store_session_set_pid(f->store, s->id, 4242, &error));
    g_assert_true(crp_store_session_set_state(f->store, s->id,
                                              CRP_STORE_SESSION_RUNNING,
                                              &error));
    g_assert_true(crp_store_session_set_state(f->store, s->id,
                                              CRP_STORE_SESSION_RUNNING,
                                              &error));
    g_assert_no_error(error);
    g_assert_false(crp_store_session_set_state(f->store, s->id,
                                               CRP_STORE_SESSION_STARTING,
                                               &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_assert_false(crp_store_session_set_pid(f->store, s->id, 0, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_assert_true(crp_store_session_update_counters(f->store, s->id, 1000,
                                                    5000000, 3600, &error));
    g_assert_true(crp_store_session_update_counters(f->store, s->id, 2000,
                                                    9000000, 7200, &error));
    g_assert_no_error(error);

    g_autoptr(CrpStoreSession) got = crp_store_session_get(f->store, s->id,
                                                           &error);
    g_assert_cmpint(got->state, ==, CRP_STORE_SESSION_RUNNING);
    g_assert_cmpstr(got->runtime_dir, ==, "/run/crp/s1");
    g_assert_cmpstr(got->qmp_socket, ==, "/run/crp/s1/qmp");
    g_assert_cmpstr(got->display_socket, ==, "/run/crp/s1/display");
    g_assert_cmpint(got->qemu_pid, ==, 4242);
    g_assert_cmpuint(got->bytes_in, ==, 2000);
    g_assert_cmpuint(got->bytes_out, ==, 9000000);
    g_assert_cmpuint(got->frames, ==, 7200);

    g_autoptr(GPtrArray) live = crp_store_session_list(
        f->store, "alice", CRP_STORE_SESSIONS_LIVE, &error);
    g_assert_cmpuint(live->len, ==, 2);
    g_autoptr(GPtrArray) running = crp_store_session_list(
        f->store, NULL, CRP_STORE_SESSION_MASK(CRP_STORE_SESSION_RUNNING),
        &error);
    g_assert_cmpuint(running->len, ==, 1);
    g_assert_cmpstr(((CrpStoreSession *)running->pdata[0])->id, ==, s->id);

    /* Close 90 s later: the usage row comes from the stored values. */
    g_assert_true(crp_store_session_set_state(f->store, s->id,
                                              CRP_STORE_SESSION_CLOSING,
                                              &error));
    f->now += 90;
    g_assert_true(crp_store_session_close(f->store, s->id, 0, &error));
    g_assert_no_error(error);
    g_clear_pointer(&got, crp_store_session_free);
    got = crp_store_session_get(f->store, s->id, &error);
    g_assert_cmpint(got->state, ==, CRP_STORE_SESSION_CLOSED);
    g_assert_cmpint(got->ended, ==, 1700000090);
    g_autoptr(CrpStoreUsage) u = crp_store_usage_get(f->store, s->id, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(u->user, ==, "alice");
    g_assert_cmpstr(u->app, ==, "editor");
    g_assert_cmpint(u->started, ==, 1700000000);
    g_assert_cmpint(u->ended, ==, 1700000090);
    g_assert_cmpuint(u->duration_s, ==, 90);
    g_assert_cmpuint(u->vcpu_seconds, ==, 180);
    g_assert_cmpuint(u->mib_seconds, ==, 92160);
    g_assert_cmpuint(u->bytes_in, ==, 2000);
    g_assert_cmpuint(u->bytes_out, ==, 9000000);
    g_assert_cmpuint(u->frames, ==, 7200);

    /* Closing again (a restart) changes nothing, counts nothing twice. */
    f->now += 1000;
    g_assert_true(crp_store_session_close(f->store, s->id, 0, &error));
    g_assert_true(crp_store_session_set_state(f->store, s->id,
                                              CRP_STORE_SESSION_CLOSED,
                                              &error));
    g_assert_no_error(error);
    g_clear_pointer(&u, crp_store_usage_free);
    u = crp_store_usage_get(f->store, s->id, &error);
    g_assert_cmpuint(u->duration_s, ==, 90);
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM usage"), ==, 1);

    g_assert_false(crp_store_session_update_counters(f->store, s->id, 1, 1, 1,
                                                     &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_assert_false(crp_store_session_set_state(f->store, s->id,
                                               CRP_STORE_SESSION_RUNNING,
                                               &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);

    g_assert_true(crp_store_pool_totals(f->store, &t, &error));
    g_assert_cmpuint(t.sessions, ==, 2);
    g_assert_cmpuint(t.vcpus, ==, 3);
    g_assert_cmpuint(t.memory_mib, ==, 1024 + 4096);
    g_assert_true(crp_store_app_live_instances(f->store, "editor", &n,
                                               &error));
    g_assert_cmpuint(n, ==, 1);

    g_clear_pointer(&live, g_ptr_array_unref);
    live = crp_store_session_list(f->store, "alice", CRP_STORE_SESSIONS_LIVE,
                                  &error);
    g_assert_cmpuint(live->len, ==, 1);
    g_assert_cmpstr(((CrpStoreSession *)live->pdata[0])->id, ==, other->id);
    g_autoptr(GPtrArray) everything = crp_store_session_list(
        f->store, NULL, CRP_STORE_SESSIONS_ALL, &error);
    g_assert_cmpuint(everything->len, ==, 3);

    /* An end time before the start (clock jump) is clamped. */
    g_assert_true(crp_store_session_close(f->store, "bob-1", 1600000000,
                                          &error));
    g_clear_pointer(&u, crp_store_usage_free);
    u = crp_store_usage_get(f->store, "bob-1", &error);
    g_assert_cmpuint(u->duration_s, ==, 0);
    g_assert_cmpint(u->ended, ==, u->started);

    g_assert_false(crp_store_session_close(f->store, "nothing", 0, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);

    /* A revoked user cannot start a session. */
    g_assert_true(crp_store_user_revoke(f->store, "bob", &error));
    init.id = NULL;
    g_assert_null(crp_store_session_create(f->store, &init, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
}

/* ------------------------------------------------------------------------ */
/* Usage */

static void
add_usage(Fixture *f, const char *id, const char *user, const char *app,
          gint64 started, guint64 duration, guint vcpus, guint mib,
          guint64 bytes_in, guint64 bytes_out, guint64 frames)
{
    g_autoptr(GError) error = NULL;
    CrpStoreUsage u = {
        .session_id = (char *)id, .user = (char *)user, .app = (char *)app,
        .started = started, .ended = started + (gint64)duration,
        .duration_s = duration, .vcpu_seconds = duration * vcpus,
        .mib_seconds = duration * mib, .bytes_in = bytes_in,
        .bytes_out = bytes_out, .frames = frames,
    };
    gboolean inserted = FALSE;
    g_assert_true(crp_store_usage_add(f->store, &u, &inserted, &error));
    g_assert_no_error(error);
    g_assert_true(inserted);
}

static void
test_usage_idempotent(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    publish(f, "editor", 2, 1024);
    add_usage(f, "s1", "alice", "editor", 1000, 100, 2, 1024, 1, 2, 3);

    CrpStoreUsage dup = {
        .session_id = (char *)"s1", .user = (char *)"alice",
        .app = (char *)"editor", .started = 1000, .ended = 5000,
        .duration_s = 4000,
    };
    gboolean inserted = TRUE;
    g_assert_true(crp_store_usage_add(f->store, &dup, &inserted, &error));
    g_assert_no_error(error);
    g_assert_false(inserted);
    g_autoptr(CrpStoreUsage) u = crp_store_usage_get(f->store, "s1", &error);
    g_assert_cmpuint(u->duration_s, ==, 100);
    g_assert_cmpint(u->ended, ==, 1100);
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM usage"), ==, 1);

    dup.session_id = (char *)"s2";
    dup.ended = 999;
    g_assert_false(crp_store_usage_add(f->store, &dup, NULL, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    dup.ended = 2000;
    dup.user = (char *)"nobody";
    g_assert_false(crp_store_usage_add(f->store, &dup, NULL, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_null(crp_store_usage_get(f->store, "s2", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
}

static CrpStoreUsageRow *
row(GPtrArray *rows, guint i)
{
    g_assert_cmpuint(i, <, rows->len);
    return rows->pdata[i];
}

static void
test_usage_report(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    publish(f, "editor", 2, 1024);
    publish(f, "browser", 4, 4096);
    /* id, user, app, started, duration, vcpus, MiB, bytes in/out, frames */
    add_usage(f, "a1", "alice", "editor", 1000, 100, 2, 1024, 10, 100, 5);
    add_usage(f, "a2", "alice", "browser", 2000, 50, 4, 4096, 20, 200, 7);
    add_usage(f, "a3", "alice", "editor", 3000, 10, 2, 1024, 30, 300, 11);
    add_usage(f, "b1", "bob", "editor", 1500, 200, 1, 512, 40, 400, 13);
    add_usage(f, "b2", "bob", "browser", 2999, 7, 4, 4096, 50, 500, 17);

    CrpStoreUsageQuery q = { 0 };
    g_autoptr(GPtrArray) rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(rows->len, ==, 1);
    CrpStoreUsageRow *r = row(rows, 0);
    g_assert_null(r->user);
    g_assert_null(r->app);
    g_assert_cmpuint(r->sessions, ==, 5);
    g_assert_cmpuint(r->duration_s, ==, 100 + 50 + 10 + 200 + 7);
    g_assert_cmpuint(r->vcpu_seconds, ==, 200 + 200 + 20 + 200 + 28);
    g_assert_cmpuint(r->mib_seconds,
                     ==, 102400 + 204800 + 10240 + 102400 + 28672);
    g_assert_cmpuint(r->bytes_in, ==, 150);
    g_assert_cmpuint(r->bytes_out, ==, 1500);
    g_assert_cmpuint(r->frames, ==, 53);

    q.group_by = CRP_STORE_GROUP_USER;
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(rows->len, ==, 2);
    g_assert_cmpstr(row(rows, 0)->user, ==, "alice");
    g_assert_null(row(rows, 0)->app);
    g_assert_cmpuint(row(rows, 0)->sessions, ==, 3);
    g_assert_cmpuint(row(rows, 0)->duration_s, ==, 160);
    g_assert_cmpuint(row(rows, 0)->vcpu_seconds, ==, 420);
    g_assert_cmpstr(row(rows, 1)->user, ==, "bob");
    g_assert_cmpuint(row(rows, 1)->sessions, ==, 2);
    g_assert_cmpuint(row(rows, 1)->duration_s, ==, 207);
    g_assert_cmpuint(row(rows, 1)->frames, ==, 30);

    q.group_by = CRP_STORE_GROUP_APP;
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(rows->len, ==, 2);
    g_assert_cmpstr(row(rows, 0)->app, ==, "browser");
    g_assert_null(row(rows, 0)->user);
    g_assert_cmpuint(row(rows, 0)->sessions, ==, 2);
    g_assert_cmpuint(row(rows, 0)->mib_seconds, ==, 204800 + 28672);
    g_assert_cmpstr(row(rows, 1)->app, ==, "editor");
    g_assert_cmpuint(row(rows, 1)->sessions, ==, 3);
    g_assert_cmpuint(row(rows, 1)->bytes_out, ==, 800);

    q.group_by = CRP_STORE_GROUP_USER_APP;
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(rows->len, ==, 4);
    g_assert_cmpstr(row(rows, 1)->user, ==, "alice");
    g_assert_cmpstr(row(rows, 1)->app, ==, "editor");
    g_assert_cmpuint(row(rows, 1)->sessions, ==, 2);
    g_assert_cmpuint(row(rows, 1)->duration_s, ==, 110);

    /* Time range [2000, 3000): a2 (2000) and b2 (2999); not a3 (3000). */
    q = (CrpStoreUsageQuery){ .from = 2000, .to = 3000,
                              .group_by = CRP_STORE_GROUP_USER };
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(rows->len, ==, 2);
    g_assert_cmpstr(row(rows, 0)->user, ==, "alice");
    g_assert_cmpuint(row(rows, 0)->sessions, ==, 1);
    g_assert_cmpuint(row(rows, 0)->duration_s, ==, 50);
    g_assert_cmpstr(row(rows, 1)->user, ==, "bob");
    g_assert_cmpuint(row(rows, 1)->sessions, ==, 1);
    g_assert_cmpuint(row(rows, 1)->duration_s, ==, 7);

    /* Open-ended ranges and filters combine. */
    q = (CrpStoreUsageQuery){ .user = "alice", .from = 1001 };
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(row(rows, 0)->sessions, ==, 2);
    g_assert_cmpuint(row(rows, 0)->duration_s, ==, 60);
    q = (CrpStoreUsageQuery){ .app = "editor", .to = 1500 };
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(row(rows, 0)->sessions, ==, 1);
    g_assert_cmpuint(row(rows, 0)->vcpu_seconds, ==, 200);

    /* Nothing matches: one zero row ungrouped, no rows grouped. */
    q = (CrpStoreUsageQuery){ .user = "bob", .app = "editor", .from = 5000 };
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_cmpuint(rows->len, ==, 1);
    g_assert_cmpuint(row(rows, 0)->sessions, ==, 0);
    g_assert_cmpuint(row(rows, 0)->duration_s, ==, 0);
    q.group_by = CRP_STORE_GROUP_APP;
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = crp_store_usage_report(f->store, &q, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(rows->len, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Transactions */

static gboolean
failing_txn(CrpStore *store, gpointer data, GError **error)
{
    if (!crp_store_user_add(store, "carol", key(3), error)) {
        return FALSE;
    }
    CrpStoreApp app = app_template("viewer");
    if (!crp_store_app_publish(store, &app, error) ||
        !crp_store_subscribe(store, "carol", "viewer", error)) {
        return FALSE;
    }
    CrpStoreSession init = { .id = (char *)"t1", .user = (char *)"carol",
                             .app = (char *)"viewer" };
    CrpStoreSession *s = crp_store_session_create(store, &init, error);
    if (!s) {
        return FALSE;
    }
    crp_store_session_free(s);
    if (!crp_store_session_close(store, "t1", 0, error) ||
        !crp_store_user_revoke(store, "alice", error)) {
        return FALSE;
    }
    /* Then something fails: a duplicate user. */
    return crp_store_user_add(store, "alice", key(4), error);
}

static void
test_transaction_rollback(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);

    g_assert_false(crp_store_transaction(f->store, failing_txn, NULL,
                                         &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    g_clear_error(&error);

    g_assert_cmpint(login(f, key(3), NULL), ==, CRP_STORE_LOGIN_UNKNOWN_KEY);
    g_assert_cmpint(login(f, key(1), NULL), ==, CRP_STORE_LOGIN_OK);
    g_assert_null(crp_store_app_get(f->store, "viewer", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_null(crp_store_session_get(f->store, "t1", &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_cmpint(raw_int(f->path, "SELECT (SELECT count(*) FROM usage) +"
                                     " (SELECT count(*) FROM subscriptions)"
                                     " + (SELECT count(*) FROM users)"), ==,
                    1);

    /* The store works normally afterwards (no transaction left open). */
    add_user(f, "carol", 3);
    g_assert_cmpint(raw_int(f->path, "SELECT count(*) FROM users"), ==, 2);
}

static gboolean
inner_fails(CrpStore *store, gpointer data, GError **error)
{
    return crp_store_user_add(store, "dave", key(5), error) &&
           crp_store_user_add(store, "dave", key(6), error);
}

static gboolean
outer_handles_inner(CrpStore *store, gpointer data, GError **error)
{
    if (!crp_store_user_add(store, "carol", key(3), error)) {
        return FALSE;
    }
    g_autoptr(GError) inner = NULL;
    if (crp_store_transaction(store, inner_fails, NULL, &inner)) {
        return FALSE;
    }
    g_assert_error(inner, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS);
    return TRUE;
}

static void
test_transaction_nested(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(crp_store_transaction(f->store, outer_handles_inner, NULL,
                                        &error));
    g_assert_no_error(error);
    g_assert_cmpint(login(f, key(3), NULL), ==, CRP_STORE_LOGIN_OK);
    g_assert_cmpint(login(f, key(5), NULL), ==, CRP_STORE_LOGIN_UNKNOWN_KEY);
}

/* "Check capacity, then create": the broker's launch. */
typedef struct {
    const char *user;
    guint64 vcpu_budget;
    CrpStore *rival;            /* tries to write while we hold the lock */
    GError *rival_error;
} Launch;

static gboolean
launch_txn(CrpStore *store, gpointer data, GError **error)
{
    Launch *l = data;
    CrpStorePoolTotals t;
    if (!crp_store_pool_totals(store, &t, error)) {
        return FALSE;
    }
    g_autoptr(CrpStoreApp) app = crp_store_app_get(store, "editor", error);
    if (!app) {
        return FALSE;
    }
    if (t.vcpus + app->vcpus > l->vcpu_budget) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT,
                    "no capacity");
        return FALSE;
    }
    if (l->rival) {
        g_assert_false(crp_store_user_add(l->rival, "mallory", key(66),
                                          &l->rival_error));
    }
    CrpStoreSession init = { .user = (char *)l->user,
                             .app = (char *)"editor" };
    CrpStoreSession *s = crp_store_session_create(store, &init, error);
    crp_store_session_free(s);
    return s != NULL;
}

static void
test_transaction_capacity(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    publish(f, "editor", 2, 1024);

    /* A second handle on the same file, as a second broker would have. */
    g_autoptr(CrpStore) rival = crp_store_open(f->path, &error);
    g_assert_no_error(error);
    crp_store_set_busy_timeout(rival, 50);

    Launch first = { .user = "alice", .vcpu_budget = 3, .rival = rival };
    g_assert_true(crp_store_transaction(f->store, launch_txn, &first,
                                        &error));
    g_assert_no_error(error);
    /* While the launch held the write lock, the rival could not write. */
    g_assert_error(first.rival_error, CRP_STORE_ERROR, CRP_STORE_ERROR_BUSY);
    g_clear_error(&first.rival_error);

    /* The rival sees the committed session and finds no room left. */
    Launch second = { .user = "bob", .vcpu_budget = 3 };
    g_assert_false(crp_store_transaction(rival, launch_txn, &second, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    CrpStorePoolTotals t;
    g_assert_true(crp_store_pool_totals(rival, &t, &error));
    g_assert_cmpuint(t.sessions, ==, 1);
    g_assert_true(crp_store_user_add(rival, "mallory", key(66), &error));
    g_assert_no_error(error);
}

/* ------------------------------------------------------------------------ */
/* Per-user limits and live totals */

static void
test_user_limits(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    const CrpStoreUserLimits defaults = { 4, 8, 4096 };

    /* New users follow the defaults. */
    g_autoptr(CrpStoreUser) alice = crp_store_user_get(f->store, "alice",
                                                       &error);
    CrpStoreUserLimits eff = crp_store_user_limits_effective(alice,
                                                             &defaults);
    g_assert_cmpint(eff.sessions, ==, 4);
    g_assert_cmpint(eff.vcpus, ==, 8);
    g_assert_cmpint(eff.memory_mib, ==, 4096);

    /* Only the fields named change; 0 is "no limit", kept as such. */
    CrpStoreUserLimits v = { .sessions = 3, .vcpus = 0, .memory_mib = 99 };
    g_assert_true(crp_store_user_set_limits(f->store, "alice", &v,
                                            CRP_STORE_LIMIT_SESSIONS |
                                            CRP_STORE_LIMIT_VCPUS, &error));
    g_assert_no_error(error);
    g_clear_pointer(&alice, crp_store_user_free);
    alice = crp_store_user_get(f->store, "alice", &error);
    g_assert_cmpint(alice->limits.sessions, ==, 3);
    g_assert_cmpint(alice->limits.vcpus, ==, 0);
    g_assert_cmpint(alice->limits.memory_mib, ==, CRP_STORE_LIMIT_DEFAULT);
    eff = crp_store_user_limits_effective(alice, &defaults);
    g_assert_cmpint(eff.sessions, ==, 3);
    g_assert_cmpint(eff.vcpus, ==, 0);
    g_assert_cmpint(eff.memory_mib, ==, 4096);
    /* Listed with the users, survives a reopen; bob is untouched. */
    reopen(f);
    g_autoptr(GPtrArray) users = crp_store_user_list(f->store, &error);
    g_assert_cmpuint(users->len, ==, 2);
    CrpStoreUser *a = users->pdata[0], *b = users->pdata[1];
    g_assert_cmpint(a->limits.sessions, ==, 3);
    g_assert_cmpint(b->limits.sessions, ==, CRP_STORE_LIMIT_DEFAULT);

    /* Back to the default. */
    v.sessions = CRP_STORE_LIMIT_DEFAULT;
    g_assert_true(crp_store_user_set_limits(f->store, "alice", &v,
                                            CRP_STORE_LIMIT_SESSIONS, &error));
    g_clear_pointer(&alice, crp_store_user_free);
    alice = crp_store_user_get(f->store, "alice", &error);
    g_assert_cmpint(alice->limits.sessions, ==, CRP_STORE_LIMIT_DEFAULT);
    g_assert_cmpint(alice->limits.vcpus, ==, 0);

    /* Out of range, unknown user: refused, nothing written. */
    v.memory_mib = -2;
    g_assert_false(crp_store_user_set_limits(f->store, "alice", &v,
                                             CRP_STORE_LIMIT_MEMORY, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    v.vcpus = CRP_STORE_LIMIT_VCPUS_MAX + 1;
    g_assert_false(crp_store_user_set_limits(f->store, "alice", &v,
                                             CRP_STORE_LIMIT_VCPUS, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_assert_false(crp_store_user_set_limits(f->store, "carol", &v, 0,
                                             &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_clear_pointer(&alice, crp_store_user_free);
    alice = crp_store_user_get(f->store, "alice", &error);
    g_assert_cmpint(alice->limits.vcpus, ==, 0);
    g_assert_cmpint(alice->limits.memory_mib, ==, CRP_STORE_LIMIT_DEFAULT);
}

static void
test_user_totals(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    publish(f, "editor", 2, 1024);
    publish(f, "tiny", 1, 128);

    g_autoptr(CrpStoreSession) a1 = launch(f, "alice", "editor");
    g_autoptr(CrpStoreSession) a2 = launch(f, "alice", "tiny");
    g_autoptr(CrpStoreSession) b1 = launch(f, "bob", "editor");
    CrpStorePoolTotals t;
    g_assert_true(crp_store_user_totals(f->store, "alice", &t, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(t.sessions, ==, 2);
    g_assert_cmpuint(t.vcpus, ==, 3);
    g_assert_cmpuint(t.memory_mib, ==, 1152);
    /* Closed sessions hold nothing; CLOSING ones still do. */
    g_assert_true(crp_store_session_close(f->store, a1->id, 0, &error));
    g_assert_true(crp_store_session_set_state(f->store, a2->id,
                                              CRP_STORE_SESSION_CLOSING,
                                              &error));
    g_assert_true(crp_store_user_totals(f->store, "alice", &t, &error));
    g_assert_cmpuint(t.sessions, ==, 1);
    g_assert_cmpuint(t.vcpus, ==, 1);
    g_assert_true(crp_store_user_totals(f->store, "carol", &t, &error));
    g_assert_cmpuint(t.sessions, ==, 0);
    g_assert_cmpuint(t.memory_mib, ==, 0);
    /* The host's totals are everyone's. */
    g_assert_true(crp_store_pool_totals(f->store, &t, &error));
    g_assert_cmpuint(t.sessions, ==, 2);
    g_assert_cmpuint(t.vcpus, ==, 3);
}

static void
test_app_accel(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    CrpStoreApp app = app_template("editor");
    app.accel = (char *)"kvm:tcg,thread=single";
    g_assert_true(crp_store_app_publish(f->store, &app, &error));
    g_assert_no_error(error);
    publish(f, "plain", 1, 128);

    g_autoptr(CrpStoreApp) got = crp_store_app_get(f->store, "editor",
                                                   &error);
    g_assert_cmpstr(got->accel, ==, "kvm:tcg,thread=single");
    g_autoptr(CrpStoreApp) plain = crp_store_app_get(f->store, "plain",
                                                     &error);
    g_assert_null(plain->accel);

    /* An update sets it; an empty value goes back to the default. */
    CrpStoreApp v = { .accel = (char *)"tcg" };
    g_assert_true(crp_store_app_update(f->store, "plain", &v,
                                       CRP_STORE_APP_ACCEL, &error));
    g_assert_no_error(error);
    g_clear_pointer(&plain, crp_store_app_free);
    plain = crp_store_app_get(f->store, "plain", &error);
    g_assert_cmpstr(plain->accel, ==, "tcg");
    v.accel = (char *)"";
    g_assert_true(crp_store_app_update(f->store, "plain", &v,
                                       CRP_STORE_APP_ACCEL, &error));
    g_clear_pointer(&plain, crp_store_app_free);
    plain = crp_store_app_get(f->store, "plain", &error);
    g_assert_null(plain->accel);

    /* Nothing that could become another QEMU option gets in. */
    v.accel = (char *)"tcg -monitor stdio";
    g_assert_false(crp_store_app_update(f->store, "plain", &v,
                                        CRP_STORE_APP_ACCEL, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    app = app_template("other");
    app.accel = (char *)"KVM";
    g_assert_false(crp_store_app_publish(f->store, &app, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
}

/* The clipboard: stored as given, changed by an update of that field only. */
static void
test_app_clipboard(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    CrpStoreApp app = app_template("vault");
    app.clipboard = FALSE;
    g_assert_true(crp_store_app_publish(f->store, &app, &error));
    g_assert_no_error(error);
    publish(f, "editor", 1, 128);

    g_autoptr(CrpStoreApp) vault = crp_store_app_get(f->store, "vault",
                                                     &error);
    g_assert_false(vault->clipboard);
    g_autoptr(CrpStoreApp) editor = crp_store_app_get(f->store, "editor",
                                                      &error);
    g_assert_true(editor->clipboard);

    /* Another field's update leaves it; its own turns it off. */
    CrpStoreApp v = { .vcpus = 2, .clipboard = TRUE };
    g_assert_true(crp_store_app_update(f->store, "vault", &v,
                                       CRP_STORE_APP_VCPUS, &error));
    g_clear_pointer(&vault, crp_store_app_free);
    vault = crp_store_app_get(f->store, "vault", &error);
    g_assert_false(vault->clipboard);
    g_assert_cmpuint(vault->vcpus, ==, 2);
    v.clipboard = FALSE;
    g_assert_true(crp_store_app_update(f->store, "editor", &v,
                                       CRP_STORE_APP_CLIPBOARD, &error));
    g_assert_no_error(error);
    g_clear_pointer(&editor, crp_store_app_free);
    editor = crp_store_app_get(f->store, "editor", &error);
    g_assert_false(editor->clipboard);
    g_assert_cmpuint(editor->vcpus, ==, 1);

    /* The catalog lists it too. */
    g_autoptr(GPtrArray) apps = crp_store_app_list(f->store, FALSE, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(apps->len, ==, 2);
    for (guint i = 0; i < apps->len; i++) {
        g_assert_false(((CrpStoreApp *)g_ptr_array_index(apps, i))->clipboard);
    }
}

/* ------------------------------------------------------------------------ */
/* Overlays */

static void
test_overlays(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    add_user(f, "alice", 1);
    add_user(f, "bob", 2);
    publish(f, "editor", 2, 1024);
    publish(f, "browser", 2, 1024);

    g_assert_true(crp_store_overlay_set(f->store, "/o/alice-editor.qcow2",
                                        "alice", "editor", 1000, &error));
    g_assert_true(crp_store_overlay_set(f->store, "/o/alice-browser.qcow2",
                                        "alice", "browser", 500, &error));
    g_assert_true(crp_store_overlay_set(f->store, "/o/bob-editor.qcow2",
                                        "bob", "editor", 70, &error));
    g_assert_no_error(error);
    f->now += 5;
    g_assert_true(crp_store_overlay_set(f->store, "/o/alice-editor.qcow2",
                                        "alice", "editor", 3000, &error));
    g_assert_no_error(error);

    guint64 used = 0;
    g_assert_true(crp_store_storage_used(f->store, "alice", &used, &error));
    g_assert_cmpuint(used, ==, 3500);
    g_assert_true(crp_store_storage_used(f->store, "carol", &used, &error));
    g_assert_cmpuint(used, ==, 0);

    g_autoptr(GPtrArray) mine = crp_store_overlay_list(f->store, "alice",
                                                       &error);
    g_assert_cmpuint(mine->len, ==, 2);
    CrpStoreOverlay *o = mine->pdata[1];
    g_assert_cmpstr(o->path, ==, "/o/alice-editor.qcow2");
    g_assert_cmpuint(o->bytes, ==, 3000);
    g_assert_cmpint(o->created, ==, 1700000000);
    g_assert_cmpint(o->updated, ==, 1700000005);

    g_assert_false(crp_store_overlay_set(f->store, "/o/alice-editor.qcow2",
                                         "bob", "editor", 1, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_CONSTRAINT);
    g_clear_error(&error);
    g_assert_false(crp_store_overlay_set(f->store, "/o/x.qcow2", "nobody",
                                         "editor", 1, &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);

    g_assert_true(crp_store_overlay_remove(f->store, "/o/alice-browser.qcow2",
                                           &error));
    g_assert_false(crp_store_overlay_remove(f->store,
                                            "/o/alice-browser.qcow2",
                                            &error));
    g_assert_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_true(crp_store_storage_used(f->store, "alice", &used, &error));
    g_assert_cmpuint(used, ==, 3000);
    g_autoptr(GPtrArray) all = crp_store_overlay_list(f->store, NULL, &error);
    g_assert_cmpuint(all->len, ==, 2);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                       \
    g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/store/open/new", test_open_new);
    ADD("/store/open/reopen", test_reopen_keeps_data);
    ADD("/store/open/migrate-older", test_migrate_older);
    ADD("/store/open/migrate-2-to-3", test_migrate_2_to_3);
    ADD("/store/open/migrate-3-to-4", test_migrate_3_to_4);
    ADD("/store/open/migrate-4-to-5", test_migrate_4_to_5);
    ADD("/store/open/newer-refused", test_newer_refused);
    ADD("/store/open/corrupt", test_corrupt_file);
    ADD("/store/users/add-login", test_users);
    ADD("/store/users/rotate-revoke", test_user_rotate_revoke);
    ADD("/store/apps/crud", test_apps);
    ADD("/store/apps/unpublish", test_unpublish);
    ADD("/store/subscriptions", test_subscriptions);
    ADD("/store/sessions/lifecycle", test_session_lifecycle);
    ADD("/store/usage/idempotent", test_usage_idempotent);
    ADD("/store/usage/report", test_usage_report);
    ADD("/store/transaction/rollback", test_transaction_rollback);
    ADD("/store/transaction/nested", test_transaction_nested);
    ADD("/store/transaction/capacity", test_transaction_capacity);
    ADD("/store/users/limits", test_user_limits);
    ADD("/store/users/totals", test_user_totals);
    ADD("/store/apps/accel", test_app_accel);
    ADD("/store/apps/clipboard", test_app_clipboard);
    ADD("/store/overlays", test_overlays);
    return g_test_run();
}
