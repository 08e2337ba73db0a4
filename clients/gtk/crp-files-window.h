/*
 * crp-files-window.h: My files: the user's files area on the broker, one
 * directory at a time (folders first; a double click enters a folder, Up
 * leaves it), how much of the quota it uses, and Upload…, Download…,
 * Delete and Refresh; the transfers under way below, each with its
 * progress and Cancel. Files dropped on it upload to the directory shown.
 *
 * Listing and deleting are requests it makes itself on the broker client
 * it is given (not owned); uploads and downloads go into the transfer
 * list it is given (shared with the session windows), and it lists the
 * directory again when one of them ends.
 *
 * Keys: Delete deletes the selected entry, F5 refreshes, Alt+Up or
 * BackSpace goes up, Enter on a folder enters it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include "crp-broker-client.h"
#include "crp-files-transfers.h"

G_BEGIN_DECLS

#define CRP_TYPE_FILES_WINDOW (crp_files_window_get_type())
G_DECLARE_FINAL_TYPE(CrpFilesWindow, crp_files_window, CRP, FILES_WINDOW,
                     GtkApplicationWindow)

CrpFilesWindow *crp_files_window_new(GtkApplication *app, CrpFilesTransfers *transfers);

/** The broker client to use (NULL while logged out: the list stays, the
 *  buttons are off); then lists the directory again. */
void crp_files_window_set_client(CrpFilesWindow *win, CrpBrokerClient *client);

/** Lists the directory shown again. */
void crp_files_window_refresh(CrpFilesWindow *win);

G_END_DECLS
