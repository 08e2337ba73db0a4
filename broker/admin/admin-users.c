/*
 * admin-users.c: crp-admin user add|list|revoke|rotate|limits.
 *
 * Issuing a key writes the user's key file (secret key, the broker's
 * public key, the broker's address; mode 0600) and stores only the public
 * key. The store change and the file are one unit: the file is written
 * inside the store transaction, so a failed write rolls the user back, and
 * a failed commit removes the file.
 */
#include "admin.h"

#include <crp/crp-keyfile.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
key_state_name(CrpStoreKeyState state)
{
    switch (state) {
    case CRP_STORE_KEY_ACTIVE:
        return "active";
    case CRP_STORE_KEY_REVOKED:
        return "revoked";
    case CRP_STORE_KEY_ROTATED:
        return "rotated";
    }
    return NULL;
}

typedef struct {
    const char *id;
    const CrpUserKey *key;
    const char *key_file;
    gboolean rotate;
    gboolean written;
} IssueArgs;

static gboolean
issue_txn(CrpStore *store, gpointer data, GError **error)
{
    IssueArgs *a = data;
    guint8 public_key[32];

    crp_user_key_public(a->key, public_key);
    if (!(a->rotate ? crp_store_user_rotate(store, a->id, public_key, error)
                    : crp_store_user_add(store, a->id, public_key, error))) {
        return FALSE;
    }
    if (!crp_user_key_save(a->key, a->key_file, FALSE, error)) {
        return FALSE;
    }
    a->written = TRUE;
    return TRUE;
}

/* Shared by add and rotate: issues a key for @id into @key_file. */
static int
issue_key(CrpAdmin *admin, const char *id, const char *key_file_arg,
          gboolean rotate)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *default_name = NULL;
    g_autofree char *key_file = NULL;
    g_autofree char *fingerprint = NULL;
    g_autoptr(CrpBrokerKey) broker_key = NULL;
    g_autoptr(CrpUserKey) key = NULL;
    const CrpBrokerConfig *config;
    CrpStore *store;
    guint8 public_key[32];
    struct stat st;

    if (!crp_store_user_valid_id(id)) {
        return crp_admin_usage_error(
            admin, "invalid user id '%s': use 1..%d of [A-Za-z0-9._@-], "
            "starting with a letter or digit", id, CRP_STORE_USER_ID_MAX);
    }
    default_name = g_strconcat(id, ".crpkey", NULL);
    key_file = g_canonicalize_filename(key_file_arg ? key_file_arg
                                                    : default_name, NULL);
    /* Checked up front so that nothing changes in the store; the write
     * itself is exclusive too. */
    if (lstat(key_file, &st) == 0) {
        return crp_admin_fail("%s exists; refusing to overwrite it (remove "
                              "it or pass --key-file)", key_file);
    }
    config = crp_admin_config(admin, &error);
    if (!config || !(broker_key = crp_admin_broker_key(admin, &error)) ||
        !(store = crp_admin_store(admin, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if (rotate) {
        g_autoptr(CrpStoreUser) user = crp_store_user_get(store, id, &error);
        if (!user) {
            return crp_admin_fail_error(g_steal_pointer(&error));
        }
        if (user->revoked_at) {
            return crp_admin_fail("user %s is revoked; a revoked user gets "
                                  "no new key", id);
        }
    }

    key = crp_user_key_generate(id, broker_key->public_key, config->address);
    IssueArgs args = { id, key, key_file, rotate, FALSE };
    if (!crp_store_transaction(store, issue_txn, &args, &error)) {
        if (args.written) {
            unlink(key_file);   /* the commit failed: the key is not valid */
        }
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    crp_user_key_public(key, public_key);
    fingerprint = crp_admin_fingerprint(public_key);
    printf("%s %s: key %s\n", rotate ? "rotated the key of user" : "added user",
           id, fingerprint);
    printf("key file: %s (mode 0600)\n", key_file);
    printf("Give it to the user over a private channel; it logs in to %s.\n",
           config->address);
    if (rotate) {
        printf("The previous key no longer logs in.\n");
    }
    return CRP_ADMIN_EXIT_OK;
}

static const char key_file_help[] =
    "Write the key file there (default: ./ID.crpkey; never overwritten)";

int
crp_admin_cmd_user_add(CrpAdmin *admin, int argc, char **argv)
{
    g_autofree char *key_file = NULL;
    const GOptionEntry entries[] = {
        { "key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file, key_file_help,
          "PATH" },
        { NULL },
    };
    int status;

    if (!crp_admin_parse(admin, entries,
                         "User ids are 1..64 of [A-Za-z0-9._@-], starting "
                         "with a letter or digit;\nthey are never reused, "
                         "even after revocation.",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    return issue_key(admin, argv[1], key_file, FALSE);
}

int
crp_admin_cmd_user_rotate(CrpAdmin *admin, int argc, char **argv)
{
    g_autofree char *key_file = NULL;
    const GOptionEntry entries[] = {
        { "key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file, key_file_help,
          "PATH" },
        { NULL },
    };
    int status;

    if (!crp_admin_parse(admin, entries,
                         "Issues a new key file; the old key is retired at "
                         "once (it no longer logs in).",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    return issue_key(admin, argv[1], key_file, TRUE);
}

/* The broker's defaults for users without limits of their own. */
static CrpStoreUserLimits
default_limits(const CrpBrokerConfig *config)
{
    return (CrpStoreUserLimits){ config->user_sessions, config->user_vcpus,
                                 (gint64)config->user_memory_mib };
}

/* A limit cell: the number, or missing (shown "-", JSON null) for none. */
static void
add_limit(CrpAdminTable *table, gint64 limit)
{
    if (limit > 0) {
        crp_admin_table_add_uint(table, (guint64)limit);
    } else {
        crp_admin_table_add_null(table);
    }
}

static gboolean
limits_are_default(const CrpStoreUserLimits *l)
{
    return l->sessions == CRP_STORE_LIMIT_DEFAULT &&
           l->vcpus == CRP_STORE_LIMIT_DEFAULT &&
           l->memory_mib == CRP_STORE_LIMIT_DEFAULT;
}

/* user list's columns. */
static const CrpAdminColumn user_columns[] = {
    { "id", "USER", CRP_ADMIN_COL_TEXT, 0 },
    { "state", "STATE", CRP_ADMIN_COL_TEXT, 0 },
    { "created", "CREATED", CRP_ADMIN_COL_TIME, 0 },
    { "revoked_at", "REVOKED", CRP_ADMIN_COL_TIME, 0 },
    { "key_state", "KEY", CRP_ADMIN_COL_TEXT, 0 },
    { "key_fingerprint", "FINGERPRINT", CRP_ADMIN_COL_TEXT, 0 },
    { "key_created", "KEY CREATED", CRP_ADMIN_COL_TIME, 0 },
    { "max_sessions", "MAX SESSIONS", CRP_ADMIN_COL_UINT, 0 },
    { "max_vcpus", "MAX VCPUS", CRP_ADMIN_COL_UINT, 0 },
    { "max_memory_mib", "MAX MIB", CRP_ADMIN_COL_UINT, 0 },
    { "limits", "LIMITS", CRP_ADMIN_COL_TEXT, 0 },
    { "public_key", "PUBLIC KEY", CRP_ADMIN_COL_TEXT,
      CRP_ADMIN_COL_MACHINE },
};

int
crp_admin_cmd_user_list(CrpAdmin *admin, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) users = NULL;
    g_autoptr(CrpAdminTable) table = NULL;
    const CrpBrokerConfig *config;
    CrpStoreUserLimits defaults;
    CrpAdminFormat format;
    CrpStore *store;
    int status;

    if (!crp_admin_parse_list(admin, NULL,
                              "MAX SESSIONS, MAX VCPUS and MAX MIB are each "
                              "user's limits in effect ('-': none);\nLIMITS "
                              "says whether they are the [user-limits] "
                              "defaults or the user's own.", &argc, &argv,
                              &format, &status)) {
        return status;
    }
    if (!(config = crp_admin_config(admin, &error)) ||
        !(store = crp_admin_store(admin, &error)) ||
        !(users = crp_store_user_list(store, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    defaults = default_limits(config);
    table = crp_admin_table_new();
    crp_admin_table_add_columns(table, user_columns,
                                G_N_ELEMENTS(user_columns));
    for (guint i = 0; i < users->len; i++) {
        CrpStoreUser *user = g_ptr_array_index(users, i);
        CrpStoreUserLimits limits =
            crp_store_user_limits_effective(user, &defaults);
        g_autofree char *fingerprint = crp_admin_fingerprint(user->public_key);
        g_autofree char *public_key =
            crp_broker_key_public_base64(user->public_key);

        crp_admin_table_add_row(table);
        crp_admin_table_add_text(table, user->id);
        crp_admin_table_add_text(table, user->revoked_at ? "revoked" : "active");
        crp_admin_table_add_time(table, user->created);
        crp_admin_table_add_time(table, user->revoked_at);
        crp_admin_table_add_text(table, key_state_name(user->key_state));
        crp_admin_table_add_text(table, fingerprint);
        crp_admin_table_add_time(table, user->key_created);
        add_limit(table, limits.sessions);
        add_limit(table, limits.vcpus);
        add_limit(table, limits.memory_mib);
        crp_admin_table_add_text(table, limits_are_default(&user->limits)
                                            ? "default" : "own");
        crp_admin_table_add_text(table, public_key);
    }
    crp_admin_table_print(table, format, stdout);
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_user_revoke(CrpAdmin *admin, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStoreUser) user = NULL;
    g_autoptr(GPtrArray) live = NULL;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, NULL,
                         "The user's key stops logging in; the id stays "
                         "taken (usage refers to it).",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    const char *id = argv[1];
    if (!(store = crp_admin_store(admin, &error)) ||
        !(user = crp_store_user_get(store, id, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if (user->revoked_at) {
        g_autofree char *when = crp_admin_format_time(user->revoked_at);
        printf("user %s was already revoked (%s)\n", id, when);
        return CRP_ADMIN_EXIT_OK;
    }
    if (!crp_store_user_revoke(store, id, &error) ||
        !(live = crp_store_session_list(store, id, CRP_STORE_SESSIONS_LIVE,
                                        &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    printf("revoked user %s\n", id);
    if (live->len > 0) {
        printf("the broker closes their %u live session(s) within seconds "
               "(see 'crp-admin session list --user %s')\n", live->len, id);
    }
    return CRP_ADMIN_EXIT_OK;
}

/* user subscribe / user unsubscribe: what the user would do in the client. */
static int
user_subscription(CrpAdmin *admin, int argc, char **argv, gboolean subscribe)
{
    g_autoptr(GError) error = NULL;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, NULL,
                         subscribe ? "Puts apps in the user's program list, "
                                     "as the user would by subscribing."
                                   : "Takes apps off the user's program list "
                                     "(running sessions go on).",
                         2, G_MAXINT, &argc, &argv, &status)) {
        return status;
    }
    if (!(store = crp_admin_store(admin, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    for (int i = 2; i < argc; i++) {
        gboolean ok = subscribe
            ? crp_store_subscribe(store, argv[1], argv[i], &error)
            : crp_store_unsubscribe(store, argv[1], argv[i], &error);
        if (!ok) {
            return crp_admin_fail_error(g_steal_pointer(&error));
        }
        printf("%s %s %s %s\n", subscribe ? "subscribed" : "unsubscribed",
               argv[1], subscribe ? "to" : "from", argv[i]);
    }
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_user_subscribe(CrpAdmin *admin, int argc, char **argv)
{
    return user_subscription(admin, argc, argv, TRUE);
}

int
crp_admin_cmd_user_unsubscribe(CrpAdmin *admin, int argc, char **argv)
{
    return user_subscription(admin, argc, argv, FALSE);
}

/* ---- user limits ---------------------------------------------------- */

/* One --sessions/--vcpus/--memory value: a number (0: no limit) or
 * "default". */
static gboolean
parse_limit(CrpAdmin *admin, const char *name, const char *text, gint64 max,
            gint64 *out, int *status)
{
    guint64 n;

    if (g_str_equal(text, "default")) {
        *out = CRP_STORE_LIMIT_DEFAULT;
        return TRUE;
    }
    if (!g_ascii_string_to_unsigned(text, 10, 0, (guint64)max, &n, NULL)) {
        *status = crp_admin_usage_error(
            admin, "--%s: '%s' is not 'default' or a whole number from 0 "
            "(no limit) to %" G_GINT64_FORMAT, name, text, max);
        return FALSE;
    }
    *out = (gint64)n;
    return TRUE;
}

/* "3", "none", with " (default)" when it follows the broker's. */
static char *
describe_limit(gint64 own, gint64 effective, const char *unit)
{
    g_autofree char *value = effective > 0
        ? g_strdup_printf("%" G_GINT64_FORMAT "%s", effective, unit)
        : g_strdup("none");
    return g_strdup_printf("%s%s", value,
                           own == CRP_STORE_LIMIT_DEFAULT ? " (default)" : "");
}

int
crp_admin_cmd_user_limits(CrpAdmin *admin, int argc, char **argv)
{
    g_autofree char *sessions = NULL, *vcpus = NULL, *memory = NULL;
    const GOptionEntry entries[] = {
        { "sessions", 's', 0, G_OPTION_ARG_STRING, &sessions,
          "Live sessions at once", "N|default" },
        { "vcpus", 0, 0, G_OPTION_ARG_STRING, &vcpus,
          "vCPUs of the live sessions together", "N|default" },
        { "memory", 0, 0, G_OPTION_ARG_STRING, &memory,
          "Memory of the live sessions together, in MiB", "MIB|default" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStoreUser) user = NULL;
    const CrpBrokerConfig *config;
    CrpStoreUserLimits values = { 0 }, defaults, limits;
    CrpStoreLimitField fields = 0;
    g_autofree char *s = NULL, *v = NULL, *m = NULL;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, entries,
                         "What the user's live sessions may hold at once; a "
                         "launch beyond it is refused\n(QUOTA_EXCEEDED). 0 "
                         "is no limit, 'default' follows [user-limits] in "
                         "the\nbroker's configuration. Without options: "
                         "print the limits.",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    if (sessions) {
        if (!parse_limit(admin, "sessions", sessions,
                         CRP_STORE_LIMIT_SESSIONS_MAX, &values.sessions,
                         &status)) {
            return status;
        }
        fields |= CRP_STORE_LIMIT_SESSIONS;
    }
    if (vcpus) {
        if (!parse_limit(admin, "vcpus", vcpus, CRP_STORE_LIMIT_VCPUS_MAX,
                         &values.vcpus, &status)) {
            return status;
        }
        fields |= CRP_STORE_LIMIT_VCPUS;
    }
    if (memory) {
        if (!parse_limit(admin, "memory", memory, CRP_STORE_LIMIT_MEMORY_MAX,
                         &values.memory_mib, &status)) {
            return status;
        }
        fields |= CRP_STORE_LIMIT_MEMORY;
    }
    if (!(config = crp_admin_config(admin, &error)) ||
        !(store = crp_admin_store(admin, &error)) ||
        (fields && !crp_store_user_set_limits(store, argv[1], &values, fields,
                                              &error)) ||
        !(user = crp_store_user_get(store, argv[1], &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    defaults = default_limits(config);
    limits = crp_store_user_limits_effective(user, &defaults);
    s = describe_limit(user->limits.sessions, limits.sessions, "");
    v = describe_limit(user->limits.vcpus, limits.vcpus, "");
    m = describe_limit(user->limits.memory_mib, limits.memory_mib, " MiB");
    printf("%s limits of %s: sessions %s, vCPUs %s, memory %s\n",
           fields ? "new" : "the", user->id, s, v, m);
    if (fields) {
        printf("live sessions keep running; the limits apply from the next "
               "launch\n");
    }
    return CRP_ADMIN_EXIT_OK;
}
