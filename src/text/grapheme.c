/* Grapheme cluster boundaries: the UAX #29 rules GB3-GB13 over the generated property table. */
#include "text/grapheme.h"

#include <stdbool.h>

static uint8_t gcb_prop(uint32_t cp) {
    if (cp < 0x7F)
        return cp == '\r' ? GCB_CR : cp == '\n' ? GCB_LF : cp < 0x20 ? GCB_CONTROL : GCB_OTHER;
    size_t lo = 0, hi = gcb_n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < gcb_ranges[mid].first)
            hi = mid;
        else if (cp > gcb_ranges[mid].last)
            lo = mid + 1;
        else
            return gcb_ranges[mid].prop;
    }
    return GCB_OTHER;
}

/* Whether there is no break between b (with GB11/GB12 context) and the next property a. */
typedef struct {
    int ri_run;          /* Regional_Indicator count ending at the previous code point */
    bool pict_ext_zwj;   /* ExtPict Extend* ZWJ ends at the previous code point */
    bool pict_ext;       /* ExtPict Extend* ends at the previous code point */
} gcb_state;

static bool no_break(uint8_t prev_full, uint8_t next_full, const gcb_state *st) {
    uint8_t p = prev_full & 15, n = next_full & 15;
    if (p == GCB_CR && n == GCB_LF)
        return true;                                                     /* GB3 */
    if (p == GCB_CR || p == GCB_LF || p == GCB_CONTROL)
        return false;                                                    /* GB4 */
    if (n == GCB_CR || n == GCB_LF || n == GCB_CONTROL)
        return false;                                                    /* GB5 */
    if (p == GCB_L && (n == GCB_L || n == GCB_V || n == GCB_LV || n == GCB_LVT))
        return true;                                                     /* GB6 */
    if ((p == GCB_LV || p == GCB_V) && (n == GCB_V || n == GCB_T))
        return true;                                                     /* GB7 */
    if ((p == GCB_LVT || p == GCB_T) && n == GCB_T)
        return true;                                                     /* GB8 */
    if (n == GCB_EXTEND || n == GCB_ZWJ || n == GCB_SPACING_MARK)
        return true;                                                     /* GB9, GB9a */
    if (p == GCB_PREPEND)
        return true;                                                     /* GB9b */
    if (st->pict_ext_zwj && (next_full & GCB_EXT_PICT))
        return true;                                                     /* GB11 */
    if (p == GCB_RI && n == GCB_RI && st->ri_run % 2 == 1)
        return true;                                                     /* GB12, GB13 */
    return false;                                                        /* GB999 */
}

static void advance(gcb_state *st, uint8_t full) {
    uint8_t v = full & 15;
    bool pict = (full & GCB_EXT_PICT) != 0;
    st->ri_run = v == GCB_RI ? st->ri_run + 1 : 0;
    st->pict_ext_zwj = v == GCB_ZWJ && st->pict_ext;
    st->pict_ext = pict || (v == GCB_EXTEND && st->pict_ext);
}

size_t grapheme_next(const uint32_t *cps, size_t n) {
    gcb_state st = {0, false, false};
    uint8_t prev = gcb_prop(cps[0]);
    advance(&st, prev);
    size_t i = 1;
    for (; i < n; i++) {
        uint8_t next = gcb_prop(cps[i]);
        if (!no_break(prev, next, &st))
            break;
        advance(&st, next);
        prev = next;
    }
    return i;
}
