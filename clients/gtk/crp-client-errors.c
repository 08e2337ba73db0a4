/*
 * crp-client-errors.c: see crp-client-errors.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-client-errors.h"

#include <crp/crp-error.h>
#include <crp/crp-message.h>
#include <gio/gio.h>
#include "crp-broker-client.h"

const char *crp_client_error_title(const GError *error)
{
    if (g_error_matches(error, CRP_ERROR, CRP_ERROR_KEY_FILE)) {
        return "The key file cannot be used";
    }
    if (error->domain == G_FILE_ERROR) {
        return "The key file cannot be read";
    }
    if (error->domain == G_IO_ERROR) {
        return "Cannot reach the broker";
    }
    if (error->domain != CRP_BROKER_CLIENT_ERROR) {
        return "Something went wrong";
    }
    switch (error->code) {
    case CRP_STATUS_KEY_REVOKED:        return "This key has been revoked";
    case CRP_STATUS_UNKNOWN_KEY:        return "The broker does not know this key";
    case CRP_STATUS_AUTH_FAILED:        return "This is not the broker your key belongs to";
    case CRP_STATUS_RATE_LIMITED:       return "Too many attempts";
    case CRP_STATUS_TIMEOUT:            return "The broker did not answer";
    case CRP_STATUS_NO_CAPACITY:        return "No room to start the app now";
    case CRP_STATUS_QUOTA_EXCEEDED:     return "Your quota is used up";
    case CRP_STATUS_NOT_SUBSCRIBED:     return "You are not subscribed to this app";
    case CRP_STATUS_NO_SUCH_APP:        return "There is no such app";
    case CRP_STATUS_NO_SUCH_SESSION:
    case CRP_STATUS_SESSION_ENDED:      return "The session has ended";
    case CRP_STATUS_SHUTDOWN:           return "The broker is shutting down";
    case CRP_STATUS_VERSION_UNSUPPORTED: return "This client is too old or too new for the broker";
    case CRP_STATUS_NO_SUCH_FILE:       return "There is no such file in My files";
    default:                            return "The broker refused";
    }
}

/* The errors a local file gives (GFile's G_IO_ERROR, GLib's G_FILE_ERROR),
 * as opposed to the broker connection's G_IO_ERRORs. */
static gboolean is_local_file_error(const GError *error)
{
    if (error->domain == G_FILE_ERROR) {
        return TRUE;
    }
    if (error->domain != G_IO_ERROR) {
        return FALSE;
    }
    switch (error->code) {
    case G_IO_ERROR_NOT_FOUND:
    case G_IO_ERROR_EXISTS:
    case G_IO_ERROR_IS_DIRECTORY:
    case G_IO_ERROR_NOT_DIRECTORY:
    case G_IO_ERROR_NOT_REGULAR_FILE:
    case G_IO_ERROR_FILENAME_TOO_LONG:
    case G_IO_ERROR_INVALID_FILENAME:
    case G_IO_ERROR_NO_SPACE:
    case G_IO_ERROR_PERMISSION_DENIED:
    case G_IO_ERROR_READ_ONLY:
    case G_IO_ERROR_TOO_MANY_LINKS:
        return TRUE;
    default:
        return FALSE;
    }
}

const char *crp_client_error_files_title(const GError *error)
{
    if (is_local_file_error(error)) {
        return "Cannot use the file on this computer";
    }
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)) {
        return "This broker has no My files";       /* no FILES at login */
    }
    if (error->domain == CRP_BROKER_CLIENT_ERROR) {
        switch (error->code) {
        case CRP_STATUS_QUOTA_EXCEEDED: return "Not enough room in My files";
        case CRP_STATUS_BAD_REQUEST:    return "My files cannot take this";
        case CRP_STATUS_INTERNAL:       return "The broker could not store the file";
        default:
            break;
        }
    }
    return crp_client_error_title(error);
}

gboolean crp_client_error_is_transient(const GError *error)
{
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        return FALSE;
    }
    if (error->domain == G_IO_ERROR) {
        return TRUE;
    }
    if (error->domain != CRP_BROKER_CLIENT_ERROR) {
        return FALSE;
    }
    switch (error->code) {
    case CRP_STATUS_RATE_LIMITED:
    case CRP_STATUS_TIMEOUT:
    case CRP_STATUS_NO_CAPACITY:
    case CRP_STATUS_SHUTDOWN:
    case CRP_STATUS_INTERNAL:
        return TRUE;
    default:
        return FALSE;
    }
}

gboolean crp_client_error_session_gone(const GError *error)
{
    return g_error_matches(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_NO_SUCH_SESSION) ||
           g_error_matches(error, CRP_BROKER_CLIENT_ERROR, CRP_STATUS_SESSION_ENDED);
}
