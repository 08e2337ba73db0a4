/*
 * crp-broker-config.h: the broker's configuration file.
 *
 * One INI file (GKeyFile syntax) read by crp-broker and crp-admin alike;
 * every key has a default, so an empty file (or none at the default path)
 * is a working configuration. broker/crp-broker.conf.example documents
 * every key. The file is found in this order: an explicit path (--config),
 * $CRP_BROKER_CONFIG, then CRP_BROKER_CONFIG_DEFAULT_PATH. A file named
 * explicitly or by the environment must exist; the default path may be
 * missing (defaults apply).
 *
 * Syntax notes beyond GKeyFile: whitespace around '=' is ignored, and a '#'
 * preceded by whitespace starts a comment that runs to the end of the line
 * (so "vcpus = 2   # two cores" works). Paths must be absolute; a leading
 * "~/" is the home directory. Values hold no control characters. Unknown
 * groups and keys are errors (a typo must not silently fall back to a
 * default).
 *
 * Errors are in CRP_BROKER_CONFIG_ERROR and read "FILE: [group] key: what
 * is wrong", e.g. "/etc/crp/crp-broker.conf: [compute] vcpus: 'two' is not
 * a whole number from 1 to 65535".
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_BROKER_CONFIG_DEFAULT_PATH "/etc/crp/crp-broker.conf"
#define CRP_BROKER_CONFIG_ENV "CRP_BROKER_CONFIG"
#define CRP_BROKER_DEFAULT_STATE_DIR "/var/lib/crp-broker"
#define CRP_BROKER_DEFAULT_PORT 5930
/* The browser client's files, as installed (clients/web). */
#ifndef CRP_BROKER_DEFAULT_WEB_ROOT
#define CRP_BROKER_DEFAULT_WEB_ROOT "/usr/local/share/crp/web"
#endif

#define CRP_BROKER_CONFIG_ERROR (crp_broker_config_error_quark())
GQuark crp_broker_config_error_quark(void);

typedef enum {
    /** The file cannot be read (missing, permissions). */
    CRP_BROKER_CONFIG_ERROR_IO,
    /** Not INI syntax GKeyFile accepts. */
    CRP_BROKER_CONFIG_ERROR_SYNTAX,
    /** A group or key this broker does not know. */
    CRP_BROKER_CONFIG_ERROR_UNKNOWN_KEY,
    /** A value is malformed or out of range. */
    CRP_BROKER_CONFIG_ERROR_INVALID,
} CrpBrokerConfigError;

/**
 * CrpBrokerConfig:
 *
 * The parsed configuration, defaults filled in. Paths are absolute. All
 * strings are owned by the struct.
 */
typedef struct {
    /* Where it came from: the file read, or NULL for built-in defaults. */
    char *path;

    /* [broker] */
    char *listen;               /* tcp:HOST:PORT or unix:/PATH */
    char *address;              /* what user key files name */
    char *state_dir;

    /* [database] */
    char *database_url;         /* sqlite:/PATH or postgresql://... */

    /* [compute]: the budget live sessions draw from. */
    guint vcpus;
    guint64 memory_mib;

    /* [user-limits]: what one user's live sessions may hold at once,
     * unless crp-admin user limits says otherwise; 0: no limit. */
    guint user_sessions;
    guint user_vcpus;
    guint64 user_memory_mib;

    /* [storage] */
    char *images_dir;
    char *overlays_dir;
    char *files_dir;            /* My files: one area per user */
    guint64 user_quota_mib;     /* 0: no quota; overlays and My files */

    /* [qemu] */
    char *qemu_env_file;
    char *accel;                /* -accel list, "kvm:tcg" (see _check_accel) */

    /* [logs]: STATE/logs and each session's serial console. */
    guint logs_max_age_days;    /* 0: kept however old */
    guint64 logs_max_total_mib; /* 0: no limit */
    guint console_max_kib;      /* per session, the rotated file included */

    /* [sessions] */
    guint idle_timeout_s;       /* 0: never */
    guint shutdown_grace_s;
    guint ticket_lifetime_s;

    /* [login] */
    guint handshake_timeout_s;  /* until the client's first record */
    guint max_failures_per_minute; /* per source address; 0: no limit */
    guint login_idle_timeout_s; /* logged in, saying nothing; 0: never */
    /* Caps on broker connections, 0: no limit. Per address: an IPv4
     * address, an IPv6 /64, or a local user (unix sockets). */
    guint max_connections;
    guint max_connections_per_address;
    guint max_handshakes;       /* connections not yet logged in */
    guint max_handshakes_per_address;

    /* [web]: the browser client's listener; off while web_listen is NULL.
     * Without a certificate it only listens on loopback (checked at
     * load). */
    char *web_listen;           /* tcp:HOST:PORT, or NULL */
    char *web_certificate;      /* PEM paths, both or neither */
    char *web_private_key;
    char *web_root;             /* the static files served */
    char *web_allowed_origins;  /* space-separated; NULL: the listener's own */
} CrpBrokerConfig;

/** Frees the config; accepts NULL. */
void crp_broker_config_free(CrpBrokerConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpBrokerConfig, crp_broker_config_free)

/**
 * crp_broker_config_find_path:
 * @path: (nullable): an explicit path (e.g. from --config).
 * @required: (out) (optional): TRUE when the file must exist (explicit or
 *   from the environment), FALSE for the default path.
 *
 * Returns: the path to read: @path, $CRP_BROKER_CONFIG, or the default.
 */
const char *crp_broker_config_find_path(const char *path, gboolean *required);

/**
 * crp_broker_config_load:
 * @path: (nullable): see crp_broker_config_find_path().
 *
 * Reads and validates the configuration.
 *
 * Returns: (transfer full): the configuration, or NULL with @error set.
 */
CrpBrokerConfig *crp_broker_config_load(const char *path, GError **error);

/**
 * crp_broker_config_load_data:
 * @name: the file name to use in error messages.
 *
 * Parses and validates configuration text.
 */
CrpBrokerConfig *crp_broker_config_load_data(const char *data, gsize len,
                                             const char *name,
                                             GError **error);

/** The built-in defaults (what an empty file gives). */
CrpBrokerConfig *crp_broker_config_new_default(void);

/** The effective configuration as a complete INI file, every key set (it
 *  holds no secrets: the broker key is a separate file). */
char *crp_broker_config_to_string(const CrpBrokerConfig *config);

/** Where the broker key lives: <state-dir>/broker.key. */
char *crp_broker_config_broker_key_path(const CrpBrokerConfig *config);

/**
 * crp_broker_config_sqlite_path:
 *
 * Returns: (nullable): the database file for an sqlite: URL, or NULL for
 * another backend.
 */
const char *crp_broker_config_sqlite_path(const CrpBrokerConfig *config);

/**
 * crp_broker_config_check_accel:
 *
 * Checks a list of QEMU accelerators in QEMU's -accel syntax, tried in
 * order: "kvm", "tcg", "kvm:tcg", "tcg,thread=single". Names are kvm and
 * tcg; properties are NAME=VALUE of [a-z0-9._-]. The error message says
 * what is wrong, without a prefix.
 */
gboolean crp_broker_config_check_accel(const char *text, GError **error);

/**
 * crp_broker_config_accel_args:
 *
 * Returns: (transfer full): the QEMU arguments for @text ("-accel", "kvm",
 * "-accel", "tcg"), or NULL with @error when it does not check.
 */
GStrv crp_broker_config_accel_args(const char *text, GError **error);

/* ------------------------------------------------------------------------ */
/* Addresses (listen, address) */

typedef enum {
    CRP_BROKER_ADDRESS_TCP,
    CRP_BROKER_ADDRESS_UNIX,
} CrpBrokerAddressKind;

typedef struct {
    CrpBrokerAddressKind kind;
    char *host;                 /* TCP: name or IP literal, no brackets */
    guint16 port;               /* TCP */
    char *path;                 /* UNIX: absolute */
} CrpBrokerAddress;

void crp_broker_address_free(CrpBrokerAddress *address);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpBrokerAddress, crp_broker_address_free)

/**
 * crp_broker_address_parse:
 *
 * Parses "tcp:HOST:PORT" (an IPv6 literal in brackets: "tcp:[::1]:5930")
 * or "unix:/PATH" (absolute, shorter than a sockaddr_un path). The error
 * message says what is wrong, without a prefix.
 */
CrpBrokerAddress *crp_broker_address_parse(const char *text, GError **error);
/** TRUE for a TCP address on 127.0.0.0/8, ::1 or "localhost". */
gboolean crp_broker_address_is_loopback(const CrpBrokerAddress *address);

/**
 * crp_broker_config_read_qemu_env:
 *
 * Reads the [qemu] env-file (KEY=VALUE lines as written by
 * qemu-crp-display/build-qemu: KEY a shell variable name, VALUE
 * optionally shell-quoted; '#' comments and blank lines).
 *
 * Returns: (transfer full): a table of its variables, or NULL with @error.
 */
GHashTable *crp_broker_config_read_qemu_env(const CrpBrokerConfig *config,
                                            GError **error);

/**
 * crp_broker_config_parse_qemu_env:
 * @name: the file name to use in error messages.
 *
 * The same for the file's text.
 */
GHashTable *crp_broker_config_parse_qemu_env(const char *text,
                                             const char *name,
                                             GError **error);

G_END_DECLS
