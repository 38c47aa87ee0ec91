/* Hugging Face model directories in and out: random init from a config.json,
 * strict loading of token-classification, base and masked-LM checkpoints of
 * every family, and atomic saving in the same layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "model/encoder.h"
#include "model/family.h"
#include "nerc/hub.h"
#include "nerc/text.h"

/* ---- labels ------------------------------------------------------------- */

static int labels_equal(const encoder_config *c, const char *const *labels, int32_t n) {
    if (c->n_labels != n)
        return 0;
    for (int32_t i = 0; i < n; i++)
        if (strcmp(c->labels[i], labels[i]))
            return 0;
    return 1;
}

static nerc_status default_labels(encoder_config *cfg, int32_t n) {
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
    encoder_config cfg;
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
        st = encoder_new(out, &cfg, dir);
    free(dir);
    config_free(&cfg);
    if (st != NERC_OK)
        return st;
    encoder_init_weights(*out, seed);
    return NERC_OK;
}

/* ---- checkpoint names ------------------------------------------------------ */

typedef enum { CKPT_TOKEN_CLASSIFICATION, CKPT_BASE, CKPT_MASKED_LM } ckpt_kind;

/* How a checkpoint names the model's tensors: base models (BertModel,
 * DistilBertModel, ...) drop the family prefix ("embeddings.x" for
 * "bert.embeddings.x"), old conversions call LayerNorm parameters gamma/beta
 * (HF's from_pretrained renames them). */
typedef struct {
    const st_file *f;
    const char *prefix;  /* the family prefix ("bert.") */
    int unprefixed;      /* 1: the checkpoint drops it */
    ckpt_kind kind;
} ckpt_names;

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The model's name for checkpoint tensor `name`. */
static void canonical_name(const ckpt_names *c, const char *name, char *out, size_t cap) {
    const char *pre = c->unprefixed && !has_prefix(name, "classifier.") ? c->prefix : "";
    size_t n = strlen(name);
    if (ends_with(name, ".gamma"))
        snprintf(out, cap, "%s%.*s.weight", pre, (int)(n - 6), name);
    else if (ends_with(name, ".beta"))
        snprintf(out, cap, "%s%.*s.bias", pre, (int)(n - 5), name);
    else
        snprintf(out, cap, "%s%s", pre, name);
}

/* The checkpoint tensor holding model tensor `name`, or NULL. */
static const st_tensor *find_in_checkpoint(const ckpt_names *c, const char *name) {
    char canon[160];
    for (int32_t i = 0; i < c->f->n; i++) {
        canonical_name(c, c->f->tensors[i].name, canon, sizeof canon);
        if (!strcmp(canon, name))
            return &c->f->tensors[i];
    }
    return NULL;
}

static ckpt_names detect_names(const st_file *f, const family_desc *fam) {
    int has_prefixed = 0, has_cls = 0, has_lm = 0;
    for (int32_t i = 0; i < f->n; i++) {
        has_prefixed |= has_prefix(f->tensors[i].name, fam->base_prefix);
        has_cls |= has_prefix(f->tensors[i].name, "classifier.");
        has_lm |= family_is_lm_head(f->tensors[i].name);
    }
    ckpt_kind kind = has_cls ? CKPT_TOKEN_CLASSIFICATION : has_lm ? CKPT_MASKED_LM : CKPT_BASE;
    return (ckpt_names){f, fam->base_prefix, !has_prefixed, kind};
}

/* ---- loading ------------------------------------------------------------ */

static nerc_status shape_error(const st_file *f, const st_tensor *s, const param_tensor *t) {
    char got[96] = "", *g = got;
    for (int32_t d = 0; d < s->ndim && g < got + 80; d++)
        g += snprintf(g, 16, d ? ", %lld" : "%lld", (long long)s->shape[d]);
    if (t->ndim == 2)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld, %lld]", f->path, s->name,
                           got, (long long)t->shape[0], (long long)t->shape[1]);
    return nerc_errorf(NERC_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld]", f->path, s->name, got,
                       (long long)t->shape[0]);
}

static nerc_status load_tensor(nerc_model *m, const ckpt_names *c, const param_tensor *t) {
    const st_tensor *s = find_in_checkpoint(c, t->name);
    if (!s) {
        const char *shown = c->unprefixed && has_prefix(t->name, c->prefix) ? t->name + strlen(c->prefix) : t->name;
        return nerc_errorf(NERC_ERR_FORMAT, "%s: missing tensor '%s'", c->f->path, shown);
    }
    int shape_ok = s->ndim == t->ndim && s->shape[0] == t->shape[0] && (t->ndim == 1 || s->shape[1] == t->shape[1]);
    if (!shape_ok)
        return shape_error(c->f, s, t);
    return st_read_f32_checked(c->f, s, m->params_mem + t->offset, 0);
}

/* Every tensor of the file must be used, skipped knowingly, or it is an error. */
static nerc_status check_unknown_tensors(const nerc_model *m, const ckpt_names *c, int *n_skipped) {
    *n_skipped = 0;
    char canon[160];
    for (int32_t i = 0; i < c->f->n; i++) {
        const char *name = c->f->tensors[i].name;
        if (family_is_unused_tensor(name)) {
            (*n_skipped)++;
            continue;
        }
        canonical_name(c, name, canon, sizeof canon);
        if (!encoder_find_tensor(m, canon))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: unknown tensor '%s' (not part of %s)", c->f->path, name,
                               family_of(m->cfg.family)->architecture);
    }
    return NERC_OK;
}

/* Decides the label set from config.json, the caller and the classifier rows. */
static nerc_status resolve_labels(encoder_config *cfg, const st_file *f, ckpt_kind kind, const char *const *labels,
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

static nerc_status load_weights(nerc_model *m, const ckpt_names *c, uint64_t seed) {
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        if (t->cat >= P_CLS_W && c->kind != CKPT_TOKEN_CLASSIFICATION)
            continue;
        NERC_TRY(load_tensor(m, c, t));
    }
    if (c->kind != CKPT_TOKEN_CLASSIFICATION)
        encoder_init_classifier(m, seed);
    return NERC_OK;
}

static void report_load(const nerc_model *m, const ckpt_names *c, int n_skipped) {
    const family_desc *fam = family_of(m->cfg.family);
    if (c->kind == CKPT_TOKEN_CLASSIFICATION) {
        if (n_skipped)
            nerc_logf("%s: %d unused tensor(s) skipped (pooler / position_ids)", c->f->path, n_skipped);
        return;
    }
    nerc_logf("%s: %s %s checkpoint: encoder loaded, %d unused tensor(s) skipped (heads, pooler, buffers); new "
              "classifier initialised for %d labels",
              c->f->path, fam->model_type, c->kind == CKPT_MASKED_LM ? "masked-LM / pre-training" : "base", n_skipped,
              m->cfg.n_labels);
}

/* model.safetensors must exist; a directory with PyTorch pickles only gets the conversion recipe. */
static nerc_status check_weights_file(const char *dir, const char *st_path) {
    if (fs_exists(st_path))
        return NERC_OK;
    char *bin = fs_join(dir, "pytorch_model.bin");
    int has_bin = bin && fs_exists(bin);
    free(bin);
    if (has_bin)
        return nerc_errorf(NERC_ERR_IO,
                           "%s: not found; %s has only pytorch_model.bin, which nerc does not read (pickle). Convert it "
                           "once with: python3 -c \"import transformers as t; "
                           "t.AutoModelForTokenClassification.from_pretrained('%s').save_pretrained('%s', "
                           "safe_serialization=True)\"",
                           st_path, dir, dir, dir);
    return nerc_errorf(NERC_ERR_IO, "%s: not found (nerc reads model.safetensors; see README: getting the weights)",
                       st_path);
}

nerc_status nerc_model_load(nerc_model **out, const char *name, const char *const *labels, int32_t n_labels,
                            uint64_t seed) {
    *out = NULL;
    char dir[4096]; /* a path, or a hub id found in the Hugging Face cache */
    NERC_TRY(nerc_hub_resolve(name, dir, sizeof dir));
    char *cfg_path = fs_join(dir, "config.json"), *st_path = fs_join(dir, "model.safetensors");
    encoder_config cfg = {0};
    st_file f = {0};
    nerc_model *m = NULL;
    nerc_status st = cfg_path && st_path ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (st == NERC_OK)
        st = config_load(&cfg, cfg_path);
    if (st == NERC_OK)
        st = check_weights_file(dir, st_path);
    if (st == NERC_OK)
        st = st_open(&f, st_path);
    ckpt_names names = {0};
    int n_skipped = 0;
    if (st == NERC_OK) {
        names = detect_names(&f, family_of(cfg.family));
        st = resolve_labels(&cfg, &f, names.kind, labels, n_labels, dir);
    }
    if (st == NERC_OK)
        st = encoder_new(&m, &cfg, dir);
    if (st == NERC_OK)
        st = check_unknown_tensors(m, &names, &n_skipped);
    if (st == NERC_OK)
        st = load_weights(m, &names, seed);
    if (st == NERC_OK)
        report_load(m, &names, n_skipped);
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

static nerc_status copy_tokenizer_files(const nerc_model *m, const char *dir) {
    if (!m->tokenizer_dir)
        return NERC_OK;
    for (int i = 0; nerc_tokenizer_file_names[i]; i++) {
        const char *name = nerc_tokenizer_file_names[i];
        char *src = fs_join(m->tokenizer_dir, name), *dst = fs_join(dir, name);
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
int32_t nerc_model_max_length(const nerc_model *m) { return config_max_length(&m->cfg); }
const char *nerc_model_type(const nerc_model *m) { return family_of(m->cfg.family)->model_type; }
const char *nerc_model_tokenizer_dir(const nerc_model *m) { return m->tokenizer_dir; }

nerc_status nerc_model_check_tokenizer(const nerc_model *m, const nerc_tokenizer *tok) {
    int32_t n = nerc_tokenizer_vocab_size(tok);
    if (n > m->cfg.vocab_size)
        return nerc_errorf(NERC_ERR_FORMAT,
                           "%s: the tokenizer has %d ids (vocabulary + added tokens) but config.json vocab_size is %d",
                           m->tokenizer_dir ? m->tokenizer_dir : "model", n, m->cfg.vocab_size);
    return NERC_OK;
}
void nerc_model_set_dropout(nerc_model *m, float hidden, float attention) {
    config_set_dropout(&m->cfg, hidden, attention);
}
