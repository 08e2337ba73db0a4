/*
 * headless-broker.c: broker mode. Log in with a key file, optionally
 * subscribe, launch an app (or get a fresh ticket for a running session),
 * attach through the broker's gateway, and hand the attached stream and
 * its ticket to the display client.
 *
 * The broker connection stays open for the whole session, as a user's
 * client would keep it, and says goodbye at exit.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "headless.h"
#include "crp-broker-client.h"

#include <crp/crp-error.h>
#include <crp/crp-message.h>
#include <stdio.h>

struct HlBrokerPhase {
    HlApp *app;
    HlBrokerOptions opts;           /* strings borrowed from the options */
    HlBrokerAttachedFunc done;
    GCancellable *cancel;
    CrpBrokerClient *client;
    CrpBrokerTicket *ticket;
};

int hl_broker_exit_code(const GError *error)
{
    if (error->domain == CRP_ERROR && error->code == CRP_ERROR_KEY_FILE) {
        return HL_EXIT_ERROR;
    }
    if (error->domain != CRP_BROKER_CLIENT_ERROR) {
        return HL_EXIT_ERROR;
    }
    switch (error->code) {
    case CRP_STATUS_AUTH_FAILED:
    case CRP_STATUS_UNKNOWN_KEY:
    case CRP_STATUS_KEY_REVOKED:
    case CRP_STATUS_RATE_LIMITED:
        return HL_EXIT_AUTH;
    case CRP_STATUS_BAD_REQUEST:
    case CRP_STATUS_VERSION_UNSUPPORTED:
        return HL_EXIT_PROTOCOL;
    case CRP_STATUS_SHUTDOWN:
    case CRP_STATUS_TIMEOUT:
    case CRP_STATUS_INTERNAL:
        return HL_EXIT_CLOSED;
    default:
        return HL_EXIT_REFUSED;
    }
}

static void fail(HlBrokerPhase *p, GError *error)
{
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        p->done(p->app, NULL, NULL, error);
    }
    g_error_free(error);
}

static void on_attached(GObject *source, GAsyncResult *res, gpointer data)
{
    HlBrokerPhase *p = data;
    GError *error = NULL;
    g_autoptr(GIOStream) stream =
        crp_broker_client_attach_finish(CRP_BROKER_CLIENT(source), res, &error);

    if (!stream) {
        fail(p, error);
        return;
    }
    hl_log("attached to session %s through the broker", p->ticket->session_id);
    p->done(p->app, stream, p->ticket->ticket, NULL);
}

static void on_ticket(GObject *source, GAsyncResult *res, gpointer data)
{
    HlBrokerPhase *p = data;
    GError *error = NULL;
    CrpBrokerTicket *ticket =
        crp_broker_client_ticket_finish(CRP_BROKER_CLIENT(source), res, &error);

    if (!ticket) {
        fail(p, error);
        return;
    }
    p->ticket = ticket;
    g_free(p->app->session_id);
    p->app->session_id = g_strdup(ticket->session_id);
    /* Scripts and tests read the session id from here. */
    printf("session %s\n", ticket->session_id);
    fflush(stdout);
    crp_broker_client_attach_async(p->client, ticket->session_id, p->cancel,
                                   on_attached, p);
}

static void launch(HlBrokerPhase *p)
{
    if (p->opts.session) {
        hl_log("asking for a fresh ticket for session %s", p->opts.session);
        crp_broker_client_renew_ticket_async(p->client, p->opts.session,
                                             p->cancel, on_ticket, p);
    } else {
        hl_log("launching %s", p->opts.app);
        crp_broker_client_launch_async(p->client, p->opts.app, p->cancel,
                                       on_ticket, p);
    }
}

static void on_subscribed(GObject *source, GAsyncResult *res, gpointer data)
{
    HlBrokerPhase *p = data;
    GError *error = NULL;

    if (!crp_broker_client_subscribe_finish(CRP_BROKER_CLIENT(source), res,
                                            &error)) {
        fail(p, error);
        return;
    }
    hl_log("subscribed to %s", p->opts.app);
    launch(p);
}

static void on_logged_in(GObject *source, GAsyncResult *res, gpointer data)
{
    HlBrokerPhase *p = data;
    GError *error = NULL;

    p->client = crp_broker_client_connect_finish(res, &error);
    if (!p->client) {
        fail(p, error);
        return;
    }
    hl_log("logged in to the broker as %s%s",
           crp_broker_client_get_user(p->client),
           crp_broker_client_has_files(p->client) ? ", My files offered" : "");
    if (!p->opts.app && !p->opts.session) {
        /* My files only: no display session. */
        p->done(p->app, NULL, NULL, NULL);
    } else if (p->opts.subscribe) {
        crp_broker_client_subscribe_async(p->client, p->opts.app, TRUE,
                                          p->cancel, on_subscribed, p);
    } else {
        launch(p);
    }
}

HlBrokerPhase *hl_broker_phase_start(HlApp *app, const HlBrokerOptions *opts,
                                     HlBrokerAttachedFunc done)
{
    HlBrokerPhase *p = g_new0(HlBrokerPhase, 1);

    p->app = app;
    p->opts = *opts;
    p->done = done;
    p->cancel = g_cancellable_new();
    crp_broker_client_connect_async(opts->key_path, opts->address, p->cancel,
                                    on_logged_in, p);
    return p;
}

CrpBrokerClient *hl_broker_phase_client(HlBrokerPhase *p)
{
    return p->client;
}

void hl_broker_phase_free(HlBrokerPhase *p)
{
    if (!p) {
        return;
    }
    g_cancellable_cancel(p->cancel);
    g_object_unref(p->cancel);
    crp_broker_client_free(p->client);
    crp_broker_ticket_free(p->ticket);
    g_free(p);
}
