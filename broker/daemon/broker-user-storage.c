/*
 * broker-user-storage.c: a user's storage against the quota (see
 * broker-user-storage.h).
 */
#include "broker-user-storage.h"
#include "crp-files-area.h"

guint64
broker_user_storage_files(const CrpBrokerConfig *config, const char *user)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpFilesArea) area = crp_files_area_open(config->files_dir, user,
                                                       &error);

    if (!area) {
        broker_warning("event=files-error user=%s error=\"%s\"", user,
                       error->message);
        return 0;
    }
    return crp_files_area_usage(area, NULL);
}

gboolean
broker_user_storage_used(const CrpBrokerConfig *config, CrpStore *store,
                         const char *user, CrpFilesArea *area,
                         guint64 *bytes, GError **error)
{
    guint64 overlays = 0;
    guint64 mine;

    if (!crp_store_storage_used(store, user, &overlays, error)) {
        return FALSE;
    }
    mine = area ? crp_files_area_usage(area, NULL)
                : broker_user_storage_files(config, user);
    *bytes = overlays > G_MAXUINT64 - mine ? G_MAXUINT64 : overlays + mine;
    return TRUE;
}
