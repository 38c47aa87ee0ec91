/* Encoder parameters: the buffer layout by category, per-layer views, the HF
 * tensor table of each family and random init (HF _init_weights). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "model/encoder.h"
#include "model/family.h"

/* ---- layout ---------------------------------------------------------- */

typedef enum { INIT_NORMAL, INIT_ZERO, INIT_ONE } init_kind;

/* Shape of one category: `per_layer` copies (stacked) of rows x cols (cols 0 = 1-D). */
typedef struct {
    int64_t per_layer, rows, cols;
    init_kind init;
} category_shape;

static category_shape shape_of(const encoder_config *c, param_category cat) {
    int64_t V = c->vocab_size, P = c->max_positions, T = c->type_vocab_size, C = c->dim, L = c->n_layers,
            F = c->hidden_dim, K = c->n_labels;
    switch (cat) {
    case P_WORD_EMB: return (category_shape){1, V, C, INIT_NORMAL};
    case P_POS_EMB: return (category_shape){1, P, C, INIT_NORMAL};
    case P_TYPE_EMB: return (category_shape){1, T, C, INIT_NORMAL};
    case P_EMB_LN_W: return (category_shape){1, C, 0, INIT_ONE};
    case P_EMB_LN_B: return (category_shape){1, C, 0, INIT_ZERO};
    case P_QKV_W: return (category_shape){L, 3 * C, C, INIT_NORMAL};
    case P_QKV_B: return (category_shape){L, 3 * C, 0, INIT_ZERO};
    case P_OUT_W: return (category_shape){L, C, C, INIT_NORMAL};
    case P_OUT_B: return (category_shape){L, C, 0, INIT_ZERO};
    case P_LN1_W: return (category_shape){L, C, 0, INIT_ONE};
    case P_LN1_B: return (category_shape){L, C, 0, INIT_ZERO};
    case P_FC1_W: return (category_shape){L, F, C, INIT_NORMAL};
    case P_FC1_B: return (category_shape){L, F, 0, INIT_ZERO};
    case P_FC2_W: return (category_shape){L, C, F, INIT_NORMAL};
    case P_FC2_B: return (category_shape){L, C, 0, INIT_ZERO};
    case P_LN2_W: return (category_shape){L, C, 0, INIT_ONE};
    case P_LN2_B: return (category_shape){L, C, 0, INIT_ZERO};
    case P_CLS_W: return (category_shape){1, K, C, INIT_NORMAL};
    case P_CLS_B: return (category_shape){1, K, 0, INIT_ZERO};
    case P_COUNT: break;
    }
    return (category_shape){0, 0, 0, INIT_ZERO};
}

static int64_t category_numel(const encoder_config *c, param_category cat) {
    category_shape s = shape_of(c, cat);
    return s.per_layer * s.rows * (s.cols ? s.cols : 1);
}

void encoder_views(const struct nerc_model *m, float *base, encoder_params *p) {
    for (int cat = 0; cat < P_COUNT; cat++) {
        p->cat[cat] = base;
        base += category_numel(&m->cfg, (param_category)cat);
    }
}

/* Element offset of layer l inside a stacked category. */
static int64_t layer_offset(const encoder_config *c, param_category cat, int64_t l) {
    category_shape s = shape_of(c, cat);
    return l * s.rows * (s.cols ? s.cols : 1);
}

layer_view encoder_layer(const struct nerc_model *m, const encoder_params *p, int64_t l) {
    const encoder_config *c = &m->cfg;
#define AT(k) (p->cat[k] + layer_offset(c, k, l))
    return (layer_view){AT(P_QKV_W), AT(P_QKV_B), AT(P_OUT_W), AT(P_OUT_B), AT(P_LN1_W), AT(P_LN1_B),
                        AT(P_FC1_W), AT(P_FC1_B), AT(P_FC2_W), AT(P_FC2_B), AT(P_LN2_W), AT(P_LN2_B)};
#undef AT
}

int32_t encoder_n_linears(const struct nerc_model *m) { return LIN_PER_LAYER * m->cfg.n_layers + 1; }

linear_ref encoder_classifier(const struct nerc_model *m, const encoder_params *p) {
    return (linear_ref){p->cat[P_CLS_W], p->cat[P_CLS_B], m->cfg.dim, m->cfg.n_labels, encoder_n_linears(m) - 1};
}

linear_ref encoder_linear(const struct nerc_model *m, const encoder_params *p, int64_t l, layer_linear op) {
    const encoder_config *c = &m->cfg;
    int64_t C = c->dim, F = c->hidden_dim;
    layer_view v = encoder_layer(m, p, l);
    int32_t index = (int32_t)(LIN_PER_LAYER * l + op);
    switch (op) {
    case LIN_QKV: return (linear_ref){v.qkv_w, v.qkv_b, C, 3 * C, index};
    case LIN_OUT: return (linear_ref){v.out_w, v.out_b, C, C, index};
    case LIN_FC1: return (linear_ref){v.fc1_w, v.fc1_b, C, F, index};
    case LIN_FC2: break;
    case LIN_PER_LAYER: break;
    }
    return (linear_ref){v.fc2_w, v.fc2_b, F, C, index};
}

linear_ref encoder_linear_at(const struct nerc_model *m, const encoder_params *p, int32_t i) {
    int64_t L = m->cfg.n_layers;
    return i >= LIN_PER_LAYER * L ? encoder_classifier(m, p)
                                  : encoder_linear(m, p, i / LIN_PER_LAYER, (layer_linear)(i % LIN_PER_LAYER));
}

/* ---- the HF tensor table ------------------------------------------------ */

/* One tensor of a layer (or of the embeddings) under both naming schemes;
 * `part` selects the query / key / value third of the fused QKV category. */
typedef struct {
    param_category cat;
    int part;
    const char *distilbert, *bert;
} tensor_name;

static const tensor_name embedding_names[] = {
    {P_WORD_EMB, 0, "embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"},
    {P_POS_EMB, 0, "embeddings.position_embeddings.weight", "embeddings.position_embeddings.weight"},
    {P_TYPE_EMB, 0, NULL, "embeddings.token_type_embeddings.weight"},
    {P_EMB_LN_W, 0, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.weight"},
    {P_EMB_LN_B, 0, "embeddings.LayerNorm.bias", "embeddings.LayerNorm.bias"},
};

static const tensor_name layer_names[] = {
    {P_QKV_W, 0, "attention.q_lin.weight", "attention.self.query.weight"},
    {P_QKV_B, 0, "attention.q_lin.bias", "attention.self.query.bias"},
    {P_QKV_W, 1, "attention.k_lin.weight", "attention.self.key.weight"},
    {P_QKV_B, 1, "attention.k_lin.bias", "attention.self.key.bias"},
    {P_QKV_W, 2, "attention.v_lin.weight", "attention.self.value.weight"},
    {P_QKV_B, 2, "attention.v_lin.bias", "attention.self.value.bias"},
    {P_OUT_W, 0, "attention.out_lin.weight", "attention.output.dense.weight"},
    {P_OUT_B, 0, "attention.out_lin.bias", "attention.output.dense.bias"},
    {P_LN1_W, 0, "sa_layer_norm.weight", "attention.output.LayerNorm.weight"},
    {P_LN1_B, 0, "sa_layer_norm.bias", "attention.output.LayerNorm.bias"},
    {P_FC1_W, 0, "ffn.lin1.weight", "intermediate.dense.weight"},
    {P_FC1_B, 0, "ffn.lin1.bias", "intermediate.dense.bias"},
    {P_FC2_W, 0, "ffn.lin2.weight", "output.dense.weight"},
    {P_FC2_B, 0, "ffn.lin2.bias", "output.dense.bias"},
    {P_LN2_W, 0, "output_layer_norm.weight", "output.LayerNorm.weight"},
    {P_LN2_B, 0, "output_layer_norm.bias", "output.LayerNorm.bias"},
};

static const tensor_name classifier_names[] = {
    {P_CLS_W, 0, "classifier.weight", "classifier.weight"},
    {P_CLS_B, 0, "classifier.bias", "classifier.bias"},
};

#define N_OF(a) (int32_t)(sizeof(a) / sizeof((a)[0]))

static int is_layernorm_weight(param_category cat) {
    return cat == P_EMB_LN_W || cat == P_LN1_W || cat == P_LN2_W;
}

static nerc_status add_tensor(struct nerc_model *m, int32_t cap, const char *name, param_category cat, int64_t l,
                              int part) {
    if (m->n_tensors >= cap)
        return nerc_errorf(NERC_ERR_INTERNAL, "tensor table overflow at '%s' (%d entries)", name, cap);
    category_shape s = shape_of(&m->cfg, cat);
    int64_t rows = cat == P_QKV_W || cat == P_QKV_B ? s.rows / 3 : s.rows, cols = s.cols ? s.cols : 1;
    param_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = (m->p.cat[cat] - m->params_mem) + layer_offset(&m->cfg, cat, l) + (int64_t)part * rows * cols;
    t->ndim = s.cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = s.cols ? s.cols : 1;
    t->numel = rows * cols;
    t->cat = cat;
    t->no_decay = s.init != INIT_NORMAL;
    t->frozen = cat == P_POS_EMB && m->cfg.sinusoidal_pos;
    return NERC_OK;
}

static nerc_status add_names(struct nerc_model *m, int32_t cap, const tensor_name *names, int32_t n,
                             const char *prefix, int64_t l) {
    int bert = family_of(m->cfg.family)->bert_names;
    for (int32_t i = 0; i < n; i++) {
        const char *suffix = bert ? names[i].bert : names[i].distilbert;
        if (!suffix || category_numel(&m->cfg, names[i].cat) == 0)
            continue;
        char name[112];
        snprintf(name, sizeof name, "%s%s", prefix, suffix);
        NERC_TRY(add_tensor(m, cap, name, names[i].cat, l, names[i].part));
    }
    return NERC_OK;
}

static nerc_status build_tensor_table(struct nerc_model *m) {
    const family_desc *fam = family_of(m->cfg.family);
    int32_t cap = N_OF(embedding_names) + m->cfg.n_layers * N_OF(layer_names) + N_OF(classifier_names);
    m->tensors = calloc((size_t)cap, sizeof *m->tensors);
    if (!m->tensors)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory for the tensor table");
    NERC_TRY(add_names(m, cap, embedding_names, N_OF(embedding_names), fam->base_prefix, 0));
    for (int64_t l = 0; l < m->cfg.n_layers; l++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, fam->layer_fmt, (int)l);
        NERC_TRY(add_names(m, cap, layer_names, N_OF(layer_names), prefix, l));
    }
    return add_names(m, cap, classifier_names, N_OF(classifier_names), "", 0);
}

nerc_status encoder_layout(struct nerc_model *m) {
    m->n_params = 0;
    for (int cat = 0; cat < P_COUNT; cat++)
        m->n_params += category_numel(&m->cfg, (param_category)cat);
    m->params_mem = calloc((size_t)m->n_params, sizeof(float));
    if (!m->params_mem)
        return nerc_errorf(NERC_ERR_NOMEM, "cannot allocate %lld parameters", (long long)m->n_params);
    encoder_views(m, m->params_mem, &m->p);
    return build_tensor_table(m);
}

const param_tensor *encoder_find_tensor(const struct nerc_model *m, const char *name) {
    for (int32_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

/* ---- init ------------------------------------------------------------ */

static void fill_normal(float *x, int64_t n, float stddev, rng_state *r) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(rng_normal(r) * stddev);
}

static void fill_const(float *x, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++)
        x[i] = v;
}

/* HF create_sinusoidal_embeddings: even columns sin, odd columns cos. */
static void fill_sinusoidal(float *w, int64_t P, int64_t C) {
    for (int64_t pos = 0; pos < P; pos++)
        for (int64_t j = 0; j < C; j++) {
            double angle = (double)pos / pow(10000.0, 2.0 * (double)(j / 2) / (double)C);
            w[pos * C + j] = (float)(j % 2 == 0 ? sin(angle) : cos(angle));
        }
}

static void init_tensor(struct nerc_model *m, const param_tensor *t, rng_state *r) {
    float *x = m->params_mem + t->offset;
    if (t->frozen)
        fill_sinusoidal(x, t->shape[0], t->shape[1]);
    else if (is_layernorm_weight(t->cat))
        fill_const(x, t->numel, 1.0f);
    else if (t->no_decay) /* biases */
        fill_const(x, t->numel, 0.0f);
    else
        fill_normal(x, t->numel, m->cfg.initializer_range, r);
}

void encoder_init_weights(struct nerc_model *m, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed);
    for (int32_t i = 0; i < m->n_tensors; i++)
        init_tensor(m, &m->tensors[i], &r);
    int64_t C = m->cfg.dim;
    /* nn.Embedding(padding_idx): the padding row starts at zero */
    fill_const(m->p.cat[P_WORD_EMB] + (int64_t)m->cfg.pad_token_id * C, C, 0.0f);
    if (config_roberta_positions(&m->cfg))
        fill_const(m->p.cat[P_POS_EMB] + (int64_t)m->cfg.pad_token_id * C, C, 0.0f);
}

void encoder_init_classifier(struct nerc_model *m, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed ^ 0x636c617373696669ULL); /* "classifi": independent of the encoder stream */
    fill_normal(m->p.cat[P_CLS_W], (int64_t)m->cfg.n_labels * m->cfg.dim, m->cfg.initializer_range, &r);
    fill_const(m->p.cat[P_CLS_B], m->cfg.n_labels, 0.0f);
}

/* ---- model objects ----------------------------------------------------- */

nerc_status encoder_new(nerc_model **out, encoder_config *cfg, const char *tokenizer_dir) {
    nerc_model *m = calloc(1, sizeof *m);
    if (!m)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    if (tokenizer_dir && !(m->tokenizer_dir = strdup(tokenizer_dir))) {
        nerc_model_free(m);
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    nerc_status st = encoder_layout(m);
    if (st != NERC_OK) {
        nerc_model_free(m);
        return st;
    }
    *out = m;
    return NERC_OK;
}

void nerc_model_free(nerc_model *m) {
    if (!m)
        return;
    config_free(&m->cfg);
    free(m->params_mem);
    free(m->tensors);
    free(m->tokenizer_dir);
    free(m);
}
