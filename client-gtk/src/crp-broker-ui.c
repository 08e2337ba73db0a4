/*
 * crp-broker-ui.c: broker mode.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "crp-client.h"

void crp_client_start_broker(GtkApplication *app, const CrpClientOptions *opts)
{
    /* The login and main windows come in the next change; until then
     * say so rather than open an empty window. */
    g_printerr("crp-client: broker mode is not available yet; use "
               "--connect ADDRESS --ticket-file FILE\n");
    g_application_quit(G_APPLICATION(app));
}
