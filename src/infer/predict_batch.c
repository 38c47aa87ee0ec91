/* A batch of documents for the predictor: raw texts or word lists to sub-tokens, and entities per document. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "infer/predict_internal.h"

/* realloc to n elements of `elem` bytes (the caller checked n * elem). */
static nerc_status resize(void **p, size_t n, size_t elem) {
    void *q = realloc(*p, n * elem);
    if (!q)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: out of memory (%zu bytes)", n * elem);
    *p = q;
    return NERC_OK;
}

nerc_status predict_tokens_reserve(nerc_predictor *pr, size_t n) {
    if (n <= pr->tok_cap)
        return NERC_OK;
    size_t want = pr->tok_cap * 2 > n ? pr->tok_cap * 2 : n;
    if (want > (size_t)INT32_MAX || want > SIZE_MAX / 8 / (size_t)pr->n_labels)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: %zu sub-tokens overflow the buffers", n);
    NERC_TRY(resize((void **)&pr->ids, want, sizeof *pr->ids));
    NERC_TRY(resize((void **)&pr->offsets, 2 * want, sizeof *pr->offsets));
    NERC_TRY(resize((void **)&pr->byte_offsets, 2 * want, sizeof *pr->byte_offsets));
    NERC_TRY(resize((void **)&pr->word_ids, want, sizeof *pr->word_ids));
    NERC_TRY(resize((void **)&pr->index, want, sizeof *pr->index));
    NERC_TRY(resize((void **)&pr->label, want, sizeof *pr->label));
    NERC_TRY(resize((void **)&pr->window, want, sizeof *pr->window));
    NERC_TRY(resize((void **)&pr->best_ctx, want, sizeof *pr->best_ctx));
    NERC_TRY(resize((void **)&pr->is_subword, want, sizeof *pr->is_subword));
    NERC_TRY(resize((void **)&pr->tokens, want, sizeof *pr->tokens));
    NERC_TRY(resize((void **)&pr->scores, want * (size_t)pr->n_labels, sizeof *pr->scores));
    pr->tok_cap = want;
    return NERC_OK;
}

void predict_batch_reset(nerc_predictor *pr) {
    pr->n_tokens = pr->n_docs = pr->n_windows = pr->n_words = 0;
    pr->joined_len = 0;
}

/* A new document at the end of the batch, owning no token yet. */
static nerc_status new_doc(nerc_predictor *pr, predict_doc **doc) {
    if (pr->n_docs == INT32_MAX)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: too many documents in one batch");
    NERC_TRY(predict_grow((void **)&pr->docs, &pr->doc_cap, (size_t)pr->n_docs + 1, sizeof *pr->docs));
    *doc = &pr->docs[pr->n_docs];
    **doc = (predict_doc){.tok0 = pr->n_tokens, .n_words = -1};
    return NERC_OK;
}

/* ---- raw text ------------------------------------------------------------- */

/* Appends the content tokens (not the post-processor's specials) of an encoding. A token continues
 * the previous token's word when the tokenizer gives both the same word id (pre-token index) for
 * every family (nerc's rule, see nerc/predict.h; HF guesses from lengths or spaces); [UNK] never
 * does and shows its text (HF gather_pre_entities). */
static nerc_status take_encoding(nerc_predictor *pr, const nerc_encoding *enc) {
    NERC_TRY(predict_tokens_reserve(pr, (size_t)pr->n_tokens + (size_t)enc->n));
    int32_t t0 = pr->n_tokens, n = t0, unk = nerc_tokenizer_unk_id(pr->tok);
    for (int32_t i = 0; i < enc->n; i++) {
        if (enc->special_mask[i])
            continue;
        int32_t id = enc->ids[i];
        pr->ids[n] = id;
        memcpy(pr->offsets + 2 * n, enc->offsets + 2 * i, 2 * sizeof *pr->offsets);
        memcpy(pr->byte_offsets + 2 * n, enc->byte_offsets + 2 * i, 2 * sizeof *pr->byte_offsets);
        pr->word_ids[n] = enc->word_ids[i];
        pr->index[n] = i;
        pr->is_subword[n] = n > t0 && pr->word_ids[n - 1] == enc->word_ids[i] && id != unk;
        pr->tokens[n] = id == unk ? NULL : nerc_tokenizer_id_to_token(pr->tok, id);
        n++;
    }
    pr->n_tokens = n;
    return NERC_OK;
}

nerc_status predict_add_text(nerc_predictor *pr, const char *text, size_t len) {
    if (len > INT32_MAX)
        return nerc_errorf(NERC_ERR_ARG, "predict: text of %zu bytes is too long", len);
    predict_doc *doc = NULL;
    NERC_TRY(new_doc(pr, &doc));
    doc->text = text ? text : "";
    doc->len = len;
    nerc_encoding enc;
    NERC_TRY(nerc_tokenizer_encode(pr->tok, doc->text, len, &enc));
    nerc_status st = take_encoding(pr, &enc);
    nerc_encoding_free(&enc);
    NERC_TRY(st);
    doc->n_tok = pr->n_tokens - doc->tok0;
    NERC_TRY(predict_plan_windows(pr, doc));
    pr->n_docs++;
    return NERC_OK;
}

/* ---- pre-tokenized words -------------------------------------------------- */

/* Appends the pieces of word w (document-relative): tokens span [w, w+1) and the word's joined bytes. */
static nerc_status add_word(nerc_predictor *pr, const char *word, size_t len, int32_t w, int32_t byte_start) {
    int32_t n = 0, at = pr->n_tokens;
    NERC_TRY(predict_tokens_reserve(pr, (size_t)at + 16));
    size_t free_room = pr->tok_cap - (size_t)at;
    int32_t room = free_room > INT32_MAX ? INT32_MAX : (int32_t)free_room;
    nerc_status st = nerc_tokenizer_encode_word(pr->tok, word, len, pr->ids + at, room, &n);
    if (st == NERC_OK && n > room) {
        NERC_TRY(predict_tokens_reserve(pr, (size_t)at + (size_t)n));
        st = nerc_tokenizer_encode_word(pr->tok, word, len, pr->ids + at, n, &n);
    }
    if (st != NERC_OK)
        return nerc_error_prefix(st, "word %d", (int)w + 1);
    for (int32_t j = at; j < at + n; j++) {
        pr->offsets[2 * j] = w, pr->offsets[2 * j + 1] = w + 1;
        pr->byte_offsets[2 * j] = byte_start, pr->byte_offsets[2 * j + 1] = byte_start + (int32_t)len;
        pr->word_ids[j] = w;
        pr->is_subword[j] = j > at;
        pr->tokens[j] = nerc_tokenizer_id_to_token(pr->tok, pr->ids[j]);
    }
    pr->n_tokens = at + n;
    return NERC_OK;
}

/* Room for n_words more words and `bytes` more joined bytes. */
static nerc_status words_reserve(nerc_predictor *pr, int32_t n_words, size_t bytes) {
    if (pr->n_words > INT32_MAX - n_words || pr->joined_len > SIZE_MAX - bytes)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: too many words in one batch");
    NERC_TRY(predict_grow((void **)&pr->joined, &pr->joined_cap, pr->joined_len + bytes, 1));
    size_t need = (size_t)pr->n_words + (size_t)n_words, c0 = pr->word_cap, c1 = pr->word_cap;
    NERC_TRY(predict_grow((void **)&pr->word_tags, &c0, need, sizeof *pr->word_tags));
    NERC_TRY(predict_grow((void **)&pr->word_scores, &c1, need, sizeof *pr->word_scores));
    pr->word_cap = c0;
    return NERC_OK;
}

/* Joins the words with single spaces into `joined` and tokenizes each. */
static nerc_status take_words(nerc_predictor *pr, predict_doc *doc, const char *const *words, const size_t *lens) {
    size_t total = 1;
    for (int32_t w = 0; w < doc->n_words; w++) {
        if (lens[w] > INT32_MAX || total > INT32_MAX - lens[w] - 1)
            return nerc_errorf(NERC_ERR_ARG, "predict: sentence longer than 2 GiB");
        total += lens[w] + 1;
    }
    NERC_TRY(words_reserve(pr, doc->n_words, total));
    char *out = pr->joined + pr->joined_len;
    size_t at = 0;
    for (int32_t w = 0; w < doc->n_words; w++) {
        if (w > 0)
            out[at++] = ' ';
        memcpy(out + at, words[w], lens[w]);
        NERC_TRY(add_word(pr, words[w], lens[w], w, (int32_t)at));
        at += lens[w];
        pr->word_tags[doc->word0 + w] = -1;
        pr->word_scores[doc->word0 + w] = 0;
    }
    out[at] = '\0';
    doc->len = at;
    pr->joined_len += at + 1;
    return NERC_OK;
}

nerc_status predict_add_words(nerc_predictor *pr, const char *const *words, const size_t *lens, int32_t n_words) {
    if (n_words < 0 || (n_words > 0 && (!words || !lens)))
        return nerc_errorf(NERC_ERR_ARG, "predict: invalid word list");
    predict_doc *doc = NULL;
    NERC_TRY(new_doc(pr, &doc));
    doc->word0 = pr->n_words;
    doc->n_words = n_words;
    doc->joined_off = pr->joined_len;
    NERC_TRY(take_words(pr, doc, words, lens));
    doc->n_tok = pr->n_tokens - doc->tok0;
    for (int32_t t = doc->tok0; t < pr->n_tokens; t++)
        pr->index[t] = t - doc->tok0 + 1; /* as in [CLS] pieces [SEP] */
    NERC_TRY(predict_plan_windows(pr, doc));
    pr->n_words += n_words;
    pr->n_docs++;
    return NERC_OK;
}

/* ---- results -------------------------------------------------------------- */

/* The aggregation input of document d: views shifted to its first token. */
static nerc_agg_input doc_input(const nerc_predictor *pr, const predict_doc *doc) {
    int32_t t = doc->tok0;
    int words = doc->n_words >= 0;
    return (nerc_agg_input){.n_tokens = doc->n_tok, .n_labels = pr->n_labels, .labels = pr->labels,
                            .scores = pr->scores + (size_t)t * (size_t)pr->n_labels,
                            .text = words ? pr->joined + doc->joined_off : doc->text, .text_len = doc->len,
                            .offsets = pr->offsets + 2 * t, .byte_offsets = pr->byte_offsets + 2 * t,
                            .is_subword = pr->is_subword + t, .word_ids = pr->word_ids + t,
                            .tokens = words ? NULL : pr->tokens + t, .index = pr->index + t};
}

/* Raw text: NONE entries per sub-token, else HF's groups. */
static nerc_status aggregate_text(nerc_predictor *pr, const nerc_agg_input *in, nerc_aggregation a) {
    NERC_TRY(agg_items(in, a, &pr->work));
    if (a == NERC_AGGREGATION_NONE)
        return agg_emit(in, pr->work.items, pr->work.n_items, EMIT_TOKENS, &pr->entities);
    agg_group(in, &pr->work);
    return agg_emit(in, pr->work.groups, pr->work.n_groups, EMIT_GROUPS, &pr->entities);
}

/* Words: labels by FIRST / AVERAGE / MAX as named (SIMPLE and NONE: FIRST), then grouped (NONE: not). */
static nerc_status aggregate_words(nerc_predictor *pr, const predict_doc *doc, const nerc_agg_input *in,
                                   nerc_aggregation a) {
    NERC_TRY(agg_items(in, a == NERC_AGGREGATION_SIMPLE || a == NERC_AGGREGATION_NONE ? NERC_AGGREGATION_FIRST : a,
                       &pr->work));
    for (int32_t i = 0; i < pr->work.n_items; i++) {
        const agg_item *it = &pr->work.items[i];
        pr->word_tags[doc->word0 + in->word_ids[it->first]] = it->label;
        pr->word_scores[doc->word0 + in->word_ids[it->first]] = it->score;
    }
    if (a == NERC_AGGREGATION_NONE)
        return agg_emit(in, pr->work.items, pr->work.n_items, EMIT_WORDS_FULL, &pr->entities);
    agg_group(in, &pr->work);
    return agg_emit(in, pr->work.groups, pr->work.n_groups, EMIT_GROUPS, &pr->entities);
}

nerc_status predict_batch_result(nerc_predictor *pr, int32_t d, nerc_aggregation a, nerc_prediction *out) {
    const predict_doc *doc = &pr->docs[d];
    nerc_agg_input in = doc_input(pr, doc);
    int words = doc->n_words >= 0;
    NERC_TRY(words ? aggregate_words(pr, doc, &in, a) : aggregate_text(pr, &in, a));
    size_t t = (size_t)doc->tok0;
    *out = (nerc_prediction){.n_entities = pr->entities.n, .entities = pr->entities.items,
                             .n_tokens = doc->n_tok, .n_labels = pr->n_labels, .token_ids = pr->ids + t,
                             .token_label = pr->label + t, .token_scores = pr->scores + t * (size_t)pr->n_labels,
                             .token_window = pr->window + t, .n_windows = doc->n_win,
                             .n_words = words ? doc->n_words : 0,
                             .word_tags = words ? pr->word_tags + doc->word0 : NULL,
                             .word_scores = words ? pr->word_scores + doc->word0 : NULL};
    return NERC_OK;
}
