/*
 * admin-main.c: crp-admin's entry point: global options, the command
 * table, usage, dispatch.
 */
#include "admin.h"

#include <locale.h>
#include <string.h>
#include <sys/stat.h>

static const CrpAdminCommand commands[] = {
    { "init", NULL, "", "create the state directory, database and broker key",
      crp_admin_cmd_init },
    { "broker-key", NULL, "[--public|--fingerprint]",
      "show the broker's public key", crp_admin_cmd_broker_key },
    { "config", "show", "", "print the effective configuration",
      crp_admin_cmd_config_show },
    { "config", "check", "", "validate the configuration file",
      crp_admin_cmd_config_check },
    { "user", "add", "ID [--key-file PATH]",
      "add a user and write its key file", crp_admin_cmd_user_add },
    { "user", "list", "[--json|--csv]", "list users and their key state",
      crp_admin_cmd_user_list },
    { "user", "revoke", "ID", "revoke a user and its key",
      crp_admin_cmd_user_revoke },
    { "user", "rotate", "ID [--key-file PATH]",
      "issue a new key file, retiring the old key", crp_admin_cmd_user_rotate },
    { "user", "subscribe", "ID APP...", "subscribe a user to apps",
      crp_admin_cmd_user_subscribe },
    { "user", "unsubscribe", "ID APP...", "unsubscribe a user from apps",
      crp_admin_cmd_user_unsubscribe },
    { "user", "limits", "ID [--sessions N] [--vcpus N] [--memory MIB]",
      "show or set what a user's sessions may hold at once",
      crp_admin_cmd_user_limits },
    { "app", "publish", "NAME --title T [OPTIONS]", "add an app to the catalog",
      crp_admin_cmd_app_publish },
    { "app", "update", "NAME [OPTIONS]", "change an app",
      crp_admin_cmd_app_update },
    { "app", "unpublish", "NAME", "hide an app from the catalog",
      crp_admin_cmd_app_unpublish },
    { "app", "republish", "NAME", "publish an unpublished app again",
      crp_admin_cmd_app_republish },
    { "app", "list", "[--all] [--json|--csv]", "list the catalog",
      crp_admin_cmd_app_list },
    { "files", "list", "--user ID [--json|--csv]",
      "a user's My files and what they hold", crp_admin_cmd_files_list },
    { "files", "clean", "ID [--uploads-only]",
      "remove a user's My files (or its unfinished uploads)",
      crp_admin_cmd_files_clean },
    { "pool", "status", "[--json]", "compute, storage and app pools in use",
      crp_admin_cmd_pool_status },
    { "session", "list", "[--all] [--user U] [--json|--csv]",
      "list live (or all) sessions", crp_admin_cmd_session_list },
    { "session", "terminate", "ID", "ask the broker to close a session",
      crp_admin_cmd_session_terminate },
    { "usage", NULL,
      "[--user U] [--app A] [--from DATE] [--to DATE]\n"
      "        [--by user|app|user,app|none] [--json|--csv]",
      "usage report", crp_admin_cmd_usage },
};

static void
print_command(FILE *out, const CrpAdminCommand *cmd)
{
    g_autofree char *line = g_strdup_printf(
        "%s%s%s%s%s", cmd->group, cmd->verb ? " " : "",
        cmd->verb ? cmd->verb : "", *cmd->params ? " " : "", cmd->params);
    fprintf(out, "  %s\n      %s\n", line, cmd->summary);
}

/* "crp-admin user --help": the commands of one group. */
static void
print_group_usage(FILE *out, const char *group)
{
    fprintf(out, "Usage: crp-admin [--config FILE] %s COMMAND [ARGS...]\n\n"
            "Commands:\n", group);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(commands[i].group, group)) {
            print_command(out, &commands[i]);
        }
    }
    fprintf(out, "\n'crp-admin %s COMMAND --help' lists a command's "
            "options.\n", group);
}

static void
print_usage(FILE *out)
{
    fprintf(out,
            "Usage: crp-admin [--config FILE] COMMAND [ARGS...]\n"
            "\n"
            "The operator's tool for the CRP broker: user keys, the app "
            "catalog, pools,\nsessions and usage. It works on the broker's "
            "state directory and database\ndirectly; the broker need not be "
            "running. Run it as the broker's user.\n"
            "\nCommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        print_command(out, &commands[i]);
    }
    fprintf(out,
            "\nOptions:\n"
            "  -c, --config FILE  configuration file (default: "
            "$" CRP_BROKER_CONFIG_ENV ",\n"
            "                     else " CRP_BROKER_CONFIG_DEFAULT_PATH ")\n"
            "  -h, --help         this help; 'crp-admin COMMAND --help' "
            "for a command's\n                     options\n"
            "  --version          print the version\n"
            "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

static int
global_usage_error(const char *format, ...) G_GNUC_PRINTF(1, 2);

static int
global_usage_error(const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start(args, format);
    message = g_strdup_vprintf(format, args);
    va_end(args);
    fprintf(stderr, "crp-admin: %s\nTry 'crp-admin --help'.\n", message);
    return CRP_ADMIN_EXIT_USAGE;
}

static const CrpAdminCommand *
find_command(const char *group, const char *verb, gboolean *group_known)
{
    *group_known = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!g_str_equal(commands[i].group, group)) {
            continue;
        }
        *group_known = TRUE;
        if (!commands[i].verb ||
            (verb && g_str_equal(commands[i].verb, verb))) {
            return &commands[i];
        }
    }
    return NULL;
}

static int
group_usage_error(const char *group, const char *verb)
{
    g_autoptr(GString) verbs = g_string_new(NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(commands[i].group, group)) {
            g_string_append_printf(verbs, "%s%s", verbs->len ? ", " : "",
                                   commands[i].verb);
        }
    }
    if (verb) {
        return global_usage_error("unknown command '%s %s' (%s takes: %s)",
                                  group, verb, group, verbs->str);
    }
    return global_usage_error("'%s' needs a subcommand: %s", group,
                              verbs->str);
}

static void
admin_clear(CrpAdmin *admin)
{
    g_free(admin->config_path);
    g_free(admin->command_name);
    crp_broker_config_free(admin->config);
    crp_store_free(admin->store);
}

int
main(int argc, char **argv)
{
    CrpAdmin admin = { 0 };
    const CrpAdminCommand *cmd;
    gboolean group_known;
    int i = 1, status;

    setlocale(LC_ALL, "");
    /* Everything crp-admin creates (database, keys, directories) is the
     * broker's private state. */
    umask(077);

    /* Global options come before the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (g_str_equal(arg, "-h") || g_str_equal(arg, "--help")) {
            print_usage(stdout);
            return CRP_ADMIN_EXIT_OK;
        } else if (g_str_equal(arg, "--version")) {
            printf("crp-admin %s\n", CRP_VERSION);
            return CRP_ADMIN_EXIT_OK;
        } else if (g_str_equal(arg, "-c") || g_str_equal(arg, "--config")) {
            if (i + 1 >= argc) {
                return global_usage_error("%s needs a file name", arg);
            }
            g_free(admin.config_path);
            admin.config_path = g_strdup(argv[++i]);
        } else if (g_str_has_prefix(arg, "--config=")) {
            g_free(admin.config_path);
            admin.config_path = g_strdup(arg + strlen("--config="));
        } else {
            g_free(admin.config_path);
            return global_usage_error("unknown option '%s'", arg);
        }
    }
    if (i >= argc) {
        g_free(admin.config_path);
        print_usage(stderr);
        return CRP_ADMIN_EXIT_USAGE;
    }
    if (g_str_equal(argv[i], "help")) {
        g_free(admin.config_path);
        print_usage(stdout);
        return CRP_ADMIN_EXIT_OK;
    }

    const char *verb = i + 1 < argc ? argv[i + 1] : NULL;
    cmd = find_command(argv[i], verb, &group_known);
    if (!cmd) {
        g_free(admin.config_path);
        if (group_known && verb &&
            (g_str_equal(verb, "--help") || g_str_equal(verb, "-h"))) {
            print_group_usage(stdout, argv[i]);
            return CRP_ADMIN_EXIT_OK;
        }
        if (group_known) {
            return group_usage_error(argv[i],
                                     verb && verb[0] != '-' ? verb : NULL);
        }
        return global_usage_error("unknown command '%s'", argv[i]);
    }
    admin.command = cmd;
    admin.command_name = g_strdup_printf("crp-admin %s%s%s", cmd->group,
                                         cmd->verb ? " " : "",
                                         cmd->verb ? cmd->verb : "");
    /* The command sees its name as argv[0] and its arguments after it. */
    int skip = cmd->verb ? 2 : 1;
    g_autofree char **sub_argv = g_new0(char *, argc - i - skip + 2);
    int sub_argc = 0;
    sub_argv[sub_argc++] = admin.command_name;
    for (int j = i + skip; j < argc; j++) {
        sub_argv[sub_argc++] = argv[j];
    }
    status = cmd->run(&admin, sub_argc, sub_argv);
    fflush(stdout);
    if (ferror(stdout)) {
        status = crp_admin_fail("could not write the output");
    }
    admin_clear(&admin);
    return status;
}
