/*
 * admin-common.c: option parsing, error reporting and the lazily opened
 * configuration, store and broker key that every command shares.
 */
#include "admin.h"

#include <crp/crp-error.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int
vusage_error(CrpAdmin *admin, const char *format, va_list args)
{
    g_autofree char *message = g_strdup_vprintf(format, args);

    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", admin->command_name,
            message, admin->command_name);
    return CRP_ADMIN_EXIT_USAGE;
}

int
crp_admin_usage_error(CrpAdmin *admin, const char *format, ...)
{
    va_list args;
    int status;

    va_start(args, format);
    status = vusage_error(admin, format, args);
    va_end(args);
    return status;
}

int
crp_admin_fail(const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    fprintf(stderr, "crp-admin: error: %s\n", message);
    return CRP_ADMIN_EXIT_FAILURE;
}

int
crp_admin_fail_error(GError *error)
{
    int status = crp_admin_fail("%s", error ? error->message : "failed");

    g_clear_error(&error);
    return status;
}

void
crp_admin_warn(const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    fprintf(stderr, "crp-admin: warning: %s\n", message);
}

/* crp_admin_parse() with @more (nullable) options after @entries. */
static gboolean
parse_with(CrpAdmin *admin, const GOptionEntry *entries,
           const GOptionEntry *more, const char *description, int min_args,
           int max_args, int *argc, char ***argv, int *status)
{
    g_autofree char *config = NULL;
    const GOptionEntry common[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
          "Configuration file", "FILE" },
        { NULL },
    };
    const char *params = admin->command->params;
    g_autofree char *positional = NULL;
    g_autoptr(GOptionContext) context = NULL;
    g_autoptr(GError) error = NULL;

    /* The usage line shows the positional part of params only (up to the
     * first option); the options are listed below it. */
    const char *dash = strstr(params, "[-");
    if (!dash) {
        dash = strstr(params, "--");
    }
    positional = dash ? g_strndup(params, dash - params) : g_strdup(params);
    g_strstrip(positional);

    g_set_prgname(admin->command_name);
    context = g_option_context_new(positional);
    g_option_context_set_summary(context, admin->command->summary);
    if (description) {
        g_option_context_set_description(context, description);
    }
    if (entries) {
        g_option_context_add_main_entries(context, entries, NULL);
    }
    if (more) {
        g_option_context_add_main_entries(context, more, NULL);
    }
    g_option_context_add_main_entries(context, common, NULL);
    if (!g_option_context_parse(context, argc, argv, &error)) {
        *status = crp_admin_usage_error(admin, "%s", error->message);
        return FALSE;
    }
    if (config) {
        g_free(admin->config_path);
        admin->config_path = g_steal_pointer(&config);
    }
    int nargs = *argc - 1;
    for (int i = 1; i < *argc; i++) {
        /* GOption leaves unknown "-x" alone only after "--"; anything
         * else that looks like an option is a mistake. */
        if ((*argv)[i][0] == '-' && (*argv)[i][1] != '\0') {
            *status = crp_admin_usage_error(admin, "unknown option '%s'",
                                            (*argv)[i]);
            return FALSE;
        }
    }
    if (nargs < min_args) {
        *status = crp_admin_usage_error(admin, "missing %s",
                                        *positional ? positional
                                                    : "arguments");
        return FALSE;
    }
    if (max_args >= 0 && nargs > max_args) {
        *status = crp_admin_usage_error(admin, "unexpected argument '%s'",
                                        (*argv)[1 + max_args]);
        return FALSE;
    }
    return TRUE;
}

gboolean
crp_admin_parse(CrpAdmin *admin, const GOptionEntry *entries,
                const char *description, int min_args, int max_args,
                int *argc, char ***argv, int *status)
{
    return parse_with(admin, entries, NULL, description, min_args, max_args,
                      argc, argv, status);
}

gboolean
crp_admin_parse_list(CrpAdmin *admin, const GOptionEntry *entries,
                     const char *description, int *argc, char ***argv,
                     CrpAdminFormat *format, int *status)
{
    gboolean json = FALSE, csv = FALSE;
    const GOptionEntry shapes[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
        { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, "Print CSV", NULL },
        { NULL },
    };

    if (!parse_with(admin, entries, shapes, description, 0, 0, argc, argv,
                    status)) {
        return FALSE;
    }
    if (json && csv) {
        *status = crp_admin_usage_error(admin,
                                        "--json and --csv exclude each other");
        return FALSE;
    }
    *format = json ? CRP_ADMIN_FORMAT_JSON
                   : csv ? CRP_ADMIN_FORMAT_CSV : CRP_ADMIN_FORMAT_TABLE;
    return TRUE;
}

gboolean
crp_admin_parse_uint(CrpAdmin *admin, const char *name, const char *text,
                     guint64 min, guint64 max, guint64 *out, int *status)
{
    if (!g_ascii_string_to_unsigned(text, 10, min, max, out, NULL)) {
        *status = crp_admin_usage_error(
            admin, "--%s: '%s' is not a whole number from %" G_GUINT64_FORMAT
            " to %" G_GUINT64_FORMAT, name, text, min, max);
        return FALSE;
    }
    return TRUE;
}

char *
crp_admin_fingerprint(const guint8 *public_key)
{
    char out[CRP_BROKER_FINGERPRINT_SIZE];

    crp_broker_key_fingerprint(public_key, out);
    return g_strdup(out);
}

const CrpBrokerConfig *
crp_admin_config(CrpAdmin *admin, GError **error)
{
    if (!admin->config) {
        admin->config = crp_broker_config_load(admin->config_path, error);
    }
    return admin->config;
}

CrpStore *
crp_admin_store(CrpAdmin *admin, GError **error)
{
    const CrpBrokerConfig *config;
    const char *path;

    if (admin->store) {
        return admin->store;
    }
    config = crp_admin_config(admin, error);
    if (!config) {
        return NULL;
    }
    path = crp_broker_config_sqlite_path(config);
    if (path && !g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, CRP_STORE_ERROR, CRP_STORE_ERROR_NOT_FOUND,
                    "no database at %s; run 'crp-admin init' first", path);
        return NULL;
    }
    admin->store = crp_store_open(config->database_url, error);
    if (!admin->store) {
        g_prefix_error(error, "%s: ", config->database_url);
    }
    return admin->store;
}

CrpBrokerKey *
crp_admin_broker_key(CrpAdmin *admin, GError **error)
{
    const CrpBrokerConfig *config = crp_admin_config(admin, error);
    g_autofree char *path = NULL;
    struct stat st;

    if (!config) {
        return NULL;
    }
    path = crp_broker_config_broker_key_path(config);
    if (lstat(path, &st) < 0 && errno == ENOENT) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "no broker key at %s; run 'crp-admin init' first", path);
        return NULL;
    }
    return crp_broker_key_load(path, error);
}
