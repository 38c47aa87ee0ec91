/* libFuzzer target: the body parser of nerc serve (HF Inference API JSON) on arbitrary bytes. */
#include <string.h>

#include "serve/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nerc_set_log(NULL, NULL);
    serve_request r;
    if (serve_request_parse(&r, (const char *)data, size) != NERC_OK)
        return 0;
    /* a parsed request holds n >= 1 NUL-terminated texts, shorter than their JSON, and a known strategy */
    size_t total = 0;
    for (int32_t i = 0; i < r.n_texts; i++) {
        if (r.texts[i][r.lens[i]] != '\0')
            __builtin_trap();
        total += r.lens[i];
    }
    if (r.n_texts < 1 || (r.has_aggregation && (unsigned)r.aggregation > NERC_AGGREGATION_MAX) || total > size)
        __builtin_trap();
    serve_request_free(&r);
    return 0;
}
