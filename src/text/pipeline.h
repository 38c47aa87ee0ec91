/* The encoder's working representation (HF's NormalizedString): normalized code points, each
 * with the byte span of the original character it came from, plus the scratch of one encode
 * call. Normalizers rewrite a buffer, pre-tokenizers cut it into splits, models tokenize a split. */
#ifndef NERC_TEXT_PIPELINE_H
#define NERC_TEXT_PIPELINE_H

#include "text/tokenizer_internal.h"

/* One normalized character and the original bytes [o0, o1) it is aligned to. */
typedef struct {
    uint32_t cp;
    int32_t o0, o1;
} nchar;

typedef struct {
    nchar *c;
    size_t n, cap;
} nbuf;

/* A run of characters of a pool: [start, start + len); `token` >= 0 for an added token. */
typedef struct {
    size_t start, len;
    int32_t token;
} tok_split;

typedef struct {
    tok_split *s;
    size_t n, cap;
} split_list;

/* A model's output token: chars [first, last] of its split, the vocabulary id, and for Unigram
 * unknowns the normalized text it stands for (text_off into the arena, -1 otherwise). */
typedef struct {
    int32_t id;
    size_t first, last;
    int64_t text_off;
    int32_t text_len;
} model_token;

typedef struct {
    model_token *t;
    size_t n, cap;
} token_list;

/* Scratch of one encode call (nothing is allocated per word once it has grown). */
typedef struct {
    nbuf tmp, pool[2];              /* transformations; pre-tokenizer split pools */
    split_list splits[2];
    char *utf8;                     /* UTF-8 of a run of chars */
    int32_t *boff;                  /* [chars + 1] byte offset of each char in utf8 */
    size_t utf8_cap, boff_cap;
    uint32_t *cps;                  /* code points (graphemes, literal matching) */
    size_t cps_cap;
    void *changes;                  /* transformation list of the Precompiled normalizer */
    size_t changes_cap;
    void *model_buf;                /* BPE symbols + heap / Unigram lattice */
    size_t model_cap;
    char *arena;                    /* Unigram unknown texts */
    size_t arena_len, arena_cap;
    token_list toks;
    split_list matches;             /* pattern_find's result */
    tok_regex_scratch rx;
} tok_scratch;

void scratch_free(tok_scratch *sc);
/* Grows p (elements of `elem` bytes) to at least n elements. */
nerc_status scratch_grow(void **p, size_t *cap, size_t n, size_t elem);
nerc_status nbuf_reserve(nbuf *b, size_t n);
nerc_status splits_push(split_list *l, size_t start, size_t len, int32_t token);
nerc_status tokens_push(token_list *l, int32_t id, size_t first, size_t last);
/* UTF-8 of chars c[0, n) into sc->utf8 with sc->boff (n + 1 entries); returns the byte length. */
nerc_status utf8_of_chars(tok_scratch *sc, const nchar *c, size_t n, size_t *bytes);
/* Index of the char holding byte b (boff is sorted). */
size_t char_at_byte(const int32_t *boff, size_t n_chars, size_t b);

/* Runs the normalizers on b (chars of a piece whose original starts at byte `base`). */
nerc_status normalize_run(const nerc_tokenizer *tok, nbuf *b, int32_t base, tok_scratch *sc);
/* Normalizes one code-point string (an added token's content) to code points. */
nerc_status normalize_cps(const nerc_tokenizer *tok, const uint32_t *in, size_t n, uint32_t **out, size_t *out_n);

/* Runs the pre-tokenizers over `in` (splits into sc->pool[0]); the result is in *out (splits
 * into the pool *out_pool). `force_prefix_space` makes ByteLevel add its prefix space (word input). */
nerc_status pretokenize_run(const nerc_tokenizer *tok, tok_scratch *sc, bool force_prefix_space,
                            split_list **out, nbuf **out_pool);

/* Tokenizes chars c[0, n) (one split) with the model; appends to sc->toks. */
nerc_status model_tokenize(const nerc_tokenizer *tok, tok_scratch *sc, const nchar *c, size_t n);

/* The matches of a Split / Replace pattern over c[0, n), as onig's find_iter yields them (an empty
 * match right after the previous match is skipped), into sc->matches as char ranges. */
nerc_status pattern_find(const tok_pattern *p, tok_scratch *sc, const nchar *c, size_t n);

#endif
