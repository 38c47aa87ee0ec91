/* Unicode range tables of the BERT normalizer / pre-tokenizer (generated into unicode_tables.c). */
#ifndef NERC_TEXT_UNICODE_TABLES_H
#define NERC_TEXT_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

enum {
    UNI_MATCH,  /* membership only (punctuation, whitespace) */
    UNI_DROP,   /* the code point is removed */
    UNI_SPACE,  /* replaced by U+0020 */
    UNI_DELTA,  /* replaced by code point + arg */
    UNI_SEQ,    /* replaced by uni_seq[arg .. arg+len) */
    UNI_HANGUL  /* a Hangul syllable, decomposed to its 2 or 3 jamo */
};

typedef struct {
    uint32_t first, last; /* inclusive code-point range */
    uint16_t kind;        /* UNI_* */
    uint16_t len;         /* UNI_SEQ: number of output code points */
    int32_t arg;          /* UNI_DELTA: offset; UNI_SEQ: index into uni_seq */
} uni_range;

typedef struct {
    const uni_range *r;
    size_t n;
} uni_table;

extern const uni_table uni_clean;        /* clean_text: DROP / SPACE */
extern const uni_table uni_fold_uncased; /* strip_accents + lowercase (measured) */
extern const uni_table uni_fold_lower;   /* lowercase only (derived) */
extern const uni_table uni_fold_strip;   /* strip_accents only (derived) */
extern const uni_table uni_punct;        /* pre-tokenizer punctuation */
extern const uni_table uni_space;        /* pre-tokenizer whitespace */
extern const uint32_t uni_seq[];
extern const size_t uni_seq_len;

/* The range of `t` holding `cp`, or NULL (binary search). */
static inline const uni_range *uni_find(const uni_table *t, uint32_t cp) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < t->r[mid].first)
            hi = mid;
        else if (cp > t->r[mid].last)
            lo = mid + 1;
        else
            return &t->r[mid];
    }
    return NULL;
}

#endif
