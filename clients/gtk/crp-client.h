/*
 * crp-client.h: what crp-client's parts share: its options and the
 * broker-mode entry point.
 *
 *   crp-client-main.c     main(), options, --headless, direct mode
 *   crp-broker-ui.c       broker mode: login, then the main window
 *   crp-login-window.c    choosing the key file, logging in
 *   crp-link-window.c     asking before a crp:// link opens an app
 *   crp-form.c            what those two small windows are made of
 *   crp-main-window.c     my apps, catalog, sessions
 *   crp-session-window.c  one app's window (display, sound, controls)
 *   crp-files-window.c    My files: the user's files area on the broker
 *   crp-files-transfers.c uploads and downloads under way
 *   crp-transfer-row.c    one transfer's progress, as a row
 *   crp-display.c         the widget that draws the guest and takes input
 *   crp-tile-grid.c       the framebuffer as textures
 *   crp-input-map.c       keys, buttons, geometry
 *   crp-sound.c           GStreamer playback and microphone
 *   crp-session-stats.c   the stats overlay's text
 *   crp-settings.c        remembered settings (client.ini)
 *   crp-uri.c             crp://broker/app links
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CRP_CLIENT_APP_ID "org.crp.Client"

typedef struct {
    char *connect;          /* direct mode */
    char *ticket_file;
    char *key_file;         /* broker mode */
    char *broker;
    gboolean one_to_one;
    gboolean fullscreen;
    char **uris;            /* at most one crp:// link */
} CrpClientOptions;

/** Broker mode: the login window (or straight to the main window with a
 *  remembered key); with a crp:// link, after asking the user, opening the
 *  link's app once logged in. */
void crp_client_start_broker(GtkApplication *app, const CrpClientOptions *opts);

G_END_DECLS
