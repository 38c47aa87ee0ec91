/* Extended grapheme clusters (UAX #29, as the Rust crate unicode-segmentation splits them). */
#ifndef NERC_TEXT_GRAPHEME_H
#define NERC_TEXT_GRAPHEME_H

#include <stddef.h>
#include <stdint.h>

/* Grapheme_Cluster_Break values (low 4 bits) plus GCB_EXT_PICT for Extended_Pictographic. */
enum {
    GCB_OTHER, GCB_CR, GCB_LF, GCB_CONTROL, GCB_EXTEND, GCB_ZWJ, GCB_RI, GCB_PREPEND, GCB_SPACING_MARK,
    GCB_L, GCB_V, GCB_T, GCB_LV, GCB_LVT,
    GCB_EXT_PICT = 16
};

typedef struct {
    uint32_t first, last;
    uint8_t prop;
} gcb_range;

extern const gcb_range gcb_ranges[];
extern const size_t gcb_n_ranges;

/* Length (in code points, >= 1) of the grapheme cluster starting at cps[0] (n >= 1). */
size_t grapheme_next(const uint32_t *cps, size_t n);

#endif
