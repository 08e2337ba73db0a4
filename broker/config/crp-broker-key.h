/*
 * crp-broker-key.h: the broker's static X25519 key pair.
 *
 * It lives in <state-dir>/broker.key, in the same shape as a user key file:
 *
 *     # CRP broker key. It holds a secret key: keep it private (mode 0600).
 *     [crp-broker-key]
 *     version=1
 *     secret-key=<base64 of 32 bytes>
 *
 * The public key is derived (crypto_scalarmult_base) and pinned in every
 * user key file the broker issues; losing or replacing this file locks out
 * every user. It is created on first use (crp-admin init, or the daemon's
 * first start) with mode 0600, and refused on load when the group or others
 * can access it. The secret key is never logged or printed; errors from
 * here never quote the file's contents. Errors are CRP_ERROR_KEY_FILE.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_BROKER_KEY_VERSION 1
#define CRP_BROKER_KEY_LEN 32
/* Characters of a fingerprint: 16 hex digits, plus the NUL. */
#define CRP_BROKER_FINGERPRINT_SIZE 17

typedef struct {
    guint8 secret_key[CRP_BROKER_KEY_LEN];
    guint8 public_key[CRP_BROKER_KEY_LEN];
} CrpBrokerKey;

/** Wipes the secret key and frees; accepts NULL. */
void crp_broker_key_free(CrpBrokerKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpBrokerKey, crp_broker_key_free)

/** A fresh random key pair. */
CrpBrokerKey *crp_broker_key_generate(void);

/**
 * crp_broker_key_load:
 *
 * Reads @path, refusing anything but a regular file that only its owner
 * can access.
 *
 * Returns: (transfer full): the key pair, or NULL with @error set.
 */
CrpBrokerKey *crp_broker_key_load(const char *path, GError **error);

/**
 * crp_broker_key_parse:
 * @path: the file name to use in error messages, which never quote @text.
 *
 * The same for the file's contents, @len bytes.
 */
CrpBrokerKey *crp_broker_key_parse(const char *text, gsize len,
                                   const char *path, GError **error);

/**
 * crp_broker_key_save:
 *
 * Writes @key to @path with mode 0600. The file appears whole or not at
 * all (written to a temporary file in the same directory, then linked
 * into place), and an existing file is never replaced: that fails with
 * G_FILE_ERROR_EXIST in the G_FILE_ERROR domain.
 */
gboolean crp_broker_key_save(const CrpBrokerKey *key, const char *path,
                             GError **error);

/**
 * crp_broker_key_load_or_create:
 * @created: (out) (optional): TRUE if this call made the key.
 *
 * Loads @path, or generates and saves a key there if there is none. Safe
 * against a concurrent creator: the loser loads the winner's key.
 */
CrpBrokerKey *crp_broker_key_load_or_create(const char *path,
                                            gboolean *created,
                                            GError **error);

/**
 * crp_broker_key_fingerprint:
 * @out: CRP_BROKER_FINGERPRINT_SIZE characters.
 *
 * The first 16 hex digits of BLAKE2b-256 (crypto_generichash, no key) of
 * a public key: what operators compare by eye.
 */
void crp_broker_key_fingerprint(const guint8 public_key[CRP_BROKER_KEY_LEN],
                                char out[CRP_BROKER_FINGERPRINT_SIZE]);

/** The public key in standard base64 (as in user key files). */
char *crp_broker_key_public_base64(const guint8 public_key[CRP_BROKER_KEY_LEN]);

G_END_DECLS
