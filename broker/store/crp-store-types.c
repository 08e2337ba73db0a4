/*
 * crp-store-types.c: the store's value types: the error domain and the
 * destructors. Apart from crp-store.c because the backends (crp-store-
 * sqlite.c) build and free these values too, and the rules call the
 * backends: both sit above this file.
 */
#include "crp-store.h"

G_DEFINE_QUARK(crp-store-error-quark, crp_store_error)

/* ------------------------------------------------------------------------ */
/* Destructors */

void
crp_store_user_free(CrpStoreUser *user)
{
    if (user) {
        g_free(user->id);
        g_free(user);
    }
}

void
crp_store_app_free(CrpStoreApp *app)
{
    if (app) {
        g_free(app->name);
        g_free(app->title);
        g_free(app->description);
        g_free(app->kernel);
        g_free(app->initrd);
        g_free(app->disk);
        g_free(app->qemu_options);
        g_free(app->accel);
        g_free(app);
    }
}

void
crp_store_session_free(CrpStoreSession *session)
{
    if (session) {
        g_free(session->id);
        g_free(session->user);
        g_free(session->app);
        g_free(session->runtime_dir);
        g_free(session->qmp_socket);
        g_free(session->display_socket);
        g_free(session->overlay);
        g_free(session);
    }
}

void
crp_store_usage_free(CrpStoreUsage *usage)
{
    if (usage) {
        g_free(usage->session_id);
        g_free(usage->user);
        g_free(usage->app);
        g_free(usage);
    }
}

void
crp_store_usage_row_free(CrpStoreUsageRow *row)
{
    if (row) {
        g_free(row->user);
        g_free(row->app);
        g_free(row);
    }
}

void
crp_store_overlay_free(CrpStoreOverlay *overlay)
{
    if (overlay) {
        g_free(overlay->path);
        g_free(overlay->user);
        g_free(overlay->app);
        g_free(overlay);
    }
}
