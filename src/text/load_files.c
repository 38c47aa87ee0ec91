/* The slow tokenizer files, turned into the pipeline HF's converters build from them:
 * vocab.txt (+ tokenizer_config.json) -> BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP];
 * vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json) -> byte-level BPE +
 * RobertaProcessing (trim_offsets), with RoBERTa's special tokens (<mask> strips left spaces). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "text/pipeline.h"
#include "text/tok_json.h"

enum { SLOW_MAX_FILE = 256 << 20 };

/* ---- vocab.txt ---- */

static int32_t count_lines(const char *data, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += data[i] == '\n';
    if (len > 0 && data[len - 1] != '\n')
        n++;
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* One line per token, id = 0-based line number; CRLF accepted; empty lines,
 * duplicates, NUL bytes and invalid UTF-8 rejected with path:line. */
static nerc_status parse_vocab_txt(vocab *v, const char *path, const char *data, size_t len) {
    if (len == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: empty vocabulary", path);
    NERC_TRY(vocab_init(v, count_lines(data, len)));
    size_t pos = 0;
    for (int32_t line = 0; pos < len; line++) {
        const char *eol = memchr(data + pos, '\n', len - pos);
        size_t end = eol ? (size_t)(eol - data) : len, tl = end - pos;
        if (tl > 0 && data[pos + tl - 1] == '\r')
            tl--;
        if (tl == 0)
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: empty line (every line must hold a token)", path, line + 1);
        if (memchr(data + pos, '\0', tl))
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: NUL byte in token", path, line + 1);
        if (utf8_validate(data + pos, tl) != tl)
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: token is not valid UTF-8", path, line + 1);
        int32_t dup;
        nerc_status s = vocab_set(v, line, data + pos, tl, &dup);
        if (s == NERC_ERR_FORMAT)
            return nerc_errorf(s, "%s:%d: duplicate token '%.*s' (first on line %d)", path, line + 1,
                               (int)(tl > 64 ? 64 : tl), data + pos, dup + 1);
        NERC_TRY(s);
        pos = end + 1;
    }
    return NERC_OK;
}

/* The tokenizer_config.json of a BertTokenizer: case options and the special tokens. */
static nerc_status apply_bert_config(nerc_tokenizer *tok, const json_t *cfg, const char *where) {
    bool lower = true, chinese = true;
    int strip = -1;
    NERC_TRY(tj_bool(cfg, "do_lower_case", where, true, &lower));
    NERC_TRY(tj_tristate(cfg, "strip_accents", where, &strip));
    NERC_TRY(tj_bool(cfg, "tokenize_chinese_chars", where, true, &chinese));
    tok->model = NERC_TOKENIZER_WORDPIECE;
    tok->norms[0] = (tok_norm){.kind = NORM_BERT, .bert = {true, chinese, norm_fold_table(strip, lower)}};
    tok->n_norms = 1;
    tok->pres[0] = (tok_pretok){.kind = PRE_BERT};
    tok->n_pres = 1;
    static const char *const keys[] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
    static const char *const defaults[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
    int32_t ids[5];
    for (int i = 0; i < 5; i++) {
        const char *name;
        NERC_TRY(tj_token_name(cfg, keys[i], where, defaults[i], &name));
        ids[i] = vocab_find(&tok->vocab, name, strlen(name));
        if (ids[i] >= 0)
            NERC_TRY(tokenizer_add_token(tok, where, name, ids[i], true, false, false, false, false));
        else if (i != 4)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: %s '%s' is not in the vocabulary", where, keys[i], name);
    }
    tok->unk_id = ids[0];
    tok->pad_id = ids[2];
    tokenizer_set_template(tok, ids[3], ids[1]);
    return tokenizer_prepare_added(tok, where);
}

/* Reads an optional JSON file of dir (an empty object when absent); *path_out names it. */
static nerc_status optional_json(const char *dir, const char *name, json_t **out, char **path_out) {
    *out = NULL;
    *path_out = fs_join(dir, name);
    if (!*path_out)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", dir);
    if (fs_exists(*path_out))
        return tj_load_path(*path_out, out);
    *out = json_object();
    return *out ? NERC_OK : nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", dir);
}

static nerc_status read_text(const char *path, char **data, size_t *len) {
    return fs_read_file(path, SLOW_MAX_FILE, data, len);
}

nerc_status tokenizer_load_wordpiece_dir(nerc_tokenizer *tok, const char *dir) {
    char *vocab_path = fs_join(dir, "vocab.txt"), *cfg_path = NULL, *data = NULL;
    json_t *cfg = NULL;
    size_t len = 0;
    nerc_status s = vocab_path ? read_text(vocab_path, &data, &len) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (s == NERC_OK)
        s = parse_vocab_txt(&tok->vocab, vocab_path, data, len);
    if (s == NERC_OK)
        s = optional_json(dir, "tokenizer_config.json", &cfg, &cfg_path);
    if (s == NERC_OK)
        s = apply_bert_config(tok, cfg, fs_exists(cfg_path) ? cfg_path : vocab_path);
    json_decref(cfg);
    free(data);
    free(vocab_path);
    free(cfg_path);
    return s;
}

nerc_status tokenizer_parse_vocab(nerc_tokenizer **out, const char *data, size_t len, const char *name) {
    *out = NULL;
    nerc_tokenizer *tok = tokenizer_new();
    if (!tok)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", name);
    json_t *defaults = json_object();
    nerc_status s = parse_vocab_txt(&tok->vocab, name, data, len);
    if (s == NERC_OK)
        s = defaults ? apply_bert_config(tok, defaults, name) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    json_decref(defaults);
    if (s != NERC_OK) {
        nerc_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return NERC_OK;
}

/* ---- vocab.json + merges.txt ---- */

/* merges.txt: "#version" lines skipped, then one "left right" pair per line (rank = order). */
static nerc_status parse_merges_txt(nerc_tokenizer *tok, const char *data, size_t len, const char *path) {
    NERC_TRY(bpe_init_merges(tok, (size_t)count_lines(data, len)));
    size_t pos = 0, rank = 0;
    char buf[1024];
    for (int32_t line = 1; pos < len; line++) {
        const char *eol = memchr(data + pos, '\n', len - pos);
        size_t end = eol ? (size_t)(eol - data) : len, tl = end - pos;
        if (tl > 0 && data[pos + tl - 1] == '\r')
            tl--;
        const char *s = data + pos;
        pos = end + 1;
        if ((tl >= 8 && !memcmp(s, "#version", 8)) || (tl == 0 && pos >= len))
            continue;
        const char *sp = memchr(s, ' ', tl);
        if (tl >= sizeof buf || !sp || sp == s || sp == s + tl - 1 || memchr(sp + 1, ' ', tl - (size_t)(sp - s) - 1) ||
            memchr(s, '\0', tl) || utf8_validate(s, tl) != tl)
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%d: expected \"left right\" (two tokens, one space)", path, line);
        memcpy(buf, s, tl);
        buf[tl] = '\0';
        buf[sp - s] = '\0';
        char where[64];
        snprintf(where, sizeof where, "%s:%d", path, (int)line);
        NERC_TRY(bpe_register_merge(tok, buf, buf + (sp - s) + 1, rank++, where));
    }
    return NERC_OK;
}

/* A special token of RobertaTokenizer: tokenizer_config.json first, then special_tokens_map.json,
 * then the default. A string or an AddedToken object (its lstrip/rstrip/single_word apply). */
typedef struct {
    const char *key, *def;
    bool lstrip;
} roberta_special;

static const roberta_special roberta_specials[] = {
    {"bos_token", "<s>", false},  {"eos_token", "</s>", false}, {"unk_token", "<unk>", false},
    {"sep_token", "</s>", false}, {"cls_token", "<s>", false},  {"pad_token", "<pad>", false},
    {"mask_token", "<mask>", true},
};

static nerc_status add_roberta_special(nerc_tokenizer *tok, const roberta_special *rs, const json_t *cfg,
                                       const json_t *map, const char *where, int32_t *id) {
    const json_t *v = json_object_get(cfg, rs->key);
    if (!v || json_is_null(v))
        v = json_object_get(map, rs->key);
    const json_t *content = json_is_object(v) ? json_object_get(v, "content") : v;
    const char *name = rs->def;
    if (content && !json_is_null(content)) {
        if (!json_is_string(content) || json_string_length(content) == 0)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be a token string", where, rs->key);
        name = json_string_value(content);
    }
    bool l = rs->lstrip, r = false, single = false;
    if (json_is_object(v)) {
        NERC_TRY(tj_bool(v, "lstrip", where, l, &l));
        NERC_TRY(tj_bool(v, "rstrip", where, false, &r));
        NERC_TRY(tj_bool(v, "single_word", where, false, &single));
    }
    *id = vocab_find(&tok->vocab, name, strlen(name));
    return *id >= 0 ? tokenizer_add_token(tok, where, name, *id, true, false, l, r, single) : NERC_OK;
}

static nerc_status setup_roberta(nerc_tokenizer *tok, const json_t *cfg, const json_t *map, const char *where) {
    tok->model = NERC_TOKENIZER_BPE;
    tok->prefix_len = tok->suffix_len = 0;
    tok->prefix[0] = tok->suffix[0] = '\0';
    tok->pres[0] = (tok_pretok){.kind = PRE_BYTE_LEVEL, .add_prefix_space = false, .use_regex = true};
    tok->n_pres = 1;
    tok->trim_offsets = true;
    tok->trim_prefix_space = false;
    int32_t ids[7];
    for (int i = 0; i < 7; i++)
        NERC_TRY(add_roberta_special(tok, &roberta_specials[i], cfg, map, where, &ids[i]));
    if (ids[4] < 0 || ids[3] < 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: cls_token / sep_token is not in vocab.json", where);
    tok->pad_id = ids[5];
    tokenizer_set_template(tok, ids[4], ids[3]);
    tokenizer_find_byte_ids(tok);
    return tokenizer_prepare_added(tok, where);
}

nerc_status tokenizer_parse_bpe_files(nerc_tokenizer **out, const char *vocab_json, size_t vocab_len,
                                      const char *merges, size_t merges_len, const char *name) {
    *out = NULL;
    nerc_tokenizer *tok = tokenizer_new();
    json_t *v = NULL, *empty = json_object();
    if (tok)
        tok->prefix_len = 0, tok->prefix[0] = '\0';
    nerc_status s = tok && empty ? tj_parse_object(vocab_json, vocab_len, name, &v)
                                 : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (s == NERC_OK)
        s = vocab_from_json(tok, v, name, "vocab.json");
    if (s == NERC_OK)
        s = parse_merges_txt(tok, merges, merges_len, name);
    if (s == NERC_OK)
        s = setup_roberta(tok, empty, empty, name);
    json_decref(v);
    json_decref(empty);
    if (s != NERC_OK) {
        nerc_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return NERC_OK;
}

nerc_status tokenizer_load_bpe_dir(nerc_tokenizer *tok, const char *dir) {
    char *vocab_path = fs_join(dir, "vocab.json"), *merges_path = fs_join(dir, "merges.txt");
    char *cfg_path = NULL, *map_path = NULL, *data = NULL;
    json_t *v = NULL, *cfg = NULL, *map = NULL;
    size_t len = 0;
    tok->prefix_len = 0, tok->prefix[0] = '\0';
    nerc_status s = vocab_path && merges_path ? tj_load_path(vocab_path, &v)
                                              : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    if (s == NERC_OK)
        s = vocab_from_json(tok, v, vocab_path, "vocab");
    if (s == NERC_OK && !fs_exists(merges_path))
        s = nerc_errorf(NERC_ERR_IO, "%s: vocab.json without merges.txt", dir);
    if (s == NERC_OK)
        s = read_text(merges_path, &data, &len);
    if (s == NERC_OK)
        s = parse_merges_txt(tok, data, len, merges_path);
    if (s == NERC_OK)
        s = optional_json(dir, "tokenizer_config.json", &cfg, &cfg_path);
    if (s == NERC_OK)
        s = optional_json(dir, "special_tokens_map.json", &map, &map_path);
    if (s == NERC_OK)
        s = setup_roberta(tok, cfg, map, fs_exists(cfg_path) ? cfg_path : vocab_path);
    json_decref(v);
    json_decref(cfg);
    json_decref(map);
    free(data);
    free(vocab_path);
    free(merges_path);
    free(cfg_path);
    free(map_path);
    return s;
}
