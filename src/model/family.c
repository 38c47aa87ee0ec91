/* The encoder families nerc runs and how their checkpoints name things. */
#include "model/family.h"

#include <string.h>

static const family_desc families[] = {
    {FAMILY_DISTILBERT, "distilbert", "DistilBertForTokenClassification", "distilbert.",
     "distilbert.transformer.layer.%d.", 0},
    {FAMILY_BERT, "bert", "BertForTokenClassification", "bert.", "bert.encoder.layer.%d.", 1},
    {FAMILY_ROBERTA, "roberta", "RobertaForTokenClassification", "roberta.", "roberta.encoder.layer.%d.", 1},
    {FAMILY_XLM_ROBERTA, "xlm-roberta", "XLMRobertaForTokenClassification", "roberta.", "roberta.encoder.layer.%d.",
     1},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

const family_desc *family_of(model_family f) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (families[i].family == f)
            return &families[i];
    return &families[0];
}

const family_desc *family_by_model_type(const char *model_type) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (!strcmp(families[i].model_type, model_type))
            return &families[i];
    return NULL;
}

const char *family_supported_list(void) { return "distilbert, bert, roberta, xlm-roberta"; }

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

int family_is_lm_head(const char *name) {
    static const char *const heads[] = {
        "vocab_transform.", "vocab_layer_norm.", "vocab_projector.", /* DistilBertForMaskedLM */
        "lm_head.",                                                  /* RobertaForMaskedLM */
        "cls.predictions.", "cls.seq_relationship.",                 /* BertForPreTraining / MaskedLM */
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (has_prefix(name, heads[i]))
            return 1;
    return 0;
}

int family_is_unused_tensor(const char *name) {
    return family_is_lm_head(name) || strstr(name, "embeddings.position_ids") != NULL ||
           has_prefix(name, "pooler.") || strstr(name, ".pooler.") != NULL;
}
