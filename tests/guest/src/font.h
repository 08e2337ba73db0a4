/*
 * font.h - 5x7 bitmap font (digits, upper-case letters, a little punctuation)
 */
#ifndef CRP_GUEST_FONT_H
#define CRP_GUEST_FONT_H

#include <stdint.h>

#define CRP_FONT_W 5
#define CRP_FONT_H 7

/**
 * crp_font_glyph:
 * Returns 7 rows for @c, bit 4 = leftmost pixel. Lower case maps to upper
 * case; an unknown character gets a hollow box.
 */
const uint8_t *crp_font_glyph(char c);

#endif
