/* Chunk (entity) extraction rules: seqeval default mode, seqeval strict schemes, conlleval.pl. */
#ifndef NERC_EVAL_CHUNKS_H
#define NERC_EVAL_CHUNKS_H

#include <stdint.h>

#include "nerc/metrics.h"

/* Tag prefixes as bits, so a rule can match a set of them. */
enum {
    PFX_O = 1 << 0,
    PFX_B = 1 << 1,
    PFX_I = 1 << 2,
    PFX_E = 1 << 3,
    PFX_S = 1 << 4,
    PFX_L = 1 << 5,
    PFX_U = 1 << 6,
    PFX_ANY = 0x7f
};

/* One token as the rules see it: its prefix bit and an id for its type.
 * Rules only compare the types of neighbouring tokens, so any ids that are
 * equal exactly when the type strings are equal will do. */
typedef struct {
    uint8_t prefix;
    int32_t type;
} eval_tok;

/* A chunk covering tokens [start, end) of one sentence. */
typedef struct {
    int32_t start;
    int32_t end;
    int32_t type;
} eval_chunk;

/* PFX_* bit of a prefix letter, 0 if it is not one of O B I E S L U. */
uint8_t prefix_bit(char c);

/* seqeval get_entities(seq, suffix=False) on one sentence; `o_type` is the
 * type id of "O" (seqeval gives it type "_"). Writes at most n chunks, in
 * increasing order of `end`; returns the count. */
int chunks_default(const eval_tok *toks, int n, int32_t o_type, eval_chunk *out);

/* Bits of the prefixes a strict scheme allows. */
uint8_t scheme_allowed(nerc_scheme scheme);

/* seqeval Tokens(seq, scheme).entities on one sentence. All prefixes must be
 * allowed by the scheme (check with scheme_allowed first). Writes at most n
 * chunks, in increasing order of `end`; returns the count. */
int chunks_strict(const eval_tok *toks, int n, nerc_scheme scheme, int32_t o_type,
                  eval_chunk *out);

/* conlleval.pl's running state over a whole file. */
typedef struct {
    uint8_t last_gold, last_pred; /* previous prefixes (PFX_O at the start) */
    int32_t last_gold_type, last_pred_type;
    int in_correct;
} conll_state;

/* Per-type and overall counters conlleval.pl keeps; arrays indexed by type id. */
typedef struct {
    int64_t *found_gold, *found_pred, *correct; /* per type */
    int64_t n_found_gold, n_found_pred, n_correct;
    int64_t n_tokens, n_correct_tags;
} conll_counts;

/* Starts a file: `empty_type` is the id conlleval gives "O" (type ""). */
void conll_begin(conll_state *st, int32_t empty_type);
/* One input line (gold, pred); `boundary` marks a blank line (not a token). */
void conll_step(conll_state *st, conll_counts *c, eval_tok gold, eval_tok pred, int boundary);
/* End of input. */
void conll_finish(conll_state *st, conll_counts *c);

#endif
