/*
 * CRP display: interface between the built-in QMP handlers and the
 * loadable ui-crp module.
 *
 * QMP command handlers must be linked into the QEMU binary, but the CRP
 * display lives in ui-crp.so.  The binary therefore carries small
 * forwarders (ui/crp-module.c) and the module plugs its implementation
 * in with crp_module_register_ops() once -display crp is initialised.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef UI_CRP_MODULE_H
#define UI_CRP_MODULE_H

#include "qapi/qapi-types-ui.h"

typedef struct CrpModuleOps {
    /*
     * query-crp.  Returns a newly allocated CrpInfo with enabled set,
     * or NULL with @errp set.
     */
    CrpInfo *(*query)(Error **errp);

    /*
     * crp-set-ticket.  @expires is in seconds from now, 0 for none;
     * @connected says what to do with clients already connected.
     */
    bool (*set_ticket)(const char *ticket, int64_t expires,
                       CrpTicketConnected connected, Error **errp);

    /* crp-disconnect.  @has_id false: disconnect every client. */
    bool (*disconnect)(bool has_id, int64_t id, Error **errp);
} CrpModuleOps;

/*
 * Install @ops as the implementation of the CRP QMP commands, or
 * remove it with NULL.  @ops must stay valid until it is removed.
 * Called with the BQL held.
 */
void crp_module_register_ops(const CrpModuleOps *ops);

/*
 * Audio: how audio-crp.so and ui-crp.so find each other. The audio driver
 * registers a CrpAudioPeer under its audiodev id when it starts (before
 * the display's init); the display looks it up by the id given in
 * -display crp,audiodev=ID and fills in its half. Both modules only ever
 * use it with the BQL held.
 */
typedef struct CrpAudioPeer {
    /* Filled in by the audio driver. */
    int channels;                   /* of playback and microphone */
    bool playback_active;           /* the guest's output voice is on */
    void *audio_opaque;
    /* A client's microphone: one Opus packet. */
    void (*mic_packet)(void *audio_opaque, const uint8_t *packet, size_t len);

    /* Filled in by the display. */
    void *display_opaque;
    /* One Opus packet of the guest's playback for every client. */
    void (*playback_packet)(void *display_opaque, const uint8_t *packet,
                            size_t len, uint64_t timestamp_us);
    /* Playback (re)started: clients should get AUDIO_FORMAT. */
    void (*playback_format)(void *display_opaque);
} CrpAudioPeer;

void crp_audio_peer_register(const char *audiodev_id, CrpAudioPeer *peer);
void crp_audio_peer_unregister(const char *audiodev_id);
CrpAudioPeer *crp_audio_peer_lookup(const char *audiodev_id);

#endif /* UI_CRP_MODULE_H */
