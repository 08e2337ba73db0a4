/*
 * test-crp-files-transfers.c: the My files transfer list without a
 * broker: transfers wait for a client, a waiting one can be cancelled or
 * removed, a file that is not on this computer fails at once in words,
 * and each state reads as the row shows it. (Transfers that run are
 * tests/clients/gtk/test-files.py's, against the real broker.)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-files-transfers.h"
#include "crp-client-errors.h"

#include <string.h>

static void on_finished(CrpFilesTransfers *list, CrpFilesTransfer *t, gpointer data)
{
    g_ptr_array_add(data, t);
}

static void test_waits_for_a_client(void)
{
    g_autoptr(CrpFilesTransfers) list = crp_files_transfers_new();
    g_autoptr(GPtrArray) finished = g_ptr_array_new();
    g_autoptr(GFile) a = g_file_new_for_path("/tmp/a.txt");
    g_autoptr(GFile) b = g_file_new_for_path("/tmp/b.txt");

    g_signal_connect(list, "finished", G_CALLBACK(on_finished), finished);
    CrpFilesTransfer *up = crp_files_transfers_upload(list, a, "docs/a.txt");
    CrpFilesTransfer *down = crp_files_transfers_download(list, "b.txt", b);
    GListModel *model = crp_files_transfers_get_model(list);

    g_assert_cmpuint(g_list_model_get_n_items(model), ==, 2);
    g_assert_cmpint(crp_files_transfer_get_state(up), ==, CRP_FILES_TRANSFER_WAITING);
    g_assert_true(crp_files_transfer_is_upload(up));
    g_assert_false(crp_files_transfer_is_upload(down));
    g_assert_cmpstr(crp_files_transfer_get_path(up), ==, "docs/a.txt");
    g_assert_true(g_file_equal(crp_files_transfer_get_local(down), b));
    g_assert_cmpuint(crp_files_transfers_count_active(list), ==, 2);
    g_autofree char *waiting = crp_files_transfer_describe(up);
    g_assert_cmpstr(waiting, ==, "Upload a.txt — waiting");

    /* Cancelled before it ran: it never will, and says so. */
    crp_files_transfer_cancel(up);
    g_assert_cmpint(crp_files_transfer_get_state(up), ==, CRP_FILES_TRANSFER_CANCELLED);
    g_assert_cmpuint(finished->len, ==, 1);
    g_assert_true(finished->pdata[0] == up);
    g_assert_cmpuint(crp_files_transfers_count_active(list), ==, 1);
    g_autofree char *cancelled = crp_files_transfer_describe(up);
    g_assert_cmpstr(cancelled, ==, "Upload a.txt — cancelled");
    /* A second cancel changes nothing. */
    crp_files_transfer_cancel(up);
    g_assert_cmpuint(finished->len, ==, 1);

    crp_files_transfers_remove(list, up);
    g_assert_cmpuint(g_list_model_get_n_items(model), ==, 1);
    g_autoptr(CrpFilesTransfer) left = g_list_model_get_item(model, 0);
    g_assert_true(left == down);
    g_autofree char *download = crp_files_transfer_describe(down);
    g_assert_cmpstr(download, ==, "Download b.txt — waiting");
}

/* A dropped file of a remote place (a file manager's sftp:// one) has no
 * local path for the broker client to read: it fails at once, in words
 * that send the user to the right place. */
static void test_a_file_not_on_this_computer_fails(void)
{
    g_autoptr(CrpFilesTransfers) list = crp_files_transfers_new();
    g_autoptr(GPtrArray) finished = g_ptr_array_new();
    g_autoptr(GFile) remote = g_file_new_for_uri("sftp://example.org/x.txt");

    g_signal_connect(list, "finished", G_CALLBACK(on_finished), finished);
    CrpFilesTransfer *t = crp_files_transfers_upload(list, remote, "x.txt");
    g_assert_cmpint(crp_files_transfer_get_state(t), ==, CRP_FILES_TRANSFER_FAILED);
    g_assert_cmpuint(finished->len, ==, 1);
    const GError *error = crp_files_transfer_get_error(t);
    g_assert_nonnull(error);
    g_assert_cmpstr(crp_client_error_files_title(error), ==,
                    "Cannot use the file on this computer");
    g_assert_nonnull(strstr(error->message, "sftp://example.org/x.txt"));
    g_assert_cmpuint(crp_files_transfers_count_active(list), ==, 0);
    g_autofree char *text = crp_files_transfer_describe(t);
    g_assert_cmpstr(text, ==, "Upload x.txt — failed");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/files-transfers/waits-for-a-client", test_waits_for_a_client);
    g_test_add_func("/files-transfers/not-on-this-computer",
                    test_a_file_not_on_this_computer_fails);
    return g_test_run();
}
