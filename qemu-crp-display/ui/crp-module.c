/*
 * CRP display: built-in QMP handlers that forward to ui-crp.so.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-ui.h"
#include "ui/crp-module.h"

static const CrpModuleOps *crp_ops;

void crp_module_register_ops(const CrpModuleOps *ops)
{
    crp_ops = ops;
}

static bool crp_module_check_active(Error **errp)
{
    if (!crp_ops) {
        error_setg(errp, "crp display is not active");
        return false;
    }
    return true;
}

CrpInfo *qmp_query_crp(Error **errp)
{
    CrpInfo *info;

    /* Must succeed when crp is unused: qmp-cmd-test runs every query-*. */
    if (!crp_ops || !crp_ops->query) {
        info = g_new0(CrpInfo, 1);
        info->enabled = false;
        return info;
    }
    return crp_ops->query(errp);
}

void qmp_crp_set_ticket(const char *ticket,
                        bool has_expires, int64_t expires,
                        bool has_connected, CrpTicketConnected connected,
                        Error **errp)
{
    if (!crp_module_check_active(errp)) {
        return;
    }
    if (has_expires && expires < 0) {
        error_setg(errp, "Parameter 'expires' must not be negative");
        return;
    }
    crp_ops->set_ticket(ticket, has_expires ? expires : 0,
                        has_connected ? connected : CRP_TICKET_CONNECTED_KEEP,
                        errp);
}

void qmp_crp_disconnect(bool has_id, int64_t id, Error **errp)
{
    if (!crp_module_check_active(errp)) {
        return;
    }
    crp_ops->disconnect(has_id, id, errp);
}

/* Audio peers by audiodev id; see crp-module.h. A handful at most. */
static GHashTable *crp_audio_peers;

void crp_audio_peer_register(const char *audiodev_id, CrpAudioPeer *peer)
{
    if (!crp_audio_peers) {
        crp_audio_peers = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                g_free, NULL);
    }
    g_hash_table_insert(crp_audio_peers, g_strdup(audiodev_id), peer);
}

void crp_audio_peer_unregister(const char *audiodev_id)
{
    if (crp_audio_peers) {
        g_hash_table_remove(crp_audio_peers, audiodev_id);
    }
}

CrpAudioPeer *crp_audio_peer_lookup(const char *audiodev_id)
{
    return crp_audio_peers ? g_hash_table_lookup(crp_audio_peers, audiodev_id)
                           : NULL;
}
