/*
 * crp-qmp-error.h: the GError domain of the QMP client.
 *
 * Errors QEMU returns for a command are reported in CRP_QMP_ERROR with a
 * code per QMP error class and QEMU's "desc" as the message. Transport
 * failures use G_IO_ERROR: G_IO_ERROR_CONNECTION_CLOSED (the connection
 * was lost with the command pending), G_IO_ERROR_TIMED_OUT,
 * G_IO_ERROR_CANCELLED (the client was destroyed), G_IO_ERROR_NOT_CONNECTED.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CRP_QMP_ERROR (crp_qmp_error_quark())
GQuark crp_qmp_error_quark(void);

typedef enum {
    /** QEMU sent something that is not QMP: malformed JSON, a message of
     *  unknown shape, a reply whose value is not what the command returns. */
    CRP_QMP_ERROR_PROTOCOL,
    /** A line longer than the parser's cap, or JSON nested too deeply. */
    CRP_QMP_ERROR_TOO_LARGE,
    /** Error class "GenericError": the command failed. */
    CRP_QMP_ERROR_GENERIC,
    /** Error class "CommandNotFound": QEMU has no such command. */
    CRP_QMP_ERROR_COMMAND_NOT_FOUND,
    /** Error class "DeviceNotActive". */
    CRP_QMP_ERROR_DEVICE_NOT_ACTIVE,
    /** Error class "DeviceNotFound". */
    CRP_QMP_ERROR_DEVICE_NOT_FOUND,
    /** Error class "KVMMissingCap". */
    CRP_QMP_ERROR_KVM_MISSING_CAP,
    /** An error class this list does not know (newer QEMU). */
    CRP_QMP_ERROR_OTHER_CLASS,
} CrpQmpErrorCode;

/**
 * crp_qmp_error_code_from_class:
 * @error_class: the "class" of a QMP error reply
 *
 * Returns: the CRP_QMP_ERROR code for @error_class;
 * CRP_QMP_ERROR_OTHER_CLASS if it is not one QEMU documents.
 */
CrpQmpErrorCode crp_qmp_error_code_from_class(const char *error_class);

G_END_DECLS
