/*
 * crp-broker-files.h: My files inside the clients' core (internal to
 * crp-broker-client.c and crp-broker-files.c; the public calls are in
 * crp-broker-client.h).
 *
 * The download bookkeeping is plain state without I/O, so that its rules
 * (chunks in any order, a file that changes mid-way) are unit-tested.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include "crp-broker-client.h"
#include "crp/crp-message.h"

G_BEGIN_DECLS

/** Chunks of a transfer in flight at once, and their size. */
#define CRP_FILES_WINDOW 4
#define CRP_FILES_CHUNK CRP_MAX_FILE_CHUNK

/** A FILE_DATA reply. */
typedef struct {
    guint64 size;
    guint64 mtime_ns;
    GBytes *data;
} CrpBrokerFileChunk;

void crp_broker_file_chunk_free(CrpBrokerFileChunk *chunk);

/** A FILES message as a CrpBrokerFileList. */
CrpBrokerFileList *crp_broker_file_list_from(const CrpMessage *msg);

/* crp-broker-client.c */

/** Sends the My files request @msg (its id is filled in); the task
 *  completes with what @reply carried (FILES: CrpBrokerFileList,
 *  UPLOAD_READY: a guint64 offset, FILE_DATA: CrpBrokerFileChunk, OK:
 *  TRUE), or with the broker's ERROR. */
void crp_broker_client_file_request(CrpBrokerClient *client, CrpMessage *msg,
                                    guint8 reply, gpointer source_tag,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);

/** FALSE, with the error to report, when My files was not agreed or
 *  @path breaks the rules (unless checks are off for a test). */
gboolean crp_broker_client_check_file_path(CrpBrokerClient *client,
                                           const char *path,
                                           gboolean allow_top,
                                           GError **error);

/* ---- download bookkeeping -------------------------------------------- */

typedef struct {
    gboolean known;         /* size and mtime seen (first reply) */
    guint64 size;
    guint64 mtime_ns;
    guint generation;       /* bumped at each restart */
    guint restarts;
    guint64 next;           /* next offset to ask for */
    guint64 received;       /* bytes written of this generation */
    guint in_flight;
} CrpDownloadState;

typedef enum {
    /** Write the data at the chunk's offset. */
    CRP_DOWNLOAD_WRITE,
    /** Asked for before a restart: drop it. */
    CRP_DOWNLOAD_STALE,
    /** The file changed: start again (the local copy is void). */
    CRP_DOWNLOAD_RESTART,
    /** The broker broke the rules (error set). */
    CRP_DOWNLOAD_FAIL,
} CrpDownloadVerdict;

/** Restarts before a download gives up on a file that keeps changing. */
#define CRP_DOWNLOAD_MAX_RESTARTS 5

void crp_download_state_init(CrpDownloadState *st);

/**
 * The next DOWNLOAD to send, if one is due: fewer than CRP_FILES_WINDOW in
 * flight and bytes left to ask for (before the size is known, only the
 * first). Counts it as in flight.
 */
gboolean crp_download_next(CrpDownloadState *st, guint64 *offset,
                           guint32 *length, guint *generation);

/**
 * Judges a reply to the DOWNLOAD of @offset/@length asked in @generation
 * (no longer in flight after this): FILE_DATA said @size, @mtime_ns and
 * carried @data_len bytes. WRITE counts them as received.
 */
CrpDownloadVerdict crp_download_accept(CrpDownloadState *st, guint generation,
                                       guint64 offset, guint32 length,
                                       guint64 size, guint64 mtime_ns,
                                       gsize data_len, GError **error);

/** Forgets a reply that failed (no longer in flight). */
void crp_download_dropped(CrpDownloadState *st);

/** TRUE once the whole file of the current generation is received. */
gboolean crp_download_complete(const CrpDownloadState *st);

G_END_DECLS
