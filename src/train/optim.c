/* AdamW (torch 1.13 semantics), gradient clipping and the linear LR schedule. */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/adamw.h"

adamw_hparams adamw_defaults(void) { return (adamw_hparams){0.9f, 0.999f, 1e-8f, 0.0f}; }

nerc_status adamw_init(adamw_state *a, int64_t n_params) {
    memset(a, 0, sizeof *a);
    a->m = calloc_touched((size_t)n_params, sizeof(float));
    a->v = calloc_touched((size_t)n_params, sizeof(float));
    if (!a->m || !a->v) {
        adamw_free(a);
        return nerc_errorf(NERC_ERR_NOMEM, "cannot allocate AdamW moments for %lld parameters", (long long)n_params);
    }
    a->n = n_params;
    return NERC_OK;
}

void adamw_free(adamw_state *a) {
    free(a->m);
    free(a->v);
    free(a->live);
    free(a->p16);
    free(a->row_step);
    free(a->row_list);
    free(a->row_listed);
    free(a->log);
    memset(a, 0, sizeof *a);
}

/* Every row holds every step taken so far: nothing deferred (the lazy table,
 * if any, restarts from a->step at its next step). */
static void rows_all_current(adamw_state *a) {
    a->log_len = 0;
    a->log_first = -2; /* never a->step - 1: the next lazy step sets every row_step */
}

void adamw_moments_changed(adamw_state *a) {
    a->live_rows = 0;
    rows_all_current(a);
}

static int any_bits(const float *x, int64_t n) {
    uint32_t any = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        any |= u;
    }
    return any != 0;
}

/* live[r] = row r of m or v has a bit set (-0 counts: only +0 is known inert).
 * NULL (and no error recorded) when the table cannot be allocated: the caller
 * updates every row, the same result, only slower. */
static const uint8_t *find_live_rows(adamw_state *a, const grad_rows *gr) {
    if (a->live_rows == gr->rows)
        return a->live;
    uint8_t *live = realloc(a->live, (size_t)gr->rows);
    if (!live)
        return NULL;
    a->live = live;
    const float *m = a->m + gr->offset, *v = a->v + gr->offset;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < gr->rows; r++)
        live[r] = (uint8_t)(any_bits(m + r * gr->width, gr->width) || any_bits(v + r * gr->width, gr->width));
    a->live_rows = gr->rows;
    return live;
}

nerc_status adamw_mark_live_rows(adamw_state *a, const grad_rows *gr, const int32_t *ids, int64_t n) {
    if (!find_live_rows(a, gr))
        return nerc_errorf(NERC_ERR_NOMEM, "cannot allocate AdamW's table of %lld live rows", (long long)gr->rows);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < gr->rows)
            a->live[ids[i]] = 1;
    return NERC_OK;
}

/* ---- lazily updated rows ------------------------------------------------------- */

/* Runs the deferred steps of the rows row_list[0..n) (and the current step's
 * gradient, when grad is not NULL), through the last logged step. */
static void replay_rows(adamw_state *a, float *params, const float *grad, int64_t n) {
    adamw_replay rp = {a->row_list, n, a->row_step, a->log, a->log_first, a->log_first + a->log_len};
    int64_t at = a->table_offset;
    const uint8_t *live = a->live_rows == a->table_rows ? a->live : NULL; /* NULL: all live, the same bits */
    adamw_replay_rows(params + at, a->m + at, a->v + at, grad ? grad + at : NULL, live, a->table_width, &rp);
}

static void flush_rows(adamw_state *a, float *params) {
    if (a->log_len == 0)
        return;
    int64_t to = a->log_first + a->log_len, n = 0;
    for (int64_t r = 0; r < a->table_rows; r++)
        if (a->row_step[r] < to)
            a->row_list[n++] = (int32_t)r;
    replay_rows(a, params, NULL, n);
    a->log_first = to;
    a->log_len = 0;
}

void adamw_rows_current(adamw_state *a, float *params, const int32_t *ids, int64_t n) {
    if (a->log_len == 0)
        return;
    if (!ids) {
        flush_rows(a, params);
        return;
    }
    int64_t to = a->log_first + a->log_len, k = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t r = ids[i];
        if (r >= 0 && r < a->table_rows && a->row_step[r] < to && !a->row_listed[r]) {
            a->row_listed[r] = 1;
            a->row_list[k++] = r;
        }
    }
    for (int64_t i = 0; i < k; i++)
        a->row_listed[a->row_list[i]] = 0;
    replay_rows(a, params, NULL, k);
}

static int alloc_lazy_table(adamw_state *a, const grad_rows *gr) {
    a->row_step = malloc((size_t)gr->rows * sizeof *a->row_step);
    a->row_list = malloc((size_t)gr->rows * sizeof *a->row_list);
    a->row_listed = calloc((size_t)gr->rows, 1);
    a->log = malloc(ADAMW_LOG_MAX * sizeof *a->log);
    if (!a->row_step || !a->row_list || !a->row_listed || !a->log) {
        free(a->row_step), free(a->row_list), free(a->row_listed), free(a->log);
        a->row_step = NULL, a->row_list = NULL, a->row_listed = NULL, a->log = NULL;
        return 0; /* no lazy rows: every row every step, the same result */
    }
    a->table_offset = gr->offset, a->table_rows = gr->rows, a->table_width = gr->width;
    rows_all_current(a); /* row_step is set at the first lazy step */
    return 1;
}

/* Can this step (a->step, already counted) update gr's table lazily? Then
 * every row is current through the step before or in the log. */
static int lazy_step(adamw_state *a, float *params, const grad_rows *gr) {
    if (!a->lazy_rows || !gr || !gr->used)
        return 0;
    if (!a->table_rows && !alloc_lazy_table(a, gr))
        return 0;
    if (gr->offset != a->table_offset || gr->rows != a->table_rows || gr->width != a->table_width)
        return 0;
    if (a->log_first + a->log_len != a->step - 1) { /* the moments or the step count were set from outside */
        flush_rows(a, params);
        for (int64_t r = 0; r < a->table_rows; r++)
            a->row_step[r] = a->step - 1;
        a->log_first = a->step - 1;
        a->log_len = 0;
    }
    if (a->log_len == ADAMW_LOG_MAX)
        flush_rows(a, params);
    return 1;
}

/* This step on the table's used rows, each first brought through the steps it skipped. */
static void lazy_table_step(adamw_state *a, float *params, const float *grads, const grad_rows *gr,
                            const adamw_coeffs *k) {
    a->log[a->log_len++] = *k;
    int64_t n = 0;
    for (int64_t r = 0; r < gr->rows; r++)
        if (gr->used[r])
            a->row_list[n++] = (int32_t)r;
    (void)find_live_rows(a, gr); /* NULL (no table): every row treated as live, the same bits */
    replay_rows(a, params, grads, n);
    for (int64_t i = 0; a->live_rows == gr->rows && i < n; i++)
        a->live[a->row_list[i]] = 1;
}

grad_rows grad_rows_of(const struct nerc_state *s) {
    const nerc_model *m = s->m;
    return (grad_rows){s->g.cat[P_WORD_EMB] - s->grad_mem, m->cfg.vocab_size, m->cfg.dim,
                       s->n_word_rows >= 0 ? s->word_row_used : NULL};
}

/* Is tensor t gr's table, with a record of its used rows (then it is updated row by row)? */
static int is_row_table(const param_tensor *t, const grad_rows *gr) {
    return gr && gr->used && t->offset == gr->offset && t->numel == gr->rows * gr->width;
}

void adamw_step(adamw_state *a, struct nerc_model *m, const float *grads, const grad_rows *gr, float grad_scale,
                double lr, const adamw_hparams *hp, const bf16_copy *p16) {
    a->step++;
    int lazy = lazy_step(a, m->params_mem, gr);
    if (!lazy)
        flush_rows(a, m->params_mem); /* the table is updated whole below: bring it current first */
    double bc1 = 1.0 - pow((double)hp->beta1, (double)a->step);
    double bc2 = 1.0 - pow((double)hp->beta2, (double)a->step);
    adamw_coeffs k = {grad_scale, 1.0f, hp->beta1, hp->beta2, (float)(lr / bc1), (float)sqrt(bc2), hp->eps};
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        if (t->frozen)
            continue;
        float wd = t->no_decay ? 0.0f : hp->weight_decay;
        k.decay_factor = (float)(1.0 - lr * (double)wd);
        float *p = m->params_mem + t->offset, *mm = a->m + t->offset, *v = a->v + t->offset;
        if (lazy && is_row_table(t, gr)) {
            lazy_table_step(a, m->params_mem, grads, gr, &k);
        } else if (is_row_table(t, gr)) {
            const uint8_t *live = find_live_rows(a, gr); /* NULL: every row */
            adamw_update_rows(p, mm, v, grads + t->offset, gr->used, live, gr->rows, gr->width, &k);
            for (int64_t r = 0; live && r < gr->rows; r++)
                a->live[r] |= gr->used[r];
        } else {
            if (p16 && p16[i].amx.fwd)
                adamw_update_amx(p, mm, v, grads + t->offset, &p16[i].amx, t->numel, &k);
            else if (p16 && p16[i].plain)
                adamw_update_bf16(p, mm, v, grads + t->offset, p16[i].plain, t->numel, &k);
            else
                adamw_update(p, mm, v, grads + t->offset, t->numel, &k);
            if (!gr || t->offset == gr->offset)
                adamw_moments_changed(a); /* the table (if it is this one) updated whole: any row may be live */
        }
    }
}

void adamw_step_state(adamw_state *a, struct nerc_model *m, struct nerc_state *s, const grad_rows *gr,
                      float grad_scale, double lr, const adamw_hparams *hp) {
    if (s->w16 && !a->p16) /* NULL when out of memory: no copies written, the forward pass converts them */
        a->p16 = malloc((size_t)m->n_tensors * sizeof *a->p16);
    int copies = a->p16 && encoder_w16_copies(s, a->p16);
    adamw_step(a, m, s->grad_mem, gr, grad_scale, lr, hp, copies ? a->p16 : NULL);
    if (copies)
        encoder_w16_written(s);
    else
        encoder_w16_stale(s);
}

/* Fixed chunks summed in order: the same bits whatever the thread count. */
#define NORM_CHUNKS 64
_Static_assert(NORM_CHUNKS % SUM_SQUARES_STREAMS == 0, "norm chunks come in groups read side by side");

static double sum_squares(const float *grads, int64_t n) {
    enum { GROUPS = NORM_CHUNKS / SUM_SQUARES_STREAMS };
    double part[NORM_CHUNKS] = {0};
    int64_t chunk = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
    int full = chunk ? (int)(n / chunk) : 0; /* chunks [0, full) have `chunk` values; the next one fewer */
#pragma omp parallel for schedule(static)
    for (int grp = 0; grp < GROUPS; grp++) {
        int c0 = grp * SUM_SQUARES_STREAMS, c1 = c0 + SUM_SQUARES_STREAMS;
        int side_by_side = (full < c1 ? full : c1) - c0;
        if (side_by_side > 0)
            sum_squares_f32_streams(grads + c0 * chunk, chunk, chunk, side_by_side, part + c0);
        for (int ch = c0 + (side_by_side > 0 ? side_by_side : 0); ch < c1; ch++) {
            int64_t lo = ch * chunk, hi = lo + chunk < n ? lo + chunk : n;
            part[ch] = hi > lo ? sum_squares_f32(grads + lo, hi - lo) : 0.0;
        }
    }
    double s = 0.0;
    for (int ch = 0; ch < NORM_CHUNKS; ch++)
        s += part[ch];
    return s;
}

/* The table's rows in NORM_CHUNKS fixed blocks, each row's sum added in row
 * order; a row known to be zero adds exactly +0 (so skipping it changes nothing). */
static double sum_squares_rows(const float *table, const grad_rows *gr) {
    double part[NORM_CHUNKS] = {0};
    int64_t per = (gr->rows + NORM_CHUNKS - 1) / NORM_CHUNKS;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < NORM_CHUNKS; ch++) {
        int64_t r1 = (ch + 1) * per < gr->rows ? (ch + 1) * per : gr->rows;
        double s = 0.0;
        for (int64_t r = ch * per; r < r1; r++) {
            if (gr->used && !gr->used[r])
                continue;
            s += sum_squares_f32(table + r * gr->width, gr->width);
        }
        part[ch] = s;
    }
    double s = 0.0;
    for (int ch = 0; ch < NORM_CHUNKS; ch++)
        s += part[ch];
    return s;
}

double grad_global_norm(const float *grads, int64_t n, const grad_rows *gr) {
    if (!gr)
        return sqrt(sum_squares(grads, n));
    int64_t end = gr->offset + gr->rows * gr->width;
    double s = sum_squares(grads, gr->offset);
    s += sum_squares_rows(grads + gr->offset, gr);
    s += sum_squares(grads + end, n - end);
    return sqrt(s);
}

double grad_global_norm_state(const struct nerc_state *s, const grad_rows *gr) {
    const nerc_model *m = s->m;
    if (!s->w_squares)
        return grad_global_norm(s->grad_mem, m->n_params, gr);
    const float *g = s->grad_mem;
    int64_t at = gr->offset + gr->rows * gr->width; /* summed up to here */
    double sum = sum_squares(g, gr->offset) + sum_squares_rows(g + gr->offset, gr);
    for (;;) { /* the next summed weight gradient in memory (the parameters are grouped by kind, not layer) */
        int32_t next = -1;
        int64_t next_lo = m->n_params;
        for (int32_t i = 0; i < encoder_n_linears(m); i++) {
            int64_t lo = encoder_linear_at(m, &s->g, i).w - g;
            if (isfinite(s->w_squares[i]) && lo >= at && lo < next_lo)
                next = i, next_lo = lo;
        }
        if (next < 0)
            break;
        linear_ref r = encoder_linear_at(m, &s->g, next);
        sum += sum_squares(g + at, next_lo - at) + s->w_squares[next]; /* the values between, read */
        at = next_lo + r.IC * r.OC;
    }
    return sqrt(sum + sum_squares(g + at, m->n_params - at));
}

float grad_clip_of_norm(double norm, double max_norm) {
    if (max_norm <= 0.0)
        return 1.0f;
    double coef = max_norm / (norm + 1e-6);
    return (float)(coef < 1.0 ? coef : 1.0);
}

float grad_clip_factor(const float *grads, int64_t n, const grad_rows *gr, double max_norm, double *norm) {
    *norm = grad_global_norm(grads, n, gr);
    return grad_clip_of_norm(*norm, max_norm);
}

double lr_linear(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
    if (step < warmup_steps)
        return base_lr * (double)step / (double)(warmup_steps > 1 ? warmup_steps : 1);
    double rest = (double)(total_steps - step) / (double)(total_steps - warmup_steps > 1 ? total_steps - warmup_steps : 1);
    return base_lr * (rest > 0.0 ? rest : 0.0);
}
