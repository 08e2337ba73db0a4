/*
 * crp-store-sqlite.h: shared between the SQLite backend's files (private).
 */
#pragma once

#include <glib.h>

/* Index into crp_store_sqlite_statements[] (prepared once, cached). */
typedef enum {
    S_SET_VERSION,
    S_USER_INSERT,
    S_USER_REVOKE,
    S_USER_GET,
    S_USER_LIST,
    S_USER_SET_LIMITS,
    S_KEY_INSERT,
    S_KEY_RETIRE,
    S_KEY_LOOKUP,
    S_APP_INSERT,
    S_APP_WRITE,
    S_APP_GET,
    S_APP_LIST,
    S_SUB_INSERT,
    S_SUB_DELETE,
    S_SUB_EXISTS,
    S_SUB_LIST,
    S_SESSION_INSERT,
    S_SESSION_WRITE,
    S_SESSION_GET,
    S_SESSION_LIST_LIVE,
    S_SESSION_LIST_ANY,
    S_USAGE_INSERT,
    S_USAGE_GET,
    S_USAGE_REPORT,
    S_POOL_TOTALS,
    S_APP_LIVE,
    S_OVERLAY_WRITE,
    S_OVERLAY_GET,
    S_OVERLAY_DELETE,
    S_OVERLAY_LIST,
    S_STORAGE_USED,
    N_STATEMENTS
} StatementId;

extern const char *const crp_store_sqlite_statements[N_STATEMENTS];
extern const char *const crp_store_sqlite_migrations[];
extern const guint crp_store_sqlite_n_migrations;
