/* Metrics tests: seqeval / conlleval goldens, per-scheme chunk rules, score-file errors. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "metrics/chunks.h"
#include "nerc/metrics.h"
#include "test.h"

#define CASES_PATH SHARED_DIR "/fixtures/metrics/cases.jsonl"
#define CONLLEVAL_PATH SHARED_DIR "/fixtures/metrics/conlleval.jsonl"
#define DEV_PATH SHARED_DIR "/data/conll2003/dev.txt"

/* ---- chunk rules, one scheme at a time ---- */

static const char *type_names[64];
static int n_type_names;

static int32_t type_id(const char *s, size_t n) {
    for (int i = 0; i < n_type_names; i++)
        if (strlen(type_names[i]) == n && !memcmp(type_names[i], s, n))
            return i;
    char *copy = strndup(s, n);
    type_names[n_type_names] = copy;
    return n_type_names++;
}

/* "B-PER I-PER O" -> tokens; returns the count. */
static int parse_tokens(const char *seq, eval_tok *toks) {
    int n = 0;
    for (const char *p = seq; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (p - start == 1)
            toks[n++] = (eval_tok){prefix_bit(*start), type_id("_", 1)};
        else
            toks[n++] = (eval_tok){prefix_bit(*start), type_id(start + 2, (size_t)(p - start - 2))};
    }
    return n;
}

/* Chunks as "PER:0-2 LOC:3-4" ([start, end) like seqeval's Tokens). */
static void chunk_string(const eval_chunk *c, int n, char *buf, size_t size) {
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s:%d-%d", i ? " " : "", type_names[c[i].type],
                 c[i].start, c[i].end);
    }
}

typedef struct {
    int scheme; /* -1: seqeval default mode */
    const char *tokens;
    const char *expected;
} chunk_case;

static const chunk_case chunk_cases[] = {
    /* default mode (get_entities): lenient, conlleval-like */
    {-1, "B-PER I-PER O B-LOC", "PER:0-2 LOC:3-4"},
    {-1, "I-PER I-PER O", "PER:0-2"},           /* I- without B- starts a chunk */
    {-1, "O I-PER", "PER:1-2"},                 /* chunk at the sentence end */
    {-1, "B-PER", "PER:0-1"},
    {-1, "B-PER I-LOC I-LOC", "PER:0-1 LOC:1-3"}, /* inner type change */
    {-1, "I-PER B-PER", "PER:0-1 PER:1-2"},
    {-1, "B-PER B-PER", "PER:0-1 PER:1-2"},
    {-1, "S-PER E-PER", "PER:0-1 PER:1-2"},
    {-1, "B-PER E-PER O", "PER:0-2"},
    {-1, "E-PER I-PER", "PER:0-1 PER:1-2"},
    {-1, "B-PER I-PER E-PER S-LOC", "PER:0-3 LOC:3-4"},
    {-1, "U-PER O", "PER:0-1"},
    {-1, "O O", ""},
    {-1, "", ""},
    /* strict IOB2 */
    {NERC_SCHEME_IOB2, "B-PER", "PER:0-1"},
    {NERC_SCHEME_IOB2, "I-PER", ""},
    {NERC_SCHEME_IOB2, "O I-PER", ""},
    {NERC_SCHEME_IOB2, "I-PER B-ORG", "ORG:1-2"},
    {NERC_SCHEME_IOB2, "B-PER I-PER", "PER:0-2"},
    {NERC_SCHEME_IOB2, "B-PER I-ORG", "PER:0-1"},
    {NERC_SCHEME_IOB2, "B-PER B-PER", "PER:0-1 PER:1-2"},
    {NERC_SCHEME_IOB2, "B-PER I-PER I-LOC O B-LOC", "PER:0-2 LOC:4-5"},
    /* strict IOB1 */
    {NERC_SCHEME_IOB1, "B-PER", ""},
    {NERC_SCHEME_IOB1, "I-PER", "PER:0-1"},
    {NERC_SCHEME_IOB1, "I-PER I-ORG", "PER:0-1 ORG:1-2"},
    {NERC_SCHEME_IOB1, "I-PER B-PER", "PER:0-1 PER:1-2"},
    {NERC_SCHEME_IOB1, "I-PER B-ORG", "PER:0-1"},
    {NERC_SCHEME_IOB1, "B-PER I-PER", "PER:1-2"},
    {NERC_SCHEME_IOB1, "B-PER I-ORG", "ORG:1-2"},
    {NERC_SCHEME_IOB1, "B-PER B-PER", "PER:1-2"},
    {NERC_SCHEME_IOB1, "B-PER B-ORG", ""},
    /* strict IOE1 */
    {NERC_SCHEME_IOE1, "E-PER", ""},
    {NERC_SCHEME_IOE1, "I-PER", "PER:0-1"},
    {NERC_SCHEME_IOE1, "I-PER I-ORG", "PER:0-1 ORG:1-2"},
    {NERC_SCHEME_IOE1, "I-PER E-ORG", "PER:0-1"},
    {NERC_SCHEME_IOE1, "E-PER I-PER", "PER:1-2"},
    {NERC_SCHEME_IOE1, "E-PER I-ORG", "ORG:1-2"},
    {NERC_SCHEME_IOE1, "E-PER E-PER", ""},
    /* strict IOE2 */
    {NERC_SCHEME_IOE2, "E-PER", "PER:0-1"},
    {NERC_SCHEME_IOE2, "I-PER", ""},
    {NERC_SCHEME_IOE2, "I-PER E-PER", "PER:0-2"},
    {NERC_SCHEME_IOE2, "I-PER E-ORG", "ORG:1-2"},
    {NERC_SCHEME_IOE2, "E-PER I-ORG", "PER:0-1"},
    {NERC_SCHEME_IOE2, "E-PER E-ORG", "PER:0-1 ORG:1-2"},
    /* strict IOBES */
    {NERC_SCHEME_IOBES, "S-PER", "PER:0-1"},
    {NERC_SCHEME_IOBES, "B-PER", ""},
    {NERC_SCHEME_IOBES, "B-PER E-PER", "PER:0-2"},
    {NERC_SCHEME_IOBES, "B-PER I-PER E-PER", "PER:0-3"},
    {NERC_SCHEME_IOBES, "B-PER E-ORG", ""},
    {NERC_SCHEME_IOBES, "B-PER S-PER", "PER:1-2"},
    {NERC_SCHEME_IOBES, "I-PER S-PER", "PER:1-2"},
    {NERC_SCHEME_IOBES, "S-PER S-PER", "PER:0-1 PER:1-2"},
    {NERC_SCHEME_IOBES, "E-PER S-PER", "PER:1-2"},
    /* strict BILOU */
    {NERC_SCHEME_BILOU, "U-PER", "PER:0-1"},
    {NERC_SCHEME_BILOU, "B-PER L-PER", "PER:0-2"},
    {NERC_SCHEME_BILOU, "B-PER I-PER L-PER O U-LOC", "PER:0-3 LOC:4-5"},
    {NERC_SCHEME_BILOU, "B-PER I-PER", ""},
    {NERC_SCHEME_BILOU, "B-PER L-ORG", ""},
    {NERC_SCHEME_BILOU, "I-PER L-PER", ""},
};

static void test_chunk_rules(void) {
    eval_tok toks[32];
    eval_chunk chunks[32];
    char got[256];
    int32_t o_type = type_id("_", 1);
    for (size_t k = 0; k < sizeof chunk_cases / sizeof chunk_cases[0]; k++) {
        const chunk_case *c = &chunk_cases[k];
        int n = parse_tokens(c->tokens, toks);
        int m = c->scheme < 0 ? chunks_default(toks, n, o_type, chunks)
                              : chunks_strict(toks, n, (nerc_scheme)c->scheme, o_type, chunks);
        chunk_string(chunks, m, got, sizeof got);
        CHECK_MSG(!strcmp(got, c->expected), "%s [%s]: got '%s', want '%s'",
                  c->scheme < 0 ? "default" : nerc_scheme_name((nerc_scheme)c->scheme), c->tokens,
                  got, c->expected);
    }
}

/* Chunks never span sentences; strict refuses prefixes outside the scheme. */
static void test_scorer_edges(void) {
    nerc_scorer *sc;
    CHECK_OK(nerc_scorer_init(&sc));
    const char *g1[] = {"B-PER", "I-PER"}, *g2[] = {"I-PER", "O"};
    CHECK_OK(nerc_scorer_add_sentence(sc, g1, g1, 2));
    CHECK_OK(nerc_scorer_add_sentence(sc, g2, g2, 2));
    nerc_report rep;
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_DEFAULT, NERC_SCHEME_IOB2, &rep));
    CHECK(rep.n_types == 1 && rep.micro.support == 2 && rep.micro.f1 == 1.0);
    CHECK(rep.accuracy == 1.0 && rep.n_tokens == 4 && rep.n_sentences == 2);
    nerc_report_free(&rep);
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_STRICT, NERC_SCHEME_IOB2, &rep));
    CHECK(rep.micro.support == 1);
    nerc_report_free(&rep);
    CHECK(nerc_scorer_report(sc, NERC_EVAL_MODE_STRICT, NERC_SCHEME_IOE2, &rep) == NERC_ERR_ARG);
    const char *bad[] = {"B_PER"};
    CHECK(nerc_scorer_add_sentence(sc, bad, bad, 1) == NERC_ERR_ARG);
    CHECK(nerc_scorer_n_tokens(sc) == 4);
    CHECK(!nerc_tag_is_valid("B-") && !nerc_tag_is_valid("O-PER") && !nerc_tag_is_valid("X-PER"));
    CHECK(nerc_tag_is_valid("O") && nerc_tag_is_valid("U-ORG-COMPANY"));
    nerc_scorer_reset(sc);
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_DEFAULT, NERC_SCHEME_IOB2, &rep));
    CHECK(rep.n_types == 0 && isnan(rep.macro.f1) && rep.weighted.f1 == 0.0 && isnan(rep.accuracy));
    nerc_report_free(&rep);
    nerc_scorer_free(sc);
}

/* ---- seqeval goldens ---- */

/* Golden number `key` of a report row against ours (null means NaN). */
static int same_number(json_t *row, const char *key, double got) {
    json_t *v = json_object_get(row, key);
    if (json_is_null(v))
        return isnan(got);
    return json_is_number(v) && fabs(json_number_value(v) - got) <= 1e-12;
}

static int same_row(json_t *row, const nerc_type_score *t) {
    return row && same_number(row, "precision", t->precision) &&
           same_number(row, "recall", t->recall) && same_number(row, "f1-score", t->f1) &&
           json_integer_value(json_object_get(row, "support")) == t->support;
}

/* A golden `report` dict (+ micro precision/recall/f1) against ours. */
static int same_report(json_t *gold, const nerc_report *rep) {
    json_t *report = json_object_get(gold, "report");
    if ((int)json_object_size(report) != rep->n_types + 3)
        return 0;
    for (int i = 0; i < rep->n_types; i++)
        if (!same_row(json_object_get(report, rep->types[i].name), &rep->types[i]))
            return 0;
    return same_row(json_object_get(report, "micro avg"), &rep->micro) &&
           same_row(json_object_get(report, "macro avg"), &rep->macro) &&
           same_row(json_object_get(report, "weighted avg"), &rep->weighted) &&
           same_number(gold, "precision", rep->micro.precision) &&
           same_number(gold, "recall", rep->micro.recall) && same_number(gold, "f1", rep->micro.f1);
}

/* Adds y_true / y_pred (lists of sentences) to a scorer. */
static nerc_status add_case(nerc_scorer *sc, json_t *y_true, json_t *y_pred) {
    size_t n_sents = json_array_size(y_true);
    const char **tags = NULL;
    nerc_status st = NERC_OK;
    for (size_t s = 0; s < n_sents && st == NERC_OK; s++) {
        json_t *g = json_array_get(y_true, s), *p = json_array_get(y_pred, s);
        size_t n = json_array_size(g);
        if (json_array_size(p) != n)
            return NERC_ERR_FORMAT;
        const char **grown = realloc(tags, (2 * n + 1) * sizeof *tags);
        if (!grown)
            break;
        tags = grown;
        for (size_t i = 0; i < n; i++) {
            tags[i] = json_string_value(json_array_get(g, i));
            tags[n + i] = json_string_value(json_array_get(p, i));
        }
        st = nerc_scorer_add_sentence(sc, tags, tags + n, (int)n);
    }
    free(tags);
    return st;
}

/* Runs one case; returns 1 if every number matches. */
static int check_case(json_t *c) {
    json_t *golden = json_object_get(c, "seqeval");
    nerc_scorer *sc;
    if (nerc_scorer_init(&sc) != NERC_OK)
        return 0;
    int ok = add_case(sc, json_object_get(c, "y_true"), json_object_get(c, "y_pred")) == NERC_OK;
    nerc_report def = {0}, strict = {0};
    ok = ok && nerc_scorer_report(sc, NERC_EVAL_MODE_DEFAULT, NERC_SCHEME_IOB2, &def) == NERC_OK;
    ok = ok && nerc_scorer_report(sc, NERC_EVAL_MODE_STRICT, NERC_SCHEME_IOB2, &strict) == NERC_OK;
    ok = ok && same_report(json_object_get(golden, "default"), &def);
    ok = ok && same_report(json_object_get(golden, "strict"), &strict);
    ok = ok && same_number(golden, "accuracy", def.accuracy);
    nerc_report_free(&def);
    nerc_report_free(&strict);
    nerc_scorer_free(sc);
    return ok;
}

/* Calls fn on each JSON line of a file; returns the number of lines. */
static int for_each_json_line(const char *path, int (*fn)(json_t *, void *), void *user, int *n_ok) {
    char *data;
    size_t len;
    if (fs_read_file(path, 0, &data, &len) != NERC_OK) {
        CHECK_MSG(0, "cannot read %s: %s", path, nerc_last_error());
        return 0;
    }
    int n = 0;
    for (char *line = data; line < data + len;) {
        char *nl = memchr(line, '\n', (size_t)(data + len - line));
        size_t line_len = nl ? (size_t)(nl - line) : (size_t)(data + len - line);
        if (line_len > 0) {
            json_error_t err;
            json_t *j = json_loadb(line, line_len, 0, &err);
            CHECK_MSG(j != NULL, "%s:%d: %s", path, n + 1, err.text);
            if (j) {
                *n_ok += fn(j, user);
                json_decref(j);
            }
            n++;
        }
        line += line_len + 1;
    }
    free(data);
    return n;
}

static int seqeval_case(json_t *c, void *user) {
    (void)user;
    int ok = check_case(c);
    CHECK_MSG(ok, "case %d (%s) differs from seqeval", (int)json_integer_value(json_object_get(c, "id")),
              json_string_value(json_object_get(c, "description")));
    return ok;
}

static void test_seqeval_goldens(void) {
    int n_ok = 0;
    int n = for_each_json_line(CASES_PATH, seqeval_case, NULL, &n_ok);
    printf("seqeval goldens: %d/%d cases match (default + strict IOB2 reports, accuracy)\n", n_ok, n);
    CHECK(n == 200 && n_ok == n);
}

/* ---- conlleval goldens ---- */

/* CoNLL-2003 dev: the word of every token, per sentence (-DOCSTART- dropped). */
typedef struct {
    char *data;
    char **words;      /* all words, in order */
    int64_t *sent_begin; /* first word index of each sentence; n_sents + 1 entries */
    int n_sents;
    json_t *cases;     /* cases.jsonl, by id */
} dev_words;

static void dev_push(void **arr, size_t *cap, size_t n, size_t size) {
    if (n + 2 > *cap)
        *arr = realloc(*arr, (*cap = *cap ? *cap * 2 : 1024) * size);
}

static int load_dev(dev_words *dw) {
    size_t len, cap_w = 0, cap_s = 0, nw = 0;
    if (fs_read_file(DEV_PATH, 0, &dw->data, &len) != NERC_OK)
        return 0;
    int in_sentence = 0;
    for (char *line = dw->data; line < dw->data + len;) {
        char *nl = memchr(line, '\n', (size_t)(dw->data + len - line));
        char *next = nl ? nl + 1 : dw->data + len;
        if (nl)
            *nl = '\0';
        char *sp = strchr(line, ' ');
        if (sp)
            *sp = '\0';
        if (line[0] == '\0' || !strcmp(line, "-DOCSTART-")) {
            in_sentence = 0; /* a blank line (or a document start) ends a sentence */
        } else {
            if (!in_sentence) {
                dev_push((void **)&dw->sent_begin, &cap_s, (size_t)dw->n_sents, sizeof *dw->sent_begin);
                dw->sent_begin[dw->n_sents++] = (int64_t)nw;
                in_sentence = 1;
            }
            dev_push((void **)&dw->words, &cap_w, nw, sizeof *dw->words);
            dw->words[nw++] = line;
        }
        line = next;
    }
    if (dw->n_sents == 0)
        return 0;
    dw->sent_begin[dw->n_sents] = (int64_t)nw;
    return 1;
}

/* The 3-column conlleval input of a case, with the real dev words. */
static char *case_input(const dev_words *dw, json_t *c, size_t *len) {
    json_t *idx = json_object_get(c, "dev_sentence_indices");
    json_t *y_true = json_object_get(c, "y_true"), *y_pred = json_object_get(c, "y_pred");
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    for (size_t s = 0; s < json_array_size(y_true); s++) {
        int64_t sent = json_is_array(idx) ? json_integer_value(json_array_get(idx, s)) : (int64_t)s;
        json_t *g = json_array_get(y_true, s), *p = json_array_get(y_pred, s);
        int64_t begin = dw->sent_begin[sent];
        CHECK(dw->sent_begin[sent + 1] - begin == (int64_t)json_array_size(g));
        for (size_t i = 0; i < json_array_size(g); i++)
            fprintf(f, "%s %s %s\n", dw->words[begin + (int64_t)i],
                    json_string_value(json_array_get(g, i)), json_string_value(json_array_get(p, i)));
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

static int conlleval_case(json_t *c, void *user) {
    const dev_words *dw = user;
    int id = (int)json_integer_value(json_object_get(c, "id"));
    json_t *input_case = json_array_get(dw->cases, (size_t)id);
    size_t len;
    char *input = case_input(dw, input_case, &len);
    nerc_scorer *sc;
    nerc_report rep = {0};
    char *out = NULL;
    size_t out_len = 0;
    int ok = nerc_scorer_init(&sc) == NERC_OK;
    ok = ok && nerc_score_read_buffer(sc, input, len, "conlleval-input") == NERC_OK;
    ok = ok && nerc_scorer_report(sc, NERC_EVAL_MODE_CONLLEVAL, NERC_SCHEME_IOB2, &rep) == NERC_OK;
    if (ok) {
        FILE *f = open_memstream(&out, &out_len);
        nerc_report_write_conlleval(f, &rep);
        fclose(f);
        const char *want = json_string_value(json_object_get(c, "output"));
        ok = want && !strcmp(out, want);
        CHECK_MSG(ok, "conlleval case %d differs:\n--- got\n%s--- want\n%s", id, out, want);
    } else {
        CHECK_MSG(0, "conlleval case %d: %s", id, nerc_last_error());
    }
    free(out);
    nerc_report_free(&rep);
    nerc_scorer_free(sc);
    free(input);
    return ok;
}

static int collect_case(json_t *c, void *user) {
    json_array_append(user, c);
    return 1;
}

static void test_conlleval_goldens(void) {
    dev_words dw = {0};
    if (!load_dev(&dw)) {
        CHECK_MSG(0, "cannot read %s", DEV_PATH);
        return;
    }
    dw.cases = json_array();
    int n_ok = 0;
    for_each_json_line(CASES_PATH, collect_case, dw.cases, &n_ok);
    n_ok = 0;
    int n = for_each_json_line(CONLLEVAL_PATH, conlleval_case, &dw, &n_ok);
    printf("conlleval goldens: %d/%d outputs byte-identical to conlleval.pl\n", n_ok, n);
    CHECK(n == 60 && n_ok == n);
    json_decref(dw.cases);
    free(dw.words);
    free(dw.sent_begin);
    free(dw.data);
}

/* ---- score-file reader ---- */

static void write_temp(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

typedef struct {
    const char *text;
    const char *message; /* expected substring of the error */
} bad_file;

static void test_reader_errors(void) {
    static const bad_file bad[] = {
        {"", "empty file"},
        {"\n\n-DOCSTART- O O\n\n", "no token lines"},
        {"EU B-ORG B-ORG\nrejects O O\nGerman B-MISC\n", ":3: 2 columns, but earlier lines have 3"},
        {"EU B-ORG B-ORG\nrejects\n", ":2: 1 column(s), want at least 2"},
        {"EU B_ORG B-ORG\n", ":1: malformed gold tag 'B_ORG'"},
        {"EU B-ORG X-ORG\n", ":1: malformed predicted tag 'X-ORG'"},
        {"EU O O\n\nbad \xff\xfe O O\n", ":3: invalid UTF-8"},
    };
    char path[64];
    snprintf(path, sizeof path, "/tmp/nerc_test_metrics_%d.txt", (int)getpid());
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_temp(path, bad[k].text);
        nerc_scorer *sc;
        CHECK_OK(nerc_scorer_init(&sc));
        nerc_status st = nerc_score_read_file(sc, path);
        CHECK_MSG(st == NERC_ERR_FORMAT && strstr(nerc_last_error(), bad[k].message) &&
                      strstr(nerc_last_error(), path),
                  "case %zu: status %d, message '%s', want '%s'", k, (int)st, nerc_last_error(),
                  bad[k].message);
        CHECK(nerc_scorer_n_tokens(sc) == 0);
        nerc_scorer_free(sc);
    }
    /* a good file: CRLF, tabs, -DOCSTART-, no final newline */
    write_temp(path, "-DOCSTART- O O\r\n\r\nEU\tB-ORG B-ORG\r\nrejects O O\r\n\r\nPeter B-PER B-PER\nBlackburn I-PER O");
    nerc_scorer *sc;
    CHECK_OK(nerc_scorer_init(&sc));
    CHECK_OK(nerc_score_read_file(sc, path));
    CHECK(nerc_scorer_n_sentences(sc) == 2 && nerc_scorer_n_tokens(sc) == 4);
    nerc_scorer_free(sc);
    CHECK(nerc_score_read_file(NULL, "/nonexistent/nerc.txt") == NERC_ERR_IO);

    /* two CoNLL files */
    char pred_path[80];
    snprintf(pred_path, sizeof pred_path, "%s.pred", path);
    write_temp(path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n");
    write_temp(pred_path, "EU B-ORG\nrejects O\n\nPeter I-PER\n\n");
    CHECK_OK(nerc_scorer_init(&sc));
    CHECK_OK(nerc_score_read_pair(sc, path, pred_path));
    CHECK(nerc_scorer_n_sentences(sc) == 2 && nerc_scorer_n_tokens(sc) == 3);
    write_temp(pred_path, "EU B-ORG\nrejects O\nPeter I-PER\n");
    CHECK(nerc_score_read_pair(sc, path, pred_path) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "misaligned") != NULL, "%s", nerc_last_error());
    write_temp(pred_path, "EU B-ORG\naccepts O\n\nPeter I-PER\n");
    CHECK(nerc_score_read_pair(sc, path, pred_path) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "word 'rejects' vs 'accepts'") != NULL, "%s", nerc_last_error());
    write_temp(pred_path, "EU B-ORG\nrejects O\n");
    CHECK(nerc_score_read_pair(sc, path, pred_path) == NERC_ERR_FORMAT);
    CHECK(nerc_scorer_n_tokens(sc) == 3);
    nerc_scorer_free(sc);
    unlink(pred_path);
    unlink(path);
}

/* conlleval.pl and seqeval's default mode part ways on E-/S- tags; each is matched. */
static void test_conlleval_vs_default(void) {
    static const char input[] = "a S-PER B-PER\nb B-LOC B-LOC\nc E-LOC I-LOC\nd O E-LOC\n\n"
                                "e I-ORG S-ORG\nf E-ORG E-ORG\n\n";
    static const char want[] = /* perl conlleval.pl < input */
        "processed 6 tokens with 3 phrases; found: 3 phrases; correct: 2.\n"
        "accuracy:  33.33%; precision:  66.67%; recall:  66.67%; FB1:  66.67\n"
        "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
        "              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
        "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n";
    nerc_scorer *sc;
    CHECK_OK(nerc_scorer_init(&sc));
    CHECK_OK(nerc_score_read_buffer(sc, input, sizeof input - 1, "iobes"));
    nerc_report rep;
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_CONLLEVAL, NERC_SCHEME_IOB2, &rep));
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    CHECK_OK(nerc_report_write_conlleval(f, &rep));
    fclose(f);
    CHECK_MSG(!strcmp(out, want), "got\n%s", out);
    free(out);
    nerc_report_free(&rep);
    /* seqeval default: gold PER(0) LOC(1-2) ORG(0-1); predicted PER(0) LOC(1-3) ORG(0) ORG(1) */
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_DEFAULT, NERC_SCHEME_IOB2, &rep));
    CHECK(rep.micro.support == 3 && rep.micro.predicted == 4 && rep.micro.correct == 1);
    nerc_report_free(&rep);
    /* strict IOBES: gold PER(0) LOC(1-2); predicted LOC(1-3) ORG(0) */
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_STRICT, NERC_SCHEME_IOBES, &rep));
    CHECK(rep.micro.support == 2 && rep.micro.predicted == 2 && rep.micro.correct == 0);
    nerc_report_free(&rep);
    nerc_scorer_free(sc);
    CHECK(!nerc_tag_is_valid("B-_"));
}

/* ---- writers ---- */

static void test_writers(void) {
    nerc_scorer *sc;
    CHECK_OK(nerc_scorer_init(&sc));
    const char *g[] = {"B-PER", "I-PER", "O", "B-LOC"}, *p[] = {"B-PER", "I-PER", "O", "B-ORG"};
    CHECK_OK(nerc_scorer_add_sentence(sc, g, p, 4));
    nerc_report rep;
    CHECK_OK(nerc_scorer_report(sc, NERC_EVAL_MODE_DEFAULT, NERC_SCHEME_IOB2, &rep));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(nerc_report_write_text(f, &rep, "validation", NERC_LEVEL_WORD, 2));
    fclose(f);
    CHECK_MSG(!strncmp(buf, "validation split, word level, seqeval default mode\n", 51), "%s", buf);
    CHECK_MSG(strstr(buf, "         PER       1.00      1.00      1.00         1\n") != NULL, "%s", buf);
    free(buf);
    f = open_memstream(&buf, &len);
    CHECK_OK(nerc_report_write_json(f, &rep, "test", NERC_LEVEL_SUBTOKEN));
    fclose(f);
    json_error_t err;
    json_t *j = json_loads(buf, 0, &err);
    CHECK_MSG(j != NULL, "%s", buf);
    CHECK_NEAR(json_real_value(json_object_get(j, "overall_f1")), 0.5, 1e-15);
    CHECK_NEAR(json_real_value(json_object_get(j, "overall_accuracy")), 0.75, 1e-15);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "ORG"), "number")) == 0);
    CHECK(!strcmp(json_string_value(json_object_get(j, "level")), "sub-token"));
    json_decref(j);
    free(buf);
    nerc_report_free(&rep);
    nerc_scorer_free(sc);
}

int main(void) {
    test_chunk_rules();
    test_scorer_edges();
    test_seqeval_goldens();
    test_conlleval_goldens();
    test_reader_errors();
    test_conlleval_vs_default();
    test_writers();
    for (int i = 0; i < n_type_names; i++)
        free((char *)type_names[i]);
    return test_report("test_metrics");
}
