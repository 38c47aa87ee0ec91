/* HF pipeline parity of nerc's aggregation: the entities of nerc_predict_text under none / simple /
 * first / average / max against goldens that tools/hf_pipeline_aggregate.mjs (an independent
 * re-implementation of transformers' TokenClassificationPipeline post-processing) derives from the
 * same score rows, made at test time (the texts come from ../shared). Texts: the 643 raw-text lines of
 * the tokenizer fixture and CoNLL dev sentences as raw text, those that fit one window. Models: the
 * tiny fixture model at random init (labels change from token to token: every grouping path) and
 * trained briefly through the library (confident, realistic entities). Exact: count, type, start,
 * end (and NONE's index and word); score within 1e-6. The goldens follow nerc's documented word rules
 * (--nerc-rules); how many texts HF's own is_subword guess would change is printed, with an example.
 * Without node the test reports SKIP. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "nerc/data.h"
#include "nerc/predict.h"
#include "nerc/train.h"
#include "test.h"
#include "test_conll.h"

#define TINY SHARED_DIR "/fixtures/model/tiny"
#define RAW_TEXT SHARED_DIR "/fixtures/tokenizer/raw_text.jsonl"
#define SCRIPT "tools/hf_pipeline_aggregate.mjs"
#define SCORE_TOL 1e-6

enum { N_AGG = 5, N_DEV_SENTS = 400, TRAIN_STEPS = 150, MIN_ENTITIES = 100, MAX_REPORTS = 5 };

static char tmpdir[64];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One text and its encoding ([CLS] ... [SEP]) as HF's tokenizer gives it. */
typedef struct {
    char *text;
    size_t len;
    int32_t n;                    /* tokens incl. specials */
    int32_t *ids, *offsets, *word_ids; /* [n], [2n] code points, [n] (-1 for specials) */
} doc;

/* nerc's entities of one text under one aggregation. */
typedef struct {
    int32_t n;
    nerc_entity *items; /* type and word point into `strings` */
    char *strings;
} entity_copy;

typedef struct {
    doc *docs;
    int32_t n_docs, cap;
    entity_copy *ents;  /* [n_docs * N_AGG] for the docs that were compared */
    uint8_t *used;      /* [n_docs] 1 = fits one window, dumped for the script */
    int32_t n_raw;      /* docs [0, n_raw) are raw-text lines, the rest dev sentences */
    int32_t excluded[2], example_excluded; /* raw / dev texts over one window; one of them (-1: none) */
} corpus;

/* "raw-text line N" or "dev sentence N" (1-based). */
static const char *doc_name(const corpus *c, int32_t i, char *buf, size_t cap) {
    snprintf(buf, cap, "%s %d", i < c->n_raw ? "raw-text line" : "dev sentence", i < c->n_raw ? i + 1 : i - c->n_raw + 1);
    return buf;
}

static void doc_free(doc *d) { free(d->text), free(d->ids), free(d->offsets), free(d->word_ids); }

static doc *corpus_add(corpus *c) {
    if (c->n_docs == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->docs = realloc(c->docs, (size_t)c->cap * sizeof *c->docs);
    }
    doc *d = &c->docs[c->n_docs++];
    memset(d, 0, sizeof *d);
    return d;
}

static void doc_alloc(doc *d, int32_t n) {
    d->n = n;
    d->ids = malloc((size_t)n * sizeof *d->ids);
    d->offsets = malloc(2 * (size_t)n * sizeof *d->offsets);
    d->word_ids = malloc((size_t)n * sizeof *d->word_ids);
}

/* ---- texts ------------------------------------------------------------------------ */

/* The raw-text fixture: exact bytes, and ids / offsets / word ids of HF's Rust tokenizer. */
static void add_raw_line(corpus *c, const json_t *obj) {
    const char *hex = json_string_value(json_object_get(obj, "utf8_hex"));
    const json_t *ids = json_object_get(obj, "input_ids"), *off = json_object_get(obj, "offsets"),
                 *wid = json_object_get(obj, "word_ids");
    doc *d = corpus_add(c);
    d->text = malloc(hex ? strlen(hex) / 2 + 1 : 1);
    d->len = hex ? test_hex_decode(hex, d->text) : 0;
    d->text[d->len] = '\0';
    doc_alloc(d, (int32_t)json_array_size(ids));
    for (int32_t t = 0; t < d->n; t++) {
        const json_t *w = json_array_get(wid, (size_t)t), *o = json_array_get(off, (size_t)t);
        d->ids[t] = (int32_t)json_integer_value(json_array_get(ids, (size_t)t));
        d->offsets[2 * t] = (int32_t)json_integer_value(json_array_get(o, 0));
        d->offsets[2 * t + 1] = (int32_t)json_integer_value(json_array_get(o, 1));
        d->word_ids[t] = json_is_integer(w) ? (int32_t)json_integer_value(w) : -1;
    }
}

static void read_raw_text(corpus *c) {
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(RAW_TEXT, 0, &data, &len));
    int lines = 0;
    for (char *line = data ? strtok(data, "\n") : NULL; line; line = strtok(NULL, "\n"), lines++) {
        json_error_t err;
        json_t *obj = json_loads(line, JSON_ALLOW_NUL, &err);
        CHECK_MSG(obj != NULL, "%s:%d: %s", RAW_TEXT, lines + 1, err.text);
        if (obj)
            add_raw_line(c, obj);
        json_decref(obj);
    }
    CHECK_MSG(lines == 643, "%d raw-text lines", lines);
    free(data);
}

/* CoNLL dev sentences as raw text (words joined by single spaces), encoded by nerc's tokenizer
 * (identical to HF's on all CoNLL sentences: tests/test_tokenizer.c). */
static void read_dev_sentences(corpus *c, const nerc_tokenizer *tok, const char *path) {
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_read_conll(&ds, path, NULL));
    if (!ds)
        return;
    for (int32_t s = 0; s < ds->n_sents && s < N_DEV_SENTS; s++) {
        doc *d = corpus_add(c);
        size_t cap = 1;
        for (int32_t w = ds->sent_offsets[s]; w < ds->sent_offsets[s + 1]; w++)
            cap += nerc_dataset_word_len(ds, w) + 1;
        d->text = malloc(cap);
        for (int32_t w = ds->sent_offsets[s]; w < ds->sent_offsets[s + 1]; w++) {
            if (d->len)
                d->text[d->len++] = ' ';
            memcpy(d->text + d->len, nerc_dataset_word(ds, w), nerc_dataset_word_len(ds, w));
            d->len += nerc_dataset_word_len(ds, w);
        }
        d->text[d->len] = '\0';
        nerc_encoding enc = {0};
        CHECK_OK(nerc_tokenizer_encode(tok, d->text, d->len, &enc));
        doc_alloc(d, enc.n);
        memcpy(d->ids, enc.ids, (size_t)enc.n * sizeof *d->ids);
        memcpy(d->offsets, enc.offsets, 2 * (size_t)enc.n * sizeof *d->offsets);
        memcpy(d->word_ids, enc.word_ids, (size_t)enc.n * sizeof *d->word_ids);
        nerc_encoding_free(&enc);
    }
    nerc_dataset_free(ds);
}

/* ---- the model ---------------------------------------------------------------------- */

/* A few dozen optimizer steps on CoNLL train sentences: enough for entities, in seconds. */
static char *train_tiny(void) {
    char *train = fs_join(tmpdir, "train.txt"), *dev = fs_join(tmpdir, "dev_small.txt"),
         *out = fs_join(tmpdir, "model");
    test_conll_subset(SHARED_DIR "/data/conll2003/train.txt", train, 6000);
    test_conll_subset(SHARED_DIR "/data/conll2003/dev.txt", dev, 200);
    nerc_train_params p = nerc_train_default_params();
    p.model = TINY, p.train = train, p.validation = dev, p.out = out;
    p.lr = 5e-3, p.batch_size = 16, p.max_steps = TRAIN_STEPS, p.save_total_limit = 1;
    p.labels = nerc_conll2003_labels, p.n_labels = 9;
    nerc_train_result res;
    double t0 = now_s();
    nerc_status st = nerc_train(&p, &res);
    CHECK_MSG(st == NERC_OK, "%s", nerc_last_error());
    printf("  tiny model: %lld training steps in %.1f s, validation F1 (word level) %.3f\n", (long long)res.steps,
           now_s() - t0, res.best_f1);
    free(train), free(dev);
    if (st != NERC_OK)
        free(out), out = NULL;
    return out;
}

/* ---- nerc's side ------------------------------------------------------------------- */

static void copy_entities(entity_copy *ec, const nerc_prediction *p) {
    size_t bytes = 0, n = p->n_entities > 0 ? (size_t)p->n_entities : 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(p->entities[i].type) + strlen(p->entities[i].word) + 2;
    ec->n = (int32_t)n;
    ec->items = malloc((n ? n : 1) * sizeof *ec->items);
    ec->strings = malloc(bytes ? bytes : 1);
    char *at = ec->strings;
    for (size_t i = 0; i < n; i++) {
        ec->items[i] = p->entities[i];
        size_t nt = strlen(p->entities[i].type) + 1, nw = strlen(p->entities[i].word) + 1;
        ec->items[i].type = memcpy(at, p->entities[i].type, nt), at += nt;
        ec->items[i].word = memcpy(at, p->entities[i].word, nw), at += nw;
    }
}

/* The script's input line: every token (specials included) with its string, offsets,
 * special-token mask and nerc's score row. */
static json_t *script_input(const doc *d, int32_t id, const nerc_prediction *p, const nerc_tokenizer *tok,
                            const nerc_model *m) {
    json_t *ids = json_array(), *tokens = json_array(), *offsets = json_array(), *special = json_array(),
           *scores = json_array(), *word_ids = json_array(), *labels = json_array();
    for (int32_t t = 0; t < d->n; t++) {
        int is_special = t == 0 || t == d->n - 1; /* the template's [CLS] / [SEP] */
        json_array_append_new(ids, json_integer(d->ids[t]));
        json_array_append_new(tokens, json_string(nerc_tokenizer_id_to_token(tok, d->ids[t])));
        json_array_append_new(offsets, json_pack("[ii]", d->offsets[2 * t], d->offsets[2 * t + 1]));
        json_array_append_new(special, json_integer(is_special));
        json_array_append_new(word_ids, d->word_ids[t] < 0 ? json_null() : json_integer(d->word_ids[t]));
        json_t *row = is_special ? json_null() : json_array();
        for (int32_t k = 0; !is_special && k < p->n_labels; k++)
            json_array_append_new(row, json_real(p->token_scores[(size_t)(t - 1) * (size_t)p->n_labels + (size_t)k]));
        json_array_append_new(scores, row);
    }
    for (int32_t k = 0; k < nerc_model_num_labels(m); k++)
        json_array_append_new(labels, json_string(nerc_model_label(m, k)));
    return json_pack("{s:i, s:s%, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:s}", "id", id, "text", d->text, d->len,
                     "ids", ids, "tokens", tokens, "offsets", offsets, "special", special, "scores", scores,
                     "word_ids", word_ids, "labels", labels, "unk_id", nerc_tokenizer_unk_id(tok),
                     "continuing_subword_prefix", "##");
}

/* Same tokens as the encoding, at most one window, scores identical under every aggregation. */
static int prediction_fits(const doc *d, const nerc_prediction *p, const nerc_prediction *first) {
    int ok = p->n_tokens == d->n - 2;
    for (int32_t t = 0; ok && t < p->n_tokens; t++)
        ok = p->token_ids[t] == d->ids[t + 1];
    CHECK_MSG(ok, "nerc's tokens differ from the encoding of \"%s\"", d->text);
    if (ok && first)
        CHECK(!memcmp(p->token_scores, first->token_scores,
                      (size_t)p->n_tokens * (size_t)p->n_labels * sizeof *p->token_scores));
    return ok && p->n_windows <= 1; /* an empty text has no window */
}

/* Predicts every text under every aggregation, keeps nerc's entities and writes the
 * one-window texts to `path` for the script. */
static void predict_all(corpus *c, nerc_predictor *const *pr, const nerc_tokenizer *tok, const nerc_model *m,
                        const char *path) {
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    c->ents = calloc((size_t)c->n_docs * N_AGG, sizeof *c->ents);
    c->used = calloc((size_t)c->n_docs, 1);
    for (int32_t i = 0; f && i < c->n_docs; i++) {
        const doc *d = &c->docs[i];
        nerc_prediction p[N_AGG];
        int ok = 1;
        for (int a = 0; a < N_AGG && ok; a++) {
            nerc_status st = nerc_predict_text(pr[a], d->text, d->len, &p[a]);
            char name[64];
            CHECK_MSG(st == NERC_OK, "%s: %s", doc_name(c, i, name, sizeof name), nerc_last_error());
            ok = st == NERC_OK && prediction_fits(d, &p[a], a ? &p[0] : NULL);
        }
        if (!ok) {
            c->excluded[i >= c->n_raw]++;
            if (c->example_excluded < 0)
                c->example_excluded = i;
            continue;
        }
        for (int a = 0; a < N_AGG; a++)
            copy_entities(&c->ents[(size_t)i * N_AGG + (size_t)a], &p[a]);
        json_t *in = script_input(d, i, &p[0], tok, m);
        CHECK(in != NULL && json_dumpf(in, f, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9)) == 0);
        fputc('\n', f);
        json_decref(in);
        c->used[i] = 1;
    }
    if (f)
        CHECK(fclose(f) == 0);
}

/* ---- comparison ---------------------------------------------------------------------- */

static const char *agg_name(int a) { return nerc_aggregation_name((nerc_aggregation)a); }

/* One entity against its golden; NULL when equal, else what differs. */
static const char *entity_diff(const nerc_entity *e, const json_t *g, int a) {
    const char *type = json_string_value(json_object_get(g, a == NERC_AGGREGATION_NONE ? "entity" : "entity_group"));
    if (!type || strcmp(type, e->type))
        return "type";
    if (json_integer_value(json_object_get(g, "start")) != e->start ||
        json_integer_value(json_object_get(g, "end")) != e->end)
        return "span";
    if (!(fabs(json_number_value(json_object_get(g, "score")) - e->score) <= SCORE_TOL))
        return "score";
    if (a == NERC_AGGREGATION_NONE) {
        const json_t *w = json_object_get(g, "word");
        if (json_integer_value(json_object_get(g, "index")) != e->index)
            return "index";
        if (!json_is_string(w) || json_string_length(w) != strlen(e->word) || strcmp(json_string_value(w), e->word))
            return "word";
    }
    return NULL;
}

/* nerc's list against the golden list; NULL when equal. */
static const char *list_diff(const entity_copy *ec, const json_t *gold, int a, int32_t *at) {
    if (!json_is_array(gold))
        return "no golden list";
    for (int32_t i = 0; i < ec->n && (size_t)i < json_array_size(gold); i++) {
        const char *why = entity_diff(&ec->items[i], json_array_get(gold, (size_t)i), a);
        if (why)
            return *at = i, why;
    }
    *at = ec->n < (int32_t)json_array_size(gold) ? ec->n : (int32_t)json_array_size(gold);
    return (size_t)ec->n != json_array_size(gold) ? "count" : NULL;
}

static void print_lists(const doc *d, const entity_copy *ec, const json_t *gold, int a, const char *label) {
    char *g = json_dumps(gold, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("    text: %.*s\n    %s, nerc:", (int)(d->len > 200 ? 200 : d->len), d->text, agg_name(a));
    for (int32_t i = 0; i < ec->n; i++)
        printf(" %s[%d,%d)%.6f", ec->items[i].type, ec->items[i].start, ec->items[i].end, ec->items[i].score);
    printf("\n    %s, %s: %s\n", agg_name(a), label, g ? g : "?");
    free(g);
}

typedef struct {
    int32_t lines, entities[N_AGG], differing_lines, differing[N_AGG];
} tally;

/* Compares every used text with the script's output in `path`. strict: every difference is
 * a failure; else the differences are only counted and the first one shown. */
static tally compare(const corpus *c, const char *path, int strict, const char *label) {
    tally t = {0};
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(path, 0, &data, &len));
    char *line = data ? strtok(data, "\n") : NULL;
    int reports = 0;
    for (int32_t i = 0; i < c->n_docs; i++) {
        if (!c->used[i])
            continue;
        json_error_t err;
        json_t *gold = line ? json_loads(line, JSON_ALLOW_NUL, &err) : NULL;
        CHECK_MSG(gold && json_integer_value(json_object_get(gold, "id")) == i, "%s: no output for text %d", path, i);
        line = strtok(NULL, "\n");
        if (!gold)
            break;
        int differs = 0;
        for (int a = 0; a < N_AGG; a++) {
            const entity_copy *ec = &c->ents[(size_t)i * N_AGG + (size_t)a];
            const json_t *g = json_object_get(gold, agg_name(a));
            int32_t at = 0;
            const char *why = list_diff(ec, g, a, &at);
            t.entities[a] += ec->n;
            t.differing[a] += why != NULL;
            differs |= why != NULL;
            if (why && reports < (strict ? MAX_REPORTS : 1)) {
                char name[64];
                printf("  %s %s, %s: %s differs at entity %d\n", strict ? "MISMATCH" : "example:",
                       doc_name(c, i, name, sizeof name), agg_name(a), why, at);
                print_lists(&c->docs[i], ec, g, a, label);
                reports++;
            }
        }
        t.differing_lines += differs;
        t.lines++;
        json_decref(gold);
    }
    CHECK_MSG(line == NULL, "%s has more lines than texts", path);
    free(data);
    return t;
}

/* ---- the script ---------------------------------------------------------------------- */

static int node_available(void) { return system("node --version >/dev/null 2>&1") == 0; }

static int run_script(const char *options, const char *in, const char *out) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "node %s %s '%s' '%s'", SCRIPT, options, in, out);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s: exit status %d", cmd, rc);
    return rc == 0;
}

/* The goldens under nerc's documented rules: every list must be equal. */
static void check_goldens(const corpus *c, const char *in, const char *out) {
    double t0 = now_s();
    if (!run_script("--nerc-rules", in, out))
        return;
    printf("  script: %.1f s\n", now_s() - t0);
    tally t = compare(c, out, 1, "golden");
    for (int a = 0; a < N_AGG; a++) {
        printf("  %-7s %5d entities on %d texts, %d texts differ from the goldens\n", agg_name(a), t.entities[a],
               t.lines, t.differing[a]);
        CHECK_MSG(t.differing[a] == 0, "%s: %d of %d texts differ from the goldens", agg_name(a), t.differing[a],
                  t.lines);
        CHECK_MSG(t.entities[a] >= MIN_ENTITIES, "%s: only %d entities", agg_name(a), t.entities[a]);
    }
    CHECK(t.lines + c->excluded[0] + c->excluded[1] == c->n_docs);
}

/* HF's own rules (is_subword from token and text lengths, one entry per jamo): the documented
 * differences, counted and shown once. */
static void report_hf_guess(const corpus *c, const char *in, const char *out) {
    if (!run_script("", in, out))
        return;
    tally t = compare(c, out, 0, "HF is_subword guess");
    printf("  under HF's own is_subword guess (len(token) != len(text span)) and per-sub-token Hangul jamo, "
           "%d of %d texts would differ (none %d, simple %d, first %d, average %d, max %d)\n",
           t.differing_lines, t.lines, t.differing[0], t.differing[1], t.differing[2], t.differing[3],
           t.differing[4]);
}

static void test_pipeline_goldens(const char *model_dir, const char *title) {
    printf("  == %s\n", title);
    nerc_model *m = NULL;
    nerc_tokenizer *tok = NULL;
    nerc_predictor *pr[N_AGG] = {0};
    CHECK_OK(nerc_model_load(&m, model_dir, NULL, 0, 0));
    CHECK_OK(nerc_tokenizer_load(&tok, model_dir));
    for (int a = 0; m && tok && a < N_AGG; a++) {
        nerc_predict_params pp = nerc_predict_default_params();
        pp.aggregation = (nerc_aggregation)a;
        CHECK_OK(nerc_predictor_init(&pr[a], m, tok, &pp));
    }
    corpus c = {.example_excluded = -1};
    char *in = fs_join(tmpdir, "pipeline_in.jsonl"), *out_nerc = fs_join(tmpdir, "golden_nerc_rules.jsonl"),
         *out_hf = fs_join(tmpdir, "golden_hf_rules.jsonl"), *dev = fs_join(tmpdir, "dev.txt");
    if (pr[N_AGG - 1]) {
        read_raw_text(&c);
        c.n_raw = c.n_docs;
        test_conll_subset(SHARED_DIR "/data/conll2003/dev.txt", dev, 8000);
        read_dev_sentences(&c, tok, dev);
        double t0 = now_s();
        predict_all(&c, pr, tok, m, in);
        printf("  predicted %d texts x %d aggregations in %.1f s\n", c.n_docs, N_AGG, now_s() - t0);
        char name[64] = "-";
        if (c.example_excluded >= 0)
            doc_name(&c, c.example_excluded, name, sizeof name);
        printf("  texts: %d raw-text lines + %d CoNLL dev sentences; excluded %d + %d with more than one window of "
               "%d tokens (HF merges per-window entities, nerc keeps one score row per token), e.g. %s: %d tokens\n",
               c.n_raw, c.n_docs - c.n_raw, c.excluded[0], c.excluded[1], nerc_predictor_params(pr[0])->max_length,
               name, c.example_excluded >= 0 ? c.docs[c.example_excluded].n : 0);
    }
    if (pr[N_AGG - 1]) {
        check_goldens(&c, in, out_nerc);
        report_hf_guess(&c, in, out_hf);
    }
    for (int32_t i = 0; i < c.n_docs; i++) {
        for (int a = 0; c.ents && a < N_AGG; a++)
            free(c.ents[(size_t)i * N_AGG + (size_t)a].items), free(c.ents[(size_t)i * N_AGG + (size_t)a].strings);
        doc_free(&c.docs[i]);
    }
    free(c.docs), free(c.ents), free(c.used);
    free(in), free(out_nerc), free(out_hf), free(dev);
    for (int a = 0; a < N_AGG; a++)
        nerc_predictor_free(pr[a]);
    nerc_tokenizer_free(tok);
    nerc_model_free(m);
}

int main(void) {
    if (!node_available()) {
        SKIP("HF pipeline goldens: `node` (Node.js, to run %s) is not on PATH", SCRIPT);
        return test_report("test_pipeline_golden");
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nerc_test_pipeline_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    nerc_set_log(NULL, NULL);
    nerc_set_threads(1); /* a dim-32 model gains nothing from threads; on a busy machine they cost 10x */
    test_pipeline_goldens(TINY, "tiny model, random init");
    char *model_dir = train_tiny();
    if (model_dir)
        test_pipeline_goldens(model_dir, "tiny model, trained");
    free(model_dir);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_report("test_pipeline_golden");
}
