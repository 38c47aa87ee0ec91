/* Test data: the first lines of a CoNLL split, cut at a sentence boundary. */
#ifndef NERC_TEST_CONLL_H
#define NERC_TEST_CONLL_H

#include <stdlib.h>

#include "core/fs.h"
#include "test.h"

/* Writes the first `lines` lines of the CoNLL file `src` (extended to the end
 * of the sentence they cut) to `dst`. */
static inline void test_conll_subset(const char *src, const char *dst, int lines) {
    char *data = NULL;
    size_t len = 0, at = 0;
    CHECK_OK(fs_read_file(src, 0, &data, &len));
    for (int n = 0; at < len && n < lines; at++)
        n += data[at] == '\n';
    while (at + 1 < len && !(data[at] == '\n' && data[at - 1] == '\n'))
        at++;
    CHECK_OK(fs_write_file_atomic(dst, data, at));
    free(data);
}

#endif
