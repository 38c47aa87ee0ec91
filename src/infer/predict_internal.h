/* Internals of nerc predict shared by the aggregation, the predictor and the stream readers. */
#ifndef NERC_INFER_PREDICT_INTERNAL_H
#define NERC_INFER_PREDICT_INTERNAL_H

#include "nerc/predict.h"

/* A token, a word or a group of them: tokens [first, last] of the input. */
typedef struct {
    int32_t label;
    float score;
    int32_t first, last;
} agg_item;

/* Reusable buffers of the aggregation. Zero-initialise; free with agg_work_free. */
typedef struct {
    agg_item *items;   /* tokens or words */
    agg_item *groups;  /* entities */
    size_t cap, groups_cap;
    double *avg;       /* [K] for AVERAGE */
    size_t avg_cap;
    int32_t n_items, n_groups;
} agg_work;

void agg_work_free(agg_work *w);
/* w->items = one item per token (NONE, SIMPLE) or per word (FIRST, AVERAGE, MAX). */
nerc_status agg_items(const nerc_agg_input *in, nerc_aggregation a, agg_work *w);
/* w->groups = HF group_entities over w->items, "O" groups dropped. */
void agg_group(const nerc_agg_input *in, agg_work *w);

typedef enum {
    EMIT_GROUPS,      /* type = label after its first '-', index -1 */
    EMIT_TOKENS,      /* NONE on raw text: full label, token index and token string */
    EMIT_WORDS_FULL   /* NONE on words: full label, index -1 */
} agg_emit_mode;
/* Writes `items` (filtered of label "O" unless EMIT_GROUPS) as entities. */
nerc_status agg_emit(const nerc_agg_input *in, const agg_item *items, int32_t n, agg_emit_mode mode,
                     nerc_entity_list *out);

/* Grows *p (elements of `elem` bytes) to hold at least n; *cap is updated. */
nerc_status predict_grow(void **p, size_t *cap, size_t n, size_t elem);

/* ---- the predictor: a batch of documents (texts or word lists) at a time ---- */

/* One document of the batch. */
typedef struct {
    int32_t tok0, n_tok;    /* its sub-tokens [tok0, tok0 + n_tok) */
    int32_t win0, n_win;    /* its windows [win0, win0 + n_win) */
    int32_t word0, n_words; /* pre-tokenized: its words in word_tags; n_words = -1 for raw text */
    const char *text;       /* raw text (the caller's) */
    size_t joined_off;      /* pre-tokenized: its joined words in `joined` */
    size_t len;             /* bytes of text / joined words */
} predict_doc;

struct nerc_predictor {
    const nerc_model *model;
    const nerc_tokenizer *tok;
    nerc_model *owned_model; /* set by nerc_predictor_load */
    nerc_tokenizer *owned_tok;
    nerc_predict_params p;   /* resolved: no 0 / -1 left */
    int32_t n_labels;        /* K */
    const char **labels;     /* [K] owned by the model */
    nerc_state *state;
    int32_t *batch_ids, *batch_pos, *batch_offsets; /* [batch_size*max_length] x2, [batch_size+1] */
    /* sub-tokens of every document of the batch, [tok_cap] each */
    size_t tok_cap;
    int32_t n_tokens;
    int32_t *ids, *offsets, *byte_offsets; /* offsets [2 tok_cap], relative to their document */
    int32_t *word_ids, *index;             /* relative to their document */
    int32_t *label, *window, *best_ctx;    /* window: relative to the document's first window */
    uint8_t *is_subword;
    const char **tokens;
    float *scores;                         /* [tok_cap*K] softmax rows */
    /* documents and windows */
    size_t doc_cap, win_cap;
    int32_t n_docs, n_windows;
    predict_doc *docs;
    int32_t *win_start, *win_end;          /* [win_cap] token ranges */
    /* pre-tokenized documents */
    size_t word_cap, joined_cap, joined_len;
    int32_t n_words;
    int32_t *word_tags;
    float *word_scores;
    char *joined;                          /* the words of each document joined by single spaces */
    agg_work work;
    nerc_entity_list entities;
};

/* Empties the batch. */
void predict_batch_reset(nerc_predictor *pr);
/* Adds a raw text (kept by pointer until predict_batch_result) / a word list (copied). */
nerc_status predict_add_text(nerc_predictor *pr, const char *text, size_t len);
nerc_status predict_add_words(nerc_predictor *pr, const char *const *words, const size_t *lens, int32_t n_words);
/* Runs every window of the batch through the model: scores, labels and windows of every token. */
nerc_status predict_batch_run(nerc_predictor *pr);
/* Aggregates document d of a run batch with strategy a; the views stay valid until the next call. */
nerc_status predict_batch_result(nerc_predictor *pr, int32_t d, nerc_aggregation a, nerc_prediction *out);
/* Grows the per-token arrays to n tokens (contents kept). */
nerc_status predict_tokens_reserve(nerc_predictor *pr, size_t n);
/* Plans the windows of the last added document. */
nerc_status predict_plan_windows(nerc_predictor *pr, predict_doc *doc);

#endif
