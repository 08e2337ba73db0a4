/*
 * test-crp-broker-config.c: broker/config: the configuration file
 * (defaults, every key, validation messages) and the broker key file.
 */
#include "crp-broker-config.h"
#include "crp-broker-key.h"

#include <crp/crp-error.h>

#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static CrpBrokerConfig *
load_text(const char *text, GError **error)
{
    return crp_broker_config_load_data(text, strlen(text), "test.conf", error);
}

static void
test_defaults(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerConfig) c = load_text("", &error);
    g_autofree char *address = g_strdup_printf("tcp:%s:5930",
                                               g_get_host_name());

    g_assert_no_error(error);
    g_assert_cmpstr(c->path, ==, "test.conf");
    g_assert_cmpstr(c->listen, ==, "tcp:0.0.0.0:5930");
    /* A wildcard listen address is no use in a key file. */
    g_assert_cmpstr(c->address, ==, address);
    g_assert_cmpstr(c->state_dir, ==, "/var/lib/crp-broker");
    g_assert_cmpstr(c->database_url, ==, "sqlite:/var/lib/crp-broker/crp.db");
    g_assert_cmpstr(c->images_dir, ==, "/var/lib/crp-broker/images");
    g_assert_cmpstr(c->overlays_dir, ==, "/var/lib/crp-broker/overlays");
    g_assert_cmpuint(c->vcpus, ==, g_get_num_processors());
    g_assert_cmpuint(c->memory_mib, >=, 1);
    g_assert_cmpuint(c->user_quota_mib, ==, 2048);
    g_assert_true(g_str_has_suffix(c->qemu_env_file, "/qemu-build.env"));
    g_assert_cmpuint(c->idle_timeout_s, ==, 1800);
    g_assert_cmpuint(c->shutdown_grace_s, ==, 20);
    g_assert_cmpuint(c->ticket_lifetime_s, ==, 120);
    g_assert_cmpuint(c->handshake_timeout_s, ==, 10);
    g_assert_cmpuint(c->max_failures_per_minute, ==, 10);
    g_assert_cmpuint(c->user_sessions, ==, 4);
    g_assert_cmpuint(c->user_vcpus, ==, 0);
    g_assert_cmpuint(c->user_memory_mib, ==, 0);
    g_assert_cmpstr(c->accel, ==, "kvm:tcg");
    g_assert_cmpuint(c->logs_max_age_days, ==, 30);
    g_assert_cmpuint(c->logs_max_total_mib, ==, 1024);
    g_assert_cmpuint(c->console_max_kib, ==, 1024);
    g_assert_cmpuint(c->login_idle_timeout_s, ==, 300);
    g_assert_cmpuint(c->max_connections, ==, 1000);
    g_assert_cmpuint(c->max_connections_per_address, ==, 100);
    g_assert_cmpuint(c->max_handshakes, ==, 200);
    g_assert_cmpuint(c->max_handshakes_per_address, ==, 16);
    g_assert_cmpstr(crp_broker_config_sqlite_path(c), ==,
                    "/var/lib/crp-broker/crp.db");
    g_autofree char *key = crp_broker_config_broker_key_path(c);
    g_assert_cmpstr(key, ==, "/var/lib/crp-broker/broker.key");
}

static const char full_config[] =
    "# every key\n"
    "[broker]\n"
    "listen = unix:/run/crp/broker.sock   # a comment after a value\n"
    "address=tcp:broker.example.org:6000\n"
    "state-dir = /srv/crp//state/\n"
    "[database]\n"
    "url = sqlite:/srv/db/crp.db\n"
    "[compute]\n"
    "vcpus = 12\n"
    "memory-mib = 65536\n"
    "[user-limits]\n"
    "sessions = 3\n"
    "vcpus = 4\n"
    "memory-mib = 4096\n"
    "[storage]\n"
    "images-dir = /srv/images\n"
    "overlays-dir = /srv/overlays\n"
    "user-quota-mib = 0\n"
    "[qemu]\n"
    "env-file = ~/qemu.env\n"
    "accel = tcg,thread=single:kvm\n"
    "[logs]\n"
    "max-age-days = 7\n"
    "max-total-mib = 0\n"
    "console-max-kib = 256\n"
    "[sessions]\n"
    "idle-timeout-s = 0\n"
    "shutdown-grace-s = 5\n"
    "ticket-lifetime-s = 30\n"
    "[login]\n"
    "handshake-timeout-s = 3\n"
    "max-failures-per-minute = 0\n"
    "idle-timeout-s = 0\n"
    "max-connections = 5000\n"
    "max-connections-per-address = 0\n"
    "max-handshakes = 300\n"
    "max-handshakes-per-address = 4\n";

static void
check_full(const CrpBrokerConfig *c)
{
    g_autofree char *env = g_build_filename(g_get_home_dir(), "qemu.env", NULL);

    g_assert_cmpstr(c->listen, ==, "unix:/run/crp/broker.sock");
    g_assert_cmpstr(c->address, ==, "tcp:broker.example.org:6000");
    g_assert_cmpstr(c->state_dir, ==, "/srv/crp/state");
    g_assert_cmpstr(c->database_url, ==, "sqlite:/srv/db/crp.db");
    g_assert_cmpuint(c->vcpus, ==, 12);
    g_assert_cmpuint(c->memory_mib, ==, 65536);
    g_assert_cmpstr(c->images_dir, ==, "/srv/images");
    g_assert_cmpstr(c->overlays_dir, ==, "/srv/overlays");
    g_assert_cmpuint(c->user_quota_mib, ==, 0);
    g_assert_cmpstr(c->qemu_env_file, ==, env);
    g_assert_cmpuint(c->idle_timeout_s, ==, 0);
    g_assert_cmpuint(c->shutdown_grace_s, ==, 5);
    g_assert_cmpuint(c->ticket_lifetime_s, ==, 30);
    g_assert_cmpuint(c->handshake_timeout_s, ==, 3);
    g_assert_cmpuint(c->max_failures_per_minute, ==, 0);
    g_assert_cmpuint(c->user_sessions, ==, 3);
    g_assert_cmpuint(c->user_vcpus, ==, 4);
    g_assert_cmpuint(c->user_memory_mib, ==, 4096);
    g_assert_cmpstr(c->accel, ==, "tcg,thread=single:kvm");
    g_assert_cmpuint(c->logs_max_age_days, ==, 7);
    g_assert_cmpuint(c->logs_max_total_mib, ==, 0);
    g_assert_cmpuint(c->console_max_kib, ==, 256);
    g_assert_cmpuint(c->login_idle_timeout_s, ==, 0);
    g_assert_cmpuint(c->max_connections, ==, 5000);
    g_assert_cmpuint(c->max_connections_per_address, ==, 0);
    g_assert_cmpuint(c->max_handshakes, ==, 300);
    g_assert_cmpuint(c->max_handshakes_per_address, ==, 4);
}

static void
test_every_key(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerConfig) c = load_text(full_config, &error);

    g_assert_no_error(error);
    check_full(c);

    /* The effective configuration reads back to the same values. */
    g_autofree char *text = crp_broker_config_to_string(c);
    g_autoptr(CrpBrokerConfig) again = load_text(text, &error);
    g_assert_no_error(error);
    check_full(again);
}

/* Values with backslashes (which GKeyFile escapes) come back from the
 * effective configuration as they were. */
static void
test_effective_escapes(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerConfig) c = load_text(
        "[broker]\nstate-dir = /srv/a\\\\b\nlisten = unix:/run/x\\\\y\n", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->state_dir, ==, "/srv/a\\b");
    g_assert_cmpstr(c->listen, ==, "unix:/run/x\\y");

    g_autofree char *text = crp_broker_config_to_string(c);
    g_autoptr(CrpBrokerConfig) again = load_text(text, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again->state_dir, ==, c->state_dir);
    g_assert_cmpstr(again->listen, ==, c->listen);
    g_assert_cmpstr(again->images_dir, ==, c->images_dir);
}

static void
test_derived(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerConfig) c = load_text(
        "[broker]\nstate-dir=/data/crp\nlisten=unix:/data/crp/b.sock\n"
        "[database]\nurl=postgresql://db.example.org/crp\n", &error);

    g_assert_no_error(error);
    g_assert_cmpstr(c->address, ==, "unix:/data/crp/b.sock");
    g_assert_cmpstr(c->database_url, ==, "postgresql://db.example.org/crp");
    g_assert_null(crp_broker_config_sqlite_path(c));
    g_assert_cmpstr(c->images_dir, ==, "/data/crp/images");
    g_assert_cmpstr(c->overlays_dir, ==, "/data/crp/overlays");

    g_autoptr(CrpBrokerConfig) d = load_text(
        "[broker]\nstate-dir=/data/crp\n", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(d->database_url, ==, "sqlite:/data/crp/crp.db");
}

typedef struct {
    const char *text;
    int code;
    const char *message;        /* a substring of the error */
} BadCase;

static void
test_errors(void)
{
    static const BadCase cases[] = {
        { "[compute]\nvcpus = two\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [compute] vcpus: 'two' is not a whole number from 1 to "
          "65535" },
        { "[compute]\nvcpus = 0\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[compute] vcpus: '0'" },
        { "[compute]\nvcpus = 70000\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[compute] vcpus: '70000'" },
        { "[compute]\nmemory-mib = -1\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[compute] memory-mib" },
        { "[compute]\nvcpu = 2\n", CRP_BROKER_CONFIG_ERROR_UNKNOWN_KEY,
          "test.conf: [compute] vcpu: unknown key" },
        { "[computer]\nvcpus = 2\n", CRP_BROKER_CONFIG_ERROR_UNKNOWN_KEY,
          "test.conf: [computer]: unknown group" },
        { "[broker]\nstate-dir = var/lib\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[broker] state-dir: 'var/lib' is not an absolute path" },
        { "[broker]\nlisten = tcp:0.0.0.0\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[broker] listen: 'tcp:0.0.0.0' is not tcp:HOST:PORT" },
        { "[broker]\nlisten = tcp:host:99999\n",
          CRP_BROKER_CONFIG_ERROR_INVALID, "port must be a number" },
        { "[broker]\naddress = unix:relative.sock\n",
          CRP_BROKER_CONFIG_ERROR_INVALID, "[broker] address:" },
        { "[broker]\naddress = http://x\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "is not tcp:HOST:PORT or unix:/PATH" },
        { "[database]\nurl = mysql://x\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[database] url:" },
        /* Plain HTTP only where browsers treat it as secure. */
        { "[web]\nlisten = tcp:0.0.0.0:8443\n",
          CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [web] listen: 'tcp:0.0.0.0:8443' is not a loopback "
          "address: plain HTTP is only allowed on loopback" },
        { "[web]\nlisten = tcp:192.168.1.5:8443\n",
          CRP_BROKER_CONFIG_ERROR_INVALID, "not a loopback address" },
        { "[web]\nlisten = unix:/run/web.sock\n",
          CRP_BROKER_CONFIG_ERROR_INVALID,
          "[web] listen: 'unix:/run/web.sock' is not tcp:HOST:PORT" },
        { "[web]\nlisten = tcp:0.0.0.0:8443\ncertificate = /etc/c.pem\n",
          CRP_BROKER_CONFIG_ERROR_INVALID,
          "[web] certificate and private-key go together" },
        { "[web]\nallowed-origins = https://a.example/path\n",
          CRP_BROKER_CONFIG_ERROR_INVALID,
          "'https://a.example/path' is not an origin" },
        { "[web]\nallowed-origins = ftp://a.example\n",
          CRP_BROKER_CONFIG_ERROR_INVALID, "is not an origin" },
        { "[database]\nurl = sqlite:crp.db\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "sqlite: needs an absolute path" },
        { "[sessions]\nticket-lifetime-s =\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[sessions] ticket-lifetime-s: empty value" },
        { "[sessions]\nticket-lifetime-s = 0\n",
          CRP_BROKER_CONFIG_ERROR_INVALID, "ticket-lifetime-s" },
        { "[qemu]\naccel = xen\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [qemu] accel: 'xen': the accelerator must be kvm or "
          "tcg" },
        { "[qemu]\naccel = kvm::tcg\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[qemu] accel: '': the accelerator" },
        { "[qemu]\naccel = tcg,thread\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "a property must be NAME=VALUE" },
        { "[qemu]\naccel = tcg,x=1,-S=2\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "a property must be NAME=VALUE" },
        { "[logs]\nconsole-max-kib = 8\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[logs] console-max-kib: '8' is not a whole number from 64" },
        { "[user-limits]\nsessions = -1\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[user-limits] sessions" },
        /* GKeyFile hands back the raw text of a value with a bad escape,
         * and an error: the error counts. */
        { "[broker]\nstate-dir = /srv/a\\qb\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [broker] state-dir: " },
        { "[compute]\nvcpus = 2\\q\nmemory-mib = 1\n",
          CRP_BROKER_CONFIG_ERROR_INVALID, "test.conf: [compute] vcpus: " },
        /* Control characters: a tab, or a CR that the path's canonical
         * form would leave at its end (where reading strips it). */
        { "[broker]\nstate-dir = /srv/a\\tb\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [broker] state-dir: control character" },
        { "[database]\nurl = sqlite:/srv/c\r/\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [database] url: control character" },
        /* A path whose canonical form ends in a space ("/srv/b " from
         * "/srv/b /."): reading would strip it. */
        { "[storage]\nimages-dir = /srv/b /.\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "test.conf: [storage] images-dir: '/srv/b /.' names a path that ends "
          "in whitespace" },
        { "[database]\nurl = sqlite:/srv/c //\n", CRP_BROKER_CONFIG_ERROR_INVALID,
          "[database] url: 'sqlite:/srv/c //' names a path" },
        { "[login\n", CRP_BROKER_CONFIG_ERROR_SYNTAX, "test.conf:" },
        { "vcpus = 2\n", CRP_BROKER_CONFIG_ERROR_SYNTAX, "test.conf:" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(CrpBrokerConfig) c = load_text(cases[i].text, &error);

        g_test_message("case %zu: %s", i, cases[i].text);
        g_assert_null(c);
        g_assert_error(error, CRP_BROKER_CONFIG_ERROR, cases[i].code);
        if (!strstr(error->message, cases[i].message)) {
            g_error("'%s' lacks '%s'", error->message, cases[i].message);
        }
    }
}

static void
test_address(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerAddress) v6 = crp_broker_address_parse("tcp:[::1]:5930",
                                                              &error);
    g_assert_no_error(error);
    g_assert_cmpint(v6->kind, ==, CRP_BROKER_ADDRESS_TCP);
    g_assert_cmpstr(v6->host, ==, "::1");
    g_assert_cmpuint(v6->port, ==, 5930);

    g_autoptr(CrpBrokerAddress) unix_addr =
        crp_broker_address_parse("unix:/run/x.sock", &error);
    g_assert_no_error(error);
    g_assert_cmpint(unix_addr->kind, ==, CRP_BROKER_ADDRESS_UNIX);
    g_assert_cmpstr(unix_addr->path, ==, "/run/x.sock");

    static const char *const bad[] = {
        "tcp::1:5930", "tcp::5930", "tcp:host:0", "tcp:ho st:1", "unix:",
        "tcp:host:5930x",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        g_assert_null(crp_broker_address_parse(bad[i], &e));
        g_assert_error(e, CRP_BROKER_CONFIG_ERROR,
                       CRP_BROKER_CONFIG_ERROR_INVALID);
    }
    g_autofree char *long_path = g_strnfill(200, 'a');
    g_autofree char *long_addr = g_strconcat("unix:/", long_path, NULL);
    g_autoptr(GError) e = NULL;
    g_assert_null(crp_broker_address_parse(long_addr, &e));
    g_assert_nonnull(strstr(e->message, "longer than"));
}

static void
test_load_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-config-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "broker.conf", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);

    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(path, "[compute]\nvcpus=3\n", -1,
                                      &error));
    g_autoptr(CrpBrokerConfig) c = crp_broker_config_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->vcpus, ==, 3);
    g_assert_cmpstr(c->path, ==, path);

    /* A file named explicitly must exist. */
    g_assert_null(crp_broker_config_load(missing, &error));
    g_assert_error(error, CRP_BROKER_CONFIG_ERROR, CRP_BROKER_CONFIG_ERROR_IO);
    g_clear_error(&error);

    /* The environment names the file when --config does not. */
    gboolean required = FALSE;
    g_setenv(CRP_BROKER_CONFIG_ENV, path, TRUE);
    g_assert_cmpstr(crp_broker_config_find_path(NULL, &required), ==, path);
    g_assert_true(required);
    g_assert_cmpstr(crp_broker_config_find_path(missing, NULL), ==, missing);
    g_autoptr(CrpBrokerConfig) e = crp_broker_config_load(NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(e->vcpus, ==, 3);
    g_unsetenv(CRP_BROKER_CONFIG_ENV);
    g_assert_cmpstr(crp_broker_config_find_path(NULL, &required), ==,
                    CRP_BROKER_CONFIG_DEFAULT_PATH);
    g_assert_false(required);

    g_unlink(path);
    g_rmdir(dir);
}

static void
test_qemu_env(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-config-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "qemu-build.env", NULL);
    g_autofree char *text = g_strdup_printf("[qemu]\nenv-file=%s\n", path);
    g_autoptr(CrpBrokerConfig) c = load_text(text, &error);

    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(path,
        "# Generated by build-qemu\n"
        "QEMU=/opt/q/qemu-system-x86_64\n"
        "QEMU_FIRMWARE_DIRS=/a\\ b:/c\n"
        "  QEMU_IMG=/opt/q/qemu-img  \n", -1, &error));
    g_autoptr(GHashTable) vars = crp_broker_config_read_qemu_env(c, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(g_hash_table_lookup(vars, "QEMU"), ==,
                    "/opt/q/qemu-system-x86_64");
    g_assert_cmpstr(g_hash_table_lookup(vars, "QEMU_FIRMWARE_DIRS"), ==,
                    "/a b:/c");
    /* Indented: the name is still the part before '='. */
    g_assert_cmpstr(g_hash_table_lookup(vars, "QEMU_IMG"), ==,
                    "/opt/q/qemu-img");
    g_assert_cmpuint(g_hash_table_size(vars), ==, 3);

    /* Not assignments a shell would make: refused, not stored under a
     * name nobody looks up. */
    static const char *const bad[] = {
        "QEMU\n", "QEMU =/x\n", "export QEMU=/x\n", "1QEMU=/x\n", "Q-EMU=/x\n",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&error);
        g_assert_true(g_file_set_contents(path, bad[i], -1, &error));
        g_assert_null(crp_broker_config_read_qemu_env(c, &error));
        g_assert_error(error, CRP_BROKER_CONFIG_ERROR,
                       CRP_BROKER_CONFIG_ERROR_SYNTAX);
        g_assert_true(g_str_has_suffix(error->message, ":1: not KEY=VALUE"));
    }
    g_unlink(path);
    g_rmdir(dir);
}

/* The shipped example parses, gives the defaults, and documents every key
 * (set or commented out). */
static void
test_example(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autoptr(CrpBrokerConfig) defaults = crp_broker_config_new_default();
    g_autofree char *effective = crp_broker_config_to_string(defaults);
    g_auto(GStrv) lines = g_strsplit(effective, "\n", -1);

    g_assert_true(g_file_get_contents(CRP_BROKER_CONF_EXAMPLE, &text, NULL,
                                      &error));
    g_autoptr(CrpBrokerConfig) c = load_text(text, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->listen, ==, defaults->listen);
    g_assert_cmpstr(c->state_dir, ==, defaults->state_dir);
    g_assert_cmpstr(c->database_url, ==, defaults->database_url);
    g_assert_cmpuint(c->user_quota_mib, ==, defaults->user_quota_mib);
    g_assert_cmpuint(c->idle_timeout_s, ==, defaults->idle_timeout_s);
    g_assert_cmpuint(c->max_failures_per_minute, ==,
                     defaults->max_failures_per_minute);
    g_assert_cmpuint(c->login_idle_timeout_s, ==,
                     defaults->login_idle_timeout_s);
    g_assert_cmpuint(c->max_connections, ==, defaults->max_connections);
    g_assert_cmpuint(c->max_connections_per_address, ==,
                     defaults->max_connections_per_address);
    g_assert_cmpuint(c->max_handshakes, ==, defaults->max_handshakes);
    g_assert_cmpuint(c->max_handshakes_per_address, ==,
                     defaults->max_handshakes_per_address);

    guint keys = 0;
    for (char **line = lines; *line; line++) {
        char *eq = strstr(*line, " = ");
        if (**line == '#' || **line == '[' || !eq) {
            continue;
        }
        g_autofree char *key = g_strndup(*line, eq - *line);
        g_autofree char *set = g_strdup_printf("\n%s = ", key);
        g_autofree char *commented = g_strdup_printf("\n#%s = ", key);
        if (!strstr(text, set) && !strstr(text, commented)) {
            g_error("the example does not document '%s'", key);
        }
        keys++;
    }
    g_assert_cmpuint(keys, ==, 29);

    /* [web] is off by default: its keys are documented commented out. */
    static const char *const web_keys[] = {
        "listen", "certificate", "private-key", "root", "allowed-origins",
    };
    const char *web = strstr(text, "\n[web]\n");
    g_assert_nonnull(web);
    for (gsize i = 0; i < G_N_ELEMENTS(web_keys); i++) {
        g_autofree char *commented = g_strdup_printf("\n#%s = ", web_keys[i]);
        if (!strstr(web, commented)) {
            g_error("the example does not document [web] %s", web_keys[i]);
        }
    }
}

/* [web]: off by default; loopback without a certificate, anything with
 * one; the effective configuration says so and reads back the same. */
static void
test_web(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpBrokerConfig) defaults = crp_broker_config_new_default();
    g_autoptr(CrpBrokerConfig) local = load_text(
        "[web]\nlisten = tcp:127.0.0.1:8080\n", &error);
    g_autoptr(CrpBrokerConfig) v6 = NULL;
    g_autoptr(CrpBrokerConfig) tls = NULL;
    g_autoptr(CrpBrokerConfig) again = NULL;
    g_autofree char *shown = NULL;

    g_assert_null(defaults->web_listen);
    g_assert_cmpstr(defaults->web_root, ==, CRP_BROKER_DEFAULT_WEB_ROOT);
    g_assert_no_error(error);
    g_assert_cmpstr(local->web_listen, ==, "tcp:127.0.0.1:8080");
    g_assert_null(local->web_allowed_origins);
    v6 = load_text("[web]\nlisten = tcp:[::1]:8080\n", &error);
    g_assert_no_error(error);
    tls = load_text("[web]\nlisten = tcp:0.0.0.0:443\n"
                    "certificate = /etc/crp/web.crt\n"
                    "private-key = /etc/crp/web.key\nroot = /srv/web\n"
                    "allowed-origins = https://a.example https://b:8443\n",
                    &error);
    g_assert_no_error(error);
    g_assert_cmpstr(tls->web_certificate, ==, "/etc/crp/web.crt");
    g_assert_cmpstr(tls->web_root, ==, "/srv/web");
    shown = crp_broker_config_to_string(tls);
    again = load_text(shown, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again->web_listen, ==, tls->web_listen);
    g_assert_cmpstr(again->web_allowed_origins, ==,
                    "https://a.example https://b:8443");
    g_clear_pointer(&shown, g_free);
    shown = crp_broker_config_to_string(defaults);
    g_assert_nonnull(strstr(shown, "\n[web]\n#listen =\n"));
}

/* What reaches QEMU's command line: one -accel per entry, in order. */
static void
test_accel_args(void)
{
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) one = crp_broker_config_accel_args("tcg", &error);
    g_auto(GStrv) two = crp_broker_config_accel_args(
        "kvm:tcg,thread=single,tb-size=64", &error);
    const char *const want_one[] = { "-accel", "tcg", NULL };
    const char *const want_two[] = { "-accel", "kvm", "-accel",
                                     "tcg,thread=single,tb-size=64", NULL };

    g_assert_no_error(error);
    g_assert_true(g_strv_equal((const char *const *)one, want_one));
    g_assert_true(g_strv_equal((const char *const *)two, want_two));
    static const char *const bad[] = {
        "", "kvm:", ":tcg", "KVM", "tcg thread=single", "tcg,=x", "tcg,a=",
        "tcg,a=b=c", "hvf", "tcg,a=$(x)",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        g_test_message("accel '%s'", bad[i]);
        g_assert_null(crp_broker_config_accel_args(bad[i], &e));
        g_assert_error(e, CRP_BROKER_CONFIG_ERROR,
                       CRP_BROKER_CONFIG_ERROR_INVALID);
    }
    g_autofree char *long_text = g_strnfill(300, 'a');
    g_assert_false(crp_broker_config_check_accel(long_text, &error));
    g_assert_error(error, CRP_BROKER_CONFIG_ERROR,
                   CRP_BROKER_CONFIG_ERROR_INVALID);
}

/* ------------------------------------------------------------------------ */
/* Broker key */

static void
test_key_roundtrip(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-key-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "broker.key", NULL);
    g_autoptr(CrpBrokerKey) key = crp_broker_key_generate();
    guint8 derived[32];
    struct stat st;

    g_assert_no_error(error);
    g_assert_cmpint(sodium_init(), >=, 0);
    crypto_scalarmult_base(derived, key->secret_key);
    g_assert_cmpmem(derived, 32, key->public_key, 32);

    g_assert_true(crp_broker_key_save(key, path, &error));
    g_assert_no_error(error);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);

    g_autoptr(CrpBrokerKey) loaded = crp_broker_key_load(path, &error);
    g_assert_no_error(error);
    g_assert_cmpmem(loaded->secret_key, 32, key->secret_key, 32);
    g_assert_cmpmem(loaded->public_key, 32, key->public_key, 32);

    /* Never replaced. */
    g_autoptr(CrpBrokerKey) other = crp_broker_key_generate();
    g_assert_false(crp_broker_key_save(other, path, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST);
    g_clear_error(&error);
    g_autoptr(CrpBrokerKey) still = crp_broker_key_load(path, &error);
    g_assert_cmpmem(still->secret_key, 32, key->secret_key, 32);

    /* No temporary files left behind. */
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint entries = 0;
    while (g_dir_read_name(d)) {
        entries++;
    }
    g_assert_cmpuint(entries, ==, 1);

    /* The file is the format the header documents. */
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "[crp-broker-key]\nversion=1\nsecret-key="));

    g_unlink(path);
    g_rmdir(dir);
}

static void
test_key_permissions(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-key-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "broker.key", NULL);
    g_autofree char *link = g_build_filename(dir, "link.key", NULL);
    g_autoptr(CrpBrokerKey) key = crp_broker_key_generate();

    g_assert_true(crp_broker_key_save(key, path, &error));
    g_assert_cmpint(chmod(path, 0640), ==, 0);
    g_assert_null(crp_broker_key_load(path, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    g_assert_nonnull(strstr(error->message, "mode 0640"));
    g_assert_nonnull(strstr(error->message, "chmod 600"));
    g_clear_error(&error);

    g_assert_cmpint(chmod(path, 0600), ==, 0);
    g_assert_cmpint(symlink(path, link), ==, 0);
    g_assert_null(crp_broker_key_load(link, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    g_clear_error(&error);

    g_unlink(link);
    g_unlink(path);
    g_rmdir(dir);
}

static void
test_key_malformed(void)
{
    static const char *const texts[] = {
        "[crp-broker-key]\nversion=2\nsecret-key=AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAA=\n",
        "[crp-broker-key]\nversion=1\nsecret-key=AAAA\n",
        "[crp-broker-key]\nversion=1\n",
        "[crp-user-key]\nversion=1\n",
        "not a key file",
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-key-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "broker.key", NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autoptr(GError) e = NULL;
        g_assert_true(g_file_set_contents_full(path, texts[i], -1,
                                               G_FILE_SET_CONTENTS_NONE, 0600,
                                               NULL));
        g_assert_null(crp_broker_key_load(path, &e));
        g_assert_error(e, CRP_ERROR, CRP_ERROR_KEY_FILE);
        g_assert_true(g_str_has_prefix(e->message, path));
    }
    g_unlink(path);
    g_rmdir(dir);
}

/* The parser the loader uses, on bytes. */
static void
test_key_parse(void)
{
    g_autoptr(GError) error = NULL;
    static const char text[] = "[crp-broker-key]\nversion=1\n"
        "secret-key=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n";
    g_autoptr(CrpBrokerKey) key = crp_broker_key_parse(text, sizeof(text) - 1,
                                                       "K", &error);
    g_assert_no_error(error);
    for (int i = 0; i < CRP_BROKER_KEY_LEN; i++) {
        g_assert_cmpuint(key->secret_key[i], ==, i + 1);
    }
    guint8 public_key[CRP_BROKER_KEY_LEN];
    crypto_scalarmult_base(public_key, key->secret_key);
    g_assert_cmpmem(key->public_key, sizeof(public_key), public_key,
                    sizeof(public_key));

    /* Errors name the file and never quote it. */
    g_assert_null(crp_broker_key_parse(text, sizeof(text) - 3, "K", &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE);
    g_assert_true(g_str_has_prefix(error->message, "K: "));
    g_assert_null(strstr(error->message, "AQID"));
}

static void
test_key_load_or_create(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("crp-key-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "broker.key", NULL);
    gboolean created = FALSE;

    g_autoptr(CrpBrokerKey) first = crp_broker_key_load_or_create(path,
                                                                  &created,
                                                                  &error);
    g_assert_no_error(error);
    g_assert_true(created);
    g_autoptr(CrpBrokerKey) second = crp_broker_key_load_or_create(path,
                                                                   &created,
                                                                   &error);
    g_assert_no_error(error);
    g_assert_false(created);
    g_assert_cmpmem(first->public_key, 32, second->public_key, 32);
    g_unlink(path);
    g_rmdir(dir);
}

static void
test_fingerprint(void)
{
    guint8 key[32] = { 0 };
    char out[CRP_BROKER_FINGERPRINT_SIZE];

    /* hashlib.blake2b(bytes(32), digest_size=32).hexdigest()[:16] */
    crp_broker_key_fingerprint(key, out);
    g_assert_cmpstr(out, ==, "89eb0d6a8a691dae");
    for (int i = 0; i < 32; i++) {
        key[i] = (guint8)i;
    }
    crp_broker_key_fingerprint(key, out);
    g_assert_cmpstr(out, ==, "cb2f5160fc1f7e05");

    g_autofree char *b64 = crp_broker_key_public_base64(key);
    g_assert_cmpstr(b64, ==, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_unsetenv(CRP_BROKER_CONFIG_ENV);
    g_unsetenv("CRP_CACHE");
    g_test_add_func("/broker-config/web", test_web);
    g_test_add_func("/broker-config/defaults", test_defaults);
    g_test_add_func("/broker-config/every-key", test_every_key);
    g_test_add_func("/broker-config/derived", test_derived);
    g_test_add_func("/broker-config/effective-escapes", test_effective_escapes);
    g_test_add_func("/broker-config/errors", test_errors);
    g_test_add_func("/broker-config/address", test_address);
    g_test_add_func("/broker-config/load-file", test_load_file);
    g_test_add_func("/broker-config/qemu-env", test_qemu_env);
    g_test_add_func("/broker-config/example", test_example);
    g_test_add_func("/broker-config/accel", test_accel_args);
    g_test_add_func("/broker-key/roundtrip", test_key_roundtrip);
    g_test_add_func("/broker-key/permissions", test_key_permissions);
    g_test_add_func("/broker-key/malformed", test_key_malformed);
    g_test_add_func("/broker-key/parse", test_key_parse);
    g_test_add_func("/broker-key/load-or-create", test_key_load_or_create);
    g_test_add_func("/broker-key/fingerprint", test_fingerprint);
    return g_test_run();
}
