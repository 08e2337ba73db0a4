/* crp-keyfile.c: the user key file (see crp-keyfile.h). */
#include "crp/crp-keyfile.h"
#include "crp/crp-error.h"
#include "crp/crp-secret-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUP "crp-user-key"
#define MAX_KEY_FILE 4096

static void
ensure_sodium(void)
{
    if (sodium_init() < 0) {
        g_error("libsodium failed to initialise");
    }
}

CrpUserKey *
crp_user_key_generate(const char *user_id, const guint8 broker_public_key[32],
                      const char *broker_address)
{
    CrpUserKey *key = g_new0(CrpUserKey, 1);

    ensure_sodium();
    key->user_id = g_strdup(user_id);
    randombytes_buf(key->secret_key, sizeof(key->secret_key));
    memcpy(key->broker_public_key, broker_public_key, 32);
    key->broker_address = g_strdup(broker_address);
    return key;
}

void
crp_user_key_public(const CrpUserKey *key, guint8 public_key[32])
{
    ensure_sodium();
    crypto_scalarmult_base(public_key, key->secret_key);
}

void
crp_user_key_free(CrpUserKey *key)
{
    if (!key) {
        return;
    }
    sodium_memzero(key->secret_key, sizeof(key->secret_key));
    g_free(key->user_id);
    g_free(key->broker_address);
    g_free(key);
}

/* Decodes a base64 field of exactly 32 bytes. */
static gboolean
get_key32(GKeyFile *kf, const char *field, guint8 out[32], GError **error)
{
    g_autofree char *text = g_key_file_get_string(kf, GROUP, field, NULL);
    size_t len = 0;

    if (!text || sodium_base642bin(out, 32, text, strlen(text), NULL, &len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != 32) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "key file: '%s' is missing or not 32 bytes of base64", field);
        return FALSE;
    }
    return TRUE;
}

CrpUserKey *
crp_user_key_parse(const char *text, gsize len, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_autoptr(CrpUserKey) key = g_new0(CrpUserKey, 1);

    ensure_sodium();
    if (len > MAX_KEY_FILE) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "key file: %" G_GSIZE_FORMAT " bytes is not a key file", len);
        return NULL;
    }
    if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "key file: %s", local->message);
        return NULL;
    }
    if (!g_key_file_has_group(kf, GROUP)) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "key file: no [" GROUP "] section");
        return NULL;
    }
    int version = g_key_file_get_integer(kf, GROUP, "version", NULL);
    if (version != CRP_USER_KEY_VERSION) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "key file: version %d is not supported (this is %d)",
                    version, CRP_USER_KEY_VERSION);
        return NULL;
    }
    key->user_id = g_key_file_get_string(kf, GROUP, "user", NULL);
    key->broker_address = g_key_file_get_string(kf, GROUP, "broker-address", NULL);
    if (!key->user_id || !*key->user_id || !key->broker_address ||
        !*key->broker_address) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE,
                    "key file: 'user' and 'broker-address' are required");
        return NULL;
    }
    if (!get_key32(kf, "secret-key", key->secret_key, error) ||
        !get_key32(kf, "broker-public-key", key->broker_public_key, error)) {
        return NULL;
    }
    return g_steal_pointer(&key);
}

char *
crp_user_key_to_string(const CrpUserKey *key)
{
    char secret[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char broker[sizeof(secret)];

    ensure_sodium();
    sodium_bin2base64(secret, sizeof(secret), key->secret_key, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(broker, sizeof(broker), key->broker_public_key, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    char *text = g_strdup_printf(
        "# CRP user key for %s. It holds a secret key: keep it private (mode 0600).\n"
        "[" GROUP "]\n"
        "version=%d\n"
        "user=%s\n"
        "secret-key=%s\n"
        "broker-public-key=%s\n"
        "broker-address=%s\n",
        key->user_id, CRP_USER_KEY_VERSION, key->user_id, secret, broker,
        key->broker_address);
    sodium_memzero(secret, sizeof(secret));
    return text;
}

CrpUserKey *
crp_user_key_load(const char *path, GError **error)
{
    GError *local = NULL;
    gsize len;
    char *text = crp_secret_file_load(path, MAX_KEY_FILE, &len, &local);

    if (!text) {
        /* Callers tell "this key cannot be used" by CRP_ERROR_KEY_FILE. */
        g_set_error_literal(error, CRP_ERROR, CRP_ERROR_KEY_FILE, local->message);
        g_error_free(local);
        return NULL;
    }
    CrpUserKey *key = crp_user_key_parse(text, len, error);
    crp_secret_free_len(text, len);
    if (!key) {
        g_prefix_error(error, "%s: ", path);
    }
    return key;
}

gboolean
crp_user_key_save(const CrpUserKey *key, const char *path, gboolean overwrite,
                  GError **error)
{
    g_autofree char *text = crp_user_key_to_string(key);
    gsize len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
                  (overwrite ? O_TRUNC : O_EXCL), 0600);

    if (fd < 0) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE, "%s: %s", path,
                    g_strerror(errno));
        sodium_memzero(text, len);
        return FALSE;
    }
    /* An existing file keeps its mode through O_TRUNC: tighten it. */
    gboolean ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len;
    int saved = errno;
    ok = (close(fd) == 0) && ok;
    sodium_memzero(text, len);
    if (!ok) {
        g_set_error(error, CRP_ERROR, CRP_ERROR_KEY_FILE, "%s: %s", path,
                    g_strerror(saved));
    }
    return ok;
}
