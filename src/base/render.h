/*
 * render.h — what every text and SVG view draws alike (the core map's
 * heatmap, the sharded map's load maps): the shades, the colour ramp, the
 * frame of an SVG picture, and the end of a write to the caller's stream.
 */
#ifndef GOMAP_BASE_RENDER_H
#define GOMAP_BASE_RENDER_H

#include <stdio.h>

/* The text heatmaps' five shades, lightest first (UTF-8): for mean live
 * slots 0, under 2, under 4, under 6, 6 or more. */
extern const char *const gomap__shade[5];

/* The heatmaps' colour ramp: level 0..8 (clamped) to "#rrggbb" (ColorBrewer
 * YlGnBu, pale for 0, dark for 8). */
void gomap__ramp_colour(double level, char buf[8]);

/* Starts an SVG picture of w x h pixels: the XML declaration, the <svg>
 * element (size, viewBox, the heatmaps' font), a <title> made from
 * title_fmt (printf-style; no XML escaping, so no '<' or '&' in it) and a
 * white background. gomap__svg_end closes it. */
void gomap__svg_begin(FILE *out, unsigned w, unsigned h, const char *title_fmt, ...)
    __attribute__((format(printf, 4, 5)));
void gomap__svg_end(FILE *out);

/* Flushes what was written to out: 0, or -EIO when the stream reports a
 * write error (the heatmap and dump calls' result). */
int gomap__out_finish(FILE *out);

#endif /* GOMAP_BASE_RENDER_H */
