/*
 * crp-client-errors.h: what to tell a user about a broker error.
 *
 * The broker client's GErrors already carry a message fit for a user
 * (crp-broker-client.h); this gives each kind the headline a dialog or a
 * login page shows above it, and says which are worth retrying.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/** A short headline for @error ("This key has been revoked"). */
const char *crp_client_error_title(const GError *error);

/** The headline for @error from a My files request or transfer: the
 *  local file's problems ("Cannot use the file on this computer") apart
 *  from the broker's ("Not enough room in My files"); the rest as
 *  crp_client_error_title(). */
const char *crp_client_error_files_title(const GError *error);

/** TRUE when trying again later may work: the network, a busy broker, no
 *  capacity now. FALSE for a refused key, a missing app or session. */
gboolean crp_client_error_is_transient(const GError *error);

/** TRUE when the session the request named is gone for good. */
gboolean crp_client_error_session_gone(const GError *error);

G_END_DECLS
