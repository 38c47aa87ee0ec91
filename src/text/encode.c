/* Encoding: split out literal special tokens, normalize, pre-tokenize (whitespace and
 * punctuation), greedy longest-match WordPiece, then the [CLS] ... [SEP] template. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/tokenizer_internal.h"

/* One output token with its span in the original text. */
typedef struct {
    int32_t id;
    int32_t cp_start, cp_end;
    int32_t byte_start, byte_end;
    int32_t word; /* -1 for template tokens */
} tok_piece;

/* Scratch of one encode call: the pre-token being built and the growing output. */
typedef struct {
    norm_char *word;   /* [word_cap] normalized chars of the current pre-token */
    size_t word_cap;   /* max_chars + 1 at most: longer pre-tokens only need their ends */
    size_t word_len;   /* chars in the current pre-token (may exceed word_cap) */
    norm_char word_last;
    char *bytes;       /* [4 * word_cap] UTF-8 of the current pre-token */
    int32_t *boff;     /* [word_cap + 1] byte offset of each char in bytes */
    tok_piece *out;
    size_t out_len, out_cap;
    int32_t next_word;
} encode_state;

static nerc_status state_init(encode_state *st, const nerc_tokenizer *tok, size_t text_len) {
    memset(st, 0, sizeof *st);
    size_t cap = (size_t)tok->max_chars + 1;
    if (text_len < (SIZE_MAX - 1) / 3 && cap > 3 * text_len + 1)
        cap = 3 * text_len + 1; /* a character normalizes to 3 at most */
    st->word_cap = cap;
    st->word = malloc(cap * sizeof *st->word);
    st->bytes = malloc(cap * 4);
    st->boff = malloc((cap + 1) * sizeof *st->boff);
    if (!st->word || !st->bytes || !st->boff)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    return NERC_OK;
}

static void state_free(encode_state *st) {
    free(st->word);
    free(st->bytes);
    free(st->boff);
    free(st->out);
    memset(st, 0, sizeof *st);
}

static nerc_status emit(encode_state *st, int32_t id, const norm_char *first, const norm_char *last,
                        int32_t word) {
    if (st->out_len == st->out_cap) {
        size_t ncap = st->out_cap ? st->out_cap * 2 : 16;
        if (ncap > SIZE_MAX / sizeof *st->out || ncap > INT32_MAX)
            return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: too many tokens");
        tok_piece *p = realloc(st->out, ncap * sizeof *p);
        if (!p)
            return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
        st->out = p;
        st->out_cap = ncap;
    }
    tok_piece *t = &st->out[st->out_len++];
    t->id = id;
    t->word = word;
    t->cp_start = first ? first->cp_index : 0;
    t->cp_end = last ? last->cp_index + 1 : 0;
    t->byte_start = first ? first->byte_start : 0;
    t->byte_end = last ? last->byte_end : 0;
    return NERC_OK;
}

/* Greedy longest-match WordPiece of the current pre-token; [UNK] for the whole
 * pre-token when it is too long or some remainder matches nothing. */
static nerc_status wordpiece(const nerc_tokenizer *tok, encode_state *st) {
    size_t n = st->word_len;
    int32_t word = st->next_word++;
    if (n > (size_t)tok->max_chars)
        return emit(st, tok->unk_id, &st->word[0], &st->word_last, word);
    st->boff[0] = 0;
    for (size_t i = 0; i < n; i++)
        st->boff[i + 1] = st->boff[i] + (int32_t)utf8_encode(st->word[i].cp, st->bytes + st->boff[i]);
    size_t out_mark = st->out_len, start = 0;
    while (start < n) {
        size_t end = n;
        int32_t id = -1;
        for (; end > start; end--) {
            size_t plen = start > 0 ? tok->prefix_len : 0;
            id = vocab_find2(&tok->vocab, tok->prefix, plen, st->bytes + st->boff[start],
                             (size_t)(st->boff[end] - st->boff[start]));
            if (id >= 0)
                break;
        }
        if (id < 0) {
            st->out_len = out_mark;
            return emit(st, tok->unk_id, &st->word[0], &st->word[n - 1], word);
        }
        NERC_TRY(emit(st, id, &st->word[start], &st->word[end - 1], word));
        start = end;
    }
    return NERC_OK;
}

static nerc_status flush_word(const nerc_tokenizer *tok, encode_state *st) {
    if (st->word_len == 0)
        return NERC_OK;
    nerc_status s = wordpiece(tok, st);
    st->word_len = 0;
    return s;
}

static void push_char(encode_state *st, const norm_char *c) {
    if (st->word_len < st->word_cap)
        st->word[st->word_len] = *c;
    st->word_len++;
    st->word_last = *c;
}

/* BertPreTokenizer on one normalized character: whitespace ends a pre-token,
 * punctuation is a pre-token of its own. */
static nerc_status pretokenize_char(const nerc_tokenizer *tok, encode_state *st, const norm_char *c) {
    if (pretok_is_space(c->cp))
        return flush_word(tok, st);
    if (pretok_is_punct(c->cp)) {
        NERC_TRY(flush_word(tok, st));
        push_char(st, c);
        return flush_word(tok, st);
    }
    push_char(st, c);
    return NERC_OK;
}

/* Normalizes and pre-tokenizes text[begin, end) (valid UTF-8) whose first char is
 * code point number cp_index of the original text. Returns the index after it. */
static nerc_status encode_segment(const nerc_tokenizer *tok, encode_state *st, const char *text,
                                  size_t begin, size_t end, int32_t *cp_index) {
    const unsigned char *u = (const unsigned char *)text;
    size_t pos = begin;
    while (pos < end) {
        size_t at = pos;
        uint32_t cp, out[NORM_MAX_EXPANSION];
        utf8_decode(u, end, &pos, &cp);
        size_t n = normalize_char(&tok->norm, cp, out);
        for (size_t k = 0; k < n; k++) {
            norm_char c = {out[k], *cp_index, (int32_t)at, (int32_t)pos};
            NERC_TRY(pretokenize_char(tok, st, &c));
        }
        (*cp_index)++;
    }
    return flush_word(tok, st);
}

/* Length of the longest special token at text[pos] (leftmost-longest), 0 if none. */
static size_t match_special(const nerc_tokenizer *tok, const char *text, size_t len, size_t pos,
                            int32_t *id) {
    size_t best = 0;
    for (int32_t i = 0; i < tok->n_specials; i++) {
        const tok_special *sp = &tok->specials[i];
        if (sp->len > best && sp->len <= len - pos && memcmp(text + pos, sp->content, sp->len) == 0) {
            best = sp->len;
            *id = sp->id;
        }
    }
    return best;
}

static int32_t count_code_points(const char *s, size_t len) {
    int32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static size_t utf8_char_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The body of an encoding: segments between special tokens, each normalized,
 * pre-tokenized and WordPiece'd. */
static nerc_status encode_body(const nerc_tokenizer *tok, encode_state *st, const char *text,
                               size_t len) {
    if (len > INT32_MAX)
        return nerc_errorf(NERC_ERR_ARG, "tokenizer: text of %zu bytes is too long", len);
    size_t bad = utf8_validate(text, len);
    if (bad < len)
        return nerc_errorf(NERC_ERR_ARG, "tokenizer: invalid UTF-8 at byte %zu", bad);
    size_t pos = 0, seg_start = 0;
    int32_t cp_index = 0, seg_cp = 0;
    while (pos < len) {
        int32_t id = -1;
        size_t m = tok->special_first_byte[(unsigned char)text[pos]]
                       ? match_special(tok, text, len, pos, &id)
                       : 0;
        if (m == 0) {
            pos += utf8_char_len((unsigned char)text[pos]);
            cp_index++;
            continue;
        }
        NERC_TRY(encode_segment(tok, st, text, seg_start, pos, &seg_cp));
        int32_t ncp = count_code_points(text + pos, m);
        norm_char first = {0, cp_index, (int32_t)pos, (int32_t)pos};
        norm_char last = {0, cp_index + ncp - 1, (int32_t)pos, (int32_t)(pos + m)};
        NERC_TRY(emit(st, id, &first, &last, st->next_word++));
        pos += m;
        cp_index += ncp;
        seg_start = pos;
        seg_cp = cp_index;
    }
    return encode_segment(tok, st, text, seg_start, len, &seg_cp);
}

nerc_status nerc_tokenizer_encode_word(const nerc_tokenizer *tok, const char *word, size_t len,
                                       int32_t *ids, int32_t cap, int32_t *n) {
    *n = 0;
    if (!tok || (!word && len) || (!ids && cap > 0) || cap < 0)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_encode_word: bad argument");
    encode_state st;
    nerc_status s = state_init(&st, tok, len);
    if (s == NERC_OK)
        s = encode_body(tok, &st, word ? word : "", len);
    if (s == NERC_OK) {
        for (size_t i = 0; i < st.out_len && i < (size_t)cap; i++)
            ids[i] = st.out[i].id;
        *n = (int32_t)st.out_len;
    }
    state_free(&st);
    return s;
}

static nerc_status emit_template(encode_state *st, const int32_t *ids, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        NERC_TRY(emit(st, ids[i], NULL, NULL, -1));
    return NERC_OK;
}

static nerc_status encoding_fill(nerc_encoding *out, const encode_state *st) {
    size_t n = st->out_len;
    out->n = (int32_t)n;
    out->ids = malloc((n ? n : 1) * sizeof *out->ids);
    out->offsets = malloc((n ? 2 * n : 1) * sizeof *out->offsets);
    out->byte_offsets = malloc((n ? 2 * n : 1) * sizeof *out->byte_offsets);
    out->word_ids = malloc((n ? n : 1) * sizeof *out->word_ids);
    if (!out->ids || !out->offsets || !out->byte_offsets || !out->word_ids)
        return nerc_errorf(NERC_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < n; i++) {
        const tok_piece *t = &st->out[i];
        out->ids[i] = t->id;
        out->offsets[2 * i] = t->cp_start;
        out->offsets[2 * i + 1] = t->cp_end;
        out->byte_offsets[2 * i] = t->byte_start;
        out->byte_offsets[2 * i + 1] = t->byte_end;
        out->word_ids[i] = t->word;
    }
    return NERC_OK;
}

nerc_status nerc_tokenizer_encode(const nerc_tokenizer *tok, const char *text, size_t len,
                                  nerc_encoding *out) {
    if (!out)
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_encode: NULL output");
    memset(out, 0, sizeof *out);
    if (!tok || (!text && len))
        return nerc_errorf(NERC_ERR_ARG, "nerc_tokenizer_encode: bad argument");
    encode_state st;
    nerc_status s = state_init(&st, tok, len);
    if (s == NERC_OK)
        s = emit_template(&st, tok->template_prefix, tok->n_template_prefix);
    if (s == NERC_OK)
        s = encode_body(tok, &st, text ? text : "", len);
    if (s == NERC_OK)
        s = emit_template(&st, tok->template_suffix, tok->n_template_suffix);
    if (s == NERC_OK)
        s = encoding_fill(out, &st);
    if (s != NERC_OK)
        nerc_encoding_free(out);
    state_free(&st);
    return s;
}

void nerc_encoding_free(nerc_encoding *enc) {
    if (!enc)
        return;
    free(enc->ids);
    free(enc->offsets);
    free(enc->byte_offsets);
    free(enc->word_ids);
    memset(enc, 0, sizeof *enc);
}
