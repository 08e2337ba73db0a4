/*
 * admin-apps.c: crp-admin app publish|update|unpublish|republish|list.
 *
 * Image paths (--kernel, --initrd, --disk) are checked when given: they
 * must name readable regular files. A relative path is taken relative to
 * [storage] images-dir; the store keeps the absolute path.
 * --qemu-options may not set what the broker sets itself (display, QMP,
 * audio backend, CPUs and memory, which the pools account for).
 */
#include "admin.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* QEMU options the broker owns (compared without leading dashes). */
static const char *const reserved_qemu_options[] = {
    "display", "vnc", "spice", "nographic", "qmp", "qmp-pretty", "monitor",
    "mon", "daemonize", "pidfile", "audiodev", "smp", "m", "kernel",
    "initrd", "runas", "chroot", "accel", "enable-kvm",
};

typedef struct {
    char *title;
    char *description;
    char *kernel;
    char *initrd;
    char *disk;
    char *qemu_options;
    char *vcpus;
    char *memory;
    char *max_instances;
    char *accel;
    char *clipboard;
    char *files;
    gboolean audio;
    gboolean no_audio;
    gboolean persistent;
    gboolean no_persistent;
} AppOptions;

static void
app_options_clear(AppOptions *o)
{
    g_free(o->title);
    g_free(o->description);
    g_free(o->kernel);
    g_free(o->initrd);
    g_free(o->disk);
    g_free(o->qemu_options);
    g_free(o->vcpus);
    g_free(o->memory);
    g_free(o->max_instances);
    g_free(o->accel);
    g_free(o->clipboard);
    g_free(o->files);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AppOptions, app_options_clear)

#define APP_OPTION_ENTRIES(o)                                                \
    { "title", 't', 0, G_OPTION_ARG_STRING, &(o)->title,                     \
      "Title shown in the catalog (1..256 bytes)", "T" },                   \
    { "description", 'd', 0, G_OPTION_ARG_STRING, &(o)->description,         \
      "Description (up to 4096 bytes)", "TEXT" },                               \
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &(o)->kernel,                   \
      "Guest kernel image", "K" },                                           \
    { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &(o)->initrd,                   \
      "Guest initrd (with --kernel)", "I" },                                 \
    { "disk", 0, 0, G_OPTION_ARG_FILENAME, &(o)->disk,                       \
      "Guest disk image (base of the per-user overlays)", "D" },            \
    { "qemu-options", 0, 0, G_OPTION_ARG_STRING, &(o)->qemu_options,         \
      "Extra QEMU arguments, shell-quoted", "\"...\"" },                    \
    { "vcpus", 0, 0, G_OPTION_ARG_STRING, &(o)->vcpus,                       \
      "Virtual CPUs per instance (1..65535)", "N" },                         \
    { "memory", 0, 0, G_OPTION_ARG_STRING, &(o)->memory,                     \
      "Memory per instance in MiB", "MIB" },                                 \
    { "audio", 0, 0, G_OPTION_ARG_NONE, &(o)->audio,                         \
      "Stream the guest's sound (publish's default)", NULL },                \
    { "no-audio", 0, 0, G_OPTION_ARG_NONE, &(o)->no_audio,                   \
      "No sound device", NULL },                                             \
    { "max-instances", 0, 0, G_OPTION_ARG_STRING, &(o)->max_instances,       \
      "Most instances at once (0: only the pools limit)", "N" },             \
    { "persistent-storage", 0, 0, G_OPTION_ARG_NONE, &(o)->persistent,       \
      "Keep each user's disk overlay between sessions", NULL },              \
    { "no-persistent-storage", 0, 0, G_OPTION_ARG_NONE, &(o)->no_persistent, \
      "Start every session from the base image", NULL },                     \
    { "accel", 0, 0, G_OPTION_ARG_STRING, &(o)->accel,                       \
      "QEMU accelerators, tried in order (default: [qemu] accel)",          \
      "kvm|tcg|kvm:tcg" },                                                   \
    { "clipboard", 0, 0, G_OPTION_ARG_STRING, &(o)->clipboard,               \
      "Copy and paste between the user and the guest (publish's default: "  \
      "on)", "on|off" },                                                     \
    { "files", 0, 0, G_OPTION_ARG_STRING, &(o)->files,                       \
      "Share the user's My files with the guest (publish's default: on)",   \
      "on|off" },                                                            \
    { NULL }

static const char app_options_description[] =
    "Relative image paths are relative to [storage] images-dir; images must "
    "exist.\nFor 'update', an empty value (--initrd \"\") clears a path or "
    "the description.\n--qemu-options may not set what the broker sets: "
    "-display -vnc -spice\n-nographic -qmp -monitor -mon -daemonize -pidfile "
    "-audiodev -smp -m -kernel\n-initrd -runas -chroot -accel -enable-kvm "
    "-machine accel=.\n--accel takes QEMU's -accel syntax (kvm, tcg, "
    "kvm:tcg, tcg,thread=single);\nupdate --accel \"\" goes back to the "
    "broker's [qemu] accel.\n--clipboard off keeps data from crossing between "
    "the user's computer and the\nguest (the VM gets no clipboard agent "
    "port); --qemu-options may not add one.\n--files off keeps the user's "
    "My files out of the guest (no 9p share); the\nuser still moves files "
    "in and out of My files from the client.";

/* Resolves and checks one image path into *@out (absolute). An empty
 * @value (update only) clears it: *@out stays NULL. */
static int
check_image(CrpAdmin *admin, const CrpBrokerConfig *config, const char *what,
            const char *value, char **out)
{
    g_autofree char *path = NULL;
    struct stat st;

    *out = NULL;
    if (!*value) {
        return CRP_ADMIN_EXIT_OK;
    }
    path = g_canonicalize_filename(value, config->images_dir);
    if (stat(path, &st) < 0) {
        return crp_admin_fail("--%s %s: %s", what, path, g_strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return crp_admin_fail("--%s %s: not a regular file", what, path);
    }
    if (access(path, R_OK) < 0) {
        return crp_admin_fail("--%s %s: %s", what, path, g_strerror(errno));
    }
    *out = g_steal_pointer(&path);
    return CRP_ADMIN_EXIT_OK;
}

/* The value of option args[@i] (@opt: its name on): "-o=value" or
 * "-o value"; NULL if it has none. */
static const char *
option_value(const char *opt, char **args, int i)
{
    return strchr(opt, '=') ? strchr(opt, '=') + 1 : args[i + 1];
}

static int
check_qemu_options(CrpAdmin *admin, const char *text)
{
    g_auto(GStrv) args = NULL;
    g_autoptr(GError) error = NULL;
    int argc = 0;

    if (!*text) {
        return CRP_ADMIN_EXIT_OK;
    }
    if (!g_shell_parse_argv(text, &argc, &args, &error)) {
        return crp_admin_usage_error(admin, "--qemu-options: %s",
                                     error->message);
    }
    for (int i = 0; i < argc; i++) {
        const char *opt = args[i];
        g_autofree char *name = NULL;

        if (opt[0] != '-') {
            continue;
        }
        opt += opt[1] == '-' ? 2 : 1;
        name = g_strndup(opt, strcspn(opt, "="));
        for (gsize j = 0; j < G_N_ELEMENTS(reserved_qemu_options); j++) {
            if (g_str_equal(name, reserved_qemu_options[j])) {
                return crp_admin_usage_error(
                    admin, "--qemu-options: '%s' is set by the broker%s",
                    args[i],
                    g_str_equal(name, "smp") || g_str_equal(name, "m")
                        ? " (use --vcpus / --memory)"
                    : g_str_equal(name, "kernel") || g_str_equal(name, "initrd")
                        ? " (use --kernel / --initrd)"
                    : g_str_equal(name, "accel") ||
                      g_str_equal(name, "enable-kvm") ? " (use --accel)" : "");
            }
        }
        /* The clipboard agent is the broker's (--clipboard): one added
         * here would get around --clipboard off. */
        if (g_str_equal(name, "chardev")) {
            const char *value = option_value(opt, args, i);
            if (value && g_str_has_prefix(value, "qemu-vdagent")) {
                return crp_admin_usage_error(
                    admin, "--qemu-options: '%s' is the clipboard agent, which "
                    "the broker sets (use --clipboard)", value);
            }
        }
        /* -machine TYPE,accel=... (or -M) would compete with -accel. */
        if (g_str_equal(name, "machine") || g_str_equal(name, "M")) {
            const char *value = option_value(opt, args, i);
            if (value && strstr(value, "accel=")) {
                return crp_admin_usage_error(
                    admin, "--qemu-options: '%s' sets the accelerator, which "
                    "the broker sets (use --accel)", value);
            }
        }
    }
    return CRP_ADMIN_EXIT_OK;
}

/* An on|off option into *@out; a usage error for anything else. */
static int
parse_switch(CrpAdmin *admin, const char *option, const char *value,
             gboolean *out)
{
    if (g_str_equal(value, "on")) {
        *out = TRUE;
    } else if (g_str_equal(value, "off")) {
        *out = FALSE;
    } else {
        return crp_admin_usage_error(admin, "%s: '%s' is neither on nor off",
                                     option, value);
    }
    return 0;
}

/*
 * Turns the options into @values and the mask of fields they set. Image
 * paths are checked against the file system here.
 */
static int
collect(CrpAdmin *admin, const CrpBrokerConfig *config, AppOptions *o,
        CrpStoreApp *values, CrpStoreAppField *fields)
{
    guint64 n = 0;
    int status = CRP_ADMIN_EXIT_OK;

    *fields = 0;
    if (o->audio && o->no_audio) {
        return crp_admin_usage_error(admin, "--audio and --no-audio exclude "
                                     "each other");
    }
    if (o->persistent && o->no_persistent) {
        return crp_admin_usage_error(admin, "--persistent-storage and "
                                     "--no-persistent-storage exclude each "
                                     "other");
    }
    if (o->title) {
        values->title = g_strdup(o->title);
        *fields |= CRP_STORE_APP_TITLE;
    }
    if (o->description) {
        values->description = g_strdup(o->description);
        *fields |= CRP_STORE_APP_DESCRIPTION;
    }
    if (o->qemu_options) {
        if ((status = check_qemu_options(admin, o->qemu_options))) {
            return status;
        }
        values->qemu_options = g_strdup(o->qemu_options);
        *fields |= CRP_STORE_APP_QEMU_OPTIONS;
    }
    if (o->vcpus) {
        if (!crp_admin_parse_uint(admin, "vcpus", o->vcpus, 1, G_MAXUINT16,
                                  &n, &status)) {
            return status;
        }
        values->vcpus = (guint)n;
        *fields |= CRP_STORE_APP_VCPUS;
    }
    if (o->memory) {
        if (!crp_admin_parse_uint(admin, "memory", o->memory, 1, G_MAXUINT32,
                                  &n, &status)) {
            return status;
        }
        values->memory_mib = (guint32)n;
        *fields |= CRP_STORE_APP_MEMORY;
    }
    if (o->max_instances) {
        if (!crp_admin_parse_uint(admin, "max-instances", o->max_instances, 0,
                                  1000000, &n, &status)) {
            return status;
        }
        values->max_instances = (guint)n;
        *fields |= CRP_STORE_APP_MAX_INSTANCES;
    }
    if (o->accel) {
        g_autoptr(GError) error = NULL;
        if (*o->accel && !crp_broker_config_check_accel(o->accel, &error)) {
            return crp_admin_usage_error(admin, "--accel: %s", error->message);
        }
        values->accel = g_strdup(o->accel);
        *fields |= CRP_STORE_APP_ACCEL;
    }
    if (o->audio || o->no_audio) {
        values->audio = o->audio;
        *fields |= CRP_STORE_APP_AUDIO;
    }
    if (o->clipboard) {
        if ((status = parse_switch(admin, "--clipboard", o->clipboard,
                                   &values->clipboard))) {
            return status;
        }
        *fields |= CRP_STORE_APP_CLIPBOARD;
    }
    if (o->files) {
        if ((status = parse_switch(admin, "--files", o->files,
                                   &values->files))) {
            return status;
        }
        *fields |= CRP_STORE_APP_FILES;
    }
    if (o->persistent || o->no_persistent) {
        values->persistent_storage = o->persistent;
        *fields |= CRP_STORE_APP_PERSISTENT_STORAGE;
    }
    /* Paths last: the usage errors above come before file system ones. */
    if (o->kernel) {
        if ((status = check_image(admin, config, "kernel", o->kernel,
                                  &values->kernel))) {
            return status;
        }
        *fields |= CRP_STORE_APP_KERNEL;
    }
    if (o->initrd) {
        if ((status = check_image(admin, config, "initrd", o->initrd,
                                  &values->initrd))) {
            return status;
        }
        *fields |= CRP_STORE_APP_INITRD;
    }
    if (o->disk) {
        if ((status = check_image(admin, config, "disk", o->disk,
                                  &values->disk))) {
            return status;
        }
        *fields |= CRP_STORE_APP_DISK;
    }
    return CRP_ADMIN_EXIT_OK;
}

/* An app that cannot fit the compute budget can never start. */
static void
warn_budget(const CrpBrokerConfig *config, const CrpStoreApp *app)
{
    if (app->vcpus > config->vcpus) {
        crp_admin_warn("%s needs %u vCPUs but the compute budget is %u: it "
                       "cannot start", app->name, app->vcpus, config->vcpus);
    }
    if (app->memory_mib > config->memory_mib) {
        crp_admin_warn("%s needs %u MiB but the compute budget is %"
                       G_GUINT64_FORMAT " MiB: it cannot start", app->name,
                       app->memory_mib, config->memory_mib);
    }
}

static int
check_name(CrpAdmin *admin, const char *name)
{
    if (!crp_store_app_valid_name(name)) {
        return crp_admin_usage_error(admin, "invalid app name '%s': use 1..%d "
                                     "of [a-z0-9-], not starting with '-'",
                                     name, CRP_STORE_APP_NAME_MAX);
    }
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_app_publish(CrpAdmin *admin, int argc, char **argv)
{
    g_auto(AppOptions) o = { 0 };
    const GOptionEntry entries[] = { APP_OPTION_ENTRIES(&o) };
    g_autoptr(CrpStoreApp) app = g_new0(CrpStoreApp, 1);
    g_autoptr(GError) error = NULL;
    const CrpBrokerConfig *config;
    CrpStoreAppField fields;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, entries, app_options_description, 1, 1, &argc,
                         &argv, &status)) {
        return status;
    }
    if ((status = check_name(admin, argv[1]))) {
        return status;
    }
    if (!o.title || !*o.title) {
        return crp_admin_usage_error(admin, "--title is required");
    }
    if ((!o.kernel || !*o.kernel) && (!o.disk || !*o.disk)) {
        return crp_admin_usage_error(admin, "an app needs --kernel or --disk");
    }
    if (o.initrd && *o.initrd && (!o.kernel || !*o.kernel)) {
        return crp_admin_usage_error(admin, "--initrd needs --kernel");
    }
    if (!(config = crp_admin_config(admin, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    app->name = g_strdup(argv[1]);
    app->vcpus = 1;
    app->memory_mib = 1024;
    app->audio = TRUE;
    app->clipboard = TRUE;
    app->files = TRUE;
    if ((status = collect(admin, config, &o, app, &fields))) {
        return status;
    }
    if (!(store = crp_admin_store(admin, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if (!crp_store_app_publish(store, app, &error)) {
        if (g_error_matches(error, CRP_STORE_ERROR, CRP_STORE_ERROR_EXISTS)) {
            return crp_admin_fail("app %s exists already; change it with "
                                  "'crp-admin app update' (or 'app republish' "
                                  "if it was unpublished)", app->name);
        }
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    warn_budget(config, app);
    printf("published app %s (%u vCPU, %u MiB%s%s%s%s%s)\n", app->name,
           app->vcpus, app->memory_mib, app->audio ? ", audio" : "",
           app->clipboard ? ", clipboard" : "",
           app->files ? ", My files" : "",
           app->accel && *app->accel ? ", accel " : "",
           app->accel && *app->accel ? app->accel : "");
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_app_update(CrpAdmin *admin, int argc, char **argv)
{
    g_auto(AppOptions) o = { 0 };
    const GOptionEntry entries[] = { APP_OPTION_ENTRIES(&o) };
    g_autoptr(CrpStoreApp) values = g_new0(CrpStoreApp, 1);
    g_autoptr(CrpStoreApp) app = NULL;
    g_autoptr(GError) error = NULL;
    const CrpBrokerConfig *config;
    CrpStoreAppField fields;
    CrpStore *store;
    int status;

    if (!crp_admin_parse(admin, entries, app_options_description, 1, 1, &argc,
                         &argv, &status)) {
        return status;
    }
    if ((status = check_name(admin, argv[1]))) {
        return status;
    }
    if (o.title && !*o.title) {
        return crp_admin_usage_error(admin, "--title cannot be empty");
    }
    if (!(config = crp_admin_config(admin, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if ((status = collect(admin, config, &o, values, &fields))) {
        return status;
    }
    if (!fields) {
        return crp_admin_usage_error(admin, "nothing to change: give at least "
                                     "one option");
    }
    if (!(store = crp_admin_store(admin, &error)) ||
        !crp_store_app_update(store, argv[1], values, fields, &error) ||
        !(app = crp_store_app_get(store, argv[1], &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    warn_budget(config, app);
    printf("updated app %s%s\n", app->name,
           fields & (CRP_STORE_APP_VCPUS | CRP_STORE_APP_MEMORY)
               ? " (running sessions keep their vCPUs and memory)" : "");
    return CRP_ADMIN_EXIT_OK;
}

/* unpublish and republish */
static int
set_published(CrpAdmin *admin, int argc, char **argv, gboolean published)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpStoreApp) app = NULL;
    CrpStore *store;
    guint live = 0;
    int status;

    if (!crp_admin_parse(admin, NULL,
                         published ? NULL
                                   : "The app leaves the catalog; it stays in "
                                     "the database (sessions and usage refer "
                                     "to it)\nand live sessions keep running.",
                         1, 1, &argc, &argv, &status)) {
        return status;
    }
    if ((status = check_name(admin, argv[1]))) {
        return status;
    }
    if (!(store = crp_admin_store(admin, &error)) ||
        !(app = crp_store_app_get(store, argv[1], &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    if ((app->unpublished_at == 0) == published) {
        printf("app %s is already %s\n", app->name,
               published ? "published" : "unpublished");
        return CRP_ADMIN_EXIT_OK;
    }
    if (!(published ? crp_store_app_republish(store, app->name, &error)
                    : crp_store_app_unpublish(store, app->name, &error)) ||
        !crp_store_app_live_instances(store, app->name, &live, &error)) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    printf("%s app %s\n", published ? "republished" : "unpublished",
           app->name);
    if (!published && live > 0) {
        printf("%u live session(s) keep running\n", live);
    }
    return CRP_ADMIN_EXIT_OK;
}

int
crp_admin_cmd_app_unpublish(CrpAdmin *admin, int argc, char **argv)
{
    return set_published(admin, argc, argv, FALSE);
}

int
crp_admin_cmd_app_republish(CrpAdmin *admin, int argc, char **argv)
{
    return set_published(admin, argc, argv, TRUE);
}

/* app list's columns. */
static const CrpAdminColumn app_columns[] = {
    { "name", "APP", CRP_ADMIN_COL_TEXT, 0 },
    { "title", "TITLE", CRP_ADMIN_COL_TEXT, 0 },
    { "state", "STATE", CRP_ADMIN_COL_TEXT, 0 },
    { "vcpus", "VCPUS", CRP_ADMIN_COL_UINT, 0 },
    { "memory_mib", "MEMORY MIB", CRP_ADMIN_COL_UINT, 0 },
    { "audio", "AUDIO", CRP_ADMIN_COL_BOOL, 0 },
    { "max_instances", "MAX", CRP_ADMIN_COL_UINT, 0 },
    { "persistent_storage", "PERSISTENT", CRP_ADMIN_COL_BOOL, 0 },
    { "accel", "ACCEL", CRP_ADMIN_COL_TEXT, 0 },
    { "clipboard", "CLIPBOARD", CRP_ADMIN_COL_BOOL, 0 },
    { "files", "FILES", CRP_ADMIN_COL_BOOL, 0 },
    { "description", "DESCRIPTION", CRP_ADMIN_COL_TEXT,
      CRP_ADMIN_COL_MACHINE },
    { "kernel", "KERNEL", CRP_ADMIN_COL_TEXT, CRP_ADMIN_COL_MACHINE },
    { "initrd", "INITRD", CRP_ADMIN_COL_TEXT, CRP_ADMIN_COL_MACHINE },
    { "disk", "DISK", CRP_ADMIN_COL_TEXT, CRP_ADMIN_COL_MACHINE },
    { "qemu_options", "QEMU OPTIONS", CRP_ADMIN_COL_TEXT,
      CRP_ADMIN_COL_MACHINE },
    { "created", "CREATED", CRP_ADMIN_COL_TIME, CRP_ADMIN_COL_MACHINE },
    { "unpublished_at", "UNPUBLISHED", CRP_ADMIN_COL_TIME,
      CRP_ADMIN_COL_MACHINE },
};

int
crp_admin_cmd_app_list(CrpAdmin *admin, int argc, char **argv)
{
    gboolean all = FALSE;
    const GOptionEntry entries[] = {
        { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
          "Include unpublished apps", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) apps = NULL;
    g_autoptr(CrpAdminTable) table = NULL;
    CrpAdminFormat format;
    CrpStore *store;
    int status;

    if (!crp_admin_parse_list(admin, entries, NULL, &argc, &argv, &format,
                              &status)) {
        return status;
    }
    if (!(store = crp_admin_store(admin, &error)) ||
        !(apps = crp_store_app_list(store, all, &error))) {
        return crp_admin_fail_error(g_steal_pointer(&error));
    }
    table = crp_admin_table_new();
    crp_admin_table_add_columns(table, app_columns,
                                G_N_ELEMENTS(app_columns));
    for (guint i = 0; i < apps->len; i++) {
        CrpStoreApp *app = g_ptr_array_index(apps, i);

        crp_admin_table_add_row(table);
        crp_admin_table_add_text(table, app->name);
        crp_admin_table_add_text(table, app->title);
        crp_admin_table_add_text(table, app->unpublished_at ? "unpublished"
                                                            : "published");
        crp_admin_table_add_uint(table, app->vcpus);
        crp_admin_table_add_uint(table, app->memory_mib);
        crp_admin_table_add_bool(table, app->audio);
        crp_admin_table_add_uint(table, app->max_instances);
        crp_admin_table_add_bool(table, app->persistent_storage);
        crp_admin_table_add_text(table, app->accel);
        crp_admin_table_add_bool(table, app->clipboard);
        crp_admin_table_add_bool(table, app->files);
        crp_admin_table_add_text(table, app->description ? app->description
                                                         : "");
        crp_admin_table_add_text(table, app->kernel);
        crp_admin_table_add_text(table, app->initrd);
        crp_admin_table_add_text(table, app->disk);
        crp_admin_table_add_text(table, app->qemu_options ? app->qemu_options
                                                          : "");
        crp_admin_table_add_time(table, app->created);
        crp_admin_table_add_time(table, app->unpublished_at);
    }
    crp_admin_table_print(table, format, stdout);
    return CRP_ADMIN_EXIT_OK;
}
