/* libFuzzer target: the score-file readers (one file, and a gold/pred pair) and every report. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nerc/metrics.h"

/* Computes and prints every report the input allows (output goes to /dev/null). */
static void report_all(const nerc_scorer *sc, FILE *sink) {
    for (int mode = NERC_EVAL_MODE_DEFAULT; mode <= NERC_EVAL_MODE_CONLLEVAL; mode++) {
        for (int scheme = NERC_SCHEME_IOB2; scheme <= NERC_SCHEME_BILOU; scheme++) {
            nerc_report rep;
            if (nerc_scorer_report(sc, (nerc_eval_mode)mode, (nerc_scheme)scheme, &rep) == NERC_OK) {
                nerc_report_write_text(sink, &rep, "fuzz", NERC_LEVEL_WORD, 2);
                nerc_report_write_conlleval(sink, &rep);
                nerc_report_write_json(sink, &rep, "fuzz", NERC_LEVEL_SUBTOKEN);
                nerc_report_free(&rep);
            }
            if (mode != NERC_EVAL_MODE_STRICT)
                break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    const char *buf = (const char *)data;
    nerc_scorer *sc;
    if (nerc_scorer_init(&sc) != NERC_OK)
        return 0;
    if (nerc_score_read_buffer(sc, buf, size, "fuzz") == NERC_OK && sink)
        report_all(sc, sink);
    /* the same bytes as a gold/pred pair, split at the first form feed (or halves) */
    nerc_scorer_reset(sc);
    const char *ff = memchr(buf, '\f', size);
    size_t gold_len = ff ? (size_t)(ff - buf) : size / 2;
    size_t pred_off = ff ? gold_len + 1 : gold_len;
    if (nerc_score_read_pair_buffers(sc, buf, gold_len, "gold", buf + pred_off, size - pred_off,
                                     "pred") == NERC_OK && sink)
        report_all(sc, sink);
    nerc_scorer_free(sc);
    return 0;
}
