/* crp-broker-config.c: the broker's configuration file (see the header). */
#include "crp-broker-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

G_DEFINE_QUARK(crp-broker-config-error-quark, crp_broker_config_error)

/* Larger files are not configuration. */
#define MAX_CONFIG_FILE (256 * 1024)

typedef enum {
    T_ADDRESS,      /* char *, crp_broker_address_parse() */
    T_PATH,         /* char *, absolute after ~ expansion */
    T_DATABASE,     /* char *, sqlite:/PATH or postgresql://... */
    T_UINT,         /* guint */
    T_UINT64,       /* guint64 */
    T_ACCEL,        /* char *, crp_broker_config_check_accel() */
    T_ORIGINS,      /* char *, space-separated http(s)://HOST[:PORT] */
} KeyType;

typedef struct {
    const char *group;
    const char *key;
    KeyType type;
    gsize offset;
    guint64 min, max;
} KeySpec;

#define OFF(field) G_STRUCT_OFFSET(CrpBrokerConfig, field)

static const KeySpec key_specs[] = {
    { "broker", "listen", T_ADDRESS, OFF(listen), 0, 0 },
    { "broker", "address", T_ADDRESS, OFF(address), 0, 0 },
    { "broker", "state-dir", T_PATH, OFF(state_dir), 0, 0 },
    { "database", "url", T_DATABASE, OFF(database_url), 0, 0 },
    { "compute", "vcpus", T_UINT, OFF(vcpus), 1, 65535 },
    { "compute", "memory-mib", T_UINT64, OFF(memory_mib), 1,
      G_GUINT64_CONSTANT(1) << 32 },
    { "user-limits", "sessions", T_UINT, OFF(user_sessions), 0, 1000000 },
    { "user-limits", "vcpus", T_UINT, OFF(user_vcpus), 0, 1000000 },
    { "user-limits", "memory-mib", T_UINT64, OFF(user_memory_mib), 0,
      G_GUINT64_CONSTANT(1) << 40 },
    { "storage", "images-dir", T_PATH, OFF(images_dir), 0, 0 },
    { "storage", "overlays-dir", T_PATH, OFF(overlays_dir), 0, 0 },
    { "storage", "files-dir", T_PATH, OFF(files_dir), 0, 0 },
    { "storage", "user-quota-mib", T_UINT64, OFF(user_quota_mib), 0,
      G_GUINT64_CONSTANT(1) << 40 },
    { "qemu", "env-file", T_PATH, OFF(qemu_env_file), 0, 0 },
    { "qemu", "accel", T_ACCEL, OFF(accel), 0, 0 },
    { "sessions", "idle-timeout-s", T_UINT, OFF(idle_timeout_s), 0,
      30 * 86400 },
    { "sessions", "shutdown-grace-s", T_UINT, OFF(shutdown_grace_s), 0, 3600 },
    { "sessions", "ticket-lifetime-s", T_UINT, OFF(ticket_lifetime_s), 1,
      86400 },
    { "login", "handshake-timeout-s", T_UINT, OFF(handshake_timeout_s), 1,
      3600 },
    { "login", "max-failures-per-minute", T_UINT,
      OFF(max_failures_per_minute), 0, 1000000 },
    { "logs", "max-age-days", T_UINT, OFF(logs_max_age_days), 0, 36500 },
    { "logs", "max-total-mib", T_UINT64, OFF(logs_max_total_mib), 0,
      G_GUINT64_CONSTANT(1) << 30 },
    { "logs", "console-max-kib", T_UINT, OFF(console_max_kib), 64,
      4 << 20 },
    { "login", "idle-timeout-s", T_UINT, OFF(login_idle_timeout_s), 0,
      30 * 86400 },
    { "login", "max-connections", T_UINT, OFF(max_connections), 0, 1000000 },
    { "login", "max-connections-per-address", T_UINT,
      OFF(max_connections_per_address), 0, 1000000 },
    { "login", "max-handshakes", T_UINT, OFF(max_handshakes), 0, 1000000 },
    { "login", "max-handshakes-per-address", T_UINT,
      OFF(max_handshakes_per_address), 0, 1000000 },
    { "web", "listen", T_ADDRESS, OFF(web_listen), 0, 0 },
    { "web", "certificate", T_PATH, OFF(web_certificate), 0, 0 },
    { "web", "private-key", T_PATH, OFF(web_private_key), 0, 0 },
    { "web", "root", T_PATH, OFF(web_root), 0, 0 },
    { "web", "allowed-origins", T_ORIGINS, OFF(web_allowed_origins), 0, 0 },
};

#define FIELD(config, spec, type) \
    ((type *)G_STRUCT_MEMBER_P((config), (spec)->offset))

static const KeySpec *
find_spec(const char *group, const char *key)
{
    for (gsize i = 0; i < G_N_ELEMENTS(key_specs); i++) {
        if (g_str_equal(key_specs[i].group, group) &&
            (!key || g_str_equal(key_specs[i].key, key))) {
            return &key_specs[i];
        }
    }
    return NULL;
}

void
crp_broker_config_free(CrpBrokerConfig *config)
{
    if (!config) {
        return;
    }
    g_free(config->path);
    for (gsize i = 0; i < G_N_ELEMENTS(key_specs); i++) {
        if (key_specs[i].type != T_UINT && key_specs[i].type != T_UINT64) {
            g_free(*FIELD(config, &key_specs[i], char *));
        }
    }
    g_free(config);
}

/* ------------------------------------------------------------------------ */
/* Addresses */

void
crp_broker_address_free(CrpBrokerAddress *address)
{
    if (!address) {
        return;
    }
    g_free(address->host);
    g_free(address->path);
    g_free(address);
}

static gboolean
valid_host(const char *host, gboolean bracketed)
{
    if (!*host || strlen(host) > 253) {
        return FALSE;
    }
    for (const char *p = host; *p; p++) {
        if (!(g_ascii_isalnum(*p) || *p == '.' || *p == '-' || *p == '_' ||
              (bracketed && (*p == ':' || *p == '%')))) {
            return FALSE;
        }
    }
    return TRUE;
}

CrpBrokerAddress *
crp_broker_address_parse(const char *text, GError **error)
{
    g_autoptr(CrpBrokerAddress) address = g_new0(CrpBrokerAddress, 1);

    if (g_str_has_prefix(text, "unix:")) {
        const char *path = text + strlen("unix:");
        if (!g_path_is_absolute(path)) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s': unix: needs an absolute path", text);
            return NULL;
        }
        if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s': the socket path is longer than %zu bytes", text,
                        sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
            return NULL;
        }
        address->kind = CRP_BROKER_ADDRESS_UNIX;
        address->path = g_strdup(path);
        return g_steal_pointer(&address);
    }
    if (!g_str_has_prefix(text, "tcp:")) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "'%s' is not tcp:HOST:PORT or unix:/PATH", text);
        return NULL;
    }
    const char *hostport = text + strlen("tcp:");
    const char *colon = strrchr(hostport, ':');
    g_autofree char *host = NULL;
    gboolean bracketed = FALSE;
    guint64 port = 0;

    if (colon) {
        host = g_strndup(hostport, colon - hostport);
        gsize n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = '\0';
            bracketed = TRUE;
        }
    }
    if (!colon || !valid_host(host, bracketed) ||
        (!bracketed && strchr(host, ':'))) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "'%s' is not tcp:HOST:PORT (IPv6 literals in brackets)",
                    text);
        return NULL;
    }
    if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "'%s': the port must be a number from 1 to 65535", text);
        return NULL;
    }
    address->kind = CRP_BROKER_ADDRESS_TCP;
    address->host = g_steal_pointer(&host);
    address->port = (guint16)port;
    return g_steal_pointer(&address);
}

/* ------------------------------------------------------------------------ */
/* Accelerators */

/* QEMU runs a command line, not a shell, but an -accel value is still
 * parsed by QEMU's option parser: keep it to plain words. */
#define ACCEL_MAX 256
#define ACCEL_WORD_CHARS "abcdefghijklmnopqrstuvwxyz0123456789._-"

static gboolean
accel_word(const char *s, gsize len)
{
    return len > 0 && strspn(s, ACCEL_WORD_CHARS) >= len;
}

static gboolean
check_accel_item(const char *item, GError **error)
{
    /* An empty item splits into no parts at all. */
    g_auto(GStrv) parts = g_strsplit(item, ",", -1);

    if (!parts[0] ||
        (!g_str_equal(parts[0], "kvm") && !g_str_equal(parts[0], "tcg"))) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "'%s': the accelerator must be kvm or tcg", item);
        return FALSE;
    }
    for (guint i = 1; parts[i]; i++) {
        const char *eq = strchr(parts[i], '=');
        if (!eq || !accel_word(parts[i], eq - parts[i]) ||
            !accel_word(eq + 1, strlen(eq + 1))) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s': a property must be NAME=VALUE of [a-z0-9._-]",
                        item);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
crp_broker_config_check_accel(const char *text, GError **error)
{
    g_auto(GStrv) items = NULL;

    if (!*text || strlen(text) > ACCEL_MAX) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "an accelerator list is 1..%d bytes, like kvm:tcg",
                    ACCEL_MAX);
        return FALSE;
    }
    items = g_strsplit(text, ":", -1);
    for (guint i = 0; items[i]; i++) {
        if (!check_accel_item(items[i], error)) {
            return FALSE;
        }
    }
    return TRUE;
}

GStrv
crp_broker_config_accel_args(const char *text, GError **error)
{
    g_auto(GStrv) items = NULL;
    GPtrArray *args;

    if (!crp_broker_config_check_accel(text, error)) {
        return NULL;
    }
    items = g_strsplit(text, ":", -1);
    args = g_ptr_array_new();
    /* Several -accel options: QEMU tries them in order. */
    for (guint i = 0; items[i]; i++) {
        g_ptr_array_add(args, g_strdup("-accel"));
        g_ptr_array_add(args, g_strdup(items[i]));
    }
    g_ptr_array_add(args, NULL);
    return (GStrv)g_ptr_array_free(args, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Defaults */

/* Half of MemTotal, in MiB; 1024 if it cannot be read. */
static guint64
default_memory_mib(void)
{
    g_autofree char *text = NULL;

    if (g_file_get_contents("/proc/meminfo", &text, NULL, NULL)) {
        const char *line = strstr(text, "MemTotal:");
        if (line) {
            guint64 kib = g_ascii_strtoull(line + strlen("MemTotal:"), NULL, 10);
            if (kib >= 2048) {
                return kib / 1024 / 2;
            }
        }
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        return MAX((guint64)pages * (guint64)page / (2 << 20), 1);
    }
    return 1024;
}

static char *
default_qemu_env_file(void)
{
    const char *cache = g_getenv("CRP_CACHE");

    if (cache && g_path_is_absolute(cache)) {
        return g_build_filename(cache, "qemu-build.env", NULL);
    }
    return g_build_filename(g_get_home_dir(), ".cache", "crp",
                            "qemu-build.env", NULL);
}

/* The fixed defaults; derived ones come in fill_derived(). */
static CrpBrokerConfig *
config_new(void)
{
    CrpBrokerConfig *config = g_new0(CrpBrokerConfig, 1);

    config->listen = g_strdup_printf("tcp:0.0.0.0:%d", CRP_BROKER_DEFAULT_PORT);
    config->state_dir = g_strdup(CRP_BROKER_DEFAULT_STATE_DIR);
    config->vcpus = CLAMP(g_get_num_processors(), 1, 65535);
    config->memory_mib = default_memory_mib();
    /* A few apps at once; CPUs and memory only the host's pools limit
     * unless the operator says so (their right size depends on the apps). */
    config->user_sessions = 4;
    config->user_quota_mib = 2048;
    config->qemu_env_file = default_qemu_env_file();
    /* KVM where this QEMU and host have it, else TCG (see the operator's
     * guide: a host whose KVM is there but broken needs "tcg"). */
    config->accel = g_strdup("kvm:tcg");
    config->logs_max_age_days = 30;
    config->logs_max_total_mib = 1024;
    config->console_max_kib = 1024;
    config->idle_timeout_s = 1800;
    config->shutdown_grace_s = 20;
    config->ticket_lifetime_s = 120;
    config->handshake_timeout_s = 10;
    config->max_failures_per_minute = 10;
    /* Clients send a request at least every 30 s (crp-broker-client's
     * keepalive): ten times that. */
    config->login_idle_timeout_s = 300;
    config->max_connections = 1000;
    config->max_connections_per_address = 100;
    config->max_handshakes = 200;
    config->max_handshakes_per_address = 16;
    return config;
}

/* The address users are told: the listen address, except that a wildcard
 * host (which no client can connect to) becomes this host's name. */
static char *
default_address(const char *listen)
{
    g_autoptr(CrpBrokerAddress) address = crp_broker_address_parse(listen, NULL);

    if (!address || address->kind != CRP_BROKER_ADDRESS_TCP ||
        !(g_str_equal(address->host, "0.0.0.0") ||
          g_str_equal(address->host, "::"))) {
        return g_strdup(listen);
    }
    return g_strdup_printf("tcp:%s:%u", g_get_host_name(), address->port);
}

static void
fill_derived(CrpBrokerConfig *config)
{
    if (!config->address) {
        config->address = default_address(config->listen);
    }
    if (!config->database_url) {
        g_autofree char *db = g_build_filename(config->state_dir, "crp.db", NULL);
        config->database_url = g_strconcat("sqlite:", db, NULL);
    }
    if (!config->images_dir) {
        config->images_dir = g_build_filename(config->state_dir, "images", NULL);
    }
    if (!config->overlays_dir) {
        config->overlays_dir = g_build_filename(config->state_dir, "overlays",
                                                NULL);
    }
    if (!config->files_dir) {
        config->files_dir = g_build_filename(config->state_dir, "files", NULL);
    }
    if (!config->web_root) {
        config->web_root = g_strdup(CRP_BROKER_DEFAULT_WEB_ROOT);
    }
}

CrpBrokerConfig *
crp_broker_config_new_default(void)
{
    CrpBrokerConfig *config = config_new();

    fill_derived(config);
    return config;
}

/* ------------------------------------------------------------------------ */
/* Parsing */

/* "~/x" -> home/x; then absolute and canonical, or NULL. */
static char *
parse_path(const char *value)
{
    g_autofree char *expanded = NULL;

    if (g_str_equal(value, "~") || g_str_has_prefix(value, "~/")) {
        expanded = g_strconcat(g_get_home_dir(), value + 1, NULL);
    } else {
        expanded = g_strdup(value);
    }
    if (!g_path_is_absolute(expanded)) {
        return NULL;
    }
    return g_canonicalize_filename(expanded, "/");
}

/* A canonical path can end in whitespace ("/a /." is "/a "), which
 * reading strips: the effective configuration could not say it. */
static gboolean
check_path_end(const char *path, const char *value, GError **error)
{
    if (g_ascii_isspace(path[strlen(path) - 1])) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "'%s' names a path that ends in whitespace", value);
        return FALSE;
    }
    return TRUE;
}

/* Strips a trailing " # comment" and surrounding whitespace, in place. */
static void
strip_comment(char *value)
{
    for (char *p = value; *p; p++) {
        if (*p == '#' && p > value && g_ascii_isspace(p[-1])) {
            *p = '\0';
            break;
        }
    }
    g_strstrip(value);
}

static gboolean
has_control(const char *value)
{
    for (const char *p = value; *p; p++) {
        if (g_ascii_iscntrl(*p)) {
            return TRUE;
        }
    }
    return FALSE;
}

/* An origin as browsers send it: scheme://host[:port], nothing after. */
static gboolean
check_origins(const char *value, GError **error)
{
    g_auto(GStrv) origins = g_strsplit_set(value, " \t", -1);

    for (char **o = origins; *o; o++) {
        const char *host;

        if (!**o) {
            continue;
        }
        host = g_str_has_prefix(*o, "https://") ? *o + strlen("https://")
             : g_str_has_prefix(*o, "http://")  ? *o + strlen("http://")
             : NULL;
        if (!host || !*host || strchr(host, '/') || strchr(host, '?') ||
            strchr(host, '#') || strchr(host, '@')) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s' is not an origin (http[s]://HOST[:PORT])", *o);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
crp_broker_address_is_loopback(const CrpBrokerAddress *address)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (address->kind != CRP_BROKER_ADDRESS_TCP) {
        return FALSE;
    }
    if (g_ascii_strcasecmp(address->host, "localhost") == 0) {
        return TRUE;
    }
    if (inet_pton(AF_INET, address->host, &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    return inet_pton(AF_INET6, address->host, &v6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&v6);
}

/* [web]: what single keys cannot check. */
static gboolean
check_web(const CrpBrokerConfig *config, GError **error)
{
    g_autoptr(CrpBrokerAddress) address = NULL;

    if (!!config->web_certificate != !!config->web_private_key) {
        g_set_error_literal(error, CRP_BROKER_CONFIG_ERROR,
                            CRP_BROKER_CONFIG_ERROR_INVALID,
                            "[web] certificate and private-key go together");
        return FALSE;
    }
    if (!config->web_listen) {
        return TRUE;
    }
    address = crp_broker_address_parse(config->web_listen, NULL);
    if (!address || address->kind != CRP_BROKER_ADDRESS_TCP) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "[web] listen: '%s' is not tcp:HOST:PORT",
                    config->web_listen);
        return FALSE;
    }
    /* Browsers treat http://localhost as a secure context; anywhere else
     * the key file and every byte would cross the network in the clear
     * to whoever can change the page. */
    if (!config->web_certificate && !crp_broker_address_is_loopback(address)) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_INVALID,
                    "[web] listen: '%s' is not a loopback address: plain "
                    "HTTP is only allowed on loopback; set [web] certificate "
                    "and private-key for HTTPS", config->web_listen);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_value(CrpBrokerConfig *config, const KeySpec *spec, const char *value,
            GError **error)
{
    g_autoptr(GError) local = NULL;
    guint64 number = 0;

    switch (spec->type) {
    case T_ADDRESS: {
        g_autoptr(CrpBrokerAddress) address =
            crp_broker_address_parse(value, &local);
        if (!address) {
            g_set_error_literal(error, CRP_BROKER_CONFIG_ERROR,
                                CRP_BROKER_CONFIG_ERROR_INVALID, local->message);
            return FALSE;
        }
        break;
    }
    case T_PATH: {
        g_autofree char *path = parse_path(value);
        if (!path) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s' is not an absolute path", value);
            return FALSE;
        }
        if (!check_path_end(path, value, error)) {
            return FALSE;
        }
        g_free(*FIELD(config, spec, char *));
        *FIELD(config, spec, char *) = g_steal_pointer(&path);
        return TRUE;
    }
    case T_DATABASE:
        if (g_str_has_prefix(value, "sqlite:")) {
            g_autofree char *path = parse_path(value + strlen("sqlite:"));
            if (!path) {
                g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                            CRP_BROKER_CONFIG_ERROR_INVALID,
                            "'%s': sqlite: needs an absolute path", value);
                return FALSE;
            }
            if (!check_path_end(path, value, error)) {
                return FALSE;
            }
            g_free(*FIELD(config, spec, char *));
            *FIELD(config, spec, char *) = g_strconcat("sqlite:", path, NULL);
            return TRUE;
        }
        if (!g_str_has_prefix(value, "postgresql://") &&
            !g_str_has_prefix(value, "postgres://")) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s' is not sqlite:/PATH (or postgresql://...)", value);
            return FALSE;
        }
        break;
    case T_ACCEL:
        if (!crp_broker_config_check_accel(value, error)) {
            return FALSE;
        }
        break;
    case T_ORIGINS:
        if (!check_origins(value, error)) {
            return FALSE;
        }
        break;
    case T_UINT:
    case T_UINT64:
        if (!g_ascii_string_to_unsigned(value, 10, spec->min, spec->max,
                                        &number, NULL)) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_INVALID,
                        "'%s' is not a whole number from %" G_GUINT64_FORMAT
                        " to %" G_GUINT64_FORMAT, value, spec->min, spec->max);
            return FALSE;
        }
        if (spec->type == T_UINT) {
            *FIELD(config, spec, guint) = (guint)number;
        } else {
            *FIELD(config, spec, guint64) = number;
        }
        return TRUE;
    }
    g_free(*FIELD(config, spec, char *));
    *FIELD(config, spec, char *) = g_strdup(value);
    return TRUE;
}

CrpBrokerConfig *
crp_broker_config_load_data(const char *data, gsize len, const char *name,
                            GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(CrpBrokerConfig) config = config_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;

    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                    CRP_BROKER_CONFIG_ERROR_SYNTAX, "%s: %s", name,
                    local->message);
        return NULL;
    }
    groups = g_key_file_get_groups(kf, NULL);
    for (char **group = groups; *group; group++) {
        g_auto(GStrv) keys = NULL;

        if (!find_spec(*group, NULL)) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_UNKNOWN_KEY,
                        "%s: [%s]: unknown group", name, *group);
            return NULL;
        }
        keys = g_key_file_get_keys(kf, *group, NULL, NULL);
        for (char **key = keys; key && *key; key++) {
            const KeySpec *spec = find_spec(*group, *key);
            g_autofree char *value = NULL;

            if (!spec) {
                g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                            CRP_BROKER_CONFIG_ERROR_UNKNOWN_KEY,
                            "%s: [%s] %s: unknown key", name, *group, *key);
                return NULL;
            }
            value = g_key_file_get_string(kf, *group, *key, &local);
            /* A bad escape gives the raw text and an error (GLib 2.74). */
            if (!value || local) {
                g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                            CRP_BROKER_CONFIG_ERROR_INVALID, "%s: [%s] %s: %s",
                            name, *group, *key, local->message);
                return NULL;
            }
            strip_comment(value);
            if (has_control(value)) {
                /* Never meant, and the effective configuration could not
                 * say it (a CR at the end of a path would be stripped). */
                g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                            CRP_BROKER_CONFIG_ERROR_INVALID,
                            "%s: [%s] %s: control character in the value",
                            name, *group, *key);
                return NULL;
            }
            if (!*value) {
                g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                            CRP_BROKER_CONFIG_ERROR_INVALID,
                            "%s: [%s] %s: empty value (remove the line for "
                            "the default)", name, *group, *key);
                return NULL;
            }
            if (!parse_value(config, spec, value, &local)) {
                g_set_error(error, CRP_BROKER_CONFIG_ERROR, local->code,
                            "%s: [%s] %s: %s", name, *group, *key,
                            local->message);
                return NULL;
            }
        }
    }
    if (!check_web(config, &local)) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR, local->code, "%s: %s",
                    name, local->message);
        return NULL;
    }
    fill_derived(config);
    config->path = g_strdup(name);
    return g_steal_pointer(&config);
}

const char *
crp_broker_config_find_path(const char *path, gboolean *required)
{
    const char *env = g_getenv(CRP_BROKER_CONFIG_ENV);

    if (required) {
        *required = TRUE;
    }
    if (path) {
        return path;
    }
    if (env && *env) {
        return env;
    }
    if (required) {
        *required = FALSE;
    }
    return CRP_BROKER_CONFIG_DEFAULT_PATH;
}

CrpBrokerConfig *
crp_broker_config_load(const char *path, GError **error)
{
    gboolean required = TRUE;
    g_autoptr(GError) local = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;

    path = crp_broker_config_find_path(path, &required);
    if (!required && !g_file_test(path, G_FILE_TEST_EXISTS)) {
        return crp_broker_config_new_default();
    }
    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR, CRP_BROKER_CONFIG_ERROR_IO,
                    "%s", local->message);
        return NULL;
    }
    if (len > MAX_CONFIG_FILE) {
        g_set_error(error, CRP_BROKER_CONFIG_ERROR, CRP_BROKER_CONFIG_ERROR_IO,
                    "%s: %" G_GSIZE_FORMAT " bytes is too large for a "
                    "configuration file", path, len);
        return NULL;
    }
    return crp_broker_config_load_data(data, len, path, error);
}

/* ------------------------------------------------------------------------ */
/* Output and helpers */

/* @value as GKeyFile reads it back: backslashes doubled. (Parsed values
 * hold no control characters, no whitespace at their ends and no '#'
 * after whitespace: reading refuses, strips and cuts those.) */
static char *
escape_value(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, "\\", -1);

    return g_strjoinv("\\\\", parts);
}

char *
crp_broker_config_to_string(const CrpBrokerConfig *config)
{
    GString *out = g_string_new(NULL);
    const char *group = NULL;

    g_string_append_printf(out, "# Effective configuration (from %s)\n",
                           config->path ? config->path : "built-in defaults");
    for (gsize i = 0; i < G_N_ELEMENTS(key_specs); i++) {
        const KeySpec *spec = &key_specs[i];
        g_autofree char *escaped = NULL;

        if (!group || !g_str_equal(group, spec->group)) {
            group = spec->group;
            g_string_append_printf(out, "%s[%s]\n", i ? "\n" : "", group);
        }
        switch (spec->type) {
        case T_UINT:
            g_string_append_printf(out, "%s = %u\n", spec->key,
                                   *FIELD(config, spec, guint));
            break;
        case T_UINT64:
            g_string_append_printf(out, "%s = %" G_GUINT64_FORMAT "\n",
                                   spec->key, *FIELD(config, spec, guint64));
            break;
        default: {
            /* Accessed through a const struct: copy the pointer out. */
            const char *value = *(char *const *)G_STRUCT_MEMBER_P(
                (gpointer)config, spec->offset);
            if (!value) {
                /* Off ([web] listen) or derived at run time. */
                g_string_append_printf(out, "#%s =\n", spec->key);
                break;
            }
            escaped = escape_value(value);
            g_string_append_printf(out, "%s = %s\n", spec->key, escaped);
            break;
        }
        }
    }
    return g_string_free(out, FALSE);
}

char *
crp_broker_config_broker_key_path(const CrpBrokerConfig *config)
{
    return g_build_filename(config->state_dir, "broker.key", NULL);
}

const char *
crp_broker_config_sqlite_path(const CrpBrokerConfig *config)
{
    if (g_str_has_prefix(config->database_url, "sqlite:")) {
        return config->database_url + strlen("sqlite:");
    }
    return NULL;
}

/* What a shell takes for an assignment's name: build-qemu's env file is
 * sourced as well as read here, and both must see the same variables. */
static gboolean
valid_env_name(const char *name)
{
    if (!g_ascii_isalpha(*name) && *name != '_') {
        return FALSE;
    }
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_') {
            return FALSE;
        }
    }
    return TRUE;
}

GHashTable *
crp_broker_config_parse_qemu_env(const char *text, const char *name,
                                 GError **error)
{
    g_autoptr(GHashTable) vars =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint lineno = 0;

    for (char **line = lines; *line; line++) {
        g_autofree char *value = NULL;

        lineno++;
        /* Stripped before looking for '=': g_strstrip() moves the text. */
        g_strstrip(*line);
        if (!**line || **line == '#') {
            continue;
        }
        char *eq = strchr(*line, '=');
        if (eq) {
            *eq = '\0';
        }
        if (!eq || !valid_env_name(*line)) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_SYNTAX,
                        "%s:%u: not KEY=VALUE", name, lineno);
            return NULL;
        }
        value = g_shell_unquote(eq + 1, NULL);
        if (!value) {
            g_set_error(error, CRP_BROKER_CONFIG_ERROR,
                        CRP_BROKER_CONFIG_ERROR_SYNTAX,
                        "%s:%u: badly quoted value", name, lineno);
            return NULL;
        }
        g_hash_table_replace(vars, g_strdup(*line), g_steal_pointer(&value));
    }
    return g_steal_pointer(&vars);
}

GHashTable *
crp_broker_config_read_qemu_env(const CrpBrokerConfig *config, GError **error)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(config->qemu_env_file, &text, NULL, error)) {
        return NULL;
    }
    return crp_broker_config_parse_qemu_env(text, config->qemu_env_file,
                                            error);
}
