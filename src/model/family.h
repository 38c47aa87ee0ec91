/* What differs between the encoder families: model_type, architecture and
 * tensor names of the Hugging Face checkpoints, and the tensors a checkpoint
 * may carry that token classification does not use. */
#ifndef NERC_MODEL_FAMILY_H
#define NERC_MODEL_FAMILY_H

#include "model/config.h"

typedef struct {
    model_family family;
    const char *model_type;    /* config.json model_type */
    const char *architecture;  /* <Family>ForTokenClassification */
    const char *base_prefix;   /* "distilbert.", "bert.", "roberta." */
    const char *layer_fmt;     /* HF name of layer %d's tensors, before the suffix */
    int bert_names;            /* 1: BERT's tensor names, 0: DistilBERT's */
} family_desc;

const family_desc *family_of(model_family f);
/* NULL when the model_type is not supported. */
const family_desc *family_by_model_type(const char *model_type);
/* "distilbert, bert, roberta, xlm-roberta" */
const char *family_supported_list(void);

/* Tensors that HF checkpoints of these families carry and that
 * <Family>ForTokenClassification does not use: masked-LM and pre-training
 * heads, the pooler, the position_ids buffer. */
int family_is_unused_tensor(const char *name);
/* A masked-LM or pre-training head (the checkpoint is not a token classifier). */
int family_is_lm_head(const char *name);

#endif
