/* Per-character BertNormalizer (clean_text, CJK padding, strip accents,
 * lowercase) plus the BertPreTokenizer classes, all driven by the generated tables. */
#include "text/normalize.h"

/* The Rust library's CJK ranges (note 2B920, not Google's 2B820). */
static const uint32_t cjk_ranges[][2] = {
    {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xF900, 0xFAFF},   {0x20000, 0x2A6DF},
    {0x2A700, 0x2B73F}, {0x2B740, 0x2B81F}, {0x2B920, 0x2CEAF}, {0x2F800, 0x2FA1F},
};

static bool is_cjk(uint32_t cp) {
    if (cp < 0x3400)
        return false;
    for (size_t i = 0; i < sizeof cjk_ranges / sizeof cjk_ranges[0]; i++)
        if (cp >= cjk_ranges[i][0] && cp <= cjk_ranges[i][1])
            return true;
    return false;
}

/* Hangul syllable -> 2 or 3 conjoining jamo (Unicode's algorithmic NFD). */
static size_t hangul_decompose(uint32_t cp, uint32_t *out) {
    uint32_t s = cp - 0xAC00;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    if (s % 28 == 0)
        return 2;
    out[2] = 0x11A7 + s % 28;
    return 3;
}

/* Strip accents and/or lowercase one code point through a fold table. */
static size_t fold_char(const uni_table *fold, uint32_t cp, uint32_t *out) {
    const uni_range *r = fold ? uni_find(fold, cp) : NULL;
    if (!r) {
        out[0] = cp;
        return 1;
    }
    switch (r->kind) {
    case UNI_DROP: return 0;
    case UNI_SPACE: out[0] = ' '; return 1;
    case UNI_DELTA: out[0] = (uint32_t)((int64_t)cp + r->arg); return 1;
    case UNI_HANGUL: return hangul_decompose(cp, out);
    case UNI_SEQ: {
        size_t n = r->len < NORM_MAX_EXPANSION ? r->len : NORM_MAX_EXPANSION;
        for (size_t i = 0; i < n; i++)
            out[i] = uni_seq[(size_t)r->arg + i];
        return n;
    }
    default: out[0] = cp; return 1;
    }
}

size_t normalize_char(const norm_config *cfg, uint32_t cp, uint32_t out[NORM_MAX_EXPANSION]) {
    if (cp >= 0x20 && cp < 0x7F) { /* printable ASCII: kept, or lowercased (what the tables say) */
        bool lower = cfg->fold == &uni_fold_uncased || cfg->fold == &uni_fold_lower;
        out[0] = lower && cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    if (cfg->clean_text) {
        const uni_range *r = uni_find(&uni_clean, cp);
        if (r && r->kind == UNI_DROP)
            return 0;
        if (r && r->kind == UNI_SPACE)
            cp = ' ';
    }
    if (cfg->handle_chinese_chars && is_cjk(cp)) {
        /* " c ": padding comes before the accent/case fold, which maps c to one ideograph */
        uint32_t inner[NORM_MAX_EXPANSION];
        if (fold_char(cfg->fold, cp, inner) == 1) {
            out[0] = ' ', out[1] = inner[0], out[2] = ' ';
            return 3;
        }
    }
    return fold_char(cfg->fold, cp, out);
}

const uni_table *norm_fold_table(int strip_accents, bool lowercase) {
    bool strip = strip_accents < 0 ? lowercase : strip_accents != 0;
    return strip && lowercase ? &uni_fold_uncased : lowercase ? &uni_fold_lower : strip ? &uni_fold_strip : NULL;
}

bool pretok_is_space(uint32_t cp) {
    if (cp < 0x80)
        return cp == ' ' || (cp >= 9 && cp <= 13);
    return uni_find(&uni_space, cp) != NULL;
}

bool pretok_is_punct(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    return uni_find(&uni_punct, cp) != NULL;
}
