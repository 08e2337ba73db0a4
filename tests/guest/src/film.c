/* film.c - see film.h. */
#include "film.h"

#include <math.h>

/* Sine in 1024 steps a turn, amplitude 64. */
static int film_sin(unsigned i)
{
    static int table[1024];
    static int ready;

    if (!ready) {
        for (int k = 0; k < 1024; k++) {
            table[k] = (int)lround(64.0 * sin(k * 2.0 * M_PI / 1024.0));
        }
        ready = 1;
    }
    return table[i & 1023];
}

static uint32_t film_clamp(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint32_t)v;
}

void crp_film_draw(uint32_t *dst, int stride, int w, int h, unsigned long frame,
                   unsigned t_ms)
{
    unsigned p = t_ms * 3 / 10;
    uint32_t seed = (uint32_t)frame * 2654435761u;

    for (int row = 0; row < h; row++) {
        uint32_t *out = dst + (long)row * stride;
        for (int x = 0; x < w; x++) {
            uint32_t g = seed ^ ((uint32_t)row * 73856093u) ^ ((uint32_t)x * 19349663u);
            g ^= g >> 13;
            g *= 0x5bd1e995u;
            g ^= g >> 15;
            int grain = (int)(g % 13) - 6;
            int r = 128 + film_sin(x * 3 + p) + film_sin(row * 7 - p / 2) / 2 + grain;
            int gr = 128 + film_sin(x * 2 - row * 5 + p / 3) + grain;
            int b = 128 + film_sin(x + row * 4 + p * 2) / 2 + film_sin(x * 5 - p) / 2 + grain;
            out[x] = film_clamp(r) << 16 | film_clamp(gr) << 8 | film_clamp(b);
        }
    }
}
