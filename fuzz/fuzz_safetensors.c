/* libFuzzer target: the safetensors header parser and tensor readers must
 * reject any malformed input cleanly (no crash, no out-of-bounds read). */
#include <stdint.h>
#include <stdlib.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    if (st_parse(&f, data, size, "fuzz.safetensors") == NERC_OK) {
        for (int32_t i = 0; i < f.n; i++) {
            const st_tensor *t = &f.tensors[i];
            if (t->numel > (1 << 20))
                continue;
            void *buf = malloc((size_t)(t->numel ? t->numel : 1) * 8);
            if (!buf)
                continue;
            if (st_read_f32(&f, t, buf) != NERC_OK)
                st_read_i64(&f, t, buf);
            else /* the checked read, which must fail cleanly on NaN, infinity or a negative */
                st_read_f32_checked(&f, t, buf, (int)(i & 1));
            free(buf);
        }
    }
    st_close(&f);
    return 0;
}
