/*
 * crp-vbe - set a mode on QEMU's bochs-display by its registers, as a
 * guest driver would, and paint it, for the capture tests of -display crp.
 *
 *   crp-vbe WIDTH HEIGHT BPP [end]
 *
 * bochs-display shows guest video memory in the format the guest chose
 * (16 bpp: r5g6b5), without asking the display whether it can take it.
 * BPP is 16 or 32. With "end", the picture is placed (by its Y offset)
 * as close to the end of video memory as it fits, so a reader that
 * assumed 4 bytes a pixel would run past the end of guest memory.
 *
 * The device's DRM driver is unbound first, so nothing else programs it.
 * The picture is a gradient whose far corner is #ffff84 at 16 bpp and
 * #ffff80 at 32 bpp; prints "CRP-VBE-MODE WxHxBPP offset=N" when shown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-tools.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
/* bochs-display: the QEMU VGA ids, but class "display, other". */
#define BOCHS_CLASS "0x038000"
#define VBE_MMIO_OFFSET 0x500
enum {
    VBE_XRES = 1, VBE_YRES = 2, VBE_BPP = 3, VBE_ENABLE = 4,
    VBE_VIRT_WIDTH = 6, VBE_VIRT_HEIGHT = 7, VBE_X_OFFSET = 8, VBE_Y_OFFSET = 9,
};
#define VBE_ENABLED 0x01
#define VBE_LFB_ENABLED 0x40

static int read_line(const char *dir, const char *name, char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok ? 0 : -1;
}

/* The first bochs-display's sysfs directory, in @out. */
static int find_device(char *out, size_t len)
{
    DIR *d = opendir(PCI_DEVICES);
    struct dirent *e;
    int found = -1;

    while (d && (e = readdir(d))) {
        char dir[512], vendor[16], device[16], class[16];
        snprintf(dir, sizeof(dir), "%s/%s", PCI_DEVICES, e->d_name);
        if (e->d_name[0] == '.' || read_line(dir, "vendor", vendor, sizeof(vendor)) ||
            read_line(dir, "device", device, sizeof(device)) ||
            read_line(dir, "class", class, sizeof(class))) {
            continue;
        }
        if (!strcmp(vendor, "0x1234") && !strcmp(device, "0x1111") &&
            !strcmp(class, BOCHS_CLASS)) {
            snprintf(out, len, "%s", dir);
            found = 0;
            break;
        }
    }
    if (d) {
        closedir(d);
    }
    return found;
}

static void unbind_driver(const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/driver/unbind", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(strrchr(dir, '/') + 1, f);
        fclose(f);
    }
}

static void *map_resource(const char *dir, int n, size_t *len)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof(path), "%s/resource%d", dir, n);
    int fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        return NULL;
    }
    void *p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    *len = st.st_size;
    return p == MAP_FAILED ? NULL : p;
}

int crp_vbe_main(int argc, char **argv)
{
    char dir[512];
    size_t vram_len, mmio_len;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 4) {
        fprintf(stderr, "usage: crp-vbe WIDTH HEIGHT BPP [end]\n");
        return 2;
    }
    int w = atoi(argv[1]), h = atoi(argv[2]), bpp = atoi(argv[3]);
    int at_end = argc > 4 && !strcmp(argv[4], "end");
    if (w < 64 || h < 64 || w > 4096 || h > 4096 || (bpp != 16 && bpp != 32)) {
        printf("CRP-VBE-ERROR bad mode %dx%dx%d\n", w, h, bpp);
        return 2;
    }
    if (find_device(dir, sizeof(dir)) < 0) {
        printf("CRP-VBE-ERROR no bochs-display\n");
        return 1;
    }
    unbind_driver(dir);
    uint8_t *vram = map_resource(dir, 0, &vram_len);
    uint8_t *mmio = map_resource(dir, 2, &mmio_len);
    if (!vram || !mmio || mmio_len < VBE_MMIO_OFFSET + 0x20) {
        printf("CRP-VBE-ERROR cannot map the device: %s\n", strerror(errno));
        return 1;
    }
    volatile uint16_t *vbe = (volatile uint16_t *)(mmio + VBE_MMIO_OFFSET);
    size_t stride = (size_t)w * (bpp / 8);
    size_t rows_in_vram = vram_len / stride;
    if (rows_in_vram < (size_t)h) {
        printf("CRP-VBE-ERROR %dx%dx%d does not fit in %zu bytes\n", w, h, bpp, vram_len);
        return 1;
    }
    int y_offset = at_end ? (int)(rows_in_vram - h) : 0;
    size_t offset = (size_t)y_offset * stride;

    /* The picture first, then the mode: the first frame is the final one. */
    for (int y = 0; y < h; y++) {
        uint8_t *row = vram + offset + (size_t)y * stride;
        for (int x = 0; x < w; x++) {
            unsigned r = x * 255 / (w - 1), g = y * 255 / (h - 1);
            if (bpp == 16) {
                uint16_t p = (uint16_t)((r >> 3) << 11 | (g >> 2) << 5 | 0x10);
                memcpy(row + 2 * x, &p, 2);
            } else {
                uint32_t p = r << 16 | g << 8 | 0x80;
                memcpy(row + 4 * x, &p, 4);
            }
        }
    }
    vbe[VBE_ENABLE] = 0;
    vbe[VBE_XRES] = w;
    vbe[VBE_YRES] = h;
    vbe[VBE_BPP] = bpp;
    vbe[VBE_VIRT_WIDTH] = w;
    vbe[VBE_VIRT_HEIGHT] = rows_in_vram > 0xffff ? 0xffff : rows_in_vram;
    vbe[VBE_X_OFFSET] = 0;
    vbe[VBE_Y_OFFSET] = y_offset;
    vbe[VBE_ENABLE] = VBE_ENABLED | VBE_LFB_ENABLED;
    printf("CRP-VBE-MODE %dx%dx%d offset=%zu\n", w, h, bpp, offset);
    return 0;
}
