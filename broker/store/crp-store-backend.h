/*
 * crp-store-backend.h: what a store backend implements (private).
 *
 * crp-store.c holds everything that does not depend on the database:
 * argument validation, the rules (state transitions, revocation,
 * idempotence) and the multi-step operations, each run in one transaction.
 * A backend only stores and fetches rows; its operations are single
 * statements, or a few with no logic between them.
 *
 * Unless noted, a backend operation returns FALSE / NULL with @error set;
 * unique violations are CRP_STORE_ERROR_EXISTS, missing rows NOT_FOUND.
 */
#pragma once

#include "crp-store.h"

typedef struct {
    const char *name;
    void (*destroy)(CrpStore *store);
    guint (*schema_version)(CrpStore *store);
    void (*set_busy_timeout)(CrpStore *store, guint timeout_ms);

    /* Transactions nest: the outermost begin takes the write lock. */
    gboolean (*begin)(CrpStore *store, GError **error);
    gboolean (*commit)(CrpStore *store, GError **error);
    void (*rollback)(CrpStore *store);

    gboolean (*user_insert)(CrpStore *store, const char *id, gint64 created,
                            GError **error);
    gboolean (*user_set_revoked)(CrpStore *store, const char *id,
                                 gint64 when, GError **error);
    CrpStoreUser *(*user_get)(CrpStore *store, const char *id,
                              GError **error);
    GPtrArray *(*user_list)(CrpStore *store, GError **error);
    /* Writes all three limits (CRP_STORE_LIMIT_DEFAULT as NULL). */
    gboolean (*user_set_limits)(CrpStore *store, const char *id,
                                const CrpStoreUserLimits *limits,
                                GError **error);
    gboolean (*key_insert)(CrpStore *store, const char *user,
                           const guint8 *key, gint64 created,
                           GError **error);
    /* Moves the user's active key (if any) to @state, retired at @when. */
    gboolean (*key_retire_active)(CrpStore *store, const char *user,
                                  CrpStoreKeyState state, gint64 when,
                                  GError **error);
    /* @user_id is NULL (and @state 0) for an unknown key. */
    gboolean (*key_lookup)(CrpStore *store, const guint8 *key,
                           char **user_id, CrpStoreKeyState *state,
                           gboolean *user_revoked, GError **error);

    /* Insert uses app->created; write replaces every column but name and
     * created. */
    gboolean (*app_insert)(CrpStore *store, const CrpStoreApp *app,
                           GError **error);
    gboolean (*app_write)(CrpStore *store, const CrpStoreApp *app,
                          GError **error);
    CrpStoreApp *(*app_get)(CrpStore *store, const char *name,
                            GError **error);
    GPtrArray *(*app_list)(CrpStore *store, gboolean include_unpublished,
                           GError **error);

    /* Insert is a no-op when the row exists; delete of nothing is fine. */
    gboolean (*subscription_insert)(CrpStore *store, const char *user,
                                    const char *app, gint64 created,
                                    GError **error);
    gboolean (*subscription_delete)(CrpStore *store, const char *user,
                                    const char *app, GError **error);
    gboolean (*subscription_exists)(CrpStore *store, const char *user,
                                    const char *app, gboolean *exists,
                                    GError **error);
    GPtrArray *(*subscription_list)(CrpStore *store, const char *user,
                                    GError **error);

    /* Write replaces every column but id, user, app and started. */
    gboolean (*session_insert)(CrpStore *store, const CrpStoreSession *s,
                               GError **error);
    gboolean (*session_write)(CrpStore *store, const CrpStoreSession *s,
                              GError **error);
    CrpStoreSession *(*session_get)(CrpStore *store, const char *id,
                                    GError **error);
    GPtrArray *(*session_list)(CrpStore *store, const char *user,
                               guint states, GError **error);

    /* A row for the same session id is left as it is (*inserted FALSE). */
    gboolean (*usage_insert)(CrpStore *store, const CrpStoreUsage *usage,
                             gboolean *inserted, GError **error);
    CrpStoreUsage *(*usage_get)(CrpStore *store, const char *session_id,
                                GError **error);
    GPtrArray *(*usage_report)(CrpStore *store,
                               const CrpStoreUsageQuery *query,
                               GError **error);

    /* @user NULL: every user's live sessions. */
    gboolean (*pool_totals)(CrpStore *store, const char *user,
                            CrpStorePoolTotals *totals, GError **error);
    gboolean (*app_live_instances)(CrpStore *store, const char *app,
                                   guint *count, GError **error);

    /* Write inserts or replaces bytes and updated (not user/app/created). */
    gboolean (*overlay_write)(CrpStore *store, const CrpStoreOverlay *o,
                              GError **error);
    CrpStoreOverlay *(*overlay_get)(CrpStore *store, const char *path,
                                    GError **error);
    gboolean (*overlay_delete)(CrpStore *store, const char *path,
                               GError **error);
    GPtrArray *(*overlay_list)(CrpStore *store, const char *user,
                               GError **error);
    gboolean (*storage_used)(CrpStore *store, const char *user,
                             guint64 *bytes, GError **error);
} CrpStoreBackend;

/* The common part of every backend's store; backends embed it first. */
struct _CrpStore {
    const CrpStoreBackend *backend;
    CrpStoreClockFunc clock;
    gpointer clock_data;
};

/* crp-store-sqlite.c */
CrpStore *crp_store_sqlite_open(const char *path, GError **error);
guint crp_store_sqlite_latest_version(void);
