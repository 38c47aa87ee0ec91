/* Label sets: ordered tag names, lookup, run_ner's B-X -> I-X map, HF's CoNLL-2003 order. */
#include "nerc/data.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

const char *const nerc_conll2003_labels[9] = {"O",     "B-PER", "I-PER",  "B-ORG", "I-ORG",
                                              "B-LOC", "I-LOC", "B-MISC", "I-MISC"};

nerc_status nerc_labels_init(nerc_label_set *ls, const char *const *names, int32_t n) {
    ls->n = 0;
    ls->names = NULL;
    if (n < 0 || (n > 0 && !names))
        return nerc_errorf(NERC_ERR_ARG, "label set: invalid count %d", (int)n);
    for (int32_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return nerc_errorf(NERC_ERR_ARG, "label set: label %d is empty", (int)i);
        for (int32_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return nerc_errorf(NERC_ERR_ARG, "label set: '%s' appears twice", names[i]);
    }
    ls->names = calloc(n > 0 ? (size_t)n : 1, sizeof *ls->names);
    if (!ls->names)
        return nerc_errorf(NERC_ERR_NOMEM, "label set: out of memory");
    for (int32_t i = 0; i < n; i++) {
        ls->names[i] = strdup(names[i]);
        ls->n = i + 1;
        if (!ls->names[i]) {
            nerc_labels_free(ls);
            return nerc_errorf(NERC_ERR_NOMEM, "label set: out of memory");
        }
    }
    return NERC_OK;
}

void nerc_labels_free(nerc_label_set *ls) {
    if (!ls)
        return;
    for (int32_t i = 0; i < ls->n; i++)
        free(ls->names[i]);
    free(ls->names);
    ls->names = NULL;
    ls->n = 0;
}

int32_t nerc_labels_find(const nerc_label_set *ls, const char *name, size_t len) {
    for (int32_t i = 0; i < ls->n; i++)
        if (strncmp(ls->names[i], name, len) == 0 && ls->names[i][len] == '\0')
            return i;
    return -1;
}

void nerc_labels_b_to_i(const nerc_label_set *ls, int32_t *map) {
    for (int32_t i = 0; i < ls->n; i++) {
        const char *name = ls->names[i];
        map[i] = i;
        if (name[0] != 'B' || name[1] != '-')
            continue;
        size_t len = strlen(name);
        for (int32_t j = 0; j < ls->n; j++) {
            const char *other = ls->names[j];
            if (other[0] == 'I' && strlen(other) == len && strcmp(other + 1, name + 1) == 0) {
                map[i] = j;
                break;
            }
        }
    }
}

nerc_status nerc_label_mode_parse(const char *name, nerc_label_mode *out) {
    if (!strcmp(name, "first") || !strcmp(name, "none"))
        *out = NERC_LABEL_MODE_FIRST_PIECE;
    else if (!strcmp(name, "copy"))
        *out = NERC_LABEL_MODE_COPY;
    else if (!strcmp(name, "b-to-i"))
        *out = NERC_LABEL_MODE_B_TO_I;
    else
        return nerc_errorf(NERC_ERR_ARG, "unknown label mode '%s' (first, copy, b-to-i)", name);
    return NERC_OK;
}

const char *nerc_label_mode_name(nerc_label_mode mode) {
    switch (mode) {
    case NERC_LABEL_MODE_FIRST_PIECE: return "first";
    case NERC_LABEL_MODE_COPY: return "copy";
    case NERC_LABEL_MODE_B_TO_I: return "b-to-i";
    }
    return "?";
}
