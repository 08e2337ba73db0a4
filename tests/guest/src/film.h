/*
 * film.h - a moving picture for the video tests: drifting colour waves
 * with grain that changes every frame, like camera footage (few
 * neighbouring pixels are equal, so a tile classifier takes it for video).
 * Integer only: TCG is slow at libm.
 */
#ifndef CRP_FILM_H
#define CRP_FILM_H

#include <stdint.h>

/* Writes frame @frame (@t_ms since the film began) of a @w x @h film into
 * @dst, @stride pixels a row, XRGB8888. */
void crp_film_draw(uint32_t *dst, int stride, int w, int h, unsigned long frame,
                   unsigned t_ms);

#endif
