/* Overlapping windows of sub-tokens, packed batches of windows through the model, one softmax row per sub-token. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "kernels/ops.h"
#include "infer/predict_internal.h"

/* Windows of `content` sub-tokens starting every `step` until one reaches the end. */
static int32_t window_count(int32_t n_tokens, int32_t content, int32_t step) {
    if (n_tokens == 0)
        return 0;
    if (n_tokens <= content)
        return 1;
    return 1 + (n_tokens - content + step - 1) / step;
}

nerc_status nerc_predict_count_rows(const nerc_predictor *pr, const char *text, size_t len, int64_t *rows) {
    *rows = 0;
    nerc_encoding enc;
    NERC_TRY(nerc_tokenizer_encode(pr->tok, text, len, &enc));
    int32_t n = 0; /* content sub-tokens, as predict_add_text keeps them */
    for (int32_t i = 0; i < enc.n; i++)
        n += enc.word_ids[i] >= 0;
    nerc_encoding_free(&enc);
    int32_t content = pr->p.max_length - 2, step = content - pr->p.stride;
    int32_t n_win = window_count(n, content, step);
    for (int32_t w = 0; w < n_win; w++) {
        int32_t s = w * step, e = s + content < n ? s + content : n;
        *rows += e - s + 2;
    }
    return NERC_OK;
}

/* window[i] = the document's window where token i is farthest from an edge (the earliest on ties). */
static void assign_windows(nerc_predictor *pr, const predict_doc *doc) {
    for (int32_t i = doc->tok0; i < doc->tok0 + doc->n_tok; i++)
        pr->best_ctx[i] = -1;
    for (int32_t w = 0; w < doc->n_win; w++) {
        int32_t s = pr->win_start[doc->win0 + w], e = pr->win_end[doc->win0 + w];
        for (int32_t i = s; i < e; i++) {
            int32_t left = i - s, right = e - 1 - i, ctx = left < right ? left : right;
            if (ctx > pr->best_ctx[i]) {
                pr->best_ctx[i] = ctx;
                pr->window[i] = w;
            }
        }
    }
}

nerc_status predict_plan_windows(nerc_predictor *pr, predict_doc *doc) {
    int32_t content = pr->p.max_length - 2, step = content - pr->p.stride;
    int32_t n = window_count(doc->n_tok, content, step);
    if (pr->n_windows > INT32_MAX - n)
        return nerc_errorf(NERC_ERR_NOMEM, "predict: too many windows in one batch");
    size_t c0 = pr->win_cap, c1 = pr->win_cap;
    NERC_TRY(predict_grow((void **)&pr->win_start, &c0, (size_t)pr->n_windows + (size_t)n, sizeof *pr->win_start));
    NERC_TRY(predict_grow((void **)&pr->win_end, &c1, (size_t)pr->n_windows + (size_t)n, sizeof *pr->win_end));
    pr->win_cap = c0;
    doc->win0 = pr->n_windows;
    doc->n_win = n;
    for (int32_t w = 0; w < n; w++) {
        int32_t s = w * step, e = s + content < doc->n_tok ? s + content : doc->n_tok;
        pr->win_start[doc->win0 + w] = doc->tok0 + s;
        pr->win_end[doc->win0 + w] = doc->tok0 + e;
    }
    pr->n_windows += n;
    assign_windows(pr, doc);
    return NERC_OK;
}

/* Packs windows [w0, w1) as [CLS] tokens [SEP] sequences. */
static nerc_batch pack_windows(nerc_predictor *pr, int32_t w0, int32_t w1) {
    int32_t row = 0, cls = nerc_tokenizer_cls_id(pr->tok), sep = nerc_tokenizer_sep_id(pr->tok);
    for (int32_t w = w0; w < w1; w++) {
        int32_t pos = 0;
        pr->batch_offsets[w - w0] = row;
        pr->batch_ids[row] = cls, pr->batch_pos[row++] = pos++;
        for (int32_t i = pr->win_start[w]; i < pr->win_end[w]; i++)
            pr->batch_ids[row] = pr->ids[i], pr->batch_pos[row++] = pos++;
        pr->batch_ids[row] = sep, pr->batch_pos[row++] = pos++;
    }
    pr->batch_offsets[w1 - w0] = row;
    return (nerc_batch){.n_seqs = w1 - w0, .n_tokens = row, .input_ids = pr->batch_ids,
                        .position_ids = pr->batch_pos, .labels = NULL, .seq_offsets = pr->batch_offsets,
                        .seq_keys = NULL};
}

/* HF postprocess: softmax over the logits row (max subtracted). */
static void softmax_row(float *out, const float *logits, int32_t k) {
    float mx = logits[0];
    for (int32_t j = 1; j < k; j++)
        mx = logits[j] > mx ? logits[j] : mx;
    double sum = 0;
    for (int32_t j = 0; j < k; j++)
        sum += exp((double)logits[j] - mx);
    for (int32_t j = 0; j < k; j++)
        out[j] = (float)(exp((double)logits[j] - mx) / sum);
}

/* The document owning global window w (windows are in document order). */
static int32_t window_doc(const nerc_predictor *pr, int32_t w, int32_t hint) {
    while (w >= pr->docs[hint].win0 + pr->docs[hint].n_win)
        hint++;
    return hint;
}

/* Keeps the score rows of the tokens whose scoring window is in [w0, w1). */
static void collect_scores(nerc_predictor *pr, int32_t w0, int32_t w1, int32_t *doc) {
    const float *logits = nerc_state_logits(pr->state);
    int32_t k = pr->n_labels;
    for (int32_t w = w0; w < w1; w++) {
        *doc = window_doc(pr, w, *doc);
        int32_t rel = w - pr->docs[*doc].win0, row = pr->batch_offsets[w - w0] + 1;
        for (int32_t i = pr->win_start[w]; i < pr->win_end[w]; i++, row++)
            if (pr->window[i] == rel)
                softmax_row(pr->scores + (size_t)i * k, logits + (size_t)row * k, k);
    }
}

/* The end of the forward pass that starts at window w0: windows while at most
 * batch_size of them and max_tokens rows ([CLS] + tokens + [SEP] each); at least one. */
static int32_t pass_end(const nerc_predictor *pr, int32_t w0) {
    int64_t rows = 0;
    int32_t w = w0;
    while (w < pr->n_windows && w - w0 < pr->p.batch_size) {
        int64_t r = (int64_t)pr->win_end[w] - pr->win_start[w] + 2;
        if (w > w0 && rows + r > pr->p.max_tokens)
            break;
        rows += r;
        w++;
    }
    return w;
}

nerc_status predict_batch_run(nerc_predictor *pr) {
    int32_t doc = 0;
    for (int32_t w0 = 0, w1; w0 < pr->n_windows; w0 = w1) {
        w1 = pass_end(pr, w0);
        nerc_batch b = pack_windows(pr, w0, w1);
        NERC_TRY(nerc_forward(pr->state, &b, 0, 0));
        collect_scores(pr, w0, w1, &doc);
    }
    for (int32_t i = 0; i < pr->n_tokens; i++)
        pr->label[i] = argmax_row(pr->scores + (size_t)i * pr->n_labels, pr->n_labels);
    return NERC_OK;
}
