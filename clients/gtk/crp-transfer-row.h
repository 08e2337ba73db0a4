/*
 * crp-transfer-row.h: one My files transfer as a row: what goes where, a
 * progress bar ("1.2 MiB of 3 MiB"), Cancel while it runs, and once it
 * ended, how (done, or the error in words) with a button to dismiss it.
 *
 * The row follows its transfer's "changed"; Cancel and dismiss act on
 * the transfer and the list given.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include "crp-files-transfers.h"

G_BEGIN_DECLS

GtkWidget *crp_transfer_row_new(CrpFilesTransfers *list, CrpFilesTransfer *t);

/** For gtk_list_box_bind_model(): @data is the CrpFilesTransfers. */
GtkWidget *crp_transfer_row_create(gpointer item, gpointer data);

G_END_DECLS
