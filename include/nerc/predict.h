/* nerc/predict.h — inference on raw or pre-tokenized text: overlapping
 * windows, softmax scores per sub-token, and Hugging Face's
 * TokenClassificationPipeline aggregation into entities.
 *
 * Pipeline:  text --tokenizer--> sub-tokens --windows of max_length-->
 *            nerc_forward --softmax--> one score row per sub-token (from the
 *            window where it has the most context) --aggregation--> entities */
#ifndef NERC_PREDICT_H
#define NERC_PREDICT_H

#include <stdio.h>

#include "nerc/common.h"
#include "nerc/model.h"
#include "nerc/text.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* HF's AggregationStrategy (pipelines/token_classification.py).
 *   NONE    one entry per sub-token whose label is not "O" (HF "entity" = the label)
 *   SIMPLE  consecutive sub-tokens grouped: a B- label or a change of type
 *           starts a new group; score = mean of the token scores (the default)
 *   FIRST   words (a word = a first piece + its "##" continuation pieces) take
 *           the label and score of their first piece, then are grouped as SIMPLE
 *   AVERAGE words take the argmax of their pieces' averaged score rows
 *   MAX     words take the label and score of their most confident piece
 * Groups whose type is "O" are dropped (HF ignore_labels=["O"]).
 * Differences from HF, so that entities never overlap: sub-tokens that share
 * one input character (a Hangul syllable split into jamo) count as one token
 * with the first one's label and score (FIRST / AVERAGE / MAX: as pieces of
 * one word, all of them counted); a "word" is a first piece and its
 * continuation pieces as the tokenizer's word_ids say (HF guesses from the
 * token and text lengths); long texts are scored per sub-token from the window
 * where it has the most context (HF merges per-window entities). */
typedef enum {
    NERC_AGGREGATION_NONE = 0,
    NERC_AGGREGATION_SIMPLE,
    NERC_AGGREGATION_FIRST,
    NERC_AGGREGATION_AVERAGE,
    NERC_AGGREGATION_MAX
} nerc_aggregation;

/* "none", "simple", "first", "average", "max" <-> the enum. */
nerc_status nerc_aggregation_parse(const char *name, nerc_aggregation *out);
const char *nerc_aggregation_name(nerc_aggregation a);

/* One predicted entity (or, with NERC_AGGREGATION_NONE, one sub-token). */
typedef struct {
    const char *type;   /* HF entity_group: the label after its first '-' ("B-PER" -> "PER");
                         * with NONE the full label (HF "entity") */
    int32_t label;      /* label id of the first member token/word */
    int32_t start, end; /* [start, end): raw text: Unicode code points; pre-tokenized: word indices */
    int32_t byte_start, byte_end; /* [start, end) in UTF-8 bytes of the text (pre-tokenized: of the
                                   * words joined by single spaces) */
    int32_t index;      /* NONE: the token's index in the encoding ([CLS] = 0); else -1 */
    float score;        /* softmax probability (mean over the members for groups) */
    const char *text;   /* NUL-terminated copy of the text at [byte_start, byte_end) */
    const char *word;   /* NONE: the sub-token as in the vocabulary (the input text for [UNK]);
                         * else the same as text */
} nerc_entity;

/* A growable list of entities; strings live in its own arena. Zero-initialise. */
typedef struct {
    int32_t n;
    nerc_entity *items;
    int32_t cap;     /* internal */
    char *arena;     /* internal */
    size_t arena_cap;/* internal */
} nerc_entity_list;
void nerc_entity_list_free(nerc_entity_list *l);

/* ---- aggregation without a model (HF postprocess on given scores) -------- */

/* T content sub-tokens (no [CLS]/[SEP]) of one text. */
typedef struct {
    int32_t n_tokens;             /* T */
    int32_t n_labels;             /* K */
    const char *const *labels;    /* [K] label names, e.g. "B-PER"; must outlive the entities */
    const float *scores;          /* [T*K] softmax probabilities, row-major */
    const char *text;             /* the input (UTF-8) the offsets point into */
    size_t text_len;
    const int32_t *offsets;       /* [2T] start,end in code points */
    const int32_t *byte_offsets;  /* [2T] start,end in bytes */
    const uint8_t *is_subword;    /* [T] 1 = continues the previous token's word; NULL: from word_ids */
    const int32_t *word_ids;      /* [T] pre-token index (used when is_subword is NULL) */
    const char *const *tokens;    /* [T] sub-token strings for NONE's word (NULL, or a NULL entry:
                                   * the text span) */
    const int32_t *index;         /* [T] index reported by NONE (NULL: position + 1, after [CLS]) */
} nerc_agg_input;

/* Replaces out's entities with the aggregation of `in`. */
nerc_status nerc_aggregate(const nerc_agg_input *in, nerc_aggregation a, nerc_entity_list *out);

/* ---- the predictor -------------------------------------------------------- */

typedef struct {
    int32_t max_length;  /* sub-tokens per window incl. [CLS]/[SEP]; 0 = min(512, max_position_embeddings) */
    int32_t stride;      /* sub-tokens shared by consecutive windows; -1 = min(128, (max_length-2)/2) */
    int32_t batch_size;  /* windows per forward pass, and documents per batch of the streams (default 8) */
    int32_t max_tokens;  /* rows per forward pass: sub-tokens of its windows plus [CLS]/[SEP] each; a pass
                          * takes windows while both limits hold (always at least one window);
                          * 0 = batch_size * max_length (the batch_size limit alone) */
    nerc_aggregation aggregation; /* default NERC_AGGREGATION_SIMPLE */
    nerc_precision precision;     /* default NERC_PRECISION_FP32 */
} nerc_predict_params;
nerc_predict_params nerc_predict_default_params(void);

typedef struct nerc_predictor nerc_predictor;

/* A predictor over a loaded model and tokenizer (borrowed: they must outlive
 * it). Allocates its forward state for batch_size windows of max_length
 * tokens now; afterwards only reusable buffers grow with the input. */
nerc_status nerc_predictor_init(nerc_predictor **out, const nerc_model *m, const nerc_tokenizer *tok,
                                const nerc_predict_params *params);
/* Loads the model and the tokenizer of an HF directory and owns them. A
 * directory without tokenizer files is NERC_ERR_ARG naming the directory. */
nerc_status nerc_predictor_load(nerc_predictor **out, const char *model_dir, const nerc_predict_params *params);
void nerc_predictor_free(nerc_predictor *pr);
const nerc_predict_params *nerc_predictor_params(const nerc_predictor *pr);
const nerc_model *nerc_predictor_model(const nerc_predictor *pr);

/* The result of one call: views into the predictor, valid until its next call. */
typedef struct {
    int32_t n_entities;
    const nerc_entity *entities;  /* sorted by start, non-overlapping */
    /* every content sub-token (no [CLS]/[SEP]), in text order */
    int32_t n_tokens;
    int32_t n_labels;
    const int32_t *token_ids;     /* [n_tokens] */
    const int32_t *token_label;   /* [n_tokens] argmax label id */
    const float *token_scores;    /* [n_tokens*n_labels] softmax rows */
    const int32_t *token_window;  /* [n_tokens] the window whose scores were kept */
    int32_t n_windows;
    /* pre-tokenized input only (else 0 / NULL) */
    int32_t n_words;
    const int32_t *word_tags;     /* [n_words] label id; -1 for a word without sub-tokens */
    const float *word_scores;     /* [n_words] */
} nerc_prediction;

/* Raw UTF-8 text (invalid UTF-8 is NERC_ERR_ARG). Entities carry code-point
 * and byte offsets into `text`. Long texts are split into windows of
 * max_length tokens overlapping by `stride`; nothing is truncated. */
nerc_status nerc_predict_text(nerc_predictor *pr, const char *text, size_t len, nerc_prediction *out);

/* Pre-tokenized input (HF is_split_into_words): each word is tokenized on its
 * own. word_tags: FIRST / AVERAGE / MAX choose the word label as their names
 * say; SIMPLE and NONE use the first piece (the one HF trains). Entities are
 * the word labels grouped as SIMPLE groups tokens (NONE: one per non-O word),
 * with start/end word indices and text = the words joined by spaces. */
nerc_status nerc_predict_words(nerc_predictor *pr, const char *const *words, const size_t *lens, int32_t n_words,
                               nerc_prediction *out);

/* Several raw texts at once (a server's waiting requests): every text is
 * tokenized and windowed as nerc_predict_text does, and the windows of all of
 * them are packed into shared forward passes (batch_size windows / max_tokens
 * rows each). `fn` gets every text in order with the result nerc_predict_text
 * gives for it (scores equal up to float rounding); it must not use the same
 * predictor. aggregations: [n] the strategy of each text, or NULL for the
 * predictor's. A bad text is NERC_ERR_ARG "text <i>: ..." (0-based) before any
 * forward pass. */
typedef nerc_status (*nerc_predict_text_fn)(const char *text, size_t len, const nerc_prediction *p, void *user);
nerc_status nerc_predict_texts(nerc_predictor *pr, const char *const *texts, const size_t *lens,
                               const nerc_aggregation *aggregations, int32_t n, nerc_predict_text_fn fn, void *user);

/* The rows `text` takes in forward passes: its sub-tokens window by window,
 * plus [CLS] and [SEP] per window (0 for a text without sub-tokens). Reads only
 * the model's tokenizer and the resolved parameters, so any thread may call it
 * while another runs the predictor. Invalid UTF-8 is NERC_ERR_ARG. */
nerc_status nerc_predict_count_rows(const nerc_predictor *pr, const char *text, size_t len, int64_t *rows);

/* ---- streaming over files ---------------------------------------------------
 * Bounded memory: batch_size documents (lines / sentences) at a time, or fewer
 * when their text passes 1 MiB; their windows share forward passes. `fn` gets
 * every document in input order with the result of nerc_predict_text /
 * nerc_predict_words (scores equal up to float rounding); it must not use the
 * same predictor; its failure stops the stream and is returned. A bad line
 * is NERC_ERR_FORMAT "name:line: ..." after the documents before it were given
 * to `fn`. */

typedef nerc_status (*nerc_predict_words_fn)(const char *const *words, const size_t *lens, int32_t n_words,
                                             const nerc_prediction *p, void *user);

/* One document per line ("\n" or "\r\n" ends it; invalid UTF-8 is an error). */
nerc_status nerc_predict_lines(nerc_predictor *pr, FILE *in, const char *name, nerc_predict_text_fn fn, void *user);
/* A CoNLL column file (word first; other columns ignored; blank line ends a
 * sentence; -DOCSTART- lines skipped). */
nerc_status nerc_predict_conll(nerc_predictor *pr, FILE *in, const char *name, nerc_predict_words_fn fn,
                               void *user);
/* JSON Lines with a list of words under `tokens_key` (NULL = "tokens"). */
nerc_status nerc_predict_jsonl(nerc_predictor *pr, FILE *in, const char *name, const char *tokens_key,
                               nerc_predict_words_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
