/*
 * render.c — shades and colour ramp of the text and SVG views (render.h).
 */
#include <stdio.h>

#include "base/render.h"

/* Shades for mean live slots 0, under 2, under 4, under 6, 6 or more (a
 * chain with overflow buckets holds more than 8). */
const char *const gomap__shade[5] = {"\u00b7", "\u2591", "\u2592", "\u2593", "\u2588"};

/* Colour for mean live slots, interpolated over nine stops for 0..8
 * (ColorBrewer YlGnBu: pale yellow for empty, dark blue for full). */
void gomap__ramp_colour(double mean, char buf[8])
{
    static const unsigned char stop[9][3] = {
        {0xff, 0xff, 0xd9}, {0xed, 0xf8, 0xb1}, {0xc7, 0xe9, 0xb4},
        {0x7f, 0xcd, 0xbb}, {0x41, 0xb6, 0xc4}, {0x1d, 0x91, 0xc0},
        {0x22, 0x5e, 0xa8}, {0x25, 0x34, 0x94}, {0x08, 0x1d, 0x58}};
    mean = mean < 0 ? 0 : mean > 8 ? 8 : mean;
    unsigned i = mean >= 8 ? 7 : (unsigned)mean;
    double f = mean - i;
    unsigned rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (unsigned)(stop[i][k] + f * (stop[i + 1][k] - stop[i][k]) + 0.5);
    snprintf(buf, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}
