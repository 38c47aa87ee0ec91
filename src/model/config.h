/* DistilBERT configuration (HF config.json): parse, validate, write. */
#ifndef NERC_MODEL_CONFIG_H
#define NERC_MODEL_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "nerc/common.h"

typedef enum { ACT_GELU, ACT_RELU } activation_kind;

typedef struct {
    int32_t vocab_size;     /* V */
    int32_t max_positions;  /* P, max_position_embeddings */
    int32_t dim;            /* C */
    int32_t n_layers;       /* L */
    int32_t n_heads;        /* H */
    int32_t hidden_dim;     /* F */
    int32_t pad_token_id;
    int32_t sinusoidal_pos; /* sinusoidal_pos_embds: fixed, not trained */
    activation_kind activation;
    float dropout;          /* embeddings, FFN output, before the classifier */
    float attention_dropout;
    float initializer_range;
    int32_t n_labels;       /* K (0 when config.json has no id2label) */
    char **labels;          /* [K] id2label */
    json_t *raw;            /* the whole config.json, kept for a faithful round trip */
} distilbert_config;

/* Parses `path` (a config.json). Architecture keys are required; the others
 * take DistilBertConfig's defaults. */
nerc_status config_load(distilbert_config *cfg, const char *path);
/* Same from a JSON text (`name` is used in messages). */
nerc_status config_parse(distilbert_config *cfg, const char *text, size_t len, const char *name);
void config_free(distilbert_config *cfg);

/* Replaces the label set (id2label order). */
nerc_status config_set_labels(distilbert_config *cfg, const char *const *labels, int32_t n);

/* Writes config.json for DistilBertForTokenClassification (architectures,
 * id2label, label2id updated; every other key of the original kept). */
nerc_status config_save(const distilbert_config *cfg, const char *path);

#endif
