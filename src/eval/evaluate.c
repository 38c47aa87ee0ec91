/* Evaluation of a model on an encoded, labelled dataset: batched forward
 * passes (longest first, dropout off), argmax per row, word-level and
 * sub-token-level seqeval reports, and the mean loss. Over several ranks
 * (dist) batch i runs on rank i mod N and every rank gets every prediction
 * and per-batch loss: the same batches, sums and scores as one process. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "dist/dist.h"
#include "eval/eval_internal.h"
#include "kernels/ops.h"
#include "nerc/eval.h"

nerc_eval_params nerc_eval_default_params(void) {
    return (nerc_eval_params){.batch_size = 16, .mode = NERC_EVAL_MODE_DEFAULT, .scheme = NERC_SCHEME_IOB2,
                              .subtoken_level = 0};
}

void nerc_eval_result_free(nerc_eval_result *r) {
    nerc_report_free(&r->word);
    if (r->has_subtoken)
        nerc_report_free(&r->subtoken);
    free(r->word_pred);
    memset(r, 0, sizeof *r);
}

/* The batches of other ranks: their predictions (-1 here, label ids there)
 * by maximum, their losses (0 here) by sum, then the loss summed in batch
 * order. Words predicted by no batch (no pieces) get `fill`. */
static nerc_status gather(const nerc_dataset *ds, const nerc_sequences *enc, int32_t *word_pred, int32_t *row_pred,
                          double *parts, int32_t n_batches, int32_t fill, double *mean_loss) {
    NERC_TRY(dist_allreduce_i32(word_pred, ds->n_words, DIST_MAX));
    if (row_pred)
        NERC_TRY(dist_allreduce_i32(row_pred, enc->n_tokens, DIST_MAX));
    NERC_TRY(dist_allreduce_f64(parts, 2 * (int64_t)n_batches, DIST_SUM));
    for (int32_t w = 0; w < ds->n_words; w++)
        if (word_pred[w] < 0)
            word_pred[w] = fill;
    double loss_sum = 0.0, counted = 0.0;
    for (int32_t i = 0; i < n_batches; i++) {
        loss_sum += parts[2 * i];
        counted += parts[2 * i + 1];
    }
    *mean_loss = counted > 0 ? loss_sum / counted : 0.0;
    return NERC_OK;
}

/* Runs this rank's batches; fills word predictions and row predictions
 * (dataset rows; NULL: not needed), then gathers the other ranks'. */
static nerc_status predict_all(const nerc_model *m, nerc_state *s, const nerc_dataset *ds, const nerc_sequences *enc,
                               int32_t batch_size, int32_t fill, int32_t *word_pred, int32_t *row_pred,
                               double *mean_loss) {
    nerc_batcher *bt = NULL;
    NERC_TRY(nerc_batcher_init(&bt, enc, batch_size));
    nerc_batcher_sort_by_length(bt);
    int32_t n_batches = nerc_batcher_n_batches(bt), rank = dist_rank(), ranks = dist_size();
    int32_t *batch_pred = malloc((size_t)(nerc_batcher_max_rows(bt) + 1) * sizeof *batch_pred);
    double *parts = calloc(2 * (size_t)n_batches + 1, sizeof *parts); /* loss x labelled rows, labelled rows */
    nerc_status st = batch_pred && parts ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t w = 0; w < ds->n_words; w++)
        word_pred[w] = -1;
    if (row_pred)
        memset(row_pred, 0xff, (size_t)enc->n_tokens * sizeof *row_pred); /* -1 */
    for (int32_t i = rank; st == NERC_OK && i < n_batches; i += ranks) {
        nerc_data_batch db;
        st = nerc_batcher_get(bt, i, &db);
        if (st == NERC_OK)
            st = nerc_forward(s, &db.batch, 0, 0);
        if (st != NERC_OK)
            break;
        int32_t K = nerc_model_num_labels(m);
        for (int32_t r = 0; r < db.batch.n_tokens; r++)
            batch_pred[r] = argmax_row(nerc_state_logits(s) + (int64_t)r * K, K);
        nerc_batch_scatter_predictions(word_pred, &db, batch_pred, ds);
        int64_t n_lab = 0;
        for (int32_t r = 0; r < db.batch.n_tokens; r++)
            n_lab += db.batch.labels[r] != NERC_IGNORE_INDEX;
        double loss = 0.0;
        if (n_lab > 0 && (st = nerc_loss(s, &db.batch, 0.0, &loss)) == NERC_OK) {
            parts[2 * i] = loss * (double)n_lab;
            parts[2 * i + 1] = (double)n_lab;
        }
        for (int32_t b = 0; row_pred && b < db.batch.n_seqs; b++) {
            int32_t seq = db.seq_index[b], r0 = db.batch.seq_offsets[b], len = db.batch.seq_offsets[b + 1] - r0;
            memcpy(row_pred + enc->seq_offsets[seq], batch_pred + r0, (size_t)len * sizeof *row_pred);
        }
    }
    st = dist_agree(st);
    if (st == NERC_OK)
        st = gather(ds, enc, word_pred, row_pred, parts, n_batches, fill, mean_loss);
    free(parts);
    free(batch_pred);
    nerc_batcher_free(bt);
    return st;
}

/* One scored unit (a sentence of words, or a sequence of sub-tokens): fills
 * gold/pred tag names and returns their count. */
typedef int32_t (*fill_unit_fn)(const void *ctx, int32_t unit, const char **gold, const char **pred);

typedef struct {
    const nerc_model *m;
    const nerc_dataset *ds;
    const nerc_sequences *enc;
    const int32_t *pred; /* per word, or per row */
} score_ctx;

static int32_t fill_sentence(const void *ctx, int32_t s, const char **gold, const char **pred) {
    const score_ctx *c = ctx;
    int32_t w0 = c->ds->sent_offsets[s], n = c->ds->sent_offsets[s + 1] - w0;
    for (int32_t i = 0; i < n; i++) {
        gold[i] = c->ds->labels.names[c->ds->tags[w0 + i]];
        pred[i] = nerc_model_label(c->m, c->pred[w0 + i]);
    }
    return n;
}

/* HF compute_metrics on sub-tokens: per sequence, every row whose label is not -100. */
static int32_t fill_sequence(const void *ctx, int32_t q, const char **gold, const char **pred) {
    const score_ctx *c = ctx;
    int32_t n = 0;
    for (int32_t r = c->enc->seq_offsets[q]; r < c->enc->seq_offsets[q + 1]; r++)
        if (c->enc->labels[r] != NERC_IGNORE_INDEX) {
            gold[n] = nerc_model_label(c->m, c->enc->labels[r]);
            pred[n++] = nerc_model_label(c->m, c->pred[r]);
        }
    return n;
}

/* Scores n_units units of at most max_len tags each. */
static nerc_status score_units(fill_unit_fn fill, const score_ctx *ctx, int32_t n_units, int32_t max_len,
                               const nerc_eval_params *p, nerc_report *rep) {
    nerc_scorer *sc = NULL;
    NERC_TRY(nerc_scorer_init(&sc));
    const char **gold = malloc(((size_t)max_len + 1) * sizeof *gold);
    const char **pred = malloc(((size_t)max_len + 1) * sizeof *pred);
    nerc_status st = gold && pred ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t u = 0; st == NERC_OK && u < n_units; u++) {
        int32_t n = fill(ctx, u, gold, pred);
        st = nerc_scorer_add_sentence(sc, gold, pred, n);
    }
    if (st == NERC_OK)
        st = nerc_scorer_report(sc, p->mode, p->scheme, rep);
    free(gold);
    free(pred);
    nerc_scorer_free(sc);
    return st;
}

static int32_t longest_sentence(const nerc_dataset *ds) {
    int32_t longest = 0;
    for (int32_t s = 0; s < ds->n_sents; s++)
        if (ds->sent_offsets[s + 1] - ds->sent_offsets[s] > longest)
            longest = ds->sent_offsets[s + 1] - ds->sent_offsets[s];
    return longest;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

nerc_status nerc_evaluate(nerc_state *state, const nerc_dataset *ds, const nerc_sequences *enc,
                          const nerc_eval_params *p, nerc_eval_result *out) {
    memset(out, 0, sizeof *out);
    const nerc_model *m = nerc_state_model(state);
    if (ds->labels.n != nerc_model_num_labels(m))
        return nerc_errorf(NERC_ERR_ARG, "dataset has %d labels, the model %d", ds->labels.n, nerc_model_num_labels(m));
    double t0 = now_s();
    out->word_pred = calloc((size_t)(ds->n_words ? ds->n_words : 1), sizeof *out->word_pred);
    int32_t *row_pred = calloc((size_t)(enc->n_tokens ? enc->n_tokens : 1), sizeof *row_pred);
    nerc_status st = out->word_pred && row_pred ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    int32_t o_id = nerc_labels_find(&ds->labels, "O", 1);
    if (st == NERC_OK)
        st = predict_all(m, state, ds, enc, p->batch_size, o_id >= 0 ? o_id : 0, out->word_pred,
                         p->subtoken_level ? row_pred : NULL, &out->loss);
    score_ctx words = {m, ds, enc, out->word_pred}, rows = {m, ds, enc, row_pred};
    if (st == NERC_OK)
        st = score_units(fill_sentence, &words, ds->n_sents, longest_sentence(ds), p, &out->word);
    if (st == NERC_OK && p->subtoken_level) {
        st = score_units(fill_sequence, &rows, enc->n_seqs, enc->max_seq_len, p, &out->subtoken);
        out->has_subtoken = st == NERC_OK;
    }
    free(row_pred);
    out->seconds = now_s() - t0;
    if (st != NERC_OK)
        nerc_eval_result_free(out);
    return st;
}

nerc_eval_file_params nerc_eval_file_default_params(void) {
    nerc_encode_params ep = nerc_encode_default_params();
    return (nerc_eval_file_params){nerc_eval_default_params(), ep.max_len, ep.stride, NERC_LABEL_MODE_FIRST_PIECE};
}

nerc_status nerc_evaluate_file(const nerc_model *m, const char *path, const nerc_eval_file_params *p,
                               nerc_eval_result *out, nerc_dataset **ds_out) {
    *ds_out = NULL;
    memset(out, 0, sizeof *out);
    nerc_label_set labels = {0};
    nerc_tokenizer *tok = NULL;
    nerc_sequences *enc = NULL;
    nerc_state *s = NULL;
    const char *tokdir = nerc_model_tokenizer_dir(m);
    nerc_status st = nerc_labels_init(&labels, nerc_model_labels(m), nerc_model_num_labels(m));
    if (st == NERC_OK)
        st = nerc_dataset_read(ds_out, path, &labels);
    if (st == NERC_OK)
        st = tokdir ? nerc_tokenizer_load(&tok, tokdir) : nerc_errorf(NERC_ERR_ARG, "the model has no tokenizer files");
    if (st == NERC_OK)
        st = nerc_model_check_tokenizer(m, tok);
    if (st == NERC_OK) {
        nerc_encode_params ep = encode_params_for(m, p->max_length, p->stride, p->label_mode);
        st = nerc_encode_dataset(&enc, *ds_out, tok, &ep);
    }
    if (st == NERC_OK)
        st = nerc_eval_state_init(&s, m, enc, p->eval.batch_size);
    if (st == NERC_OK)
        st = nerc_state_set_precision(s, p->eval.precision);
    st = dist_agree(st); /* nerc_evaluate is collective */
    if (st == NERC_OK)
        st = nerc_evaluate(s, *ds_out, enc, &p->eval, out);
    nerc_state_free(s);
    nerc_sequences_free(enc);
    nerc_tokenizer_free(tok);
    nerc_labels_free(&labels);
    if (st != NERC_OK) {
        nerc_dataset_free(*ds_out);
        *ds_out = NULL;
    }
    return st;
}
