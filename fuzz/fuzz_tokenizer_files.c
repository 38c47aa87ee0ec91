/* libFuzzer target: the tokenizer's file parsers. The first byte picks the format (mod 3):
 * 0 tokenizer.json (every model, normalizer, pre-tokenizer, post-processor, the Precompiled
 * charsmap), 1 vocab.txt, 2 vocab.json + merges.txt (split at the first NUL byte). A tokenizer
 * that loads also encodes the input as text and as one word; offsets must stay inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

static nerc_status parse(const char *body, size_t len, int format, nerc_tokenizer **tok) {
    if (format == 0)
        return tokenizer_parse_json(tok, body, len, "fuzz/tokenizer.json");
    if (format == 1)
        return tokenizer_parse_vocab(tok, body, len, "fuzz/vocab.txt");
    const char *nul = memchr(body, '\0', len);
    size_t vlen = nul ? (size_t)(nul - body) : len;
    const char *merges = nul ? nul + 1 : "";
    return tokenizer_parse_bpe_files(tok, body, vlen, merges, nul ? len - vlen - 1 : 0, "fuzz/bpe");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1, text_len = len < 256 ? len : 256;
    nerc_tokenizer *tok = NULL;
    if (parse(body, len, data[0] % 3, &tok) != NERC_OK)
        return 0;
    nerc_encoding enc;
    if (nerc_tokenizer_encode(tok, body, text_len, &enc) == NERC_OK) {
        for (int32_t i = 0; i < enc.n; i++)
            if (enc.byte_offsets[2 * i] < 0 || enc.byte_offsets[2 * i + 1] > (int32_t)text_len ||
                !enc.tokens[i] || !nerc_tokenizer_id_to_token(tok, enc.ids[i]))
                abort();
        nerc_encoding_free(&enc);
    }
    int32_t ids[8], n = 0;
    if (nerc_tokenizer_encode_word(tok, body, text_len, ids, 8, &n) == NERC_OK && n < 0)
        abort();
    nerc_tokenizer_free(tok);
    return 0;
}
