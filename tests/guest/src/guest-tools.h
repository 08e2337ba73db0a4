/*
 * guest-tools.h - the programs inside the crp-guest-tools multi-call binary
 *
 * One static binary keeps the initramfs small; it runs the program named by
 * its argv[0] (crp-demo-guest, crp-tone, crp-record, crp-mixer, crp-drm, crp-vbe,
 * crp-vdagent; the guest has a symlink for each) or by its first argument.
 */
#ifndef CRP_GUEST_TOOLS_H
#define CRP_GUEST_TOOLS_H

int crp_demo_main(int argc, char **argv);
int crp_tone_main(int argc, char **argv);
int crp_record_main(int argc, char **argv);
int crp_mixer_main(int argc, char **argv);
int crp_drm_main(int argc, char **argv);
int crp_vbe_main(int argc, char **argv);
int crp_vdagent_main(int argc, char **argv);

#endif
