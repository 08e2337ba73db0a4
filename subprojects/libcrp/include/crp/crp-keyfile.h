/*
 * crp-keyfile.h: the key file a broker issues to a user.
 *
 *     # CRP user key for alice. Keep it private: mode 0600.
 *     [crp-user-key]
 *     version=1
 *     user=alice
 *     secret-key=<base64 of 32 bytes>
 *     broker-public-key=<base64 of 32 bytes>
 *     broker-address=tcp:broker.example.org:5930
 *
 * The user's public key is derived from the secret one; the broker stores
 * only public keys. The broker's public key is pinned: a broker that does
 * not hold the matching secret key fails the handshake.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_USER_KEY_VERSION 1

typedef struct {
    char *user_id;
    guint8 secret_key[32];
    guint8 broker_public_key[32];
    char *broker_address;
} CrpUserKey;

/** A new key for @user_id with a fresh random secret key. */
CrpUserKey *crp_user_key_generate(const char *user_id,
                                  const guint8 broker_public_key[32],
                                  const char *broker_address);

/** Parses a key file's text; CRP_ERROR_KEY_FILE says what is wrong. */
CrpUserKey *crp_user_key_parse(const char *text, gsize len, GError **error);

/** The key file's text. */
char *crp_user_key_to_string(const CrpUserKey *key);

/** The public key that goes with the secret key. */
void crp_user_key_public(const CrpUserKey *key, guint8 public_key[32]);

/** Reads and parses @path, refusing a file that the group or others can
 *  read or write (it holds a secret key). */
CrpUserKey *crp_user_key_load(const char *path, GError **error);

/** Writes @key to @path with mode 0600 (created exclusively unless
 *  @overwrite). */
gboolean crp_user_key_save(const CrpUserKey *key, const char *path,
                           gboolean overwrite, GError **error);

/** Wipes the secret key and frees; accepts NULL. */
void crp_user_key_free(CrpUserKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpUserKey, crp_user_key_free)

G_END_DECLS
