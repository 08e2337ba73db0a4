/*
 * mixer.c - switch the sound card's mixer on (ALSA control ioctls)
 */
#include "mixer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sound/asound.h>

int crp_mixer_open_all(int card, FILE *log)
{
    struct snd_ctl_elem_list list;
    char path[64];
    int written = 0;
    int fd;

    snprintf(path, sizeof(path), "/dev/snd/controlC%d", card);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    memset(&list, 0, sizeof(list));
    if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_LIST, &list) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    list.space = list.count;
    list.pids = calloc(list.count ? list.count : 1, sizeof(*list.pids));
    if (!list.pids) {
        close(fd);
        return -ENOMEM;
    }
    if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_LIST, &list) < 0) {
        int e = -errno;
        free(list.pids);
        close(fd);
        return e;
    }
    for (unsigned i = 0; i < list.used; i++) {
        struct snd_ctl_elem_info info;
        struct snd_ctl_elem_value val;
        const char *name = (const char *)list.pids[i].name;
        long target;

        memset(&info, 0, sizeof(info));
        info.id = list.pids[i];
        if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_INFO, &info) < 0 ||
            !(info.access & SNDRV_CTL_ELEM_ACCESS_WRITE)) {
            continue;
        }
        if (info.type == SNDRV_CTL_ELEM_TYPE_BOOLEAN && strstr(name, "Switch")) {
            target = 1;
        } else if (info.type == SNDRV_CTL_ELEM_TYPE_INTEGER &&
                   strstr(name, "Volume")) {
            target = info.value.integer.max;
        } else {
            continue;
        }
        memset(&val, 0, sizeof(val));
        val.id = info.id;
        for (unsigned k = 0; k < info.count && k < 128; k++) {
            val.value.integer.value[k] = target;
        }
        if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_WRITE, &val) == 0) {
            written++;
            if (log) {
                fprintf(log, "CRP-MIXER name=\"%s\" value=%ld\n", name, target);
            }
        }
    }
    free(list.pids);
    close(fd);
    return written;
}
