/* libFuzzer target: raw bytes -> nerc_tokenizer_encode and encode_word (uncased DistilBERT vocab);
 * checks that spans are ordered and inside the input. Run from the repository root. */
#include <stdlib.h>
#include <string.h>

#include "nerc/text.h"

#define MODEL_DIR "../shared/models/distilbert-base-uncased"

static nerc_tokenizer *tok;

static void check_encoding(const nerc_encoding *e, size_t len) {
    for (int32_t i = 0; i < e->n; i++) {
        int32_t b0 = e->byte_offsets[2 * i], b1 = e->byte_offsets[2 * i + 1];
        int32_t c0 = e->offsets[2 * i], c1 = e->offsets[2 * i + 1];
        if (b0 < 0 || b1 < b0 || (size_t)b1 > len || c0 < 0 || c1 < c0 || c1 > b1)
            abort();
        if (!nerc_tokenizer_id_to_token(tok, e->ids[i]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok && nerc_tokenizer_load(&tok, MODEL_DIR) != NERC_OK)
        abort(); /* run the fuzzer from the repository root */
    nerc_encoding e;
    if (nerc_tokenizer_encode(tok, (const char *)data, size, &e) == NERC_OK) {
        if (e.n < 2 || e.ids[0] != nerc_tokenizer_cls_id(tok) || e.ids[e.n - 1] != nerc_tokenizer_sep_id(tok))
            abort();
        check_encoding(&e, size);
        nerc_encoding_free(&e);
    }
    int32_t ids[16], n = 0;
    if (nerc_tokenizer_encode_word(tok, (const char *)data, size, ids, 16, &n) == NERC_OK && n < 0)
        abort();
    return 0;
}
