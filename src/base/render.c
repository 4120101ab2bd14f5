/*
 * render.c — what the text and SVG views draw alike (render.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/render.h"

/* Shades for mean live slots 0, under 2, under 4, under 6, 6 or more (a
 * chain with overflow buckets holds more than 8). */
const char *const gomap__shade[5] = {"\u00b7", "\u2591", "\u2592", "\u2593", "\u2588"};

/* Colour for a level (mean live slots), interpolated over nine stops for 0..8
 * (ColorBrewer YlGnBu: pale yellow for empty, dark blue for full). */
void gomap__ramp_colour(double level, char buf[8])
{
    static const unsigned char stop[9][3] = {
        {0xff, 0xff, 0xd9}, {0xed, 0xf8, 0xb1}, {0xc7, 0xe9, 0xb4},
        {0x7f, 0xcd, 0xbb}, {0x41, 0xb6, 0xc4}, {0x1d, 0x91, 0xc0},
        {0x22, 0x5e, 0xa8}, {0x25, 0x34, 0x94}, {0x08, 0x1d, 0x58}};
    level = level < 0 ? 0 : level > 8 ? 8 : level;
    unsigned i = level >= 8 ? 7 : (unsigned)level;
    double f = level - i;
    unsigned rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (unsigned)(stop[i][k] + f * (stop[i + 1][k] - stop[i][k]) + 0.5);
    snprintf(buf, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void gomap__svg_begin(FILE *out, unsigned w, unsigned h, const char *title_fmt, ...)
{
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
                 "viewBox=\"0 0 %u %u\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n"
                 "<title>",
            w, h, w, h);
    va_list ap;
    va_start(ap, title_fmt);
    /* ap is started on the line above; clang-tidy 14's analyzer loses it. */
    vfprintf(out, title_fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    fprintf(out, "</title>\n<rect width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n", w, h);
}

void gomap__svg_end(FILE *out)
{
    fputs("</svg>\n", out);
}

int gomap__out_finish(FILE *out)
{
    return (fflush(out) != 0 || ferror(out)) ? -EIO : 0;
}
