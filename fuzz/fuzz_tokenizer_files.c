/* libFuzzer target: the tokenizer's file parsers. The first byte picks the
 * format (even: tokenizer.json, odd: vocab.txt); a tokenizer that loads also
 * encodes the rest of the input as text. */
#include <stdint.h>

#include "text/tokenizer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    nerc_tokenizer *tok = NULL;
    nerc_status st = data[0] & 1 ? tokenizer_parse_vocab(&tok, body, len, "fuzz/vocab.txt")
                                 : tokenizer_parse_json(&tok, body, len, "fuzz/tokenizer.json");
    if (st == NERC_OK) {
        nerc_encoding enc;
        if (nerc_tokenizer_encode(tok, body, len < 256 ? len : 256, &enc) == NERC_OK)
            nerc_encoding_free(&enc);
        nerc_tokenizer_free(tok);
    }
    return 0;
}
