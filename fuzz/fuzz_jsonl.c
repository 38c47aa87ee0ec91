/* libFuzzer target: HF-style JSONL parsing from memory (string tags, and integer tags with a label list). */
#include "nerc/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nerc_set_log(NULL, NULL);
    nerc_label_set ls;
    if (nerc_labels_init(&ls, nerc_conll2003_labels, 9) != NERC_OK)
        return 0;
    nerc_dataset *ds = NULL;
    if (nerc_dataset_parse_jsonl(&ds, (const char *)data, size, "fuzz", NULL, NULL) == NERC_OK) {
        (void)nerc_dataset_count_entities(ds);
        nerc_dataset_free(ds);
    }
    if (nerc_dataset_parse_jsonl(&ds, (const char *)data, size, "fuzz", &ls, NULL) == NERC_OK)
        nerc_dataset_free(ds);
    nerc_labels_free(&ls);
    return 0;
}
