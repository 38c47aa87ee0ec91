/* Tests of the data module: CoNLL/JSONL readers, HF label alignment, windows, batcher, bad inputs. */
#include "nerc/data.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The full tokenizer path (src/text); build with -DTEST_DATA_WITH_TOKENIZER=0 to skip it. */
#ifndef TEST_DATA_WITH_TOKENIZER
#define TEST_DATA_WITH_TOKENIZER 1
#endif

#define CONLL_DIR SHARED_DIR "/data/conll2003"
#define WORDPIECES SHARED_DIR "/fixtures/tokenizer/conll_wordpieces.jsonl"

static char tmp_dir[] = "/tmp/nerc_test_data.XXXXXX";
static char last_log[1024];
static int n_logs;

static void capture_log(const char *msg, void *user) {
    (void)user;
    snprintf(last_log, sizeof last_log, "%s", msg);
    n_logs++;
}

/* Writes `text` to a temp file and returns its path (static buffer). */
static const char *tmp_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, strlen(text), f);
        fclose(f);
    }
    return path;
}

static nerc_label_set conll_labels(void) {
    nerc_label_set ls;
    CHECK_OK(nerc_labels_init(&ls, nerc_conll2003_labels, 9));
    return ls;
}

static int64_t count_b_tags(const nerc_dataset *ds) {
    int64_t n = 0;
    for (int32_t w = 0; w < ds->n_words; w++)
        n += strncmp(ds->labels.names[ds->tags[w]], "B-", 2) == 0;
    return n;
}

/* ---- CoNLL-2003 files ---- */

static void check_split(const char *name, const nerc_label_set *labels, int32_t sents, int32_t words,
                        int64_t entities, int32_t docs) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.txt", CONLL_DIR, name);
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_read_conll(&ds, path, labels));
    if (!ds)
        return;
    int64_t b_tags = count_b_tags(ds), chunks = nerc_dataset_count_entities(ds);
    printf("  %s: %d sentences, %d tokens, %lld entities (B- tags), %lld chunks, %d documents\n", name,
           (int)ds->n_sents, (int)ds->n_words, (long long)b_tags, (long long)chunks, (int)ds->n_docs);
    CHECK(ds->n_sents == sents);
    CHECK(ds->n_words == words);
    CHECK(b_tags == entities);
    CHECK(chunks == entities);
    CHECK(ds->n_docs == docs);
    CHECK(ds->iob1_converted == 0);
    CHECK(ds->labels.n == 9);
    for (int32_t i = 0; i < ds->labels.n && i < 9; i++)
        CHECK_MSG(strcmp(ds->labels.names[i], nerc_conll2003_labels[i]) == 0, "label %d is %s", (int)i,
                  ds->labels.names[i]);
    CHECK(ds->sent_doc[0] == 0 && ds->sent_doc[ds->n_sents - 1] == docs - 1);
    CHECK(strcmp(nerc_dataset_word(ds, 0), "EU") == 0 || strcmp(nerc_dataset_word(ds, 0), "CRICKET") == 0 ||
          strcmp(nerc_dataset_word(ds, 0), "SOCCER") == 0);
    nerc_dataset_free(ds);
}

static void test_conll2003(void) {
    check_split("train", NULL, 14041, 203621, 23499, 946);
    nerc_label_set ls = conll_labels();
    check_split("dev", &ls, 3250, 51362, 5942, 216);
    check_split("test", &ls, 3453, 46435, 5648, 231);
    check_split("dev", NULL, 3250, 51362, 5942, 216);
    nerc_labels_free(&ls);
}

/* ---- alignment against the fixture's word pieces ---- */

typedef struct {
    int32_t *pieces, *offsets; /* per dataset word */
    json_t **lines;            /* [n] parsed fixture lines */
    int32_t n;
} fixture;

static int load_fixture(fixture *fx, const nerc_dataset *ds) {
    memset(fx, 0, sizeof *fx);
    FILE *f = fopen(WORDPIECES, "rb");
    if (!f)
        return 0;
    fx->lines = calloc((size_t)ds->n_sents, sizeof *fx->lines);
    fx->offsets = calloc((size_t)ds->n_words + 1, sizeof *fx->offsets);
    fx->pieces = malloc((size_t)ds->n_words * 8 * sizeof *fx->pieces);
    char *line = NULL;
    size_t cap = 0;
    int32_t w = 0, np = 0;
    while (getline(&line, &cap, f) > 0 && fx->n < ds->n_sents) {
        json_t *obj = json_loads(line, 0, NULL);
        fx->lines[fx->n++] = obj;
        json_t *wp = json_object_get(obj, "word_pieces"), *word, *id;
        size_t i, j;
        json_array_foreach(wp, i, word) {
            json_array_foreach(word, j, id) fx->pieces[np++] = (int32_t)json_integer_value(id);
            fx->offsets[++w] = np;
        }
    }
    free(line);
    fclose(f);
    return w == ds->n_words;
}

static void free_fixture(fixture *fx) {
    for (int32_t i = 0; i < fx->n; i++)
        json_decref(fx->lines[i]);
    free(fx->lines);
    free(fx->pieces);
    free(fx->offsets);
}

/* 1 if ids[0..n) equal the JSON integer array. */
static int same_ids(const int32_t *ids, int32_t n, json_t *arr) {
    if (!json_is_array(arr) || json_array_size(arr) != (size_t)n)
        return 0;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] != json_integer_value(json_array_get(arr, (size_t)i)))
            return 0;
    return 1;
}

static int32_t check_fixture_sentences(const nerc_dataset *ds, const fixture *fx) {
    int32_t ok = 0, ids[1024], labels[1024];
    for (int32_t s = 0; s < ds->n_sents && s < fx->n; s++) {
        int32_t w0 = ds->sent_offsets[s], nw = ds->sent_offsets[s + 1] - w0;
        int32_t n = fx->offsets[w0 + nw] - fx->offsets[w0] + 2;
        if (n > 1024)
            continue;
        nerc_status st = nerc_align_labels(ids, labels, fx->pieces, fx->offsets + w0, ds->tags + w0, nw, 101, 102,
                                           NERC_LABEL_MODE_FIRST_PIECE, NULL, ds->labels.n);
        ok += st == NERC_OK && same_ids(ids, n, json_object_get(fx->lines[s], "input_ids")) &&
              same_ids(labels, n, json_object_get(fx->lines[s], "labels"));
    }
    return ok;
}

/* The encoded dataset (no sentence needs a window) must match too. */
static int32_t check_fixture_encoded(const nerc_sequences *e, const fixture *fx) {
    int32_t ok = 0;
    for (int32_t k = 0; k < e->n_seqs; k++) {
        int32_t off = e->seq_offsets[k], n = e->seq_offsets[k + 1] - off, s = e->seq_sent[k];
        ok += same_ids(e->input_ids + off, n, json_object_get(fx->lines[s], "input_ids")) &&
              same_ids(e->labels + off, n, json_object_get(fx->lines[s], "labels"));
    }
    return ok;
}

static nerc_dataset *read_fixture_dataset(const nerc_label_set *ls) {
    nerc_jsonl_params jp = {"words", "tags"};
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_read_jsonl(&ds, WORDPIECES, ls, &jp));
    return ds;
}

static void test_fixture_alignment(void) {
    nerc_label_set ls = conll_labels();
    nerc_dataset *ds = read_fixture_dataset(&ls);
    fixture fx;
    if (ds && load_fixture(&fx, ds)) {
        CHECK(ds->n_sents == 9703);
        int32_t ok = check_fixture_sentences(ds, &fx);
        printf("  alignment from word_pieces: %d / %d sentences identical (input_ids and labels)\n", (int)ok,
               (int)ds->n_sents);
        CHECK(ok == 9703);
        nerc_sequences *e = NULL;
        CHECK_OK(nerc_encode_pieces(&e, ds, fx.pieces, fx.offsets, 101, 102, NULL));
        if (e) {
            int32_t ok2 = check_fixture_encoded(e, &fx);
            printf("  encoded dataset: %d / %d sequences identical, %d windowed\n", (int)ok2, (int)e->n_seqs,
                   (int)e->n_windowed);
            CHECK(e->n_seqs == 9703 && ok2 == 9703 && e->n_windowed == 0 && e->n_empty_words == 0);
        }
        nerc_sequences_free(e);
    } else {
        CHECK_MSG(0, "cannot load %s", WORDPIECES);
    }
    if (ds)
        free_fixture(&fx);
    nerc_dataset_free(ds);
    nerc_labels_free(&ls);
}

#if TEST_DATA_WITH_TOKENIZER
static void test_tokenizer_path(void) {
    nerc_label_set ls = conll_labels();
    nerc_dataset *ds = read_fixture_dataset(&ls);
    nerc_tokenizer *tok = NULL;
    CHECK_OK(nerc_tokenizer_load(&tok, SHARED_DIR "/models/distilbert-base-uncased"));
    fixture fx;
    if (ds && tok && load_fixture(&fx, ds)) {
        nerc_sequences *e = NULL;
        CHECK_OK(nerc_encode_dataset(&e, ds, tok, NULL));
        int32_t ok = e ? check_fixture_encoded(e, &fx) : 0;
        printf("  tokenizer + encode: %d / %d sentences identical (input_ids and labels)\n", (int)ok,
               (int)ds->n_sents);
        CHECK(e && e->n_seqs == 9703 && ok == 9703);
        nerc_sequences_free(e);
        free_fixture(&fx);
    }
    nerc_tokenizer_free(tok);
    nerc_dataset_free(ds);
    nerc_labels_free(&ls);
}
#endif

/* ---- label_all_tokens ---- */

static void test_label_modes(void) {
    nerc_label_set ls = conll_labels();
    int32_t b_to_i[9];
    nerc_labels_b_to_i(&ls, b_to_i);
    CHECK(b_to_i[0] == 0 && b_to_i[1] == 2 && b_to_i[2] == 2 && b_to_i[3] == 4 && b_to_i[7] == 8);
    /* words: "Huggingface"(B-ORG: 3 pieces) "is"(O: 1) "Londonish"(B-LOC: 2) */
    int32_t pieces[] = {10, 11, 12, 20, 30, 31}, offsets[] = {0, 3, 4, 6}, tags[] = {3, 0, 5};
    int32_t ids[8], labels[8];
    int32_t want_ids[] = {101, 10, 11, 12, 20, 30, 31, 102};
    int32_t first[] = {-100, 3, -100, -100, 0, 5, -100, -100};
    int32_t copy[] = {-100, 3, 3, 3, 0, 5, 5, -100};
    int32_t btoi[] = {-100, 3, 4, 4, 0, 5, 6, -100};
    CHECK_OK(nerc_align_labels(ids, labels, pieces, offsets, tags, 3, 101, 102, NERC_LABEL_MODE_FIRST_PIECE, NULL, 9));
    CHECK(memcmp(ids, want_ids, sizeof ids) == 0 && memcmp(labels, first, sizeof labels) == 0);
    CHECK_OK(nerc_align_labels(ids, labels, pieces, offsets, tags, 3, 101, 102, NERC_LABEL_MODE_COPY, NULL, 9));
    CHECK(memcmp(labels, copy, sizeof labels) == 0);
    CHECK_OK(nerc_align_labels(ids, labels, pieces, offsets, tags, 3, 101, 102, NERC_LABEL_MODE_B_TO_I, b_to_i, 9));
    CHECK(memcmp(labels, btoi, sizeof labels) == 0);
    CHECK(nerc_align_labels(ids, labels, pieces, offsets, tags, 3, 101, 102, NERC_LABEL_MODE_B_TO_I, NULL, 9) ==
          NERC_ERR_ARG);
    int32_t bad[] = {3, 9, 0};
    CHECK(nerc_align_labels(ids, labels, pieces, offsets, bad, 3, 101, 102, NERC_LABEL_MODE_FIRST_PIECE, NULL, 9) ==
          NERC_ERR_ARG);
    /* A word without pieces gets no row (HF), the next word keeps its label. */
    int32_t offs0[] = {0, 3, 3, 5};
    int32_t first0[] = {-100, 3, -100, -100, 5, -100, -100};
    CHECK_OK(nerc_align_labels(ids, labels, pieces, offs0, tags, 3, 101, 102, NERC_LABEL_MODE_FIRST_PIECE, NULL, 9));
    CHECK(memcmp(labels, first0, sizeof first0) == 0);

    /* The same through nerc_encode_pieces (b-to-i mode). */
    const char *text = "Huggingface B-ORG\nis O\nLondonish B-LOC\n";
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_parse_conll(&ds, text, strlen(text), "mem", &ls));
    if (ds) {
        nerc_encode_params p = nerc_encode_default_params();
        p.label_mode = NERC_LABEL_MODE_B_TO_I;
        nerc_sequences *e = NULL;
        CHECK_OK(nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &p));
        CHECK(e && e->n_tokens == 8 && memcmp(e->labels, btoi, sizeof btoi) == 0);
        uint8_t scoring[] = {0, 1, 0, 0, 1, 1, 0, 0};
        int32_t row_word[] = {-1, 0, 0, 0, 1, 2, 2, -1};
        CHECK(e && memcmp(e->row_scoring, scoring, 8) == 0 && memcmp(e->row_word, row_word, sizeof row_word) == 0);
        nerc_sequences_free(e);
    }
    nerc_dataset_free(ds);
    nerc_labels_free(&ls);
}

/* ---- IOB1 -> IOB2 ---- */

static void test_iob1(void) {
    const char *iob1 = "-DOCSTART- -X- O O\n\n"
                       "U.N. NNP I-NP I-ORG\nofficial NN I-NP O\nEkeus NNP I-NP I-PER\nheads VBZ I-VP O\n"
                       "for IN I-PP O\nBaghdad NNP I-NP I-LOC\n. . O O\n\n"
                       "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nMary NNP I-NP B-PER\n";
    const char *want[] = {"B-ORG", "O", "B-PER", "O", "O", "B-LOC", "O", "B-PER", "I-PER", "B-PER"};
    nerc_dataset *ds = NULL;
    n_logs = 0;
    CHECK_OK(nerc_dataset_read_conll(&ds, tmp_file("iob1.txt", iob1), NULL));
    CHECK(n_logs == 1 && strstr(last_log, "IOB1") != NULL);
    if (ds) {
        CHECK(ds->iob1_converted == 1 && ds->n_sents == 2 && ds->n_words == 10);
        for (int32_t w = 0; w < ds->n_words && w < 10; w++)
            CHECK_MSG(strcmp(ds->labels.names[ds->tags[w]], want[w]) == 0, "word %d: %s, want %s", (int)w,
                      ds->labels.names[ds->tags[w]], want[w]);
        /* Not CoNLL's exact set (no MISC): sorted as run_ner does. */
        const char *sorted[] = {"B-LOC", "B-ORG", "B-PER", "I-PER", "O"};
        CHECK(ds->labels.n == 5);
        for (int32_t i = 0; i < ds->labels.n && i < 5; i++)
            CHECK(strcmp(ds->labels.names[i], sorted[i]) == 0);
        CHECK(nerc_dataset_count_entities(ds) == 5);
    }
    nerc_dataset_free(ds);
    /* IOB2 input is left alone, without a notice. */
    n_logs = 0;
    CHECK_OK(nerc_dataset_parse_conll(&ds, "a B-X\nb I-X\n", 12, "mem", NULL));
    CHECK(ds && ds->iob1_converted == 0 && n_logs == 0);
    nerc_dataset_free(ds);
}

/* ---- windows ---- */

/* A 1,500-word sentence with 1..3 pieces per word; returns its dataset. */
static nerc_dataset *long_sentence(int32_t n_words, int32_t **pieces, int32_t **offsets) {
    size_t cap = (size_t)n_words * 16 + 16;
    char *text = malloc(cap);
    size_t len = 0;
    *offsets = malloc(((size_t)n_words + 1) * sizeof **offsets);
    *pieces = malloc((size_t)n_words * 3 * sizeof **pieces);
    (*offsets)[0] = 0;
    for (int32_t w = 0; w < n_words; w++) {
        const char *tag = w % 7 == 0 ? "B-PER" : w % 7 == 1 ? "I-PER" : "O";
        len += (size_t)snprintf(text + len, cap - len, "w%d %s\n", (int)w, tag);
        int32_t np = 1 + (w * 7919) % 3, at = (*offsets)[w];
        for (int32_t k = 0; k < np; k++)
            (*pieces)[at + k] = 1000 + w;
        (*offsets)[w + 1] = at + np;
    }
    nerc_label_set ls = conll_labels();
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_parse_conll(&ds, text, len, "long", &ls));
    nerc_labels_free(&ls);
    free(text);
    return ds;
}

/* Every word labelled and scored in exactly one window, with its own label. */
static void check_windows(const nerc_dataset *ds, const nerc_sequences *e, int32_t max_len) {
    int32_t *labelled = calloc((size_t)ds->n_words, sizeof *labelled);
    int32_t *scored = calloc((size_t)ds->n_words, sizeof *scored);
    int ok_label = 1, ok_len = 1, ok_edges = 1;
    for (int32_t k = 0; k < e->n_seqs; k++) {
        int32_t a = e->seq_offsets[k], b = e->seq_offsets[k + 1];
        ok_len &= b - a <= max_len;
        ok_edges &= e->input_ids[a] == 101 && e->input_ids[b - 1] == 102;
        for (int32_t r = a; r < b; r++) {
            if (e->row_word[r] < 0)
                continue;
            int32_t w = ds->sent_offsets[e->seq_sent[k]] + e->row_word[r];
            if (e->labels[r] != NERC_IGNORE_INDEX) {
                labelled[w]++;
                ok_label &= e->labels[r] == ds->tags[w];
            }
            scored[w] += e->row_scoring[r];
        }
    }
    int once = 1;
    for (int32_t w = 0; w < ds->n_words; w++)
        once &= labelled[w] == 1 && scored[w] == 1;
    CHECK(once);
    CHECK(ok_label);
    CHECK(ok_len);
    CHECK(ok_edges);
    free(labelled);
    free(scored);
}

static void test_windows(void) {
    int32_t *pieces = NULL, *offsets = NULL;
    nerc_dataset *ds = long_sentence(1500, &pieces, &offsets);
    int32_t strides[] = {0, 1, 64, 128, 300, 509};
    for (int i = 0; ds && i < 6; i++) {
        nerc_encode_params p = nerc_encode_default_params();
        p.stride = strides[i];
        nerc_sequences *e = NULL;
        CHECK_OK(nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &p));
        if (!e)
            continue;
        if (i == 3)
            printf("  1500-word sentence (%d pieces), max_len 512, stride 128: %d windows, longest %d\n",
                   (int)offsets[1500], (int)e->n_seqs, (int)e->max_seq_len);
        CHECK(e->n_windowed == 1 && e->n_seqs > 1);
        check_windows(ds, e, 512);
        /* The overlap between consecutive windows is at most `stride` pieces. */
        nerc_sequences_free(e);
    }
    /* A word with more pieces than a window is clipped, never dropped. */
    if (ds) {
        nerc_encode_params p = {8, 2, NERC_LABEL_MODE_FIRST_PIECE};
        int32_t *big = malloc(((size_t)offsets[1500] + 10) * sizeof *big), *boffs = malloc(1501 * sizeof *boffs);
        boffs[0] = 0;
        for (int32_t w = 0; w < 1500; w++)
            boffs[w + 1] = boffs[w] + (w == 3 ? 10 : offsets[w + 1] - offsets[w]);
        for (int32_t k = 0; k < boffs[1500]; k++)
            big[k] = 7;
        nerc_sequences *e = NULL;
        CHECK_OK(nerc_encode_pieces(&e, ds, big, boffs, 101, 102, &p));
        if (e) {
            CHECK(e->n_clipped_words == 1);
            check_windows(ds, e, 8);
        }
        nerc_sequences_free(e);
        free(big);
        free(boffs);
        nerc_encode_params bad = {512, 510, NERC_LABEL_MODE_FIRST_PIECE};
        CHECK(nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &bad) == NERC_ERR_ARG);
        bad = (nerc_encode_params){2, 0, NERC_LABEL_MODE_FIRST_PIECE};
        CHECK(nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &bad) == NERC_ERR_ARG);
    }
    nerc_dataset_free(ds);
    free(pieces);
    free(offsets);
}

/* The scoring window is the one where the word is farthest from an edge. */
static void test_window_choice(void) {
    /* 10 one-piece words, windows of 4 pieces, stride 2: [0,4) [2,6) [4,8) [6,10). */
    const char *text = "a O\nb O\nc O\nd O\ne O\nf O\ng O\nh O\ni O\nj O\n";
    int32_t pieces[10], offsets[11];
    for (int32_t w = 0; w < 10; w++)
        pieces[w] = 1000 + w, offsets[w] = w;
    offsets[10] = 10;
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_parse_conll(&ds, text, strlen(text), "mem", NULL));
    nerc_encode_params p = {6, 2, NERC_LABEL_MODE_FIRST_PIECE};
    nerc_sequences *e = NULL;
    if (ds)
        CHECK_OK(nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &p));
    if (e) {
        CHECK(e->n_seqs == 4);
        int32_t firsts[] = {0, 2, 4, 6};
        for (int32_t k = 0; k < 4 && k < e->n_seqs; k++)
            CHECK(e->row_word[e->seq_offsets[k] + 1] == firsts[k]);
        /* word -> window that scores it: a,b,c:0 (c has 1 left/1 right in window 0), d:1, e:1, f:2, ... */
        int32_t want[] = {0, 0, 0, 1, 1, 2, 2, 3, 3, 3};
        for (int32_t k = 0; k < e->n_seqs; k++)
            for (int32_t r = e->seq_offsets[k]; r < e->seq_offsets[k + 1]; r++)
                if (e->row_scoring[r])
                    CHECK_MSG(want[e->row_word[r]] == k, "word %d scored in window %d", (int)e->row_word[r], (int)k);
        check_windows(ds, e, 6);
    }
    nerc_sequences_free(e);
    e = NULL;
    /* stride 3: windows [0,4) [1,5) ... [6,10); ties go to the earlier window. */
    p.stride = 3;
    if (ds)
        CHECK_OK(nerc_encode_pieces(&e, ds, pieces, offsets, 101, 102, &p));
    if (e) {
        CHECK(e->n_seqs == 7);
        int32_t want[] = {0, 0, 0, 1, 2, 3, 4, 5, 6, 6};
        for (int32_t k = 0; k < e->n_seqs; k++)
            for (int32_t r = e->seq_offsets[k]; r < e->seq_offsets[k + 1]; r++)
                if (e->row_scoring[r])
                    CHECK_MSG(want[e->row_word[r]] == k, "word %d scored in window %d", (int)e->row_word[r], (int)k);
        check_windows(ds, e, 6);
    }
    nerc_sequences_free(e);
    nerc_dataset_free(ds);
}

/* ---- batcher ---- */

static nerc_sequences *small_encoded(nerc_dataset **ds_out, int32_t n_sents) {
    size_t cap = (size_t)n_sents * 64;
    char *text = malloc(cap);
    size_t len = 0;
    int32_t n_words = 0;
    for (int32_t s = 0; s < n_sents; s++) {
        for (int32_t w = 0; w <= s % 5; w++, n_words++)
            len += (size_t)snprintf(text + len, cap - len, "s%dw%d %s\n", (int)s, (int)w, w ? "O" : "B-LOC");
        text[len++] = '\n';
    }
    int32_t *pieces = malloc((size_t)n_words * sizeof *pieces), *offsets = malloc(((size_t)n_words + 1) * 4);
    for (int32_t w = 0; w <= n_words; w++)
        offsets[w] = w;
    for (int32_t w = 0; w < n_words; w++)
        pieces[w] = 2000 + w;
    nerc_sequences *e = NULL;
    CHECK_OK(nerc_dataset_parse_conll(ds_out, text, len, "mem", NULL));
    if (*ds_out)
        CHECK_OK(nerc_encode_pieces(&e, *ds_out, pieces, offsets, 101, 102, NULL));
    free(text);
    free(pieces);
    free(offsets);
    return e;
}

/* Each sequence exactly once over the epoch, and batches are consistent views. */
static void check_epoch(nerc_batcher *b, const nerc_sequences *e, const nerc_dataset *ds) {
    int32_t *seen = calloc((size_t)e->n_seqs, sizeof *seen);
    int32_t *word_pred = malloc((size_t)ds->n_words * sizeof *word_pred);
    for (int32_t w = 0; w < ds->n_words; w++)
        word_pred[w] = -1;
    int ok = 1;
    int32_t max_rows = 0;
    for (int32_t i = 0; i < nerc_batcher_n_batches(b); i++) {
        nerc_data_batch db;
        CHECK_OK(nerc_batcher_get(b, i, &db));
        max_rows = db.batch.n_tokens > max_rows ? db.batch.n_tokens : max_rows;
        for (int32_t j = 0; j < db.batch.n_seqs; j++) {
            int32_t k = db.seq_index[j], a = db.batch.seq_offsets[j], n = db.batch.seq_offsets[j + 1] - a;
            seen[k]++;
            ok &= n == e->seq_offsets[k + 1] - e->seq_offsets[k];
            ok &= memcmp(db.batch.input_ids + a, e->input_ids + e->seq_offsets[k], (size_t)n * 4) == 0;
            ok &= memcmp(db.batch.labels + a, e->labels + e->seq_offsets[k], (size_t)n * 4) == 0;
            ok &= db.batch.position_ids[a] == 0 && db.batch.position_ids[a + n - 1] == n - 1;
            ok &= db.row_sent[a] == e->seq_sent[k] && db.row_word[a] == -1 && db.row_word[a + 1] == 0;
            ok &= db.row_scoring[a + 1] == 1;
        }
        ok &= db.batch.n_tokens == db.batch.seq_offsets[db.batch.n_seqs];
        nerc_batch_scatter_predictions(word_pred, &db, db.batch.labels, ds);
    }
    /* Scattering the gold labels as predictions gives back every word's tag. */
    for (int32_t w = 0; w < ds->n_words; w++)
        ok &= word_pred[w] == ds->tags[w];
    free(word_pred);
    for (int32_t k = 0; k < e->n_seqs; k++)
        ok &= seen[k] == 1;
    CHECK(ok);
    CHECK(max_rows <= nerc_batcher_max_rows(b));
    free(seen);
}

static void test_batcher(void) {
    nerc_dataset *ds = NULL;
    nerc_sequences *e = small_encoded(&ds, 103);
    nerc_batcher *b = NULL;
    if (e)
        CHECK_OK(nerc_batcher_init(&b, e, 8));
    if (!b) {
        nerc_sequences_free(e);
        nerc_dataset_free(ds);
        return;
    }
    CHECK(nerc_batcher_n_batches(b) == 13);
    /* Lengths are 3..7 (1..5 words + 2); the 8 longest are all 7 long. */
    CHECK(nerc_batcher_max_rows(b) == 56 && nerc_batcher_max_sq(b) == 8 * 49);
    int32_t *order1 = malloc(103 * sizeof *order1);
    nerc_batcher_shuffle(b, 42, 0);
    memcpy(order1, nerc_batcher_order(b), 103 * sizeof *order1);
    check_epoch(b, e, ds);
    nerc_batcher_shuffle(b, 42, 1);
    CHECK(memcmp(order1, nerc_batcher_order(b), 103 * sizeof *order1) != 0);
    check_epoch(b, e, ds);
    nerc_batcher_shuffle(b, 43, 0);
    CHECK(memcmp(order1, nerc_batcher_order(b), 103 * sizeof *order1) != 0);
    nerc_batcher_shuffle(b, 42, 0);
    CHECK(memcmp(order1, nerc_batcher_order(b), 103 * sizeof *order1) == 0);
    nerc_batcher_sort_by_length(b);
    const int32_t *ord = nerc_batcher_order(b);
    int sorted = 1;
    for (int32_t i = 1; i < 103; i++) {
        int32_t la = e->seq_offsets[ord[i - 1] + 1] - e->seq_offsets[ord[i - 1]];
        int32_t lb = e->seq_offsets[ord[i] + 1] - e->seq_offsets[ord[i]];
        sorted &= la > lb || (la == lb && ord[i - 1] < ord[i]);
    }
    CHECK(sorted);
    check_epoch(b, e, ds);
    nerc_data_batch db;
    CHECK(nerc_batcher_get(b, 13, &db) == NERC_ERR_ARG);
    /* Padded view: last batch of file order has 7 sequences (103 = 12*8 + 7). */
    nerc_batcher_sequential(b);
    nerc_padded_batch pb;
    CHECK_OK(nerc_batcher_get_padded(b, 12, 0, &pb));
    CHECK(pb.n_seqs == 7 && pb.seq_len == 7 && pb.seq_index[0] == 96);
    /* sequence 96 has 96%5+1 = 2 words: [CLS] w w [SEP] then 3 pads */
    int32_t mask0[] = {1, 1, 1, 1, 0, 0, 0};
    CHECK(memcmp(pb.attention_mask, mask0, sizeof mask0) == 0);
    CHECK(pb.input_ids[4] == 0 && pb.labels[4] == NERC_IGNORE_INDEX && pb.input_ids[3] == 102);
    free(order1);
    nerc_batcher_free(b);
    nerc_sequences_free(e);
    nerc_dataset_free(ds);
}

/* ---- writing CoNLL back ---- */

static void test_write_conll(void) {
    const char *text = "-DOCSTART- -X- O O\n\nEU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n";
    nerc_dataset *ds = NULL, *back = NULL;
    CHECK_OK(nerc_dataset_parse_conll(&ds, text, strlen(text), "mem", NULL));
    if (!ds)
        return;
    int32_t pred[3] = {ds->tags[0], ds->tags[1], ds->tags[1]};
    char path[512];
    snprintf(path, sizeof path, "%s/pred.txt", tmp_dir);
    CHECK_OK(nerc_dataset_write_conll(ds, pred, path));
    FILE *f = fopen(path, "rb");
    char buf[256] = {0};
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    CHECK(strcmp(buf, "EU B-ORG B-ORG\nrejects O O\n\nPeter B-PER O\n\n") == 0);
    CHECK_OK(nerc_dataset_read_conll(&back, path, &ds->labels));
    CHECK(back && back->n_sents == 2 && back->n_words == 3 && back->tags[2] == ds->tags[1]);
    int32_t bad[3] = {0, 0, 99};
    CHECK(nerc_dataset_write_conll(ds, bad, path) == NERC_ERR_ARG);
    nerc_dataset_free(back);
    nerc_dataset_free(ds);
}

/* ---- JSONL ---- */

static void test_jsonl(void) {
    nerc_label_set ls = conll_labels();
    const char *str = "{\"tokens\": [\"EU\", \"rejects\"], \"ner_tags\": [\"B-ORG\", \"O\"]}\n\n"
                      "{\"tokens\": [], \"ner_tags\": []}\r\n"
                      "{\"id\": \"2\", \"tokens\": [\"Peter\"], \"ner_tags\": [\"B-PER\"]}";
    nerc_dataset *ds = NULL;
    CHECK_OK(nerc_dataset_parse_jsonl(&ds, str, strlen(str), "mem.jsonl", NULL, NULL));
    CHECK(ds && ds->n_sents == 3 && ds->n_words == 3 && ds->labels.n == 3);
    if (ds)
        CHECK(strcmp(nerc_dataset_word(ds, 2), "Peter") == 0 && strcmp(ds->labels.names[ds->tags[2]], "B-PER") == 0);
    nerc_dataset_free(ds);
    const char *ints = "{\"tokens\": [\"EU\", \"rejects\", \"German\"], \"ner_tags\": [3, 0, 7]}\n";
    CHECK_OK(nerc_dataset_parse_jsonl(&ds, ints, strlen(ints), "mem.jsonl", &ls, NULL));
    CHECK(ds && ds->tags[0] == 3 && ds->tags[2] == 7 && ds->labels.n == 9);
    nerc_dataset_free(ds);
    CHECK(nerc_dataset_parse_jsonl(&ds, ints, strlen(ints), "mem.jsonl", NULL, NULL) == NERC_ERR_ARG);
    CHECK(strstr(nerc_last_error(), "mem.jsonl:1") != NULL);
    nerc_labels_free(&ls);
}

/* ---- bad inputs: a clear error naming file:line, never a crash ---- */

static void expect_conll_error(const char *name, const char *text, const nerc_label_set *ls, const char *where,
                               const char *what) {
    nerc_dataset *ds = NULL;
    const char *path = tmp_file(name, text);
    nerc_status st = nerc_dataset_read_conll(&ds, path, ls);
    CHECK_MSG(st == NERC_ERR_FORMAT && ds == NULL, "%s: status %d", name, (int)st);
    char loc[600];
    snprintf(loc, sizeof loc, "%s:%s", path, where);
    CHECK_MSG(strstr(nerc_last_error(), loc) && strstr(nerc_last_error(), what), "%s: '%s'", name,
              nerc_last_error());
    nerc_dataset_free(ds);
}

static void expect_jsonl_error(const char *name, const char *text, const nerc_label_set *ls, const char *where) {
    nerc_dataset *ds = NULL;
    const char *path = tmp_file(name, text);
    nerc_status st = nerc_dataset_read_jsonl(&ds, path, ls, NULL);
    CHECK_MSG(st != NERC_OK && ds == NULL, "%s: status %d", name, (int)st);
    char loc[600];
    snprintf(loc, sizeof loc, "%s:%s", path, where);
    CHECK_MSG(strstr(nerc_last_error(), loc) != NULL, "%s: '%s'", name, nerc_last_error());
    nerc_dataset_free(ds);
}

static void test_bad_inputs(void) {
    nerc_label_set ls = conll_labels();
    expect_conll_error("unknown.txt", "EU B-ORG\n\nfoo B-FOO\n", &ls, "3:", "unknown label 'B-FOO'");
    expect_conll_error("onecol.txt", "EU B-ORG\nrejects\n", NULL, "2:", "one column");
    expect_conll_error("utf8.txt", "EU B-ORG\n\nM\xc3\xbcller B-PER\nx\xff O\n", NULL, "4:", "UTF-8");
    expect_conll_error("overlong.txt", "\xc0\xaf O\n", NULL, "1:", "UTF-8");
    expect_conll_error("surrogate.txt", "a O\n\xed\xa0\x80 O\n", NULL, "2:", "UTF-8");
    expect_conll_error("empty.txt", "", NULL, "1:", "no sentence");
    expect_conll_error("docstart.txt", "-DOCSTART- -X- O O\n\n\n", NULL, "3:", "no sentence");
    nerc_dataset *ds = NULL;
    CHECK(nerc_dataset_parse_conll(&ds, "a O\nb\0 O\n", 10, "nul", NULL) == NERC_ERR_FORMAT);
    CHECK(strstr(nerc_last_error(), "nul:2:") != NULL);
    CHECK(nerc_dataset_read_conll(&ds, "/nonexistent/x.txt", NULL) == NERC_ERR_IO && ds == NULL);
    /* CRLF and tabs are fine. */
    CHECK_OK(nerc_dataset_read_conll(&ds, tmp_file("crlf.txt", "EU\tNNP\tB-ORG\r\nrejects VBZ O\r\n\r\nx O\r\n"), &ls));
    CHECK(ds && ds->n_sents == 2 && ds->n_words == 3 && strcmp(nerc_dataset_word(ds, 0), "EU") == 0 &&
          ds->tags[1] == 0);
    nerc_dataset_free(ds);

    expect_jsonl_error("syntax.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [\"O\"]}\n{\"tokens\": [\n", NULL,
                       "2:");
    expect_jsonl_error("count.jsonl", "{\"tokens\": [\"a\", \"b\"], \"ner_tags\": [\"O\"]}\n", NULL, "1:");
    expect_jsonl_error("range.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [0]}\n{\"tokens\": [\"a\"], \"ner_tags\": [9]}\n",
                       &ls, "2:");
    expect_jsonl_error("mixed.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [0]}\n{\"tokens\": [\"a\"], \"ner_tags\": [\"O\"]}\n",
                       &ls, "2:");
    expect_jsonl_error("unknown.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [\"B-FOO\"]}\n", &ls, "1:");
    expect_jsonl_error("notobj.jsonl", "[1, 2]\n", NULL, "1:");
    expect_jsonl_error("missing.jsonl", "{\"words\": [\"a\"]}\n", NULL, "1:");
    expect_jsonl_error("badtag.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [\"B X\"]}\n", NULL, "1:");
    expect_jsonl_error("utf8.jsonl", "{\"tokens\": [\"\xff\"], \"ner_tags\": [\"O\"]}\n", NULL, "1:");
    expect_jsonl_error("empty.jsonl", "\n\n", NULL, "2:");
    nerc_labels_free(&ls);
}

int main(void) {
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    nerc_set_log(capture_log, NULL);
    test_conll2003();
    test_fixture_alignment();
#if TEST_DATA_WITH_TOKENIZER
    test_tokenizer_path();
#else
    SKIP("tokenizer path (built with TEST_DATA_WITH_TOKENIZER=0)");
#endif
    test_label_modes();
    test_iob1();
    test_windows();
    test_window_choice();
    test_batcher();
    test_write_conll();
    test_jsonl();
    test_bad_inputs();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
    return test_report("test_data");
}
