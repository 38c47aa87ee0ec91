/* Encoder configuration (HF config.json) for the supported families:
 * DistilBERT, BERT, RoBERTa and XLM-RoBERTa. Parse, validate, write. */
#ifndef NERC_MODEL_CONFIG_H
#define NERC_MODEL_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "nerc/common.h"

typedef enum { FAMILY_DISTILBERT, FAMILY_BERT, FAMILY_ROBERTA, FAMILY_XLM_ROBERTA } model_family;

typedef enum {
    ACT_GELU,      /* exact erf GELU ("gelu") */
    ACT_GELU_TANH, /* tanh approximation ("gelu_new", "gelu_pytorch_tanh") */
    ACT_RELU
} activation_kind;

typedef struct {
    model_family family;
    int32_t vocab_size;      /* V */
    int32_t max_positions;   /* P, max_position_embeddings */
    int32_t type_vocab_size; /* T, token-type rows; 0 = none (DistilBERT) */
    int32_t dim;             /* C, hidden size */
    int32_t n_layers;        /* L */
    int32_t n_heads;         /* H */
    int32_t hidden_dim;      /* F, intermediate (FFN) size */
    int32_t pad_token_id;
    int32_t sinusoidal_pos;  /* DistilBERT sinusoidal_pos_embds: fixed, not trained */
    activation_kind activation;
    float layer_norm_eps;
    float dropout;            /* embeddings, attention output, FFN output */
    float attention_dropout;  /* attention probabilities */
    float classifier_dropout; /* before the classifier */
    float initializer_range;
    int32_t n_labels;        /* K (0 when config.json has no id2label) */
    char **labels;           /* [K] id2label */
    json_t *raw;             /* the whole config.json, kept for a faithful round trip */
} encoder_config;

/* Parses `path` (a config.json) by its model_type ("distilbert", "bert",
 * "roberta", "xlm-roberta"; absent = "distilbert"). Architecture keys are
 * required; the others take the family's HF defaults. */
nerc_status config_load(encoder_config *cfg, const char *path);
/* Same from a JSON text (`name` is used in messages). */
nerc_status config_parse(encoder_config *cfg, const char *text, size_t len, const char *name);
void config_free(encoder_config *cfg);

/* Replaces the label set (id2label order). */
nerc_status config_set_labels(encoder_config *cfg, const char *const *labels, int32_t n);
/* Overrides the dropout probabilities (hidden also sets the classifier's). */
void config_set_dropout(encoder_config *cfg, float hidden, float attention);

/* Writes config.json for <Family>ForTokenClassification (architectures,
 * id2label, label2id updated; every other key of the original kept). */
nerc_status config_save(const encoder_config *cfg, const char *path);

/* RoBERTa-style models number real tokens from pad_token_id + 1 (HF
 * create_position_ids_from_input_ids) and keep row pad_token_id for padding. */
int config_roberta_positions(const encoder_config *cfg);
/* Longest sequence the position table allows: P, minus pad_token_id + 1 for RoBERTa. */
int32_t config_max_length(const encoder_config *cfg);

#endif
