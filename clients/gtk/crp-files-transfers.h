/*
 * crp-files-transfers.h: the uploads to and downloads from My files that
 * are under way (or just ended), as a list model the Files window and a
 * session window show.
 *
 * One list per logged-in user: transfers started from the Files window
 * and files dropped on a session window go into the same one. It runs at
 * most a few transfers at once (the rest wait their turn) on the broker
 * client it is given; each CrpFilesTransfer reports its progress with
 * "changed", and the list with "finished" when one ends, so a view of
 * the directory it went to can refresh.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include "crp-broker-client.h"

G_BEGIN_DECLS

typedef enum {
    CRP_FILES_TRANSFER_WAITING,
    CRP_FILES_TRANSFER_RUNNING,
    CRP_FILES_TRANSFER_DONE,
    CRP_FILES_TRANSFER_FAILED,
    CRP_FILES_TRANSFER_CANCELLED,
} CrpFilesTransferState;

#define CRP_TYPE_FILES_TRANSFER (crp_files_transfer_get_type())
G_DECLARE_FINAL_TYPE(CrpFilesTransfer, crp_files_transfer, CRP, FILES_TRANSFER, GObject)

/** TRUE for an upload (to My files), FALSE for a download. */
gboolean crp_files_transfer_is_upload(CrpFilesTransfer *t);
/** The path in My files ("docs/a.txt"). */
const char *crp_files_transfer_get_path(CrpFilesTransfer *t);
/** The file on this computer. */
GFile *crp_files_transfer_get_local(CrpFilesTransfer *t);
CrpFilesTransferState crp_files_transfer_get_state(CrpFilesTransfer *t);
/** Bytes moved so far and in all (0 until known). */
void crp_files_transfer_get_progress(CrpFilesTransfer *t, guint64 *done, guint64 *total);
/** Why it failed (state FAILED), else NULL. */
const GError *crp_files_transfer_get_error(CrpFilesTransfer *t);
/** Where it stands, in words ("Uploading a.txt — 1.2 MiB of 3 MiB"). */
char *crp_files_transfer_describe(CrpFilesTransfer *t);
/** Stops it (a waiting one never starts); state CANCELLED. */
void crp_files_transfer_cancel(CrpFilesTransfer *t);

#define CRP_TYPE_FILES_TRANSFERS (crp_files_transfers_get_type())
G_DECLARE_FINAL_TYPE(CrpFilesTransfers, crp_files_transfers, CRP, FILES_TRANSFERS, GObject)

CrpFilesTransfers *crp_files_transfers_new(void);

/** The transfers, oldest first (CrpFilesTransfer items). */
GListModel *crp_files_transfers_get_model(CrpFilesTransfers *list);

/** The broker client to run them on (not owned); NULL (logged out) fails
 *  the running ones and holds the waiting ones until a client comes. */
void crp_files_transfers_set_client(CrpFilesTransfers *list, CrpBrokerClient *client);

/** Uploads @local to @path in My files (replacing a file there). */
CrpFilesTransfer *crp_files_transfers_upload(CrpFilesTransfers *list, GFile *local,
                                             const char *path);

/** Downloads @path from My files to @local (replacing it once complete). */
CrpFilesTransfer *crp_files_transfers_download(CrpFilesTransfers *list, const char *path,
                                               GFile *local);

/** Takes @t (ended) off the list. */
void crp_files_transfers_remove(CrpFilesTransfers *list, CrpFilesTransfer *t);

/** The number of transfers not ended yet. */
guint crp_files_transfers_count_active(CrpFilesTransfers *list);

G_END_DECLS
