/* Encoder config.json (DistilBERT, BERT, RoBERTa, XLM-RoBERTa): strict
 * parsing of the architecture keys, HF defaults for the rest,
 * id2label/label2id, and an atomic write back. */
#include "model/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "kernels/ops.h"
#include "model/family.h"

#define CONFIG_MAX_BYTES (16u << 20)

static nerc_status get_int(const encoder_config *cfg, const char *name, const char *key, int required,
                           int32_t def, int32_t lo, int32_t hi, int32_t *out) {
    json_t *v = json_object_get(cfg->raw, key);
    if (!v || json_is_null(v)) {
        if (required)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: missing required key \"%s\"", name, key);
        *out = def;
        return NERC_OK;
    }
    if (json_is_boolean(v) && lo == 0 && hi == 1) {
        *out = json_is_true(v);
        return NERC_OK;
    }
    if (!json_is_integer(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" must be an integer", name, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" = %lld is out of range [%d, %d]", name, key, (long long)x, lo, hi);
    *out = (int32_t)x;
    return NERC_OK;
}

static nerc_status get_prob(const encoder_config *cfg, const char *name, const char *key, float def, float *out) {
    json_t *v = json_object_get(cfg->raw, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return NERC_OK;
    }
    if (!json_is_number(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" must be a number", name, key);
    double x = json_number_value(v);
    if (!(x >= 0.0 && x < 1.0))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" = %g must be in [0, 1)", name, key, x);
    *out = (float)x;
    return NERC_OK;
}

static void free_labels(encoder_config *cfg) {
    for (int32_t i = 0; i < cfg->n_labels; i++)
        free(cfg->labels[i]);
    free(cfg->labels);
    cfg->labels = NULL;
    cfg->n_labels = 0;
}

nerc_status config_set_labels(encoder_config *cfg, const char *const *labels, int32_t n) {
    free_labels(cfg);
    if (n <= 0)
        return NERC_OK;
    cfg->labels = calloc((size_t)n, sizeof *cfg->labels);
    if (!cfg->labels)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    cfg->n_labels = n;
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < i; j++)
            if (!strcmp(labels[i], labels[j]))
                return nerc_errorf(NERC_ERR_ARG, "label '%s' appears twice", labels[i]);
        cfg->labels[i] = strdup(labels[i]);
        if (!cfg->labels[i])
            return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    }
    return NERC_OK;
}

/* id2label is {"0": "O", "1": "B-PER", ...}: ids must be exactly 0..K-1. */
static nerc_status parse_labels(encoder_config *cfg, const char *name) {
    json_t *id2label = json_object_get(cfg->raw, "id2label");
    if (!id2label || json_is_null(id2label))
        return NERC_OK;
    if (!json_is_object(id2label))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"id2label\" must be an object", name);
    size_t n = json_object_size(id2label);
    if (n > 100000)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"id2label\" has %zu entries", name, n);
    const char **tmp = calloc(n ? n : 1, sizeof *tmp);
    if (!tmp)
        return nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    nerc_status st = NERC_OK;
    json_object_foreach(id2label, key, v) {
        char *end;
        long id = strtol(key, &end, 10);
        if (*key == '\0' || *end != '\0' || id < 0 || (size_t)id >= n || tmp[id] || !json_is_string(v)) {
            st = nerc_errorf(NERC_ERR_FORMAT, "%s: \"id2label\" must map each id 0..%zu to a label string (bad entry \"%s\")",
                             name, n - 1, key);
            break;
        }
        tmp[id] = json_string_value(v);
    }
    if (st == NERC_OK)
        st = config_set_labels(cfg, tmp, (int32_t)n);
    if (st != NERC_OK && st != NERC_ERR_FORMAT)
        st = nerc_error_prefix(st, "%s: id2label", name);
    free(tmp);
    return st;
}

static nerc_status get_positive(const encoder_config *cfg, const char *name, const char *key, float def, float *out) {
    json_t *v = json_object_get(cfg->raw, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return NERC_OK;
    }
    double x = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!(x > 0.0 && x < 1.0))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" must be a number in (0, 1)", name, key);
    *out = (float)x;
    return NERC_OK;
}

static nerc_status get_string(const encoder_config *cfg, const char *name, const char *key, const char *def,
                              const char **out) {
    json_t *v = json_object_get(cfg->raw, key);
    if (v && !json_is_null(v) && !json_is_string(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: \"%s\" must be a string", name, key);
    *out = v && json_is_string(v) ? json_string_value(v) : def;
    return NERC_OK;
}

/* "gelu", "gelu_new" / "gelu_pytorch_tanh", "relu" (HF ACT2FN names). */
static nerc_status parse_activation(encoder_config *c, const char *name, const char *key, const char *a) {
    if (!strcmp(a, "gelu"))
        c->activation = ACT_GELU;
    else if (!strcmp(a, "gelu_new") || !strcmp(a, "gelu_pytorch_tanh"))
        c->activation = ACT_GELU_TANH;
    else if (!strcmp(a, "relu"))
        c->activation = ACT_RELU;
    else
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s \"%s\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)",
                           name, key, a);
    return NERC_OK;
}

/* DistilBertConfig keys. */
static nerc_status parse_distilbert(encoder_config *c, const char *name) {
    NERC_TRY(get_int(c, name, "dim", 1, 0, 1, 1 << 16, &c->dim));
    NERC_TRY(get_int(c, name, "n_layers", 1, 0, 1, 1024, &c->n_layers));
    NERC_TRY(get_int(c, name, "n_heads", 1, 0, 1, 1024, &c->n_heads));
    NERC_TRY(get_int(c, name, "hidden_dim", 1, 0, 1, 1 << 18, &c->hidden_dim));
    NERC_TRY(get_int(c, name, "pad_token_id", 0, 0, 0, c->vocab_size - 1, &c->pad_token_id));
    NERC_TRY(get_int(c, name, "sinusoidal_pos_embds", 0, 0, 0, 1, &c->sinusoidal_pos));
    NERC_TRY(get_prob(c, name, "dropout", 0.1f, &c->dropout));
    NERC_TRY(get_prob(c, name, "attention_dropout", 0.1f, &c->attention_dropout));
    c->classifier_dropout = c->dropout; /* DistilBertForTokenClassification: nn.Dropout(config.dropout) */
    c->layer_norm_eps = 1e-12f;
    const char *act;
    NERC_TRY(get_string(c, name, "activation", "gelu", &act));
    return parse_activation(c, name, "activation", act);
}

/* BertConfig / RobertaConfig / XLMRobertaConfig keys. */
static nerc_status parse_bert(encoder_config *c, const char *name) {
    const char *pos_type, *act;
    NERC_TRY(get_int(c, name, "hidden_size", 1, 0, 1, 1 << 16, &c->dim));
    NERC_TRY(get_int(c, name, "num_hidden_layers", 1, 0, 1, 1024, &c->n_layers));
    NERC_TRY(get_int(c, name, "num_attention_heads", 1, 0, 1, 1024, &c->n_heads));
    NERC_TRY(get_int(c, name, "intermediate_size", 1, 0, 1, 1 << 18, &c->hidden_dim));
    NERC_TRY(get_int(c, name, "type_vocab_size", 0, 2, 1, 1 << 16, &c->type_vocab_size));
    int32_t pad_default = c->family == FAMILY_BERT ? 0 : 1;
    NERC_TRY(get_int(c, name, "pad_token_id", 0, pad_default, 0, c->vocab_size - 1, &c->pad_token_id));
    NERC_TRY(get_prob(c, name, "hidden_dropout_prob", 0.1f, &c->dropout));
    NERC_TRY(get_prob(c, name, "attention_probs_dropout_prob", 0.1f, &c->attention_dropout));
    NERC_TRY(get_prob(c, name, "classifier_dropout", c->dropout, &c->classifier_dropout));
    NERC_TRY(get_positive(c, name, "layer_norm_eps", 1e-12f, &c->layer_norm_eps));
    NERC_TRY(get_string(c, name, "position_embedding_type", "absolute", &pos_type));
    if (strcmp(pos_type, "absolute") != 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: position_embedding_type \"%s\" is not supported (absolute)", name,
                           pos_type);
    NERC_TRY(get_string(c, name, "hidden_act", "gelu", &act));
    return parse_activation(c, name, "hidden_act", act);
}

static nerc_status parse_fields(encoder_config *c, const char *name) {
    const char *type;
    NERC_TRY(get_string(c, name, "model_type", "distilbert", &type));
    const family_desc *fam = family_by_model_type(type);
    if (!fam)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model_type \"%s\" is not supported (%s)", name, type,
                           family_supported_list());
    c->family = fam->family;
    NERC_TRY(get_int(c, name, "vocab_size", 1, 0, 1, 10000000, &c->vocab_size));
    NERC_TRY(get_int(c, name, "max_position_embeddings", 1, 0, 1, 1 << 20, &c->max_positions));
    NERC_TRY(c->family == FAMILY_DISTILBERT ? parse_distilbert(c, name) : parse_bert(c, name));
    NERC_TRY(get_prob(c, name, "initializer_range", 0.02f, &c->initializer_range));
    if (c->dim % c->n_heads != 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: hidden size %d is not a multiple of the %d attention heads", name,
                           c->dim, c->n_heads);
    if (c->dim / c->n_heads > HEAD_DIM_MAX)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: attention heads of %d dimensions (hidden size / heads); nerc runs up to %d",
                           name, c->dim / c->n_heads, HEAD_DIM_MAX);
    if (config_max_length(c) < 3)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: max_position_embeddings %d leaves no room for a sequence", name,
                           c->max_positions);
    return parse_labels(c, name);
}

nerc_status config_parse(encoder_config *cfg, const char *text, size_t len, const char *name) {
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    cfg->raw = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!cfg->raw)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", name, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(cfg->raw)) {
        config_free(cfg);
        return nerc_errorf(NERC_ERR_FORMAT, "%s: top level is not a JSON object", name);
    }
    nerc_status st = parse_fields(cfg, name);
    if (st != NERC_OK)
        config_free(cfg);
    return st;
}

nerc_status config_load(encoder_config *cfg, const char *path) {
    memset(cfg, 0, sizeof *cfg);
    char *text;
    size_t len;
    NERC_TRY(fs_read_file(path, CONFIG_MAX_BYTES, &text, &len));
    nerc_status st = config_parse(cfg, text, len, path);
    free(text);
    return st;
}

void config_free(encoder_config *cfg) {
    free_labels(cfg);
    if (cfg->raw)
        json_decref(cfg->raw);
    memset(cfg, 0, sizeof *cfg);
}

nerc_status config_save(const encoder_config *cfg, const char *path) {
    json_t *out = json_deep_copy(cfg->raw);
    json_t *id2label = json_object(), *label2id = json_object();
    if (!out || !id2label || !label2id) {
        json_decref(out);
        json_decref(id2label);
        json_decref(label2id);
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int32_t i = 0; i < cfg->n_labels; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        json_object_set_new(id2label, key, json_string(cfg->labels[i]));
        json_object_set_new(label2id, cfg->labels[i], json_integer(i));
    }
    json_object_set_new(out, "id2label", id2label);
    json_object_set_new(out, "label2id", label2id);
    const family_desc *fam = family_of(cfg->family);
    json_object_set_new(out, "architectures", json_pack("[s]", fam->architecture));
    json_object_set_new(out, "model_type", json_string(fam->model_type));
    char *s = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(out);
    if (!s)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: cannot serialise config", path);
    size_t n = strlen(s);
    s[n] = '\n'; /* json_dumps leaves room only for the NUL: rewrite it */
    nerc_status st = fs_write_file_atomic(path, s, n + 1);
    free(s);
    return st;
}

void config_set_dropout(encoder_config *cfg, float hidden, float attention) {
    cfg->dropout = hidden;
    cfg->classifier_dropout = hidden;
    cfg->attention_dropout = attention;
}

int config_roberta_positions(const encoder_config *cfg) {
    return cfg->family == FAMILY_ROBERTA || cfg->family == FAMILY_XLM_ROBERTA;
}

int32_t config_max_length(const encoder_config *cfg) {
    return config_roberta_positions(cfg) ? cfg->max_positions - cfg->pad_token_id - 1 : cfg->max_positions;
}
