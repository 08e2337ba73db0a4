/* crp-broker-key.c: the broker's static key pair (see the header). */
#include "crp-broker-key.h"

#include <crp/crp-error.h>
#include <crp/crp-secret-file.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUP "crp-broker-key"
#define MAX_KEY_FILE 4096

static void
ensure_sodium(void)
{
    if (sodium_init() < 0) {
        g_error("libsodium failed to initialise");
    }
}

void
crp_broker_key_free(CrpBrokerKey *key)
{
    if (!key) {
        return;
    }
    sodium_memzero(key, sizeof(*key));
    g_free(key);
}

CrpBrokerKey *
crp_broker_key_generate(void)
{
    CrpBrokerKey *key = g_new0(CrpBrokerKey, 1);

    ensure_sodium();
    randombytes_buf(key->secret_key, sizeof(key->secret_key));
    crypto_scalarmult_base(key->public_key, key->secret_key);
    return key;
}

CrpBrokerKey *
crp_broker_key_parse(const char *text, gsize len, const char *path,
                     GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(CrpBrokerKey) key = g_new0(CrpBrokerKey, 1);
    g_autofree char *secret = NULL;
    size_t decoded = 0;

    ensure_sodium();
    if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, NULL) ||
        !g_key_file_has_group(kf, GROUP)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "%s: not a broker key file (no [" GROUP "] section)", path);
        return NULL;
    }
    int version = g_key_file_get_integer(kf, GROUP, "version", NULL);
    if (version != CRP_BROKER_KEY_VERSION) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "%s: version %d is not supported (this is %d)", path,
                    version, CRP_BROKER_KEY_VERSION);
        return NULL;
    }
    secret = g_key_file_get_string(kf, GROUP, "secret-key", NULL);
    gboolean ok = secret &&
        sodium_base642bin(key->secret_key, sizeof(key->secret_key), secret,
                          strlen(secret), NULL, &decoded, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0 &&
        decoded == sizeof(key->secret_key);
    if (secret) {
        sodium_memzero(secret, strlen(secret));
    }
    if (!ok) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "%s: 'secret-key' is missing or not 32 bytes of base64",
                    path);
        return NULL;
    }
    crypto_scalarmult_base(key->public_key, key->secret_key);
    return g_steal_pointer(&key);
}

CrpBrokerKey *
crp_broker_key_load(const char *path, GError **error)
{
    GError *local = NULL;
    gsize len;
    char *text;

    ensure_sodium();
    text = crp_secret_file_load(path, MAX_KEY_FILE, &len, &local);
    if (!text) {
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_KEY_FILE, local->message);
        g_error_free(local);
        return NULL;
    }
    CrpBrokerKey *key = crp_broker_key_parse(text, len, path, error);
    crp_secret_free_len(text, len);
    return key;
}

static gboolean
write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

gboolean
crp_broker_key_save(const CrpBrokerKey *key, const char *path, GError **error)
{
    char secret[sodium_base64_ENCODED_LEN(CRP_BROKER_KEY_LEN,
                                          sodium_base64_VARIANT_ORIGINAL)];
    g_autofree char *tmp = g_strconcat(path, ".XXXXXX", NULL);
    g_autofree char *text = NULL;
    gsize len;
    int fd, saved;

    ensure_sodium();
    sodium_bin2base64(secret, sizeof(secret), key->secret_key,
                      sizeof(key->secret_key), sodium_base64_VARIANT_ORIGINAL);
    text = g_strdup_printf(
        "# CRP broker key. It holds a secret key: keep it private (mode 0600).\n"
        "# Every issued user key pins its public key: do not lose or replace it.\n"
        "[" GROUP "]\n"
        "version=%d\n"
        "secret-key=%s\n", CRP_BROKER_KEY_VERSION, secret);
    sodium_memzero(secret, sizeof(secret));
    len = strlen(text);

    fd = g_mkstemp_full(tmp, O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        saved = errno;
        sodium_memzero(text, len);
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE, "%s: %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    gboolean ok = fchmod(fd, 0600) == 0 && write_all(fd, text, len) &&
                  fsync(fd) == 0;
    saved = errno;
    sodium_memzero(text, len);
    ok = close(fd) == 0 && ok;
    /* link() never replaces an existing file, unlike rename(). */
    if (ok && link(tmp, path) < 0) {
        saved = errno;
        unlink(tmp);
        if (saved == EEXIST) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                        "%s: a broker key exists already", path);
        } else {
            g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE, "%s: %s", path,
                        g_strerror(saved));
        }
        return FALSE;
    }
    unlink(tmp);
    if (!ok) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE, "%s: %s", path,
                    g_strerror(saved));
    }
    return ok;
}

CrpBrokerKey *
crp_broker_key_load_or_create(const char *path, gboolean *created,
                              GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(CrpBrokerKey) key = NULL;
    struct stat st;

    if (created) {
        *created = FALSE;
    }
    if (lstat(path, &st) == 0 || errno != ENOENT) {
        return crp_broker_key_load(path, error);
    }
    key = crp_broker_key_generate();
    if (!crp_broker_key_save(key, path, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_EXIST)) {
            return crp_broker_key_load(path, error);
        }
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (created) {
        *created = TRUE;
    }
    return g_steal_pointer(&key);
}

void
crp_broker_key_fingerprint(const guint8 public_key[CRP_BROKER_KEY_LEN],
                           char out[CRP_BROKER_FINGERPRINT_SIZE])
{
    guint8 hash[crypto_generichash_BYTES];

    ensure_sodium();
    crypto_generichash(hash, sizeof(hash), public_key, CRP_BROKER_KEY_LEN,
                       NULL, 0);
    for (gsize i = 0; i < (CRP_BROKER_FINGERPRINT_SIZE - 1) / 2; i++) {
        g_snprintf(out + 2 * i, 3, "%02x", hash[i]);
    }
    out[CRP_BROKER_FINGERPRINT_SIZE - 1] = '\0';
}

char *
crp_broker_key_public_base64(const guint8 public_key[CRP_BROKER_KEY_LEN])
{
    char out[sodium_base64_ENCODED_LEN(CRP_BROKER_KEY_LEN,
                                       sodium_base64_VARIANT_ORIGINAL)];

    ensure_sodium();
    sodium_bin2base64(out, sizeof(out), public_key, CRP_BROKER_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    return g_strdup(out);
}
