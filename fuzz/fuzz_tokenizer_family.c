/* libFuzzer target: raw bytes -> encode and encode_word with the RoBERTa (byte-level BPE) and XLM-R
 * (Unigram + Precompiled charsmap) tokenizers of ../shared/fixtures/family; the first byte picks
 * the family. Checks: specials around the text, ordered spans inside the input, known ids.
 * Run from the repository root. */
#include <stdlib.h>
#include <string.h>

#include "nerc/text.h"

static const char *const dirs[2] = {"../shared/fixtures/family/roberta_tiny", "../shared/fixtures/family/xlmr_tiny"};
static nerc_tokenizer *toks[2];

static void check_encoding(const nerc_tokenizer *tok, const nerc_encoding *e, size_t len) {
    if (e->n < 2 || e->ids[0] != nerc_tokenizer_cls_id(tok) || e->ids[e->n - 1] != nerc_tokenizer_sep_id(tok))
        abort();
    for (int32_t i = 0; i < e->n; i++) {
        int32_t b0 = e->byte_offsets[2 * i], b1 = e->byte_offsets[2 * i + 1];
        int32_t c0 = e->offsets[2 * i], c1 = e->offsets[2 * i + 1];
        if (b0 < 0 || b1 < b0 || (size_t)b1 > len || c0 < 0 || c1 < c0 || c1 > b1 || !e->tokens[i])
            abort();
        if (!nerc_tokenizer_id_to_token(tok, e->ids[i]) || e->special_mask[i] != (e->word_ids[i] < 0))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int f = data[0] & 1;
    if (!toks[f] && nerc_tokenizer_load(&toks[f], dirs[f]) != NERC_OK)
        abort(); /* run the fuzzer from the repository root */
    const char *text = (const char *)data + 1;
    nerc_encoding e;
    if (nerc_tokenizer_encode(toks[f], text, size - 1, &e) == NERC_OK) {
        check_encoding(toks[f], &e, size - 1);
        nerc_encoding_free(&e);
    }
    int32_t ids[16], n = 0;
    if (nerc_tokenizer_encode_word(toks[f], text, size - 1, ids, 16, &n) == NERC_OK && n < 0)
        abort();
    return 0;
}
