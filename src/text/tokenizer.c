/* Loading a BERT WordPiece tokenizer from an HF model directory: tokenizer.json when
 * present, else vocab.txt + tokenizer_config.json; plus the small accessors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "nerc/hub.h"
#include "text/tokenizer_internal.h"

enum { TOK_MAX_FILE = 256 << 20 };

/* ---- shared setup ---------------------------------------------------------- */

static nerc_tokenizer *tokenizer_new(void) {
    nerc_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return NULL;
    tok->unk_id = tok->cls_id = tok->sep_id = tok->pad_id = -1;
    memcpy(tok->prefix, "##", 3);
    tok->prefix_len = 2;
    tok->max_chars = 100;
    tok->norm = (norm_config){true, true, &uni_fold_uncased};
    return tok;
}

void nerc_tokenizer_free(nerc_tokenizer *tok) {
    if (!tok)
        return;
    vocab_free(&tok->vocab);
    for (int32_t i = 0; i < tok->n_specials; i++)
        free(tok->specials[i].content);
    free(tok);
}

/* The fold table of (strip_accents, lowercase); strip_accents < 0 means "follow lowercase". */
static void set_case_options(nerc_tokenizer *tok, int strip_accents, bool lowercase) {
    bool strip = strip_accents < 0 ? lowercase : strip_accents != 0;
    tok->norm.fold = strip && lowercase ? &uni_fold_uncased
                     : lowercase        ? &uni_fold_lower
                     : strip            ? &uni_fold_strip
                                        : NULL;
}

static nerc_status add_special(nerc_tokenizer *tok, const char *where, const char *content, int32_t id) {
    size_t len = strlen(content);
    if (len == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: empty special token", where);
    if (utf8_validate(content, len) != len)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: special token is not UTF-8", where);
    for (int32_t i = 0; i < tok->n_specials; i++)
        if (tok->specials[i].len == len && !memcmp(tok->specials[i].content, content, len))
            return tok->specials[i].id == id ? NERC_OK
                   : nerc_errorf(NERC_ERR_FORMAT, "%s: special token '%s' has two ids", where, content);
    if (tok->n_specials == TOK_MAX_SPECIALS)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: more than %d special tokens", where, TOK_MAX_SPECIALS);
    char *copy = strdup(content);
    if (!copy)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    tok->specials[tok->n_specials++] = (tok_special){copy, len, id};
    tok->special_first_byte[(unsigned char)content[0]] = 1;
    return NERC_OK;
}

/* The id of a token: the model vocabulary first, then the added special tokens. */
static int32_t token_to_id(const nerc_tokenizer *tok, const char *s) {
    int32_t id = vocab_find(&tok->vocab, s, strlen(s));
    for (int32_t i = 0; id < 0 && i < tok->n_specials; i++)
        if (!strcmp(tok->specials[i].content, s))
            id = tok->specials[i].id;
    return id;
}

static nerc_status require_token(const nerc_tokenizer *tok, const char *where, const char *what,
                                 const char *s, int32_t *id) {
    *id = token_to_id(tok, s);
    if (*id < 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s token '%s' is not in the vocabulary", where, what, s);
    return NERC_OK;
}

static nerc_status set_template(nerc_tokenizer *tok, const char *where, const char *cls, const char *sep) {
    NERC_TRY(require_token(tok, where, "cls", cls, &tok->cls_id));
    NERC_TRY(require_token(tok, where, "sep", sep, &tok->sep_id));
    tok->template_prefix[0] = tok->cls_id;
    tok->template_suffix[0] = tok->sep_id;
    tok->n_template_prefix = tok->n_template_suffix = 1;
    return NERC_OK;
}

/* ---- vocab.txt --------------------------------------------------------------- */

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

static nerc_status load_vocab_txt(nerc_tokenizer *tok, const char *path) {
    char *data = NULL;
    size_t len = 0;
    NERC_TRY(fs_read_file(path, TOK_MAX_FILE, &data, &len));
    nerc_status s = len ? parse_vocab_txt(&tok->vocab, path, data, len)
                        : nerc_errorf(NERC_ERR_FORMAT, "%s: empty vocabulary", path);
    free(data);
    return s;
}

/* ---- JSON helpers ------------------------------------------------------------ */

static nerc_status json_parse_object(const char *data, size_t len, const char *path, json_t **root) {
    json_error_t err;
    *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!*root)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column, err.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return nerc_errorf(NERC_ERR_FORMAT, "%s: top level is not a JSON object", path);
    }
    return NERC_OK;
}

static nerc_status json_load_path(const char *path, json_t **root) {
    char *data = NULL;
    size_t len = 0;
    *root = NULL;
    NERC_TRY(fs_read_file(path, TOK_MAX_FILE, &data, &len));
    nerc_status st = json_parse_object(data, len, path, root);
    free(data);
    return st;
}

/* A boolean field: absent or null gives `def`; anything else but true/false is an error. */
static nerc_status json_get_bool(const json_t *obj, const char *key, const char *where, bool def, bool *out) {
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v))
        return NERC_OK;
    if (!json_is_boolean(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be true or false", where, key);
    *out = json_is_true(v);
    return NERC_OK;
}

/* strip_accents: null -> -1 (follow lowercase), else 0/1. */
static nerc_status json_get_tristate(const json_t *obj, const char *key, const char *where, int *out) {
    const json_t *v = json_object_get(obj, key);
    *out = -1;
    if (!v || json_is_null(v))
        return NERC_OK;
    if (!json_is_boolean(v))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be true, false or null", where, key);
    *out = json_is_true(v);
    return NERC_OK;
}

/* A string field, or the "content" of an AddedToken object; `def` when absent. */
static nerc_status json_get_token_name(const json_t *obj, const char *key, const char *where,
                                       const char *def, const char **out) {
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v))
        return NERC_OK;
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v) || json_string_length(v) == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: '%s' must be a token string", where, key);
    *out = json_string_value(v);
    return NERC_OK;
}

static nerc_status json_get_id(const json_t *v, const char *where, const char *what, int32_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 28))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s must be an id in [0, 2^28)", where, what);
    *out = (int32_t)json_integer_value(v);
    return NERC_OK;
}

/* ---- vocab.txt + tokenizer_config.json --------------------------------------- */

static nerc_status apply_tokenizer_config(nerc_tokenizer *tok, const json_t *cfg, const char *where) {
    bool lower = true, chinese = true;
    int strip = -1;
    NERC_TRY(json_get_bool(cfg, "do_lower_case", where, true, &lower));
    NERC_TRY(json_get_tristate(cfg, "strip_accents", where, &strip));
    NERC_TRY(json_get_bool(cfg, "tokenize_chinese_chars", where, true, &chinese));
    set_case_options(tok, strip, lower);
    tok->norm.handle_chinese_chars = chinese;
    static const char *const keys[] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
    static const char *const defaults[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
    const char *names[5];
    for (int i = 0; i < 5; i++) {
        NERC_TRY(json_get_token_name(cfg, keys[i], where, defaults[i], &names[i]));
        int32_t id = vocab_find(&tok->vocab, names[i], strlen(names[i]));
        if (id >= 0)
            NERC_TRY(add_special(tok, where, names[i], id));
    }
    NERC_TRY(require_token(tok, where, "unk", names[0], &tok->unk_id));
    NERC_TRY(require_token(tok, where, "pad", names[2], &tok->pad_id));
    return set_template(tok, where, names[3], names[1]);
}

static nerc_status load_vocab_dir(nerc_tokenizer *tok, const char *dir) {
    char *vocab_path = fs_join(dir, "vocab.txt"), *cfg_path = fs_join(dir, "tokenizer_config.json");
    json_t *cfg = NULL;
    nerc_status s = NERC_OK;
    if (!vocab_path || !cfg_path) {
        s = nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", dir);
        goto fail;
    }
    if (!fs_exists(vocab_path)) {
        s = nerc_errorf(NERC_ERR_IO, "%s: no tokenizer.json and no vocab.txt", dir);
        goto fail;
    }
    s = load_vocab_txt(tok, vocab_path);
    if (s != NERC_OK)
        goto fail;
    if (fs_exists(cfg_path)) {
        s = json_load_path(cfg_path, &cfg);
        if (s != NERC_OK)
            goto fail;
    } else {
        cfg = json_object();
    }
    s = cfg ? apply_tokenizer_config(tok, cfg, fs_exists(cfg_path) ? cfg_path : vocab_path)
            : nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", dir);
fail:
    json_decref(cfg);
    free(vocab_path);
    free(cfg_path);
    return s;
}

/* ---- tokenizer.json ------------------------------------------------------------ */

static nerc_status parse_json_vocab(nerc_tokenizer *tok, const json_t *vocab_obj, const char *path) {
    if (!json_is_object(vocab_obj) || json_object_size(vocab_obj) == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.vocab must be a non-empty object", path);
    if (json_object_size(vocab_obj) > (1 << 28))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: model.vocab is too large", path);
    NERC_TRY(vocab_init(&tok->vocab, (int32_t)json_object_size(vocab_obj)));
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)vocab_obj, key, val) {
        int32_t id, dup = -1;
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= tok->vocab.n)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: model.vocab['%.64s']: id must be in [0, %d)", path, key,
                               (int)tok->vocab.n);
        id = (int32_t)json_integer_value(val);
        nerc_status s = vocab_set(&tok->vocab, id, key, strlen(key), &dup);
        if (s == NERC_ERR_FORMAT)
            return nerc_errorf(s, "%s: model.vocab['%.64s']: id %d is used twice", path, key, (int)id);
        NERC_TRY(s);
    }
    return NERC_OK;
}

static nerc_status parse_json_model(nerc_tokenizer *tok, const json_t *model, const char *path) {
    const json_t *type = json_object_get(model, "type");
    if (!json_is_object(model) || !json_is_string(type) || strcmp(json_string_value(type), "WordPiece"))
        return nerc_errorf(NERC_ERR_ARG, "%s: unsupported tokenizer option: model.type must be WordPiece", path);
    NERC_TRY(parse_json_vocab(tok, json_object_get(model, "vocab"), path));
    const char *prefix;
    NERC_TRY(json_get_token_name(model, "continuing_subword_prefix", path, "##", &prefix));
    if (strlen(prefix) >= sizeof tok->prefix)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: continuing_subword_prefix is too long", path);
    tok->prefix_len = strlen(prefix);
    memcpy(tok->prefix, prefix, tok->prefix_len + 1);
    const json_t *mc = json_object_get(model, "max_input_chars_per_word");
    if (mc && !json_is_null(mc)) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 1 || json_integer_value(mc) > TOK_MAX_CHARS_LIMIT)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: max_input_chars_per_word must be in [1, %d]", path,
                               TOK_MAX_CHARS_LIMIT);
        tok->max_chars = (int32_t)json_integer_value(mc);
    }
    const char *unk;
    NERC_TRY(json_get_token_name(model, "unk_token", path, "[UNK]", &unk));
    tok->unk_id = vocab_find(&tok->vocab, unk, strlen(unk));
    if (tok->unk_id < 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: unk_token '%s' is not in model.vocab", path, unk);
    return NERC_OK;
}

static nerc_status parse_json_normalizer(nerc_tokenizer *tok, const json_t *norm, const char *path) {
    if (!norm || json_is_null(norm)) {
        tok->norm = (norm_config){false, false, NULL};
        return NERC_OK;
    }
    const json_t *type = json_object_get(norm, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "BertNormalizer"))
        return nerc_errorf(NERC_ERR_ARG, "%s: unsupported tokenizer option: normalizer must be BertNormalizer", path);
    bool lower = true;
    int strip = -1;
    NERC_TRY(json_get_bool(norm, "clean_text", path, true, &tok->norm.clean_text));
    NERC_TRY(json_get_bool(norm, "handle_chinese_chars", path, true, &tok->norm.handle_chinese_chars));
    NERC_TRY(json_get_tristate(norm, "strip_accents", path, &strip));
    NERC_TRY(json_get_bool(norm, "lowercase", path, true, &lower));
    set_case_options(tok, strip, lower);
    return NERC_OK;
}

static nerc_status parse_json_pre_tokenizer(const json_t *pre, const char *path) {
    const json_t *type = json_object_get(pre, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "BertPreTokenizer"))
        return nerc_errorf(NERC_ERR_ARG, "%s: unsupported tokenizer option: pre_tokenizer must be BertPreTokenizer",
                           path);
    return NERC_OK;
}

static nerc_status parse_json_added_token(nerc_tokenizer *tok, const json_t *t, const char *path, size_t i) {
    char where[64];
    snprintf(where, sizeof where, "added_tokens[%zu]", i);
    const json_t *content = json_object_get(t, "content");
    int32_t id = -1;
    if (!json_is_object(t) || !json_is_string(content))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s needs a string 'content'", path, where);
    NERC_TRY(json_get_id(json_object_get(t, "id"), path, where, &id));
    static const char *const flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
    for (int k = 0; k < 4; k++) {
        bool on = false;
        NERC_TRY(json_get_bool(t, flags[k], path, false, &on));
        if (on)
            return nerc_errorf(NERC_ERR_ARG, "%s: unsupported tokenizer option: %s.%s = true", path, where, flags[k]);
    }
    int32_t in_vocab = vocab_find(&tok->vocab, json_string_value(content), json_string_length(content));
    if (in_vocab >= 0 && in_vocab != id)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s: '%s' has id %d but %d in model.vocab", path, where,
                           json_string_value(content), (int)id, (int)in_vocab);
    if (in_vocab < 0 && id < tok->vocab.n)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: %s: id %d already names '%s'", path, where, (int)id,
                           tok->vocab.tokens[id]);
    nerc_status s = add_special(tok, where, json_string_value(content), id);
    return s == NERC_OK ? s : nerc_error_prefix(s, "%s", path);
}

static nerc_status parse_json_added_tokens(nerc_tokenizer *tok, const json_t *arr, const char *path) {
    if (!arr || json_is_null(arr))
        return NERC_OK;
    if (!json_is_array(arr))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: added_tokens must be an array", path);
    for (size_t i = 0; i < json_array_size(arr); i++)
        NERC_TRY(parse_json_added_token(tok, json_array_get(arr, i), path, i));
    return NERC_OK;
}

/* The ids of one template piece: {"SpecialToken": {"id": "[CLS]"}} -> special_tokens["[CLS]"].ids. */
static nerc_status template_special(nerc_tokenizer *tok, const json_t *specials, const json_t *piece,
                                    const char *path, int32_t *ids, int32_t *n) {
    const json_t *name = json_object_get(json_object_get(piece, "SpecialToken"), "id");
    const json_t *entry = json_is_string(name) ? json_object_get(specials, json_string_value(name)) : NULL;
    const json_t *arr = json_object_get(entry, "ids");
    if (!json_is_array(arr))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor: special token without ids", path);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (*n == TOK_MAX_TEMPLATE)
            return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor: template too long", path);
        NERC_TRY(json_get_id(json_array_get(arr, i), path, "post_processor id", &ids[(*n)++]));
        if (!nerc_tokenizer_id_to_token(tok, ids[*n - 1]))
            return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor: unknown id %d", path, (int)ids[*n - 1]);
    }
    return NERC_OK;
}

static nerc_status parse_template(nerc_tokenizer *tok, const json_t *pp, const char *path) {
    const json_t *single = json_object_get(pp, "single"), *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor.single must be an array", path);
    bool seen_a = false;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *piece = json_array_get(single, i);
        if (json_object_get(piece, "Sequence")) {
            if (seen_a)
                return nerc_errorf(NERC_ERR_ARG, "%s: unsupported tokenizer option: $A twice", path);
            seen_a = true;
        } else if (seen_a) {
            NERC_TRY(template_special(tok, specials, piece, path, tok->template_suffix, &tok->n_template_suffix));
        } else {
            NERC_TRY(template_special(tok, specials, piece, path, tok->template_prefix, &tok->n_template_prefix));
        }
    }
    if (!seen_a)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor.single has no $A", path);
    tok->cls_id = tok->n_template_prefix ? tok->template_prefix[0] : token_to_id(tok, "[CLS]");
    tok->sep_id = tok->n_template_suffix ? tok->template_suffix[0] : token_to_id(tok, "[SEP]");
    return NERC_OK;
}

static nerc_status parse_bert_processing(nerc_tokenizer *tok, const json_t *pp, const char *path) {
    const json_t *cls = json_array_get(json_object_get(pp, "cls"), 1);
    const json_t *sep = json_array_get(json_object_get(pp, "sep"), 1);
    NERC_TRY(json_get_id(cls, path, "post_processor.cls", &tok->cls_id));
    NERC_TRY(json_get_id(sep, path, "post_processor.sep", &tok->sep_id));
    if (!nerc_tokenizer_id_to_token(tok, tok->cls_id) || !nerc_tokenizer_id_to_token(tok, tok->sep_id))
        return nerc_errorf(NERC_ERR_FORMAT, "%s: post_processor: unknown cls/sep id", path);
    tok->template_prefix[0] = tok->cls_id;
    tok->template_suffix[0] = tok->sep_id;
    tok->n_template_prefix = tok->n_template_suffix = 1;
    return NERC_OK;
}

static nerc_status parse_json_post_processor(nerc_tokenizer *tok, const json_t *pp, const char *path) {
    if (!pp || json_is_null(pp)) {
        tok->cls_id = token_to_id(tok, "[CLS]");
        tok->sep_id = token_to_id(tok, "[SEP]");
        return NERC_OK;
    }
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (type && !strcmp(type, "TemplateProcessing"))
        return parse_template(tok, pp, path);
    if (type && !strcmp(type, "BertProcessing"))
        return parse_bert_processing(tok, pp, path);
    return nerc_errorf(NERC_ERR_ARG, "%s: unsupported tokenizer option: post_processor type '%s'", path,
                       type ? type : "?");
}

static nerc_status parse_json_padding(nerc_tokenizer *tok, const json_t *pad, const char *path) {
    if (pad && !json_is_null(pad))
        return json_get_id(json_object_get(pad, "pad_id"), path, "padding.pad_id", &tok->pad_id);
    tok->pad_id = token_to_id(tok, "[PAD]");
    if (tok->pad_id < 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: no padding.pad_id and no [PAD] token", path);
    return NERC_OK;
}

static nerc_status parse_tokenizer_json(nerc_tokenizer *tok, const json_t *root, const char *path) {
    NERC_TRY(parse_json_model(tok, json_object_get(root, "model"), path));
    NERC_TRY(parse_json_normalizer(tok, json_object_get(root, "normalizer"), path));
    NERC_TRY(parse_json_pre_tokenizer(json_object_get(root, "pre_tokenizer"), path));
    NERC_TRY(parse_json_added_tokens(tok, json_object_get(root, "added_tokens"), path));
    NERC_TRY(parse_json_post_processor(tok, json_object_get(root, "post_processor"), path));
    return parse_json_padding(tok, json_object_get(root, "padding"), path);
}

/* Builds a tokenizer from a parsed tokenizer.json root (consumed). */
static nerc_status tokenizer_from_json(nerc_tokenizer **out, json_t *root, nerc_status parsed, const char *path) {
    nerc_tokenizer *tok = tokenizer_new();
    nerc_status s = parsed;
    if (s == NERC_OK && !tok)
        s = nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", path);
    if (s == NERC_OK)
        s = parse_tokenizer_json(tok, root, path);
    json_decref(root);
    if (s != NERC_OK) {
        nerc_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return NERC_OK;
}

nerc_status nerc_tokenizer_load_file(nerc_tokenizer **out, const char *path) {
    if (!out || !path)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_load_file: NULL argument");
    *out = NULL;
    json_t *root = NULL;
    nerc_status s = json_load_path(path, &root);
    return tokenizer_from_json(out, root, s, path);
}

nerc_status tokenizer_parse_json(nerc_tokenizer **out, const char *data, size_t len, const char *name) {
    *out = NULL;
    json_t *root = NULL;
    nerc_status s = json_parse_object(data, len, name, &root);
    return tokenizer_from_json(out, root, s, name);
}

nerc_status tokenizer_parse_vocab(nerc_tokenizer **out, const char *data, size_t len, const char *name) {
    *out = NULL;
    nerc_tokenizer *tok = tokenizer_new();
    if (!tok)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", name);
    nerc_status s = len ? parse_vocab_txt(&tok->vocab, name, data, len)
                        : nerc_errorf(NERC_ERR_FORMAT, "%s: empty vocabulary", name);
    json_t *defaults = json_object();
    if (s == NERC_OK)
        s = defaults ? apply_tokenizer_config(tok, defaults, name) : nerc_errorf(NERC_ERR_NOMEM, "out of memory");
    json_decref(defaults);
    if (s != NERC_OK) {
        nerc_tokenizer_free(tok);
        return s;
    }
    *out = tok;
    return NERC_OK;
}

nerc_status nerc_tokenizer_load(nerc_tokenizer **out, const char *name) {
    if (!out || !name)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_load: NULL argument");
    *out = NULL;
    char model_dir[4096]; /* a path, or a hub id found in the Hugging Face cache */
    NERC_TRY(nerc_hub_resolve(name, model_dir, sizeof model_dir));
    char *json_path = fs_join(model_dir, "tokenizer.json");
    if (!json_path)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", model_dir);
    nerc_status s;
    if (fs_exists(json_path)) {
        s = nerc_tokenizer_load_file(out, json_path);
    } else {
        nerc_tokenizer *tok = tokenizer_new();
        s = tok ? load_vocab_dir(tok, model_dir) : nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", model_dir);
        if (s == NERC_OK)
            *out = tok;
        else
            nerc_tokenizer_free(tok);
    }
    free(json_path);
    return s;
}

/* ---- accessors --------------------------------------------------------------- */

int32_t nerc_tokenizer_vocab_size(const nerc_tokenizer *tok) {
    int32_t n = tok->vocab.n;
    for (int32_t i = 0; i < tok->n_specials; i++)
        if (tok->specials[i].id >= n)
            n = tok->specials[i].id + 1;
    return n;
}

int32_t nerc_tokenizer_cls_id(const nerc_tokenizer *tok) { return tok->cls_id; }
int32_t nerc_tokenizer_sep_id(const nerc_tokenizer *tok) { return tok->sep_id; }
int32_t nerc_tokenizer_pad_id(const nerc_tokenizer *tok) { return tok->pad_id; }
int32_t nerc_tokenizer_unk_id(const nerc_tokenizer *tok) { return tok->unk_id; }

const char *nerc_tokenizer_id_to_token(const nerc_tokenizer *tok, int32_t id) {
    if (id >= 0 && id < tok->vocab.n)
        return tok->vocab.tokens[id];
    for (int32_t i = 0; i < tok->n_specials; i++)
        if (tok->specials[i].id == id)
            return tok->specials[i].content;
    return NULL;
}
