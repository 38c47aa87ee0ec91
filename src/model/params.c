/* DistilBERT parameters: the buffer layout and HF tensor table, random init,
 * strict loading of HF checkpoints and atomic saving of HF directories. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "model/distilbert.h"

/* ---- layout ---------------------------------------------------------- */

typedef struct {
    int64_t V, P, C, L, F, K;
} dims;

static dims model_dims(const distilbert_config *c) {
    return (dims){c->vocab_size, c->max_positions, c->dim, c->n_layers, c->hidden_dim, c->n_labels};
}

/* Category sizes in buffer order; distilbert_views walks the same list. */
static void category_sizes(const dims *d, int64_t sz[18]) {
    int64_t C = d->C, L = d->L, F = d->F;
    int64_t s[18] = {d->V * C, d->P * C, C,         C,     L * 3 * C * C, L * 3 * C, L * C * C, L * C, L * C,
                     L * C,    L * F * C, L * F,    L * C * F, L * C, L * C,     L * C,     d->K * C, d->K};
    memcpy(sz, s, sizeof s);
}

void distilbert_views(const struct nerc_model *m, float *base, distilbert_params *p) {
    dims d = model_dims(&m->cfg);
    int64_t sz[18];
    category_sizes(&d, sz);
    float **ptrs[18] = {&p->word_emb, &p->pos_emb, &p->emb_ln_w, &p->emb_ln_b, &p->qkv_w, &p->qkv_b,
                        &p->out_w,    &p->out_b,   &p->ln1_w,    &p->ln1_b,    &p->fc1_w, &p->fc1_b,
                        &p->fc2_w,    &p->fc2_b,   &p->ln2_w,    &p->ln2_b,    &p->cls_w, &p->cls_b};
    for (int i = 0; i < 18; i++) {
        *ptrs[i] = base;
        base += sz[i];
    }
}

static void add_tensor(struct nerc_model *m, const char *name, const float *at, int32_t ndim, int64_t d0, int64_t d1,
                       int32_t no_decay) {
    param_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = at - m->params_mem;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim > 1 ? d1 : 1;
    t->numel = d0 * t->shape[1];
    t->no_decay = no_decay;
    t->frozen = 0;
}

static void add_layer_tensors(struct nerc_model *m, int64_t l, const dims *d) {
    const distilbert_params *p = &m->p;
    int64_t C = d->C, F = d->F;
    char n[112];
    static const char *qkv[3] = {"q_lin", "k_lin", "v_lin"};
    for (int i = 0; i < 3; i++) {
        snprintf(n, sizeof n, "distilbert.transformer.layer.%lld.attention.%s.weight", (long long)l, qkv[i]);
        add_tensor(m, n, p->qkv_w + l * 3 * C * C + i * C * C, 2, C, C, 0);
        snprintf(n, sizeof n, "distilbert.transformer.layer.%lld.attention.%s.bias", (long long)l, qkv[i]);
        add_tensor(m, n, p->qkv_b + l * 3 * C + i * C, 1, C, 0, 1);
    }
#define LAYER_T(suffix, ptr, nd, a, b, nodecay)                                                   \
    snprintf(n, sizeof n, "distilbert.transformer.layer.%lld.%s", (long long)l, suffix);         \
    add_tensor(m, n, ptr, nd, a, b, nodecay)
    LAYER_T("attention.out_lin.weight", p->out_w + l * C * C, 2, C, C, 0);
    LAYER_T("attention.out_lin.bias", p->out_b + l * C, 1, C, 0, 1);
    LAYER_T("sa_layer_norm.weight", p->ln1_w + l * C, 1, C, 0, 1);
    LAYER_T("sa_layer_norm.bias", p->ln1_b + l * C, 1, C, 0, 1);
    LAYER_T("ffn.lin1.weight", p->fc1_w + l * F * C, 2, F, C, 0);
    LAYER_T("ffn.lin1.bias", p->fc1_b + l * F, 1, F, 0, 1);
    LAYER_T("ffn.lin2.weight", p->fc2_w + l * C * F, 2, C, F, 0);
    LAYER_T("ffn.lin2.bias", p->fc2_b + l * C, 1, C, 0, 1);
    LAYER_T("output_layer_norm.weight", p->ln2_w + l * C, 1, C, 0, 1);
    LAYER_T("output_layer_norm.bias", p->ln2_b + l * C, 1, C, 0, 1);
#undef LAYER_T
}

nerc_status distilbert_layout(struct nerc_model *m) {
    dims d = model_dims(&m->cfg);
    int64_t sz[18];
    category_sizes(&d, sz);
    m->n_params = 0;
    for (int i = 0; i < 18; i++)
        m->n_params += sz[i];
    m->params_mem = calloc((size_t)m->n_params, sizeof(float));
    m->tensors = calloc((size_t)(6 + 16 * d.L), sizeof *m->tensors);
    if (!m->params_mem || !m->tensors)
        return nerc_errorf(NERC_ERR_NOMEM, "cannot allocate %lld parameters", (long long)m->n_params);
    distilbert_views(m, m->params_mem, &m->p);
    const distilbert_params *p = &m->p;
    add_tensor(m, "distilbert.embeddings.word_embeddings.weight", p->word_emb, 2, d.V, d.C, 0);
    add_tensor(m, "distilbert.embeddings.position_embeddings.weight", p->pos_emb, 2, d.P, d.C, 0);
    m->tensors[m->n_tensors - 1].frozen = m->cfg.sinusoidal_pos;
    add_tensor(m, "distilbert.embeddings.LayerNorm.weight", p->emb_ln_w, 1, d.C, 0, 1);
    add_tensor(m, "distilbert.embeddings.LayerNorm.bias", p->emb_ln_b, 1, d.C, 0, 1);
    for (int64_t l = 0; l < d.L; l++)
        add_layer_tensors(m, l, &d);
    add_tensor(m, "classifier.weight", p->cls_w, 2, d.K, d.C, 0);
    add_tensor(m, "classifier.bias", p->cls_b, 1, d.K, 0, 1);
    return NERC_OK;
}

const param_tensor *distilbert_find_tensor(const struct nerc_model *m, const char *name) {
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

static int is_layernorm_weight(const char *name) {
    return strstr(name, "LayerNorm.weight") || strstr(name, "layer_norm.weight");
}

static void init_tensor(struct nerc_model *m, const param_tensor *t, rng_state *r) {
    float *x = m->params_mem + t->offset;
    if (is_layernorm_weight(t->name))
        fill_const(x, t->numel, 1.0f);
    else if (t->no_decay) /* biases */
        fill_const(x, t->numel, 0.0f);
    else if (t->frozen)
        fill_sinusoidal(x, t->shape[0], t->shape[1]);
    else
        fill_normal(x, t->numel, m->cfg.initializer_range, r);
}

void distilbert_init_weights(struct nerc_model *m, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed);
    for (int32_t i = 0; i < m->n_tensors; i++)
        init_tensor(m, &m->tensors[i], &r);
    int64_t C = m->cfg.dim;
    fill_const(m->p.word_emb + (int64_t)m->cfg.pad_token_id * C, C, 0.0f);
}

void distilbert_init_classifier(struct nerc_model *m, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed ^ 0x636c617373696669ULL); /* "classifi": independent of the encoder stream */
    fill_normal(m->p.cls_w, (int64_t)m->cfg.n_labels * m->cfg.dim, m->cfg.initializer_range, &r);
    fill_const(m->p.cls_b, m->cfg.n_labels, 0.0f);
}

/* ---- model objects ----------------------------------------------------- */

static nerc_status model_new(nerc_model **out, distilbert_config *cfg, const char *tokenizer_dir) {
    nerc_model *m = calloc(1, sizeof *m);
    if (!m)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    m->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    if (tokenizer_dir && !(m->tokenizer_dir = strdup(tokenizer_dir))) {
        nerc_model_free(m);
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    nerc_status st = distilbert_layout(m);
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

static int labels_equal(const distilbert_config *c, const char *const *labels, int32_t n) {
    if (c->n_labels != n)
        return 0;
    for (int32_t i = 0; i < n; i++)
        if (strcmp(c->labels[i], labels[i]))
            return 0;
    return 1;
}

static nerc_status default_labels(distilbert_config *cfg, int32_t n) {
    char **names = calloc((size_t)n, sizeof *names);
    nerc_status st = names ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n && st == NERC_OK; i++) {
        names[i] = malloc(24);
        if (!names[i])
            st = nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        else
            snprintf(names[i], 24, "LABEL_%d", i);
    }
    if (st == NERC_OK)
        st = config_set_labels(cfg, (const char *const *)names, n);
    for (int32_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

/* The directory part of a path ("." when none). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

nerc_status nerc_model_init(nerc_model **out, const char *config_path, const char *const *labels, int32_t n_labels,
                            uint64_t seed) {
    *out = NULL;
    distilbert_config cfg;
    NERC_TRY(config_load(&cfg, config_path));
    nerc_status st = NERC_OK;
    if (labels && n_labels > 0)
        st = config_set_labels(&cfg, labels, n_labels);
    else if (cfg.n_labels == 0)
        st = nerc_errorf(NERC_ERR_ARG, "%s: no id2label and no labels given", config_path);
    char *dir = dir_of(config_path);
    if (st == NERC_OK && !dir)
        st = nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK)
        st = model_new(out, &cfg, dir);
    free(dir);
    config_free(&cfg);
    if (st != NERC_OK)
        return st;
    distilbert_init_weights(*out, seed);
    return NERC_OK;
}

/* ---- loading ------------------------------------------------------------ */

typedef enum { CKPT_TOKEN_CLASSIFICATION, CKPT_BASE, CKPT_MASKED_LM } ckpt_kind;

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int is_mlm_head(const char *name) {
    return has_prefix(name, "vocab_transform.") || has_prefix(name, "vocab_layer_norm.") ||
           has_prefix(name, "vocab_projector.");
}

/* Buffers that some checkpoints carry and HF ignores. */
static int is_known_buffer(const char *name) {
    return strstr(name, "embeddings.position_ids") != NULL;
}

static ckpt_kind detect_kind(const st_file *f, const char **prefix) {
    int has_prefixed = 0, has_cls = 0, has_mlm = 0;
    for (int32_t i = 0; i < f->n; i++) {
        has_prefixed |= has_prefix(f->tensors[i].name, "distilbert.");
        has_cls |= has_prefix(f->tensors[i].name, "classifier.");
        has_mlm |= is_mlm_head(f->tensors[i].name);
    }
    *prefix = has_prefixed ? "" : "distilbert."; /* base checkpoints drop "distilbert." */
    if (has_cls)
        return CKPT_TOKEN_CLASSIFICATION;
    return has_mlm ? CKPT_MASKED_LM : CKPT_BASE;
}

/* The checkpoint name of model tensor `t` ("" prefix: same name). */
static const char *ckpt_name(const param_tensor *t, const char *strip, char *buf, size_t n) {
    if (*strip && has_prefix(t->name, strip))
        return t->name + strlen(strip);
    snprintf(buf, n, "%s", t->name);
    return buf;
}

static nerc_status load_tensor(nerc_model *m, const st_file *f, const param_tensor *t, const char *name) {
    const st_tensor *s = st_find(f, name);
    if (!s)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: missing tensor '%s'", f->path, name);
    int shape_ok = s->ndim == t->ndim && s->shape[0] == t->shape[0] && (t->ndim == 1 || s->shape[1] == t->shape[1]);
    if (!shape_ok) {
        char got[96] = "", *g = got;
        for (int32_t d = 0; d < s->ndim && g < got + 80; d++)
            g += snprintf(g, 16, d ? ", %lld" : "%lld", (long long)s->shape[d]);
        if (t->ndim == 2)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld, %lld]", f->path, name,
                               got, (long long)t->shape[0], (long long)t->shape[1]);
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld]", f->path, name, got,
                           (long long)t->shape[0]);
    }
    nerc_status st = st_read_f32(f, s, m->params_mem + t->offset);
    return st;
}

/* Every tensor of the file must be used, skipped knowingly, or it is an error. */
static nerc_status check_unknown_tensors(const nerc_model *m, const st_file *f, const char *strip, int *n_skipped) {
    *n_skipped = 0;
    for (int32_t i = 0; i < f->n; i++) {
        const char *name = f->tensors[i].name;
        if (is_mlm_head(name) || is_known_buffer(name)) {
            (*n_skipped)++;
            continue;
        }
        char full[160];
        snprintf(full, sizeof full, "%s%s", has_prefix(name, "classifier.") ? "" : strip, name);
        if (!distilbert_find_tensor(m, full))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: unknown tensor '%s' (not part of DistilBertForTokenClassification)",
                               f->path, name);
    }
    return NERC_OK;
}

/* Decides the label set from config.json, the caller and the classifier rows. */
static nerc_status resolve_labels(distilbert_config *cfg, const st_file *f, ckpt_kind kind, const char *const *labels,
                                  int32_t n_labels, const char *dir) {
    if (kind == CKPT_TOKEN_CLASSIFICATION) {
        const st_tensor *w = st_find(f, "classifier.weight");
        if (!w || w->ndim != 2)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: classifier.weight missing or not 2-D", f->path);
        int32_t k = (int32_t)w->shape[0];
        if (cfg->n_labels == 0)
            NERC_TRY(default_labels(cfg, k));
        if (cfg->n_labels != k)
            return nerc_errorf(NERC_ERR_FORMAT, "%s/config.json: %d labels in id2label but classifier.weight has %d rows",
                               dir, cfg->n_labels, k);
        if (labels && n_labels > 0 && !labels_equal(cfg, labels, n_labels))
            return nerc_errorf(NERC_ERR_ARG,
                               "%s: the requested %d labels do not match the fine-tuned classifier's %d labels (%s, ...)",
                               dir, n_labels, k, cfg->labels[0]);
        return NERC_OK;
    }
    if (labels && n_labels > 0)
        return config_set_labels(cfg, labels, n_labels);
    if (cfg->n_labels == 0)
        return nerc_errorf(NERC_ERR_ARG, "%s: checkpoint has no classifier and no labels were given", dir);
    return NERC_OK;
}

static nerc_status load_weights(nerc_model *m, const st_file *f, ckpt_kind kind, const char *strip, uint64_t seed) {
    char buf[160];
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        int is_cls = has_prefix(t->name, "classifier.");
        if (is_cls && kind != CKPT_TOKEN_CLASSIFICATION)
            continue;
        NERC_TRY(load_tensor(m, f, t, is_cls ? t->name : ckpt_name(t, strip, buf, sizeof buf)));
    }
    if (kind != CKPT_TOKEN_CLASSIFICATION)
        distilbert_init_classifier(m, seed);
    return NERC_OK;
}

static void report_load(const nerc_model *m, const st_file *f, ckpt_kind kind, int n_skipped) {
    if (kind == CKPT_TOKEN_CLASSIFICATION)
        return;
    nerc_logf("%s: %s checkpoint: encoder loaded, %d tensor(s) skipped%s; new classifier initialised for %d labels",
              f->path, kind == CKPT_MASKED_LM ? "masked-LM" : "base DistilBertModel", n_skipped,
              kind == CKPT_MASKED_LM ? " (vocab_transform, vocab_layer_norm, vocab_projector)" : "",
              m->cfg.n_labels);
}

nerc_status nerc_model_load(nerc_model **out, const char *dir, const char *const *labels, int32_t n_labels,
                            uint64_t seed) {
    *out = NULL;
    char *cfg_path = fs_join(dir, "config.json"), *st_path = fs_join(dir, "model.safetensors");
    distilbert_config cfg = {0};
    st_file f = {0};
    nerc_model *m = NULL;
    nerc_status st = cfg_path && st_path ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK)
        st = config_load(&cfg, cfg_path);
    if (st == NERC_OK && !fs_exists(st_path))
        st = nerc_errorf(NERC_ERR_IO, "%s: not found (nerc reads model.safetensors; see README: getting the weights)",
                         st_path);
    if (st == NERC_OK)
        st = st_open(&f, st_path);
    const char *strip = "";
    ckpt_kind kind = CKPT_BASE;
    int n_skipped = 0;
    if (st == NERC_OK) {
        kind = detect_kind(&f, &strip);
        st = resolve_labels(&cfg, &f, kind, labels, n_labels, dir);
    }
    if (st == NERC_OK)
        st = model_new(&m, &cfg, dir);
    if (st == NERC_OK)
        st = check_unknown_tensors(m, &f, strip, &n_skipped);
    if (st == NERC_OK)
        st = load_weights(m, &f, kind, strip, seed);
    if (st == NERC_OK)
        report_load(m, &f, kind, n_skipped);
    st_close(&f);
    config_free(&cfg);
    free(cfg_path);
    free(st_path);
    if (st != NERC_OK) {
        nerc_model_free(m);
        return st;
    }
    *out = m;
    return NERC_OK;
}

/* ---- saving ------------------------------------------------------------- */

static const char *tokenizer_files[] = {"vocab.txt", "tokenizer_config.json", "tokenizer.json",
                                        "special_tokens_map.json"};

static nerc_status copy_tokenizer_files(const nerc_model *m, const char *dir) {
    if (!m->tokenizer_dir)
        return NERC_OK;
    for (size_t i = 0; i < sizeof tokenizer_files / sizeof tokenizer_files[0]; i++) {
        char *src = fs_join(m->tokenizer_dir, tokenizer_files[i]), *dst = fs_join(dir, tokenizer_files[i]);
        nerc_status st = src && dst ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
        if (st == NERC_OK && fs_exists(src) && strcmp(src, dst) != 0)
            st = fs_copy_file(src, dst);
        free(src);
        free(dst);
        NERC_TRY(st);
    }
    return NERC_OK;
}

static nerc_status save_weights(const nerc_model *m, const char *path) {
    st_entry *e = calloc((size_t)m->n_tensors, sizeof *e);
    if (!e)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        e[i] = (st_entry){.name = t->name, .dtype = ST_F32, .ndim = t->ndim, .data = m->params_mem + t->offset};
        e[i].shape[0] = t->shape[0];
        e[i].shape[1] = t->shape[1];
    }
    json_t *meta = json_pack("{s:s}", "format", "pt");
    nerc_status st = st_write(path, e, m->n_tensors, meta);
    json_decref(meta);
    free(e);
    return st;
}

nerc_status nerc_model_save(const nerc_model *m, const char *dir) {
    NERC_TRY(fs_mkdirs(dir));
    char *st_path = fs_join(dir, "model.safetensors"), *cfg_path = fs_join(dir, "config.json");
    nerc_status st = st_path && cfg_path ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK)
        st = save_weights(m, st_path);
    if (st == NERC_OK)
        st = config_save(&m->cfg, cfg_path);
    if (st == NERC_OK)
        st = copy_tokenizer_files(m, dir);
    free(st_path);
    free(cfg_path);
    return st;
}

/* ---- accessors ---------------------------------------------------------- */

int64_t nerc_model_num_params(const nerc_model *m) { return m->n_params; }
int32_t nerc_model_num_labels(const nerc_model *m) { return m->cfg.n_labels; }
const char *nerc_model_label(const nerc_model *m, int32_t id) {
    return id >= 0 && id < m->cfg.n_labels ? m->cfg.labels[id] : NULL;
}
const char *const *nerc_model_labels(const nerc_model *m) { return (const char *const *)m->cfg.labels; }
int32_t nerc_model_max_positions(const nerc_model *m) { return m->cfg.max_positions; }
const char *nerc_model_tokenizer_dir(const nerc_model *m) { return m->tokenizer_dir; }
void nerc_model_set_dropout(nerc_model *m, float hidden, float attention) {
    m->cfg.dropout = hidden;
    m->cfg.attention_dropout = attention;
}
