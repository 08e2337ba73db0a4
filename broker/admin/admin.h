/*
 * admin.h: what crp-admin's command files share.
 *
 * admin-main.c parses the global options and dispatches to one function
 * per command (admin-<area>.c). A command parses its own options with
 * crp_admin_parse(), reaches the configuration, store and broker key
 * through the lazy getters below, prints with admin-format.h, and returns
 * its exit status. Errors go to stderr as "crp-admin: error: ...".
 */
#pragma once

#include "admin-format.h"
#include "crp-broker-config.h"
#include "crp-broker-key.h"
#include "crp-store.h"

#include <glib.h>

G_BEGIN_DECLS

enum {
    CRP_ADMIN_EXIT_OK = 0,
    CRP_ADMIN_EXIT_FAILURE = 1,
    CRP_ADMIN_EXIT_USAGE = 2,
};

typedef struct _CrpAdmin CrpAdmin;

typedef int (*CrpAdminRunFunc)(CrpAdmin *admin, int argc, char **argv);

typedef struct {
    const char *group;          /* "user"; or the whole command ("init") */
    const char *verb;           /* "add"; NULL for one-word commands */
    const char *params;         /* positional arguments, for the usage line */
    const char *summary;
    CrpAdminRunFunc run;
} CrpAdminCommand;

struct _CrpAdmin {
    char *config_path;          /* --config; NULL: environment or default */
    const CrpAdminCommand *command;
    char *command_name;         /* "crp-admin user add" */
    CrpBrokerConfig *config;
    CrpStore *store;
};

/**
 * crp_admin_parse:
 * @entries: (nullable): the command's options, NULL-terminated; --config
 *   is added to every command.
 * @min_args, @max_args: how many positional arguments it takes (max -1:
 *   any number).
 * @status: (out): the exit status when this returns FALSE.
 *
 * Parses the command's options in place: afterwards (*argv)[1..] are the
 * positional arguments. Prints usage errors itself.
 */
gboolean crp_admin_parse(CrpAdmin *admin, const GOptionEntry *entries,
                         const char *description, int min_args, int max_args,
                         int *argc, char ***argv, int *status);

/**
 * crp_admin_parse_list:
 * @entries: (nullable): the list's own options (filters); --json and
 *   --csv follow them, then --config.
 * @format: (out): the shape the list is printed in.
 *
 * crp_admin_parse() for the commands that print a list (a CrpAdminTable):
 * no positional arguments, and --json with --csv is a usage error.
 */
gboolean crp_admin_parse_list(CrpAdmin *admin, const GOptionEntry *entries,
                              const char *description, int *argc,
                              char ***argv, CrpAdminFormat *format,
                              int *status);

/** Prints "crp-admin user add: MESSAGE" and a pointer to --help; returns
 *  CRP_ADMIN_EXIT_USAGE. */
int crp_admin_usage_error(CrpAdmin *admin, const char *format, ...)
    G_GNUC_PRINTF(2, 3);

/** Prints "crp-admin: error: MESSAGE"; returns CRP_ADMIN_EXIT_FAILURE. */
int crp_admin_fail(const char *format, ...) G_GNUC_PRINTF(1, 2);

/** Prints @error's message like crp_admin_fail() and frees it. */
int crp_admin_fail_error(GError *error);

/** Prints "crp-admin: warning: MESSAGE". */
void crp_admin_warn(const char *format, ...) G_GNUC_PRINTF(1, 2);


/** The configuration, loaded on first use. */
const CrpBrokerConfig *crp_admin_config(CrpAdmin *admin, GError **error);

/**
 * crp_admin_store:
 *
 * The store, opened on first use. An SQLite database that does not exist
 * yet is an error that points at 'crp-admin init' (only init creates it).
 */
CrpStore *crp_admin_store(CrpAdmin *admin, GError **error);

/** Loads the broker key; a missing one points at 'crp-admin init'. */
CrpBrokerKey *crp_admin_broker_key(CrpAdmin *admin, GError **error);

/** Parses a whole number in [min, max] for option @name. */
gboolean crp_admin_parse_uint(CrpAdmin *admin, const char *name,
                              const char *text, guint64 min, guint64 max,
                              guint64 *out, int *status);

/** Fingerprint of any public key (see crp_broker_key_fingerprint()). */
char *crp_admin_fingerprint(const guint8 *public_key);

/* The commands. */
int crp_admin_cmd_init(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_broker_key(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_config_show(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_config_check(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_add(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_list(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_revoke(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_rotate(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_subscribe(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_unsubscribe(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_user_limits(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_app_publish(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_app_update(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_app_unpublish(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_app_republish(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_files_list(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_files_clean(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_app_list(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_pool_status(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_session_list(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_session_terminate(CrpAdmin *admin, int argc, char **argv);
int crp_admin_cmd_usage(CrpAdmin *admin, int argc, char **argv);

G_END_DECLS
