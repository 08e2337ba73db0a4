/*
 * crp-broker-files.c: My files transfers (protocol section 5.6).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-broker-client.h"

#include "crp/crp-error.h"
#include "crp/crp-message.h"

static void
not_yet(gpointer source, GAsyncReadyCallback callback, gpointer user_data)
{
    g_task_report_new_error(source, callback, user_data, NULL,
                            CRP_BROKER_CLIENT_ERROR, CRP_STATUS_INTERNAL,
                            "My files is not implemented yet");
}

void
crp_broker_file_list_free(CrpBrokerFileList *list)
{
    if (list) {
        g_ptr_array_unref(list->entries);
        g_free(list);
    }
}

gboolean
crp_broker_client_has_files(CrpBrokerClient *client)
{
    return FALSE;
}

void
crp_broker_client_set_check_paths(CrpBrokerClient *client, gboolean check)
{
}

void
crp_broker_client_list_files_async(CrpBrokerClient *client, const char *dir,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
    not_yet(client, callback, user_data);
}

CrpBrokerFileList *
crp_broker_client_list_files_finish(CrpBrokerClient *client,
                                    GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

void
crp_broker_client_upload_async(CrpBrokerClient *client, const char *local_path,
                               const char *remote_path,
                               CrpBrokerFileProgressFunc progress,
                               gpointer progress_data,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
    not_yet(client, callback, user_data);
}

gboolean
crp_broker_client_upload_finish(CrpBrokerClient *client, GAsyncResult *result,
                                guint64 *resumed_from, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

void
crp_broker_client_download_async(CrpBrokerClient *client,
                                 const char *remote_path,
                                 const char *local_path,
                                 CrpBrokerFileProgressFunc progress,
                                 gpointer progress_data,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    not_yet(client, callback, user_data);
}

gboolean
crp_broker_client_download_finish(CrpBrokerClient *client,
                                  GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

void
crp_broker_client_delete_file_async(CrpBrokerClient *client,
                                    const char *remote_path,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
    not_yet(client, callback, user_data);
}

gboolean
crp_broker_client_delete_file_finish(CrpBrokerClient *client,
                                     GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}
