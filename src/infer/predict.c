/* The predictor: parameters, model and state, and the one-document entry points. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "infer/predict_internal.h"

enum { PREDICT_MAX_LENGTH = 512, PREDICT_STRIDE = 128, PREDICT_BATCH = 8 };

nerc_predict_params nerc_predict_default_params(void) {
    return (nerc_predict_params){.max_length = 0, .stride = -1, .batch_size = PREDICT_BATCH,
                                 .aggregation = NERC_AGGREGATION_SIMPLE};
}

/* Fills the 0 / -1 defaults and checks the values against the model. */
static nerc_status resolve_params(nerc_predict_params *p, const nerc_model *m) {
    int32_t max_pos = nerc_model_max_length(m);
    if (p->max_length == 0)
        p->max_length = max_pos < PREDICT_MAX_LENGTH ? max_pos : PREDICT_MAX_LENGTH;
    if (p->max_length < 3 || p->max_length > max_pos)
        return nerc_errorf(NERC_ERR_ARG, "predict: max_length %d must be in [3, %d] (the model's positions)",
                           (int)p->max_length, (int)max_pos);
    int32_t content = p->max_length - 2;
    if (p->stride == -1)
        p->stride = content / 2 < PREDICT_STRIDE ? content / 2 : PREDICT_STRIDE;
    if (p->stride < 0 || p->stride >= content)
        return nerc_errorf(NERC_ERR_ARG, "predict: stride %d must be in [0, %d) (max_length - 2)", (int)p->stride,
                           (int)content);
    if (p->batch_size < 1 || p->batch_size > 65536)
        return nerc_errorf(NERC_ERR_ARG, "predict: batch_size %d must be in [1, 65536]", (int)p->batch_size);
    if ((unsigned)p->aggregation > NERC_AGGREGATION_MAX)
        return nerc_errorf(NERC_ERR_ARG, "predict: unknown aggregation %d", (int)p->aggregation);
    int64_t by_windows = (int64_t)p->batch_size * p->max_length;
    if (p->max_tokens == 0)
        p->max_tokens = by_windows > INT32_MAX ? INT32_MAX : (int32_t)by_windows;
    if (p->max_tokens < 1)
        return nerc_errorf(NERC_ERR_ARG, "predict: max_tokens %d must be positive (or 0)", (int)p->max_tokens);
    return NERC_OK;
}

/* Rows of the largest forward pass: max_tokens, or one full window when that is more. */
static int64_t pass_rows(const nerc_predict_params *p) {
    int64_t by_windows = (int64_t)p->batch_size * p->max_length;
    int64_t rows = p->max_tokens < by_windows ? p->max_tokens : by_windows;
    return rows > p->max_length ? rows : p->max_length;
}

static nerc_status alloc_batch(nerc_predictor *pr) {
    int64_t rows = pass_rows(&pr->p);
    int64_t att = rows * pr->p.max_length; /* sum of window length^2, each <= max_length */
    pr->batch_ids = malloc((size_t)rows * sizeof *pr->batch_ids);
    pr->batch_pos = malloc((size_t)rows * sizeof *pr->batch_pos);
    pr->batch_offsets = malloc(((size_t)pr->p.batch_size + 1) * sizeof *pr->batch_offsets);
    pr->labels = malloc((size_t)pr->n_labels * sizeof *pr->labels);
    if (!pr->batch_ids || !pr->batch_pos || !pr->batch_offsets || !pr->labels)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: out of memory");
    for (int32_t k = 0; k < pr->n_labels; k++)
        pr->labels[k] = nerc_model_label(pr->model, k);
    NERC_TRY(nerc_state_init(&pr->state, pr->model, pr->p.batch_size, rows, att, 0));
    return nerc_state_set_precision(pr->state, pr->p.precision);
}

nerc_status nerc_predictor_init(nerc_predictor **out, const nerc_model *m, const nerc_tokenizer *tok,
                                const nerc_predict_params *params) {
    *out = NULL;
    if (!m || !tok)
        return nerc_errorf(NERC_ERR_ARG, "predict: a model and a tokenizer are required");
    nerc_predict_params p = params ? *params : nerc_predict_default_params();
    NERC_TRY(nerc_model_check_tokenizer(m, tok));
    NERC_TRY(resolve_params(&p, m));
    nerc_predictor *pr = calloc(1, sizeof *pr);
    if (!pr)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: out of memory");
    pr->model = m;
    pr->tok = tok;
    pr->p = p;
    pr->n_labels = nerc_model_num_labels(m);
    nerc_status st = alloc_batch(pr);
    if (st != NERC_OK) {
        nerc_predictor_free(pr);
        return st;
    }
    *out = pr;
    return NERC_OK;
}

/* The tokenizer of `dir` (tokenizer.json, vocab.txt, or vocab.json + merges.txt): a model directory
 * holding no tokenizer file at all is an argument error. */
static nerc_status load_tokenizer(nerc_tokenizer **tok, const char *dir) {
    int found = 0;
    for (int i = 0; nerc_tokenizer_file_names[i] && !found; i++) {
        char *p = fs_join(dir, nerc_tokenizer_file_names[i]);
        found = p && fs_exists(p);
        free(p);
    }
    if (!found)
        return nerc_errorf(NERC_ERR_ARG, "%s: no tokenizer files (tokenizer.json, vocab.txt, or vocab.json + "
                           "merges.txt) in the model directory", dir);
    return nerc_tokenizer_load(tok, dir);
}

nerc_status nerc_predictor_load(nerc_predictor **out, const char *model_dir, const nerc_predict_params *params) {
    *out = NULL;
    nerc_model *m = NULL;
    nerc_tokenizer *tok = NULL;
    NERC_TRY(nerc_model_load(&m, model_dir, NULL, 0, 0));
    const char *tok_dir = nerc_model_tokenizer_dir(m);
    nerc_status st = load_tokenizer(&tok, tok_dir ? tok_dir : model_dir);
    if (st == NERC_OK)
        st = nerc_predictor_init(out, m, tok, params);
    if (st != NERC_OK) {
        nerc_tokenizer_free(tok);
        nerc_model_free(m);
        return st;
    }
    (*out)->owned_model = m;
    (*out)->owned_tok = tok;
    return NERC_OK;
}

void nerc_predictor_free(nerc_predictor *pr) {
    if (!pr)
        return;
    nerc_state_free(pr->state);
    free(pr->batch_ids), free(pr->batch_pos), free(pr->batch_offsets), free(pr->labels);
    free(pr->ids), free(pr->offsets), free(pr->byte_offsets), free(pr->word_ids), free(pr->index);
    free(pr->label), free(pr->window), free(pr->best_ctx), free(pr->is_subword), free(pr->tokens);
    free(pr->scores), free(pr->word_tags), free(pr->word_scores), free(pr->joined);
    free(pr->docs), free(pr->win_start), free(pr->win_end);
    agg_work_free(&pr->work);
    nerc_entity_list_free(&pr->entities);
    nerc_tokenizer_free(pr->owned_tok);
    nerc_model_free(pr->owned_model);
    free(pr);
}

const nerc_predict_params *nerc_predictor_params(const nerc_predictor *pr) {
    return &pr->p;
}

const nerc_model *nerc_predictor_model(const nerc_predictor *pr) {
    return pr->model;
}

/* ---- one document at a time ------------------------------------------------- */

nerc_status nerc_predict_text(nerc_predictor *pr, const char *text, size_t len, nerc_prediction *out) {
    predict_batch_reset(pr);
    NERC_TRY(predict_add_text(pr, text, len));
    NERC_TRY(predict_batch_run(pr));
    return predict_batch_result(pr, 0, pr->p.aggregation, out);
}

nerc_status nerc_predict_words(nerc_predictor *pr, const char *const *words, const size_t *lens, int32_t n_words,
                               nerc_prediction *out) {
    predict_batch_reset(pr);
    NERC_TRY(predict_add_words(pr, words, lens, n_words));
    NERC_TRY(predict_batch_run(pr));
    return predict_batch_result(pr, 0, pr->p.aggregation, out);
}

/* ---- several texts in shared forward passes ------------------------------- */

nerc_status nerc_predict_texts(nerc_predictor *pr, const char *const *texts, const size_t *lens,
                               const nerc_aggregation *aggregations, int32_t n, nerc_predict_text_fn fn, void *user) {
    if (n < 0 || (n > 0 && (!texts || !lens || !fn)))
        return nerc_errorf(NERC_ERR_ARG, "predict: invalid text list");
    for (int32_t i = 0; aggregations && i < n; i++)
        if ((unsigned)aggregations[i] > NERC_AGGREGATION_MAX)
            return nerc_errorf(NERC_ERR_ARG, "predict: text %d: unknown aggregation %d", (int)i, (int)aggregations[i]);
    predict_batch_reset(pr);
    for (int32_t i = 0; i < n; i++) {
        nerc_status st = predict_add_text(pr, texts[i], lens[i]);
        if (st != NERC_OK)
            return nerc_error_prefix(st, "text %d", (int)i);
    }
    NERC_TRY(predict_batch_run(pr));
    for (int32_t i = 0; i < n; i++) {
        nerc_prediction p;
        NERC_TRY(predict_batch_result(pr, i, aggregations ? aggregations[i] : pr->p.aggregation, &p));
        NERC_TRY(fn(texts[i], lens[i], &p, user));
    }
    return NERC_OK;
}
