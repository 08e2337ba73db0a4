/*
 * crp-qmp-private.h: what the client and the commands share and the
 * owner does not see.
 */
#pragma once

#include "crp-qmp-client.h"
#include "crp-qmp-commands.h"

G_BEGIN_DECLS

/*
 * crp_qmp_client_execute() without the readiness check, for the
 * capabilities negotiation: sends as soon as the socket is connected.
 */
void crp_qmp_client_send(CrpQmpClient *client, const char *command,
                         JsonObject *arguments, CrpQmpReplyFunc callback,
                         gpointer user_data);

/* qmp_capabilities, with no capability enabled (no out-of-band). */
void crp_qmp_qmp_capabilities(CrpQmpClient *client, CrpQmpDoneFunc callback,
                              gpointer user_data);

G_END_DECLS
