/*
 * broker-user-storage.h: what one user's storage holds against the quota
 * ([storage] user-quota-mib): the disk overlays (sizes in the store) and
 * My files (the area on disk, uploads under way included). Internal to
 * broker/daemon.
 */
#pragma once

#include "broker.h"

G_BEGIN_DECLS

typedef struct CrpFilesArea CrpFilesArea;

/**
 * broker_user_storage_used:
 * @area: (nullable): @user's area if the caller has it open already
 *
 * Sums @user's storage; FALSE with @error if the store failed. An area
 * that cannot be opened counts 0 (and is logged): it holds nothing usable.
 */
gboolean broker_user_storage_used(const CrpBrokerConfig *config,
                                  CrpStore *store, const char *user,
                                  CrpFilesArea *area, guint64 *bytes,
                                  GError **error);

/** The area's size alone (see above for a failure to open it). */
guint64 broker_user_storage_files(const CrpBrokerConfig *config,
                                  const char *user);

G_END_DECLS
