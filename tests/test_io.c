/* Checkpoint I/O: hostile safetensors / config.json inputs fail with clear
 * messages; load -> save -> load is bit-identical; base and masked-LM
 * checkpoints load their encoder with a fresh classifier; the real
 * distilbert-base-uncased size initialises, saves and loads back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "model/encoder.h"
#include "test.h"

#define TINY SHARED_DIR "/fixtures/model/tiny"
static const char *conll_labels[9] = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"};
static char tmpdir[64];

/* A safetensors buffer: 8-byte length + header + `data_len` zero bytes. */
static size_t make_st(uint8_t *buf, const char *header, size_t data_len) {
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, 0, data_len);
    return 8 + h + data_len;
}

/* Parsing must fail with `status` and a message containing `needle`. */
static void expect_st_error(const char *header, size_t data_len, const char *needle) {
    static uint8_t buf[4096];
    size_t n = make_st(buf, header, data_len);
    st_file f;
    nerc_status st = st_parse(&f, buf, n, "bad.safetensors");
    CHECK_MSG(st == NERC_ERR_FORMAT, "header %s: expected a format error", header);
    CHECK_MSG(strstr(nerc_last_error(), needle) && strstr(nerc_last_error(), "bad.safetensors"),
              "message '%s' lacks '%s'", nerc_last_error(), needle);
    st_close(&f);
}

static void test_bad_safetensors(void) {
    st_file f;
    CHECK(st_parse(&f, "\x01\x02", 2, "short.safetensors") == NERC_ERR_FORMAT);
    CHECK(strstr(nerc_last_error(), "truncated") != NULL);
    st_close(&f);
    uint8_t big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(st_parse(&f, big, 10, "big.safetensors") == NERC_ERR_FORMAT);
    CHECK(strstr(nerc_last_error(), "larger than the file") != NULL);
    st_close(&f);
    expect_st_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8, "invalid JSON");
    expect_st_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8, "out of range");
    expect_st_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                    " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
                    16, "overlap");
    expect_st_error("{\"a\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "unknown dtype");
    expect_st_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, "need 12 bytes");
    expect_st_error("{\"a\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "missing dtype");
    expect_st_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, "shape[0]");
    expect_st_error("[1, 2]", 0, "not a JSON object");
    expect_st_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                    " \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
                    8, "invalid JSON");
    CHECK(st_open(&f, "/nonexistent/model.safetensors") == NERC_ERR_IO);
    CHECK(strstr(nerc_last_error(), "/nonexistent/model.safetensors") != NULL);
}

/* F16 and BF16 tensors are converted to float32 exactly. */
static void test_half_precision(void) {
    static const uint8_t f16[8] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c}; /* 1, -2, 2^-24, inf */
    static const uint8_t bf16[4] = {0x80, 0x3f, 0x49, 0x40};                      /* 1, 3.140625 */
    st_entry e[2] = {{"h", ST_F16, 1, {4}, f16}, {"b", ST_BF16, 1, {2}, bf16}};
    char *path = fs_join(tmpdir, "half.safetensors");
    CHECK_OK(st_write(path, e, 2, NULL));
    st_file f;
    CHECK_OK(st_open(&f, path));
    float h[4] = {0}, b[2] = {0};
    const st_tensor *th = st_find(&f, "h"), *tb = st_find(&f, "b");
    CHECK(th && tb);
    if (th && tb) {
        CHECK_OK(st_read_f32(&f, th, h));
        CHECK_OK(st_read_f32(&f, tb, b));
    }
    CHECK(h[0] == 1.0f && h[1] == -2.0f && h[2] == 0x1p-24f && isinf(h[3]));
    CHECK(b[0] == 1.0f && b[1] == 3.140625f);
    st_close(&f);
    free(path);
}

/* st_read_f32_checked: the values as st_read_f32 reads them, or an error
 * naming the tensor and its first NaN, infinity or (nonneg) negative value;
 * -0 is not negative. Past one 4096-value block, and through F16. */
static void test_checked_values(void) {
    enum { N = 5000 };
    float *x = calloc(N, sizeof *x), *y = calloc(N, sizeof *y);
    static const uint8_t f16[6] = {0x00, 0x3c, 0x00, 0x7c, 0x00, 0x80}; /* 1, inf, -0 */
    x[4321] = -0.0f;
    st_entry e[4] = {{"x", ST_F32, 1, {N}, x}, {"h", ST_F16, 1, {3}, f16}};
    char *path = fs_join(tmpdir, "checked.safetensors");
    const float bad[3] = {NAN, INFINITY, -2.5f};
    const char *what[3] = {"holds nan at element 4500 (not a finite number)",
                           "holds inf at element 4500 (not a finite number)",
                           "holds -2.5 at element 4500 (a negative value where none can be)"};
    for (int k = -1; k < 3; k++) {
        if (k >= 0)
            x[4500] = bad[k];
        CHECK_OK(st_write(path, e, 2, NULL));
        st_file f;
        CHECK_OK(st_open(&f, path));
        const st_tensor *tx = st_find(&f, "x");
        nerc_status st = tx ? st_read_f32_checked(&f, tx, y, 1) : NERC_ERR_FORMAT;
        if (k < 0)
            CHECK_MSG(st == NERC_OK && !memcmp(x, y, N * sizeof *x), "clean values (with -0): %s", nerc_last_error());
        else
            CHECK_MSG(st == NERC_ERR_FORMAT && strstr(nerc_last_error(), what[k]) &&
                          strstr(nerc_last_error(), "checked.safetensors: tensor 'x'"),
                      "value %g: %s", (double)bad[k], nerc_last_error());
        if (k == 2 && tx) /* a negative value is fine where negatives are */
            CHECK_OK(st_read_f32_checked(&f, tx, y, 0));
        const st_tensor *th = st_find(&f, "h");
        CHECK(th && st_read_f32_checked(&f, th, y, 0) == NERC_ERR_FORMAT &&
              strstr(nerc_last_error(), "tensor 'h' holds inf at element 1"));
        st_close(&f);
    }
    free(path);
    free(x);
    free(y);
}

/* sinusoidal_pos_embds: a fixed table (HF create_sinusoidal_embeddings) that training never changes. */
static void test_sinusoidal(void) {
    const char *cfg = "{\"dim\": 8, \"n_layers\": 1, \"n_heads\": 2, \"hidden_dim\": 16, \"vocab_size\": 10, "
                      "\"max_position_embeddings\": 4, \"sinusoidal_pos_embds\": true}";
    char *path = fs_join(tmpdir, "sin.json");
    CHECK_OK(fs_write_file_atomic(path, cfg, strlen(cfg)));
    const char *labels[2] = {"O", "B-X"};
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_init(&m, path, labels, 2, 1));
    if (m) {
        const param_tensor *t = encoder_find_tensor(m, "distilbert.embeddings.position_embeddings.weight");
        CHECK(t && t->frozen);
        CHECK_NEAR(m->p.cat[P_POS_EMB][1 * 8 + 0], sin(1.0), 1e-7);
        CHECK_NEAR(m->p.cat[P_POS_EMB][1 * 8 + 1], cos(1.0), 1e-7);
        CHECK_NEAR(m->p.cat[P_POS_EMB][2 * 8 + 2], sin(2.0 / pow(10000.0, 2.0 / 8.0)), 1e-7);
    }
    nerc_model_free(m);
    free(path);
}

static void expect_config_error(const char *json, const char *needle) {
    encoder_config c;
    nerc_status st = config_parse(&c, json, strlen(json), "config.json");
    CHECK_MSG(st == NERC_ERR_FORMAT, "config %s: expected a format error", json);
    CHECK_MSG(strstr(nerc_last_error(), needle) != NULL, "message '%s' lacks '%s'", nerc_last_error(), needle);
}

static void test_bad_config(void) {
    expect_config_error("{\"dim\": 32,\n \"n_layers\": }", "config.json:2:");
    expect_config_error("{\"n_layers\": 2, \"n_heads\": 2, \"hidden_dim\": 64, \"vocab_size\": 10, "
                        "\"max_position_embeddings\": 8}",
                        "missing required key \"dim\"");
    expect_config_error("{\"dim\": 30, \"n_layers\": 2, \"n_heads\": 4, \"hidden_dim\": 64, \"vocab_size\": 10, "
                        "\"max_position_embeddings\": 8}",
                        "not a multiple");
    expect_config_error("{\"dim\": \"32\", \"n_layers\": 2, \"n_heads\": 2, \"hidden_dim\": 64, \"vocab_size\": 10, "
                        "\"max_position_embeddings\": 8}",
                        "\"dim\" must be an integer");
    expect_config_error("{\"dim\": 32, \"n_layers\": 2, \"n_heads\": 2, \"hidden_dim\": 64, \"vocab_size\": 10, "
                        "\"max_position_embeddings\": 8, \"id2label\": {\"0\": \"O\", \"2\": \"B-X\"}}",
                        "id2label");
    expect_config_error("{\"model_type\": \"gpt2\"}", "model_type \"gpt2\" is not supported (distilbert, bert, roberta");
    /* BERT-family keys */
#define BERT_KEYS "\"model_type\": \"bert\", \"vocab_size\": 10, \"max_position_embeddings\": 8, \"hidden_size\": 8, " \
                  "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 16"
    expect_config_error("{\"model_type\": \"bert\", \"vocab_size\": 10, \"max_position_embeddings\": 8}",
                        "missing required key \"hidden_size\"");
    expect_config_error("{" BERT_KEYS ", \"hidden_act\": \"swish\"}", "hidden_act \"swish\" is not supported");
    expect_config_error("{" BERT_KEYS ", \"position_embedding_type\": \"relative_key\"}",
                        "position_embedding_type \"relative_key\" is not supported");
    expect_config_error("{" BERT_KEYS ", \"layer_norm_eps\": -1}", "\"layer_norm_eps\" must be a number in (0, 1)");
    expect_config_error("{\"model_type\": \"roberta\", \"vocab_size\": 10, \"max_position_embeddings\": 3, "
                        "\"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                        "\"intermediate_size\": 16}",
                        "leaves no room for a sequence");
    encoder_config c;
    const char *ok = "{" BERT_KEYS ", \"hidden_act\": \"gelu_new\", \"classifier_dropout\": 0.25}";
    CHECK_OK(config_parse(&c, ok, strlen(ok), "config.json"));
    CHECK(c.family == FAMILY_BERT && c.type_vocab_size == 2 && c.activation == ACT_GELU_TANH &&
          c.classifier_dropout == 0.25f && c.dropout == 0.1f && c.layer_norm_eps == 1e-12f);
    config_free(&c);
}

static char *tmp_path(const char *name) { return fs_join(tmpdir, name); }

/* Writes `m`'s tensors under other names into dir/model.safetensors. */
static void write_renamed(const nerc_model *m, const char *dir, const char *strip, int drop_classifier, int add_mlm) {
    st_entry e[64];
    int n = 0;
    static float mlm_w[32 * 32], mlm_b[30522];
    for (int32_t i = 0; i < m->n_tensors; i++) {
        const param_tensor *t = &m->tensors[i];
        int is_cls = !strncmp(t->name, "classifier.", 11);
        if (is_cls && drop_classifier)
            continue;
        const char *name = !is_cls && *strip ? t->name + strlen(strip) : t->name;
        e[n++] = (st_entry){name, ST_F32, t->ndim, {t->shape[0], t->shape[1]}, m->params_mem + t->offset};
    }
    if (add_mlm) {
        e[n++] = (st_entry){"vocab_transform.weight", ST_F32, 2, {32, 32}, mlm_w};
        e[n++] = (st_entry){"vocab_transform.bias", ST_F32, 1, {32}, mlm_b};
        e[n++] = (st_entry){"vocab_layer_norm.weight", ST_F32, 1, {32}, mlm_b};
        e[n++] = (st_entry){"vocab_layer_norm.bias", ST_F32, 1, {32}, mlm_b};
        e[n++] = (st_entry){"vocab_projector.bias", ST_F32, 1, {30522}, mlm_b};
    }
    CHECK_OK(fs_mkdirs(dir));
    char *p = fs_join(dir, "model.safetensors");
    CHECK_OK(st_write(p, e, n, NULL));
    free(p);
}

static void write_config_without_labels(const char *dir) {
    const char *cfg = "{\"activation\": \"gelu\", \"architectures\": [\"DistilBertForMaskedLM\"], \"dim\": 32, "
                      "\"hidden_dim\": 64, \"max_position_embeddings\": 64, \"model_type\": \"distilbert\", "
                      "\"n_heads\": 2, \"n_layers\": 2, \"pad_token_id\": 0, \"vocab_size\": 30522}";
    char *p = fs_join(dir, "config.json");
    CHECK_OK(fs_write_file_atomic(p, cfg, strlen(cfg)));
    free(p);
}

static int same_encoder(const nerc_model *a, const nerc_model *b) {
    return a->n_params == b->n_params &&
           !memcmp(a->params_mem, b->params_mem, (size_t)(a->p.cat[P_CLS_W] - a->params_mem) * sizeof(float));
}

static void test_base_and_mlm(const nerc_model *tiny) {
    const char *kinds[2] = {"base", "mlm"};
    for (int k = 0; k < 2; k++) {
        char *dir = tmp_path(kinds[k]);
        write_renamed(tiny, dir, k == 0 ? "distilbert." : "", 1, k == 1);
        write_config_without_labels(dir);
        nerc_model *m = NULL;
        CHECK(nerc_model_load(&m, dir, NULL, 0, 1) == NERC_ERR_ARG); /* no classifier, no labels */
        CHECK_OK(nerc_model_load(&m, dir, conll_labels, 9, 1));
        if (m) {
            CHECK_MSG(same_encoder(m, tiny), "%s checkpoint: encoder differs", kinds[k]);
            CHECK(nerc_model_num_labels(m) == 9 && !strcmp(nerc_model_label(m, 3), "B-ORG"));
            double ss = 0.0;
            for (int i = 0; i < 9 * 32; i++)
                ss += (double)m->p.cat[P_CLS_W][i] * m->p.cat[P_CLS_W][i];
            CHECK_MSG(ss > 9 * 32 * 0.0002 && ss < 9 * 32 * 0.0008, "fresh classifier variance %.3g", ss / (9 * 32));
        }
        nerc_model_free(m);
        free(dir);
    }
}

static void test_bad_checkpoints(const nerc_model *tiny) {
    nerc_model *m = NULL;
    /* labels that do not match the fine-tuned classifier */
    CHECK(nerc_model_load(&m, TINY, conll_labels, 5, 0) == NERC_ERR_ARG);
    CHECK(strstr(nerc_last_error(), "do not match") != NULL);
    /* an unknown tensor */
    char *dir = tmp_path("unknown");
    write_renamed(tiny, dir, "", 0, 0);
    char *cfg_src = fs_join(TINY, "config.json"), *cfg_dst = fs_join(dir, "config.json");
    CHECK_OK(fs_copy_file(cfg_src, cfg_dst));
    st_entry extra[1] = {{"distilbert.extra.weight", ST_F32, 1, {4}, tiny->params_mem}};
    char *p = fs_join(dir, "model.safetensors");
    /* rewrite with one extra tensor */
    st_entry all[64];
    int n = 0;
    for (int32_t i = 0; i < tiny->n_tensors; i++) {
        const param_tensor *t = &tiny->tensors[i];
        all[n++] = (st_entry){t->name, ST_F32, t->ndim, {t->shape[0], t->shape[1]}, tiny->params_mem + t->offset};
    }
    all[n++] = extra[0];
    CHECK_OK(st_write(p, all, n, NULL));
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "unknown tensor 'distilbert.extra.weight'"), "%s", nerc_last_error());
    /* a wrong shape */
    all[n - 1] = all[0];
    all[0].shape[1] = 31;
    CHECK_OK(st_write(p, all, n - 1, NULL));
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "has shape [30522, 31], expected [30522, 32]"), "%s", nerc_last_error());
    /* a missing tensor */
    all[0].shape[1] = 32;
    CHECK_OK(st_write(p, all + 1, n - 2, NULL));
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "missing tensor 'distilbert.embeddings.word_embeddings.weight'"), "%s",
              nerc_last_error());
    /* a weight that is not a number: refused, naming the tensor and the element */
    float *q = malloc((size_t)tiny->n_params * sizeof *q);
    memcpy(q, tiny->params_mem, (size_t)tiny->n_params * sizeof *q);
    const param_tensor *t5 = &tiny->tensors[5];
    q[t5->offset + 7] = NAN;
    for (int i = 0; i < n - 1; i++)
        all[i].data = q + tiny->tensors[i].offset;
    CHECK_OK(st_write(p, all, n - 1, NULL));
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_FORMAT);
    char want[200];
    snprintf(want, sizeof want, "tensor '%s' holds nan at element 7 (not a finite number)", t5->name);
    CHECK_MSG(strstr(nerc_last_error(), want), "%s", nerc_last_error());
    for (int i = 0; i < n - 1; i++)
        all[i].data = tiny->params_mem + tiny->tensors[i].offset;
    free(q);
    /* an integer dtype where floats belong */
    all[0].dtype = ST_I32;
    CHECK_OK(st_write(p, all, n - 1, NULL));
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_FORMAT);
    CHECK_MSG(strstr(nerc_last_error(), "not a float type"), "%s", nerc_last_error());
    /* no model.safetensors at all */
    unlink(p);
    CHECK(nerc_model_load(&m, dir, NULL, 0, 0) == NERC_ERR_IO);
    CHECK_MSG(strstr(nerc_last_error(), "model.safetensors: not found"), "%s", nerc_last_error());
    free(p), free(cfg_src), free(cfg_dst), free(dir);
}

static void test_roundtrip(const nerc_model *tiny) {
    char *d1 = tmp_path("rt1"), *d2 = tmp_path("rt2");
    CHECK_OK(nerc_model_save(tiny, d1));
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_load(&m, d1, NULL, 0, 0));
    if (m) {
        CHECK(m->n_params == tiny->n_params &&
              !memcmp(m->params_mem, tiny->params_mem, (size_t)m->n_params * sizeof(float)));
        CHECK_OK(nerc_model_save(m, d2));
        char *a = fs_join(d1, "model.safetensors"), *b = fs_join(d2, "model.safetensors");
        CHECK_MSG(test_same_file(a, b), "save(load(save(m))) differs from save(m)");
        free(a), free(b);
        a = fs_join(d1, "config.json"), b = fs_join(d2, "config.json");
        CHECK(test_same_file(a, b));
        free(a), free(b);
        a = fs_join(d2, "vocab.txt");
        CHECK(fs_exists(a));
        free(a);
    }
    nerc_model_free(m);
    free(d1), free(d2);
}

static void test_real_size(void) {
    nerc_model *m = NULL;
    CHECK_OK(nerc_model_init(&m, SHARED_DIR "/models/distilbert-base-uncased/config.json", conll_labels, 9, 42));
    if (!m)
        return;
    CHECK_MSG(nerc_model_num_params(m) == 66369801, "%lld params", (long long)nerc_model_num_params(m));
    CHECK(m->p.cat[P_WORD_EMB][0] == 0.0f && m->p.cat[P_EMB_LN_W][0] == 1.0f && m->p.cat[P_QKV_B][0] == 0.0f);
    /* HF _init_weights: Linear and Embedding weights ~ N(0, initializer_range = 0.02) */
    const float *w[3] = {m->p.cat[P_WORD_EMB] + 768, m->p.cat[P_QKV_W], m->p.cat[P_FC1_W]};
    const int64_t n[3] = {768LL * 30521, 6LL * 3 * 768 * 768, 6LL * 3072 * 768};
    for (int k = 0; k < 3; k++) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < n[k]; i++) {
            sum += w[k][i];
            sq += (double)w[k][i] * w[k][i];
        }
        double mean = sum / (double)n[k], sd = sqrt(sq / (double)n[k] - mean * mean);
        CHECK_MSG(fabs(mean) < 1e-4 && fabs(sd - 0.02) < 2e-4, "init tensor %d: mean %.3g sd %.5f", k, mean, sd);
    }
    char *d = tmp_path("real");
    CHECK_OK(nerc_model_save(m, d));
    nerc_model *back = NULL;
    CHECK_OK(nerc_model_load(&back, d, NULL, 0, 0));
    if (back)
        CHECK(!memcmp(back->params_mem, m->params_mem, (size_t)m->n_params * sizeof(float)));
    printf("  real size: %lld parameters, init -> save -> load identical\n", (long long)nerc_model_num_params(m));
    nerc_model_free(back);
    nerc_model_free(m);
    free(d);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nerc_test_io_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    test_bad_safetensors();
    test_half_precision();
    test_checked_values();
    test_sinusoidal();
    test_bad_config();
    nerc_model *tiny = NULL;
    CHECK_OK(nerc_model_load(&tiny, TINY, NULL, 0, 0));
    if (tiny) {
        test_roundtrip(tiny);
        test_base_and_mlm(tiny);
        test_bad_checkpoints(tiny);
    }
    nerc_model_free(tiny);
    test_real_size();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_report("test_io");
}
