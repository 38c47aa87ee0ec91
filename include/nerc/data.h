/* nerc/data.h — NER datasets (CoNLL columns, HF JSONL), label sets, HF label
 * alignment of word pieces, long-sentence windows and packed batches.
 *
 * Pipeline:  nerc_dataset_read_conll / _read_jsonl      words + gold tags
 *        ->  nerc_encode_dataset (tokenizer) or nerc_encode_pieces (ids)
 *                                                      sequences of sub-tokens
 *        ->  nerc_batcher                              nerc_batch views
 *        ->  (model predictions per scoring row)   ->  nerc_dataset_write_conll */
#ifndef NERC_DATA_H
#define NERC_DATA_H

#include "nerc/common.h"
#include "nerc/batch.h"
#include "nerc/text.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- label sets --------------------------------------------------------- */

/* An ordered list of tag names; the id of a tag is its index. */
typedef struct {
    int32_t n;    /* number of labels */
    char **names; /* [n] NUL-terminated, owned */
} nerc_label_set;

/* Copies `names` (which must be distinct and non-empty) into `ls`. */
nerc_status nerc_labels_init(nerc_label_set *ls, const char *const *names, int32_t n);
void nerc_labels_free(nerc_label_set *ls);
/* The id of the tag `name` of `len` bytes, or -1. */
int32_t nerc_labels_find(const nerc_label_set *ls, const char *name, size_t len);
/* run_ner's b_to_i_label: map[id] = id of I-X when label id is B-X and I-X
 * exists, else id. `map` has ls->n entries. */
void nerc_labels_b_to_i(const nerc_label_set *ls, int32_t *map);
/* The label list HF uses for CoNLL-2003 (its ClassLabel order):
 * O B-PER I-PER B-ORG I-ORG B-LOC I-LOC B-MISC I-MISC. */
extern const char *const nerc_conll2003_labels[9];

/* ---- datasets ----------------------------------------------------------- */

/* Sentences of words with one gold tag each. All words live in one text
 * arena; nothing is allocated per word. Read-only for callers. */
typedef struct {
    int32_t n_sents;
    int32_t n_words;         /* over all sentences */
    int32_t n_docs;          /* -DOCSTART- sections (1 when the file has none) */
    int32_t *sent_offsets;   /* [n_sents+1] sentence s owns words [sent_offsets[s], sent_offsets[s+1]) */
    int32_t *sent_doc;       /* [n_sents] document index of the sentence */
    uint32_t *word_offsets;  /* [n_words+1] word w is text + word_offsets[w], NUL-terminated */
    int32_t *tags;           /* [n_words] gold label id into `labels` */
    char *text;              /* the arena */
    nerc_label_set labels;   /* the tag names (a copy of the caller's set, or derived) */
    int32_t iob1_converted;  /* 1 if the input was IOB1 and was converted to IOB2 */
} nerc_dataset;

static inline const char *nerc_dataset_word(const nerc_dataset *ds, int32_t w) {
    return ds->text + ds->word_offsets[w];
}
static inline size_t nerc_dataset_word_len(const nerc_dataset *ds, int32_t w) {
    return ds->word_offsets[w + 1] - ds->word_offsets[w] - 1;
}

/* Reads a CoNLL column file: whitespace-separated columns, word first, tag
 * last; `-DOCSTART-` lines start a new document; a blank line ends a
 * sentence; CRLF is accepted. IOB1 input is converted to IOB2 (with a notice).
 *   labels == NULL: the label set is derived from the file (training): HF's
 *     CoNLL-2003 order when the tags are exactly CoNLL's, else sorted by bytes
 *     (as run_ner does);
 *   labels != NULL: every tag must be in it (dev/test against a model).
 * Errors (format, "path:line: ..."): one-column line, invalid UTF-8, a tag
 * not in `labels`, no sentence at all. */
nerc_status nerc_dataset_read_conll(nerc_dataset **out, const char *path, const nerc_label_set *labels);
/* The same from memory (`data` need not be NUL-terminated); `name` is used in
 * messages. */
nerc_status nerc_dataset_parse_conll(nerc_dataset **out, const char *data, size_t len, const char *name,
                                     const nerc_label_set *labels);

/* JSON Lines as HF Datasets exports them: one object per line with a list of
 * words and a list of tags. Tags are strings (handled as in CoNLL), or
 * integers indexing `labels` (then `labels` is required). Blank lines are
 * skipped; an empty word list is an empty sentence (kept, as HF keeps it). */
typedef struct {
    const char *tokens_key; /* default "tokens" */
    const char *tags_key;   /* default "ner_tags" */
} nerc_jsonl_params;
nerc_jsonl_params nerc_jsonl_default_params(void);

nerc_status nerc_dataset_read_jsonl(nerc_dataset **out, const char *path, const nerc_label_set *labels,
                                    const nerc_jsonl_params *params);
nerc_status nerc_dataset_parse_jsonl(nerc_dataset **out, const char *data, size_t len, const char *name,
                                     const nerc_label_set *labels, const nerc_jsonl_params *params);

/* A CoNLL file, or HF JSONL (default keys) when the name ends in .jsonl / .json. */
nerc_status nerc_dataset_read(nerc_dataset **out, const char *path, const nerc_label_set *labels);

void nerc_dataset_free(nerc_dataset *ds);

/* Entities = chunks of the IOB2 tags (seqeval's default, non-strict rule: a
 * chunk starts at B-X, or at I-X that follows O or another type). */
int64_t nerc_dataset_count_entities(const nerc_dataset *ds);

/* Writes "word gold pred" per word, a blank line after each sentence (no
 * -DOCSTART- lines), for conlleval.pl. `pred` has one label id (into
 * ds->labels) per word; NULL writes the gold tag twice. Whitespace inside a
 * word and an empty word are written as '_'. The file is replaced atomically. */
nerc_status nerc_dataset_write_conll(const nerc_dataset *ds, const int32_t *pred, const char *path);

/* ---- label alignment (HF tokenize_and_align_labels) --------------------- */

typedef enum {
    NERC_LABEL_MODE_FIRST_PIECE = 0, /* HF default: label on the first piece, -100 on the others */
    NERC_LABEL_MODE_COPY,        /* notebook label_all_tokens=True: same label on every piece */
    NERC_LABEL_MODE_B_TO_I       /* run_ner label_all_tokens=True: B-X -> I-X on continuation pieces */
} nerc_label_mode;

/* "first" (alias "none": label_all_tokens off), "copy", "b-to-i" <-> the enum;
 * any other name is NERC_ERR_ARG. */
nerc_status nerc_label_mode_parse(const char *name, nerc_label_mode *out);
const char *nerc_label_mode_name(nerc_label_mode mode);

/* One sentence: [CLS] pieces of word 0 .. pieces of word n-1 [SEP] ([CLS] / [SEP] stand for the
 * tokenizer's specials: <s> / </s> for RoBERTa and XLM-R).
 * Word w has pieces[piece_offsets[w] .. piece_offsets[w+1]) (piece_offsets[0]
 * may be non-zero). word_labels[w] is its label id, or NERC_IGNORE_INDEX.
 * b_to_i (from nerc_labels_b_to_i, n_labels entries) is needed for
 * NERC_LABEL_MODE_B_TO_I only. Writes piece_offsets[n]-piece_offsets[0]+2
 * entries to input_ids and labels. A word without pieces gets no row (HF). */
nerc_status nerc_align_labels(int32_t *input_ids, int32_t *labels, const int32_t *pieces,
                              const int32_t *piece_offsets, const int32_t *word_labels, int32_t n_words,
                              int32_t cls_id, int32_t sep_id, nerc_label_mode mode, const int32_t *b_to_i,
                              int32_t n_labels);

/* ---- encoded datasets (sequences of sub-tokens, with windows) ------------ */

typedef struct {
    int32_t max_len;        /* tokens per sequence incl. [CLS]/[SEP]; default 512 */
    int32_t stride;         /* at most this many sub-tokens shared by consecutive windows; default 128 */
    nerc_label_mode label_mode;
} nerc_encode_params;
nerc_encode_params nerc_encode_default_params(void);

/* A sentence longer than max_len is cut into windows that begin and end at
 * word boundaries; consecutive windows overlap by at most `stride` pieces
 * (whole words). A word too long for one window keeps only its first
 * max_len-2 pieces (counted in n_clipped_words).
 * Each word has ONE scoring window: among the windows that contain it, the
 * one where min(pieces to its left, pieces to its right) inside the window is
 * largest (the earliest on ties). Its label appears only there (elsewhere its
 * pieces are -100), and only there is its first piece flagged `scoring`: so
 * every word is trained and evaluated exactly once. A word without pieces
 * (e.g. only zero-width characters) has no row, as in HF; its prediction is
 * up to the caller (O). */
typedef struct {
    int32_t n_seqs;
    int32_t n_tokens;       /* seq_offsets[n_seqs] */
    int32_t *seq_offsets;   /* [n_seqs+1] */
    int32_t *seq_sent;      /* [n_seqs] the sentence (example) of the sequence */
    int32_t *input_ids;     /* [n_tokens] */
    int32_t *labels;        /* [n_tokens] label id or NERC_IGNORE_INDEX */
    int32_t *row_word;      /* [n_tokens] word index within the sentence, -1 for [CLS]/[SEP] */
    uint8_t *row_scoring;   /* [n_tokens] 1 on the first piece of a word in its scoring window */
    int32_t n_sents;        /* of the source dataset */
    int32_t n_windowed;     /* sentences split into more than one window */
    int32_t n_empty_words;  /* words with no piece (no row) */
    int32_t n_clipped_words;/* words longer than a window (pieces clipped) */
    int32_t max_seq_len;    /* longest sequence */
} nerc_sequences;

/* Encodes from per-word piece ids: word w of the dataset (global index) has
 * pieces[piece_offsets[w] .. piece_offsets[w+1]). */
nerc_status nerc_encode_pieces(nerc_sequences **out, const nerc_dataset *ds, const int32_t *pieces,
                               const int32_t *piece_offsets, int32_t cls_id, int32_t sep_id,
                               const nerc_encode_params *params);
/* Encodes with the tokenizer (each word on its own, is_split_into_words: byte-level BPE gives
 * every word its leading space, Unigram its "▁"), between nerc_tokenizer_cls_id / sep_id. */
nerc_status nerc_encode_dataset(nerc_sequences **out, const nerc_dataset *ds, const nerc_tokenizer *tok,
                                const nerc_encode_params *params);
void nerc_sequences_free(nerc_sequences *enc);

/* ---- batches ------------------------------------------------------------ */

/* A packed batch for the model plus where each row comes from. Views into the
 * batcher's buffers, valid until its next call. */
typedef struct {
    nerc_batch batch;            /* labels included */
    const int32_t *seq_index;    /* [B] sequence index in the encoded dataset */
    const int32_t *row_sent;     /* [N] sentence (example) index */
    const int32_t *row_word;     /* [N] word index within the sentence, -1 for [CLS]/[SEP] */
    const uint8_t *row_scoring;  /* [N] 1 on the row that predicts its word */
} nerc_data_batch;

/* HF's padded layout: right-padded to the longest sequence of the batch. */
typedef struct {
    int32_t n_seqs;                /* B */
    int32_t seq_len;               /* T */
    const int32_t *input_ids;      /* [B*T], pad_id after the sequence */
    const int32_t *attention_mask; /* [B*T] 1 on tokens, 0 on padding */
    const int32_t *labels;         /* [B*T] NERC_IGNORE_INDEX on padding */
    const int32_t *seq_index;      /* [B] */
} nerc_padded_batch;

typedef struct nerc_batcher nerc_batcher;

/* A batcher of `batch_size` sequences (the last batch may be smaller).
 * Preallocates for the worst batch; no allocation afterwards. Starts in
 * file order. `enc` must outlive the batcher. */
nerc_status nerc_batcher_init(nerc_batcher **out, const nerc_sequences *enc, int32_t batch_size);
void nerc_batcher_free(nerc_batcher *b);

/* Training order: a permutation that depends only on (seed, epoch). */
void nerc_batcher_shuffle(nerc_batcher *b, uint64_t seed, int64_t epoch);
/* Inference order: longest sequence first (ties in file order). */
void nerc_batcher_sort_by_length(nerc_batcher *b);
/* File order. */
void nerc_batcher_sequential(nerc_batcher *b);
/* The current order, [n_seqs] sequence indices. */
const int32_t *nerc_batcher_order(const nerc_batcher *b);

int32_t nerc_batcher_n_batches(const nerc_batcher *b);
/* Worst case over any order: rows of the B longest sequences, and the sum of
 * len^2 over the B longest (attention scores per head). */
int32_t nerc_batcher_max_rows(const nerc_batcher *b);
int64_t nerc_batcher_max_sq(const nerc_batcher *b);

/* Batch i (0 <= i < n_batches) of the current order, packed. */
nerc_status nerc_batcher_get(nerc_batcher *b, int32_t i, nerc_data_batch *out);
/* Batch i right-padded with pad_id. */
nerc_status nerc_batcher_get_padded(nerc_batcher *b, int32_t i, int32_t pad_id, nerc_padded_batch *out);

/* Maps a batch's per-row predictions back to words: for every scoring row,
 * word_pred[global word index] = row_pred[row]. word_pred has ds->n_words
 * entries; words without pieces keep the value the caller put there (O). */
void nerc_batch_scatter_predictions(int32_t *word_pred, const nerc_data_batch *db, const int32_t *row_pred,
                                    const nerc_dataset *ds);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif
