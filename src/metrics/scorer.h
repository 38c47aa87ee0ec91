/* The scorer's internals, shared by the scorer, the report writers and the score-file reader. */
#ifndef NERC_EVAL_SCORER_H
#define NERC_EVAL_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "metrics/strtab.h"
#include "nerc/metrics.h"

struct nerc_scorer {
    strtab tags;              /* tag text -> tag id */
    uint8_t *tag_prefix;      /* per tag id: PFX_* */
    int32_t *tag_type;        /* per tag id: seqeval type id ("O" -> "_") */
    int32_t *tag_conll_type;  /* per tag id: conlleval type id ("O" -> "") */
    int32_t tag_cap;
    strtab types;             /* type names; ids index per-type counters */
    int32_t o_type, empty_type; /* ids of "_" and "" */
    int32_t *gold, *pred;     /* tag id per token */
    int64_t n_tokens, tok_cap;
    int64_t *sent_end;        /* token offset one past each sentence */
    int64_t n_sents, sent_cap;
    int32_t max_sent_len;
    int open_end; /* input ended without a blank line after the last sentence
                   * (conlleval.pl then sees no sentence break there) */
};

/* A tag given as bytes (not NUL-terminated). */
typedef struct {
    const char *s;
    size_t n;
} tag_view;

/* Is s[0..n) "O" or P-TYPE (P in B I E S L U; TYPE non-empty, not "_", no
 * NUL, not starting or ending with '-')? */
int tag_shape_ok(const char *s, size_t n);

/* Adds one sentence of well-formed tags (checked with tag_shape_ok). */
nerc_status scorer_add_views(nerc_scorer *sc, const tag_view *gold, const tag_view *pred, int n);

#endif
