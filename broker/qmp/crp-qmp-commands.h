/*
 * crp-qmp-commands.h: the QMP commands crp-broker runs, one function each.
 *
 * Each sends its command through crp_qmp_client_execute() and calls back
 * exactly once, with the reply turned into C values or with an error (see
 * CrpQmpReplyFunc for the errors). A reply that does not have the shape
 * QEMU's schema gives it fails with CRP_QMP_ERROR_PROTOCOL.
 *
 * QEMU has no command for its own pid: the broker knows it from spawning.
 */
#pragma once

#include "crp-qmp-client.h"

G_BEGIN_DECLS

/** For commands that return nothing of interest ("return": {}). */
typedef void (*CrpQmpDoneFunc)(CrpQmpClient *client, const GError *error,
                               gpointer user_data);

/* ---- query-status -------------------------------------------------------- */

/**
 * CrpQmpStatusFunc:
 * @running: whether the guest's vCPUs run
 * @status: the RunState, e.g. "running", "paused", "shutdown" (borrowed)
 */
typedef void (*CrpQmpStatusFunc)(CrpQmpClient *client, gboolean running,
                                 const char *status, const GError *error,
                                 gpointer user_data);

void crp_qmp_query_status(CrpQmpClient *client, CrpQmpStatusFunc callback,
                          gpointer user_data);

/* ---- query-crp ----------------------------------------------------------- */

/** One connected CRP client (CrpClientInfo in qapi/ui.json). */
typedef struct {
    gint64 id;
    char *address;
    /** Seconds since the epoch. */
    gint64 connected_since;
    gint64 bytes_in;
    gint64 bytes_out;
    gint64 frames_sent;
    double fps;
    double rtt_ms;
    double input_latency_ms;
} CrpQmpCrpClient;

/** The CRP display server (CrpInfo). */
typedef struct {
    /** FALSE when QEMU runs without -display crp; then the rest is empty. */
    gboolean enabled;
    /** The listening address, "unix:/path" or "tcp:host:port"; or NULL. */
    char *address;
    guint n_clients;
    CrpQmpCrpClient *clients;
    /** Totals over every client since QEMU started, departed ones
     *  included; has_totals FALSE if this QEMU's query-crp lacks them. */
    gboolean has_totals;
    gint64 bytes_in, bytes_out, frames_sent;
} CrpQmpCrpInfo;

/**
 * CrpQmpCrpInfoFunc:
 * @info: (nullable): the display server's state, borrowed for the call;
 *     NULL exactly when @error is set
 */
typedef void (*CrpQmpCrpInfoFunc)(CrpQmpClient *client, const CrpQmpCrpInfo *info,
                                  const GError *error, gpointer user_data);

void crp_qmp_query_crp(CrpQmpClient *client, CrpQmpCrpInfoFunc callback,
                       gpointer user_data);

/**
 * crp_qmp_crp_info_from_json:
 * @result: the "return" value of query-crp
 *
 * Returns: (transfer full): the parsed value, or NULL with
 * CRP_QMP_ERROR_PROTOCOL when a member is missing or of the wrong type.
 * Members the schema does not know are ignored.
 */
CrpQmpCrpInfo *crp_qmp_crp_info_from_json(JsonNode *result, GError **error);

/** crp_qmp_crp_info_free: accepts NULL. */
void crp_qmp_crp_info_free(CrpQmpCrpInfo *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CrpQmpCrpInfo, crp_qmp_crp_info_free)

/* ---- crp-set-ticket, crp-disconnect --------------------------------------- */

/** What crp-set-ticket does with clients already connected. */
typedef enum {
    /** Leave "connected" out: QEMU's default (keep). */
    CRP_QMP_TICKET_CONNECTED_DEFAULT,
    CRP_QMP_TICKET_CONNECTED_KEEP,
    CRP_QMP_TICKET_CONNECTED_DISCONNECT,
} CrpQmpTicketConnected;

/**
 * crp_qmp_crp_set_ticket:
 * @ticket: the one-time ticket the next client must present
 * @expires: seconds from now it stays valid; 0: it does not expire
 * @connected: what to do with clients already connected
 */
void crp_qmp_crp_set_ticket(CrpQmpClient *client, const char *ticket,
                            guint expires, CrpQmpTicketConnected connected,
                            CrpQmpDoneFunc callback, gpointer user_data);

/**
 * crp_qmp_crp_disconnect:
 * @id: the CRP client to disconnect (CrpQmpCrpClient.id); -1 for all
 */
void crp_qmp_crp_disconnect(CrpQmpClient *client, gint64 id,
                            CrpQmpDoneFunc callback, gpointer user_data);

/* ---- block-set-write-threshold, BLOCK_WRITE_THRESHOLD ---------------------- */

/**
 * crp_qmp_block_set_write_threshold:
 * @node_name: the block node (a -drive's file.node-name: the image file,
 *     whose write offsets grow with the file)
 * @threshold: QEMU sends BLOCK_WRITE_THRESHOLD once a write ends beyond
 *     this offset, and then forgets it; 0 switches it off
 */
void crp_qmp_block_set_write_threshold(CrpQmpClient *client,
                                       const char *node_name,
                                       guint64 threshold,
                                       CrpQmpDoneFunc callback,
                                       gpointer user_data);

/** BLOCK_WRITE_THRESHOLD's data (qapi/block-core.json). */
typedef struct {
    /** Borrowed from the event. */
    const char *node_name;
    /** How far the write that crossed went beyond the threshold. */
    guint64 amount_exceeded;
    /** The threshold it crossed (now switched off). */
    guint64 write_threshold;
} CrpQmpWriteThreshold;

/**
 * crp_qmp_write_threshold_from_event:
 * @event: a BLOCK_WRITE_THRESHOLD event
 *
 * Reads its data into @out (strings borrowed from @event). FALSE with
 * CRP_QMP_ERROR_PROTOCOL when a member is missing or of the wrong type.
 */
gboolean crp_qmp_write_threshold_from_event(const CrpQmpMessage *event,
                                            CrpQmpWriteThreshold *out,
                                            GError **error);

/* ---- BLOCK_IO_ERROR ------------------------------------------------------- */

/** BLOCK_IO_ERROR's data (qapi/block-core.json); strings borrowed. */
typedef struct {
    /** The failing device's root node; NULL when QEMU leaves it out. */
    const char *node_name;
    /** "read" or "write". */
    const char *operation;
    /** What QEMU did: "ignore", "report" (to the guest) or "stop". */
    const char *action;
    /** The error was ENOSPC (no space left). */
    gboolean nospace;
    /** QEMU's text for the error. */
    const char *reason;
} CrpQmpBlockIoError;

/** Reads a BLOCK_IO_ERROR event's data; FALSE with
 *  CRP_QMP_ERROR_PROTOCOL when a member is missing or of the wrong type. */
gboolean crp_qmp_block_io_error_from_event(const CrpQmpMessage *event,
                                           CrpQmpBlockIoError *out,
                                           GError **error);

/* ---- the machine ---------------------------------------------------------- */

/** stop: pauses the guest's vCPUs (and so its I/O); QEMU keeps running. */
void crp_qmp_stop(CrpQmpClient *client, CrpQmpDoneFunc callback,
                  gpointer user_data);

/** cont: lets a stopped guest run again. */
void crp_qmp_cont(CrpQmpClient *client, CrpQmpDoneFunc callback,
                  gpointer user_data);

/** system_powerdown: asks the guest to shut down (ACPI power button). */
void crp_qmp_system_powerdown(CrpQmpClient *client, CrpQmpDoneFunc callback,
                              gpointer user_data);

/**
 * crp_qmp_quit: QEMU exits. The reply comes first, then the connection
 * closes (config.closed is called).
 */
void crp_qmp_quit(CrpQmpClient *client, CrpQmpDoneFunc callback,
                  gpointer user_data);

G_END_DECLS
