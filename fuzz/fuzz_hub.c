/* libFuzzer target: what the hub client parses from the network. The first
 * byte picks the parser: 'L' the model API listing (JSON "sha" + "siblings"),
 * 'H' response header lines, anything else the repo id / path / glob checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/cache.h"
#include "hub/http.h"
#include "hub/listing.h"

static void fuzz_headers(const char *p, size_t n) {
    hub_headers h;
    hub_headers_reset(&h);
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) + 1 : n;
        hub_headers_line(&h, p, len);
        p += len;
        n -= len;
    }
    if (h.etag[sizeof h.etag - 1] || h.location[sizeof h.location - 1])
        abort(); /* copies stay terminated */
}

static void fuzz_names(const char *p, size_t n) {
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    hub_is_repo_id(s);
    hub_is_commit(s);
    hub_path_is_safe(s);
    const char *glob = s;
    hub_glob_match(&glob, 1, "sub/model.safetensors");
    hub_glob_match(&glob, 1, s);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] == 'L') {
        hub_listing l;
        if (hub_listing_parse(&l, p, n, "fuzz") == NERC_OK) {
            for (int32_t i = 0; i < l.n_files; i++)
                if (!hub_path_is_safe(l.files[i]))
                    abort(); /* every listed path was checked */
            hub_listing_free(&l);
        }
    } else if (data[0] == 'H') {
        fuzz_headers(p, n);
    } else {
        fuzz_names(p, n);
    }
    return 0;
}
