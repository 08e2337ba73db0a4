/*
 * mixer.h - switch the sound card's mixer on (ALSA control ioctls)
 *
 * The HDA generic codec driver starts with its amplifiers muted, and QEMU's
 * hda-codec applies the guest's mute and gain to the audio it hands to the
 * audiodev, so without this the host hears (and the guest records) silence.
 */
#ifndef CRP_GUEST_MIXER_H
#define CRP_GUEST_MIXER_H

#include <stdio.h>

/**
 * crp_mixer_open_all:
 * On /dev/snd/controlC@card, turns every "... Switch" control on and every
 * "... Volume" control to its maximum. Each change is printed to @log as
 * "CRP-MIXER name=... value=..." when @log is not NULL. Returns the number
 * of controls written, or -errno.
 */
int crp_mixer_open_all(int card, FILE *log);

#endif
