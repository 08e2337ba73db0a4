/*
 * admin-init.c: crp-admin init, broker-key, config show|check: the state
 * directory, database and broker key, and the configuration itself.
 */
#include "admin.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Makes @path a directory (mode 0700 when created); @what names it in
 * messages. With @tighten, an existing one that others can access is made
 * private too (the state directory holds the broker key and the database;
 * the images directory is the operator's to arrange). Prints what it
 * did. */
static gboolean
ensure_dir(const char *what, const char *path, gboolean tighten,
           GError **error)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            int saved = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                        "%s %s: %s", what, path, g_strerror(saved));
            return FALSE;
        }
        if (g_mkdir_with_parents(path, 0700) < 0 || chmod(path, 0700) < 0) {
            int saved = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                        "cannot create %s %s: %s", what, path,
                        g_strerror(saved));
            return FALSE;
        }
        printf("%-20s %s (created)\n", what, path);
        return TRUE;
    }
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                    "%s %s exists and is not a directory", what, path);
        return FALSE;
    }
    if (tighten && (st.st_mode & 077)) {
        if (chmod(path, 0700) < 0) {
            int saved = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                        "%s %s is accessible to others (mode %04o) and "
                        "cannot be made private: %s", what, path,
                        (unsigned)(st.st_mode & 07777), g_strerror(saved));
            return FALSE;
        }
        printf("%-20s %s (mode %04o tightened to 0700)\n", what, path,
               (unsigned)(st.st_mode & 07777));
        return TRUE;
    }
    printf("%-20s %s\n", what, path);
    return TRUE;
}

int
crp_admin_cmd_init(CrpAdmin *admin, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerKey) key = NULL;
    g_autofree char *key_path = NULL;
    const CrpBrokerConfig *config;
    const char *db_path;
    gboolean db_existed = TRUE, key_created = FALSE;
    char fingerprint[CRP_BROKER_FINGERPRINT_SIZE];
    int status;

    if (!crp_admin_parse(admin, NULL,
                         "Idempotent: what exists is kept (a state or "
                         "overlays directory others can\naccess is made "
                         "private). Prints the broker's public key "
                         "fingerprint.",
                         0, 0, &argc, &argv, &status)) {
        return status;
    }
    config = crp_admin_config(admin, &error);
    if (!config ||
        !ensure_dir("state directory", config->state_dir, TRUE, &error) ||
        !ensure_dir("images directory", config->images_dir, FALSE, &error) ||
        !ensure_dir("overlays directory", config->overlays_dir, TRUE,
                    &error) ||
        !ensure_dir("files directory", config->files_dir, TRUE, &error)) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }

    db_path = crp_broker_config_sqlite_path(config);
    if (db_path) {
        g_autofree char *dir = g_path_get_dirname(db_path);
        db_existed = g_file_test(db_path, G_FILE_TEST_EXISTS);
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR) &&
            !ensure_dir("database directory", dir, TRUE, &error)) {
            return crp_admin_fail_error(g_steal_pointer(&error));
        }
    }
    admin->store = crp_store_open(config->database_url, &error);
    if (!admin->store) {
        return crp_admin_fail("%s: %s", config->database_url, error->message);
    }
    printf("%-20s %s (%sschema version %u)\n", "database",
           config->database_url, db_existed ? "" : "created; ",
           crp_store_get_schema_version(admin->store));

    key_path = crp_broker_config_broker_key_path(config);
    key = crp_broker_key_load_or_create(key_path, &key_created, &error);
    if (!key) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    printf("%-20s %s%s\n", "broker key", key_path,
           key_created ? " (created)" : "");
    crp_broker_key_fingerprint(key->public_key, fingerprint);
    printf("%-20s %s\n", "fingerprint", fingerprint);
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_broker_key(CrpAdmin *admin, int argc, char **argv)
{
    gboolean public_only = FALSE, fingerprint_only = FALSE;
    const GOptionEntry entries[] = {
        { "public", 0, 0, G_OPTION_ARG_NONE, &public_only,
          "Print only the public key (base64, as in user key files)", NULL },
        { "fingerprint", 0, 0, G_OPTION_ARG_NONE, &fingerprint_only,
          "Print only the fingerprint", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerKey) key = NULL;
    g_autofree char *b64 = NULL;
    char fingerprint[CRP_BROKER_FINGERPRINT_SIZE];
    int status;

    if (!crp_admin_parse(admin, entries,
                         "The secret key is never printed.", 0, 0, &argc,
                         &argv, &status)) {
        return status;
    }
    if (public_only && fingerprint_only) {
        return crp_admin_usage_error(admin, "--public and --fingerprint "
                                     "exclude each other");
    }
    key = crp_admin_broker_key(admin, &error);
    if (!key) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    b64 = crp_broker_key_public_base64(key->public_key);
    crp_broker_key_fingerprint(key->public_key, fingerprint);
    if (public_only) {
        printf("%s\n", b64);
    } else if (fingerprint_only) {
        printf("%s\n", fingerprint);
    } else {
        printf("public key   %s\nfingerprint  %s\n", b64, fingerprint);
    }
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_config_show(CrpAdmin *admin, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    const CrpBrokerConfig *config;
    int status;

    if (!crp_admin_parse(admin, NULL, NULL, 0, 0, &argc, &argv, &status)) {
        return status;
    }
    config = crp_admin_config(admin, &error);
    if (!config) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    text = crp_broker_config_to_string(config);
    fputs(text, stdout);
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_config_check(CrpAdmin *admin, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    const CrpBrokerConfig *config;
    int status;

    if (!crp_admin_parse(admin, NULL,
                         "Exits 1 if the file is invalid; warns about paths "
                         "that do not exist yet.",
                         0, 0, &argc, &argv, &status)) {
        return status;
    }
    config = crp_admin_config(admin, &error);
    if (!config) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if (!g_file_test(config->state_dir, G_FILE_TEST_IS_DIR)) {
        crp_admin_warn("state-dir %s does not exist; run 'crp-admin init'",
                       config->state_dir);
    }
    if (!g_file_test(config->images_dir, G_FILE_TEST_IS_DIR)) {
        crp_admin_warn("images-dir %s does not exist", config->images_dir);
    }
    if (!g_file_test(config->qemu_env_file, G_FILE_TEST_IS_REGULAR)) {
        crp_admin_warn("qemu env-file %s does not exist; run "
                       "qemu-crp-display/build-qemu", config->qemu_env_file);
    }
    printf("%s: ok\n", config->path ? config->path
                                    : "no configuration file, built-in "
                                      "defaults");
    return CRP_ADMIN_EXIT_OK;
}
