/* nerc/metrics.h — entity-level NER evaluation, exact to seqeval and conlleval.pl.
 *
 * A scorer accumulates (gold, predicted) tag sequences, one sentence at a
 * time; a report is computed from it for one mode and printed in one of
 * three formats:
 *
 *     nerc_scorer *sc;
 *     nerc_scorer_init(&sc);
 *     for each sentence: nerc_scorer_add_sentence(sc, gold, pred, n);
 *     nerc_report rep;
 *     nerc_scorer_report(sc, NERC_EVAL_MODE_DEFAULT, NERC_SCHEME_IOB2, &rep);
 *     nerc_report_write_text(stdout, &rep, "validation", NERC_LEVEL_WORD, 4);
 *     nerc_report_free(&rep);
 *     nerc_scorer_free(sc);
 *
 * Modes:
 *   NERC_EVAL_MODE_DEFAULT   seqeval's default mode (lenient, conlleval-like): a
 *                       chunk starts at B-X, at I-X after O or another type,
 *                       and ends when the type changes or B-/O follows; E-/S-
 *                       follow seqeval's get_entities rules.
 *   NERC_EVAL_MODE_STRICT    seqeval mode="strict" with a scheme (IOB2, ...): only
 *                       well-formed chunks count; a tag whose prefix the
 *                       scheme does not allow is an error (NERC_ERR_ARG).
 *   NERC_EVAL_MODE_CONLLEVAL conlleval.pl's own chunk logic (equal to DEFAULT on
 *                       IOB1/IOB2 input); its counts feed the conlleval format.
 * Chunks never span two sentences. Tags are "O" or P-TYPE with P one of
 * B I E S L U and TYPE non-empty, not "_" (seqeval's type of "O"), not
 * starting or ending with '-'. */
#ifndef NERC_METRICS_H
#define NERC_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "nerc/common.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NERC_EVAL_MODE_DEFAULT = 0,
    NERC_EVAL_MODE_STRICT,
    NERC_EVAL_MODE_CONLLEVAL
} nerc_eval_mode;

typedef enum {
    NERC_SCHEME_IOB2 = 0,
    NERC_SCHEME_IOB1,
    NERC_SCHEME_IOE1,
    NERC_SCHEME_IOE2,
    NERC_SCHEME_IOBES,
    NERC_SCHEME_BILOU
} nerc_scheme;

/* What one tag stands for: a word or a WordPiece sub-token. */
typedef enum {
    NERC_LEVEL_WORD = 0,
    NERC_LEVEL_SUBTOKEN
} nerc_level;

/* Name <-> value ("IOB2", "word" / "sub-token"). The parsers return
 * NERC_ERR_ARG on an unknown name. */
const char *nerc_scheme_name(nerc_scheme scheme);
nerc_status nerc_scheme_parse(const char *name, nerc_scheme *scheme);
const char *nerc_level_name(nerc_level level);
nerc_status nerc_level_parse(const char *name, nerc_level *level);

/* Scores of one entity type or one average. For averages, `support` is the
 * number of gold entities; `predicted` and `correct` are totals (micro) or 0. */
typedef struct {
    const char *name;   /* type name, or "micro avg" / "macro avg" / "weighted avg" */
    double precision;
    double recall;
    double f1;
    int64_t support;    /* gold entities of this type */
    int64_t predicted;  /* predicted entities of this type */
    int64_t correct;    /* predicted entities that match a gold one exactly */
} nerc_type_score;

/* A computed report. Owns its memory: free with nerc_report_free. */
typedef struct {
    nerc_eval_mode mode;
    nerc_scheme scheme;       /* meaningful in NERC_EVAL_MODE_STRICT only */
    int n_types;
    nerc_type_score *types;   /* sorted by name (byte order), gold OR predicted types */
    nerc_type_score micro;    /* == seqeval precision/recall/f1_score */
    nerc_type_score macro;    /* NaN when no type exists */
    nerc_type_score weighted; /* 0.0 when there is no gold entity */
    double accuracy;          /* token accuracy, O included; NaN when no token */
    int64_t n_tokens;
    int64_t n_correct_tokens;
    int64_t n_sentences;
    char *names_;             /* private: storage of the type names */
} nerc_report;

/* The accumulator. Opaque; one per evaluation run, reusable via reset. */
typedef struct nerc_scorer nerc_scorer;

nerc_status nerc_scorer_init(nerc_scorer **sc);
void nerc_scorer_free(nerc_scorer *sc);
/* Forgets all sentences (keeps the tag table and the buffers). */
void nerc_scorer_reset(nerc_scorer *sc);
/* Adds one sentence of n >= 0 tags. A malformed tag is NERC_ERR_ARG and
 * leaves the scorer unchanged. */
nerc_status nerc_scorer_add_sentence(nerc_scorer *sc, const char *const *gold,
                                     const char *const *pred, int n);
int64_t nerc_scorer_n_sentences(const nerc_scorer *sc);
int64_t nerc_scorer_n_tokens(const nerc_scorer *sc);

/* Computes a report; `scheme` is used by NERC_EVAL_MODE_STRICT only. */
nerc_status nerc_scorer_report(const nerc_scorer *sc, nerc_eval_mode mode,
                               nerc_scheme scheme, nerc_report *rep);
void nerc_report_free(nerc_report *rep);

/* Is `tag` a well-formed tag ("O" or P-TYPE, see above)? */
int nerc_tag_is_valid(const char *tag);

/* Writers. Text: a seqeval-like table with `digits` decimals (seqeval: 2),
 * under a header line "<split> split, <level> level, <mode>", then token
 * accuracy. JSON: Hugging Face evaluate's seqeval keys (overall_precision,
 * overall_recall, overall_f1, overall_accuracy, TYPE: {precision, recall,
 * f1, number}) plus "split", "level" and "mode". Conlleval: conlleval.pl's
 * stdout byte for byte (no header; from a NERC_EVAL_MODE_CONLLEVAL report it
 * equals the script's output). Return NERC_ERR_IO on a write error. */
nerc_status nerc_report_write_text(FILE *out, const nerc_report *rep, const char *split,
                                   nerc_level level, int digits);
nerc_status nerc_report_write_json(FILE *out, const nerc_report *rep, const char *split,
                                   nerc_level level);
nerc_status nerc_report_write_conlleval(FILE *out, const nerc_report *rep);

/* The three report formats by name: "text", "json", "conlleval". */
typedef enum {
    NERC_REPORT_FORMAT_TEXT = 0,
    NERC_REPORT_FORMAT_JSON,
    NERC_REPORT_FORMAT_CONLLEVAL
} nerc_report_format;
nerc_status nerc_report_format_parse(const char *name, nerc_report_format *out);
const char *nerc_report_format_name(nerc_report_format f);
/* Writes `rep` in format `f` (digits: text only). */
nerc_status nerc_report_write(FILE *out, const nerc_report *rep, nerc_report_format f, const char *split,
                              nerc_level level, int digits);

/* Score files. A "score file" is conlleval's input: one token per line, two
 * or more whitespace-separated columns (the last two are the gold and the
 * predicted tag), the same count on every line, a blank line between
 * sentences; -DOCSTART- lines are skipped. A pair is two CoNLL files (gold,
 * predicted; the tag is the last column) aligned line by line. Errors name
 * "file:line". `name` labels a buffer in messages. */
nerc_status nerc_score_read_buffer(nerc_scorer *sc, const char *buf, size_t len,
                                   const char *name);
nerc_status nerc_score_read_file(nerc_scorer *sc, const char *path);
nerc_status nerc_score_read_pair_buffers(nerc_scorer *sc, const char *gold, size_t gold_len,
                                         const char *gold_name, const char *pred,
                                         size_t pred_len, const char *pred_name);
nerc_status nerc_score_read_pair(nerc_scorer *sc, const char *gold_path, const char *pred_path);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif /* NERC_METRICS_H */
