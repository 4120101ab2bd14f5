/*
 * render.h — the glyphs and colours every text and SVG view shares (the
 * core map's heatmap, the sharded map's load maps), so that they all read
 * alike.
 */
#ifndef GOMAP_BASE_RENDER_H
#define GOMAP_BASE_RENDER_H

/* The text heatmaps' five shades, lightest first (UTF-8): for mean live
 * slots 0, under 2, under 4, under 6, 6 or more. */
extern const char *const gomap__shade[5];

/* The heatmaps' colour ramp: level 0..8 (clamped) to "#rrggbb" (ColorBrewer
 * YlGnBu, pale for 0, dark for 8). */
void gomap__ramp_colour(double level, char buf[8]);

#endif /* GOMAP_BASE_RENDER_H */
