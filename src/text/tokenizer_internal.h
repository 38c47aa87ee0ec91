/* The nerc_tokenizer object: the HF pipeline (added tokens, normalizers, pre-tokenizers, model,
 * post-processor) shared by the loaders (tokenizer.c, load_json.c, load_files.c) and the encoder. */
#ifndef NERC_TEXT_TOKENIZER_INTERNAL_H
#define NERC_TEXT_TOKENIZER_INTERNAL_H

#include <stdbool.h>

#include "nerc/text.h"
#include "text/normalize.h"
#include "text/regex.h"
#include "text/vocab.h"

enum { TOK_MAX_TEMPLATE = 8, TOK_MAX_ADDED = 1 << 16, TOK_MAX_CHARS_LIMIT = 1 << 20, TOK_MAX_STAGES = 16 };

/* The pattern of a Split pre-tokenizer or Replace normalizer: a Regex, or a String compiled as
 * its escaped literal (as HF does). */
typedef struct {
    tok_regex *re;
} tok_pattern;

/* The SentencePiece charsmap of a Precompiled normalizer (precompiled.c). */
typedef struct precompiled precompiled;

typedef enum { NORM_BERT, NORM_PRECOMPILED, NORM_REPLACE, NORM_LOWERCASE, NORM_STRIP, NORM_PREPEND } norm_kind;

typedef struct {
    norm_kind kind;
    norm_config bert;       /* BERT */
    precompiled *pc;        /* PRECOMPILED */
    tok_pattern pat;        /* REPLACE */
    uint32_t *text;         /* REPLACE content, PREPEND text (code points) */
    size_t text_len;
    bool left, right;       /* STRIP */
} tok_norm;

typedef enum { PRE_BERT, PRE_BYTE_LEVEL, PRE_METASPACE, PRE_SPLIT, PRE_WHITESPACE_SPLIT } pre_kind;
typedef enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS } split_behavior;
typedef enum { PREPEND_NEVER, PREPEND_FIRST, PREPEND_ALWAYS } prepend_scheme;

typedef struct {
    pre_kind kind;
    bool add_prefix_space, use_regex; /* BYTE_LEVEL */
    uint32_t replacement;             /* METASPACE */
    prepend_scheme prepend;
    bool split;
    tok_pattern pat;                  /* SPLIT */
    split_behavior behavior;
    bool invert;
} tok_pretok;

/* An added token (tokenizer.json added_tokens, or the special tokens of the slow files). */
typedef struct {
    char *content;      /* UTF-8 */
    uint32_t *cps;      /* the pattern matched: content, or its normalized form when `normalized` */
    size_t n_cps;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
} tok_added;

/* BPE merges: (left id, right id) -> (rank, merged id), open addressing. */
typedef struct {
    uint64_t key;       /* left << 32 | right; UINT64_MAX: empty */
    uint32_t rank;
    int32_t new_id;
} bpe_merge;

struct nerc_tokenizer {
    nerc_tokenizer_model model;
    vocab vocab;                   /* the model's tokens, id = index */
    int32_t unk_id;                /* -1 when the model has none */
    /* WordPiece */
    char prefix[32];               /* continuing_subword_prefix ("##"; BPE too) */
    size_t prefix_len;
    int32_t max_chars;             /* max_input_chars_per_word */
    /* BPE */
    bpe_merge *merges;
    size_t merges_cap;             /* a power of two */
    char suffix[32];               /* end_of_word_suffix */
    size_t suffix_len;
    bool fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256];         /* ids of "<0xXX>" (byte_fallback), -1 if absent */
    /* Unigram */
    double *scores;                /* [vocab.n] */
    double min_score;
    size_t max_piece_len;          /* bytes of the longest piece */
    /* added tokens, in tokenizer.json order */
    tok_added *added;
    int32_t n_added;
    uint8_t added_first[2][256];   /* [normalized][low byte of first code point]: some token starts so */
    /* pipeline */
    tok_norm norms[TOK_MAX_STAGES];
    int32_t n_norms;
    tok_pretok pres[TOK_MAX_STAGES];
    int32_t n_pres;
    /* post-processor */
    bool trim_offsets, trim_prefix_space;
    int32_t template_prefix[TOK_MAX_TEMPLATE], n_template_prefix; /* ids before $A */
    int32_t template_suffix[TOK_MAX_TEMPLATE], n_template_suffix; /* ids after $A */
    int32_t cls_id, sep_id, pad_id;
    bool pad_from_padding;         /* tokenizer.json padding.pad_id set pad_id */
};

nerc_tokenizer *tokenizer_new(void);

/* Registers an added token (content UTF-8, checked); `where` labels errors. */
nerc_status tokenizer_add_token(nerc_tokenizer *tok, const char *where, const char *content, int32_t id,
                                bool special, bool normalized, bool lstrip, bool rstrip, bool single_word);
/* After the normalizers are known: the normalized patterns of added tokens marked `normalized`. */
nerc_status tokenizer_prepare_added(nerc_tokenizer *tok, const char *where);
/* The id of a token string: added tokens first (as HF's token_to_id), then the model vocabulary; -1. */
int32_t tokenizer_token_id(const nerc_tokenizer *tok, const char *s);
/* Sets the [CLS]/[SEP] template to one id each. */
void tokenizer_set_template(nerc_tokenizer *tok, int32_t cls, int32_t sep);

/* BPE: adds merge (a, b) of rank `rank` (a later duplicate pair replaces the earlier one, as HF). */
nerc_status bpe_add_merge(nerc_tokenizer *tok, int32_t a, int32_t b, uint32_t rank, int32_t new_id);
nerc_status bpe_init_merges(nerc_tokenizer *tok, size_t n_merges);
/* Merge number i (a, b): checks that a, b and their concatenation are in the vocabulary. */
nerc_status bpe_register_merge(nerc_tokenizer *tok, const char *a, const char *b, size_t i, const char *where);
/* The ids of "<0x00>".."<0xFF>" for byte_fallback. */
void tokenizer_find_byte_ids(nerc_tokenizer *tok);

/* Precompiled charsmap: parses and validates the decoded bytes (errors name `where`). */
nerc_status precompiled_parse(precompiled **out, const uint8_t *data, size_t len, const char *where);
void precompiled_free(precompiled *pc);
/* The replacement of the shortest key that prefixes s[0, len), as spm_precompiled's transform;
 * NULL when no key matches. Sets *out_len. */
const char *precompiled_transform(const precompiled *pc, const char *s, size_t len, size_t *out_len);

void tok_pattern_free(tok_pattern *p);

/* Parsers of in-memory tokenizer files (fuzzing, tests): a tokenizer.json, or a
 * vocab.txt with tokenizer_config.json's defaults. `name` labels messages. */
nerc_status tokenizer_parse_json(nerc_tokenizer **out, const char *data, size_t len, const char *name);
nerc_status tokenizer_parse_vocab(nerc_tokenizer **out, const char *data, size_t len, const char *name);
/* vocab.json + merges.txt in memory (byte-level BPE with RoBERTa's defaults). */
nerc_status tokenizer_parse_bpe_files(nerc_tokenizer **out, const char *vocab_json, size_t vocab_len,
                                      const char *merges, size_t merges_len, const char *name);

#endif
