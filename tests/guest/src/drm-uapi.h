/*
 * drm-uapi.h - the few DRM mode-setting ioctls crp-drm uses
 *
 * A copy of the kernel's stable UAPI (include/uapi/drm/drm.h and
 * drm_mode.h, MIT licensed), cut down to what crp-drm needs, so that
 * building the guest needs no libdrm-dev. The layouts are ABI: they never
 * change.
 */
#ifndef CRP_GUEST_DRM_UAPI_H
#define CRP_GUEST_DRM_UAPI_H

#include <linux/types.h>
#include <sys/ioctl.h>

#define CRP_DRM_MODE_TYPE_PREFERRED (1 << 3)
#define CRP_DRM_MODE_CONNECTED 1
#define CRP_DRM_MODE_CURSOR_BO 0x01
#define CRP_DRM_MODE_CURSOR_MOVE 0x02

struct crp_drm_mode_modeinfo {
    __u32 clock;
    __u16 hdisplay, hsync_start, hsync_end, htotal, hskew;
    __u16 vdisplay, vsync_start, vsync_end, vtotal, vscan;
    __u32 vrefresh;
    __u32 flags;
    __u32 type;
    char name[32];
};

struct crp_drm_mode_card_res {
    __u64 fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
    __u32 count_fbs, count_crtcs, count_connectors, count_encoders;
    __u32 min_width, max_width, min_height, max_height;
};

struct crp_drm_mode_crtc {
    __u64 set_connectors_ptr;
    __u32 count_connectors;
    __u32 crtc_id;
    __u32 fb_id;
    __u32 x, y;
    __u32 gamma_size;
    __u32 mode_valid;
    struct crp_drm_mode_modeinfo mode;
};

struct crp_drm_mode_get_encoder {
    __u32 encoder_id, encoder_type, crtc_id, possible_crtcs, possible_clones;
};

struct crp_drm_mode_get_connector {
    __u64 encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
    __u32 count_modes, count_props, count_encoders;
    __u32 encoder_id, connector_id, connector_type, connector_type_id;
    __u32 connection;
    __u32 mm_width, mm_height;
    __u32 subpixel;
    __u32 pad;
};

struct crp_drm_mode_fb_cmd {
    __u32 fb_id, width, height, pitch, bpp, depth, handle;
};

struct crp_drm_mode_cursor2 {
    __u32 flags, crtc_id;
    __s32 x, y;
    __u32 width, height, handle;
    __s32 hot_x, hot_y;
};

struct crp_drm_mode_create_dumb {
    __u32 height, width, bpp, flags, handle, pitch;
    __u64 size;
};

struct crp_drm_mode_map_dumb {
    __u32 handle, pad;
    __u64 offset;
};

struct crp_drm_mode_destroy_dumb {
    __u32 handle;
};

struct crp_drm_clip_rect {
    unsigned short x1, y1, x2, y2;
};

struct crp_drm_mode_fb_dirty_cmd {
    __u32 fb_id, flags, color, num_clips;
    __u64 clips_ptr;
};

#define CRP_DRM_IOWR(nr, type) _IOWR('d', nr, type)
#define CRP_DRM_IOCTL_MODE_GETRESOURCES CRP_DRM_IOWR(0xA0, struct crp_drm_mode_card_res)
#define CRP_DRM_IOCTL_MODE_SETCRTC      CRP_DRM_IOWR(0xA2, struct crp_drm_mode_crtc)
#define CRP_DRM_IOCTL_MODE_GETENCODER   CRP_DRM_IOWR(0xA6, struct crp_drm_mode_get_encoder)
#define CRP_DRM_IOCTL_MODE_GETCONNECTOR CRP_DRM_IOWR(0xA7, struct crp_drm_mode_get_connector)
#define CRP_DRM_IOCTL_MODE_ADDFB        CRP_DRM_IOWR(0xAE, struct crp_drm_mode_fb_cmd)
#define CRP_DRM_IOCTL_MODE_RMFB         CRP_DRM_IOWR(0xAF, unsigned int)
#define CRP_DRM_IOCTL_MODE_DIRTYFB      CRP_DRM_IOWR(0xB1, struct crp_drm_mode_fb_dirty_cmd)
#define CRP_DRM_IOCTL_MODE_CREATE_DUMB  CRP_DRM_IOWR(0xB2, struct crp_drm_mode_create_dumb)
#define CRP_DRM_IOCTL_MODE_MAP_DUMB     CRP_DRM_IOWR(0xB3, struct crp_drm_mode_map_dumb)
#define CRP_DRM_IOCTL_MODE_DESTROY_DUMB CRP_DRM_IOWR(0xB4, struct crp_drm_mode_destroy_dumb)
#define CRP_DRM_IOCTL_MODE_CURSOR2      CRP_DRM_IOWR(0xBB, struct crp_drm_mode_cursor2)

#endif
