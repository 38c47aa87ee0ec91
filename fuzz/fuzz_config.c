/* libFuzzer target: config.json parsing (architecture keys, id2label). */
#include <stdint.h>

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    encoder_config c;
    if (config_parse(&c, (const char *)data, size, "fuzz/config.json") == NERC_OK)
        config_free(&c);
    return 0;
}
