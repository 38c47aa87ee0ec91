/* Score-file readers: conlleval's "word ... gold pred" format, or a gold and a predicted CoNLL file. */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "metrics/scorer.h"

/* Score files larger than this are refused (they would not fit the scorer anyway). */
#define SCORE_FILE_MAX_BYTES ((size_t)1 << 32)

/* ---- lines ---- */

typedef struct {
    const char *buf;
    size_t len, pos;
    int64_t line; /* number of the line last returned, 1-based */
    const char *name;
} line_reader;

/* The next line without its "\n" / "\r\n"; 0 at the end of the buffer. */
static int next_line(line_reader *r, const char **s, size_t *n) {
    if (r->pos >= r->len)
        return 0;
    const char *start = r->buf + r->pos;
    const char *nl = memchr(start, '\n', r->len - r->pos);
    size_t len = nl ? (size_t)(nl - start) : r->len - r->pos;
    r->pos += len + (nl != NULL);
    if (len > 0 && start[len - 1] == '\r')
        len--;
    r->line++;
    *s = start;
    *n = len;
    return 1;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return c ? 1 : 0; /* NUL bytes are refused too */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* ---- fields ---- */

enum { LINE_BLANK, LINE_DOCSTART, LINE_TOKEN };

/* What the readers need of a line: its kind, column count, first and last two columns. */
typedef struct {
    int kind;
    int64_t n_cols;
    tag_view first, second_last, last;
} parsed_line;

static int is_space(char c) { return c == ' ' || c == '\t'; }

static nerc_status parse_line(const line_reader *r, const char *s, size_t n, parsed_line *out) {
    memset(out, 0, sizeof *out);
    if (!utf8_valid(s, n))
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%" PRId64 ": invalid UTF-8 or NUL byte", r->name,
                           r->line);
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(s[i]))
            i++;
        if (i == n)
            break;
        size_t start = i;
        while (i < n && !is_space(s[i]))
            i++;
        tag_view field = {s + start, i - start};
        if (out->n_cols == 0)
            out->first = field;
        out->second_last = out->last;
        out->last = field;
        out->n_cols++;
    }
    if (out->n_cols == 0)
        out->kind = LINE_BLANK;
    else if (out->first.n == 10 && !memcmp(out->first.s, "-DOCSTART-", 10))
        out->kind = LINE_DOCSTART;
    else
        out->kind = LINE_TOKEN;
    return NERC_OK;
}

/* Every token line of a file must have the same number of columns. */
static nerc_status check_columns(const line_reader *r, const parsed_line *pl, int64_t *n_cols,
                                 int64_t min_cols) {
    if (pl->n_cols < min_cols)
        return nerc_errorf(NERC_ERR_FORMAT,
                           "%s:%" PRId64 ": %" PRId64 " column(s), want at least %" PRId64
                           " (word ... gold predicted)",
                           r->name, r->line, pl->n_cols, min_cols);
    if (*n_cols == 0)
        *n_cols = pl->n_cols;
    else if (pl->n_cols != *n_cols)
        return nerc_errorf(NERC_ERR_FORMAT,
                           "%s:%" PRId64 ": %" PRId64 " columns, but earlier lines have %" PRId64
                           " (ragged line)",
                           r->name, r->line, pl->n_cols, *n_cols);
    return NERC_OK;
}

static nerc_status check_tag(const line_reader *r, tag_view tag, const char *which) {
    if (tag_shape_ok(tag.s, tag.n))
        return NERC_OK;
    return nerc_errorf(NERC_ERR_FORMAT,
                       "%s:%" PRId64 ": malformed %s tag '%.*s' (want O or B-/I-/E-/S-/L-/U-TYPE)",
                       r->name, r->line, which, (int)(tag.n > 64 ? 64 : tag.n), tag.s);
}

/* ---- sentence buffer ---- */

typedef struct {
    tag_view *gold, *pred;
    int n, cap;
} sentence_buf;

static nerc_status sentence_push(sentence_buf *sb, const line_reader *r, tag_view gold,
                                 tag_view pred) {
    if (sb->n == sb->cap) {
        if (sb->cap > INT_MAX / 2)
            return nerc_errorf(NERC_ERR_FORMAT, "%s:%" PRId64 ": sentence too long", r->name,
                               r->line);
        int cap = sb->cap ? sb->cap * 2 : 64;
        tag_view *g = realloc(sb->gold, (size_t)cap * sizeof *g);
        if (!g)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", r->name);
        sb->gold = g;
        tag_view *p = realloc(sb->pred, (size_t)cap * sizeof *p);
        if (!p)
            return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", r->name);
        sb->pred = p;
        sb->cap = cap;
    }
    sb->gold[sb->n] = gold;
    sb->pred[sb->n] = pred;
    sb->n++;
    return NERC_OK;
}

static nerc_status sentence_flush(sentence_buf *sb, nerc_scorer *sc) {
    if (sb->n == 0)
        return NERC_OK;
    nerc_status st = scorer_add_views(sc, sb->gold, sb->pred, sb->n);
    sb->n = 0;
    return st;
}

static void sentence_free(sentence_buf *sb) {
    free(sb->gold);
    free(sb->pred);
}

/* On failure, drop what the failed read added, so the scorer is unchanged. */
static nerc_status finish_read(nerc_scorer *sc, nerc_status st, int64_t n_tokens, int64_t n_sents) {
    if (st != NERC_OK) {
        sc->n_tokens = n_tokens;
        sc->n_sents = n_sents;
    }
    return st;
}

/* ---- one score file ---- */

/* One line of a score file: a sentence break or a token. */
static nerc_status read_score_line(line_reader *r, sentence_buf *sb, nerc_scorer *sc,
                                   const char *s, size_t n, int64_t *n_cols, int64_t *n_tokens) {
    parsed_line pl;
    NERC_TRY(parse_line(r, s, n, &pl));
    if (pl.kind != LINE_TOKEN)
        return sentence_flush(sb, sc);
    NERC_TRY(check_columns(r, &pl, n_cols, 2));
    NERC_TRY(check_tag(r, pl.second_last, "gold"));
    NERC_TRY(check_tag(r, pl.last, "predicted"));
    (*n_tokens)++;
    return sentence_push(sb, r, pl.second_last, pl.last);
}

nerc_status nerc_score_read_buffer(nerc_scorer *sc, const char *buf, size_t len,
                                   const char *name) {
    line_reader r = {.buf = buf, .len = len, .name = name ? name : "(buffer)"};
    if (len == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: empty file", r.name);
    int64_t n_tokens0 = sc->n_tokens, n_sents0 = sc->n_sents;
    sentence_buf sb = {0};
    int64_t n_cols = 0, n_tokens = 0;
    nerc_status st = NERC_OK;
    const char *s;
    size_t n;
    while (st == NERC_OK && next_line(&r, &s, &n))
        st = read_score_line(&r, &sb, sc, s, n, &n_cols, &n_tokens);
    int open_end = sb.n > 0;
    if (st == NERC_OK)
        st = sentence_flush(&sb, sc);
    if (st == NERC_OK)
        sc->open_end = open_end;
    if (st == NERC_OK && n_tokens == 0)
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: no token lines", r.name);
    sentence_free(&sb);
    return finish_read(sc, st, n_tokens0, n_sents0);
}

nerc_status nerc_score_read_file(nerc_scorer *sc, const char *path) {
    char *data;
    size_t len;
    NERC_TRY(fs_read_file(path, SCORE_FILE_MAX_BYTES, &data, &len));
    nerc_status st = nerc_score_read_buffer(sc, data, len, path);
    free(data);
    return st;
}

/* ---- a gold and a predicted CoNLL file ---- */

/* The next token line, or a sentence break standing for a run of blank and
 * -DOCSTART- lines; kind LINE_BLANK with n_cols 0 at the end of the file. */
typedef struct {
    line_reader r;
    int64_t n_cols;
    int eof;
    int seen_token; /* breaks before the first token do not count */
} conll_reader;

static nerc_status next_record(conll_reader *cr, parsed_line *pl, int *at_break) {
    *at_break = 0;
    const char *s;
    size_t n;
    for (;;) {
        if (!next_line(&cr->r, &s, &n)) {
            cr->eof = 1;
            memset(pl, 0, sizeof *pl);
            return NERC_OK;
        }
        NERC_TRY(parse_line(&cr->r, s, n, pl));
        if (pl->kind == LINE_TOKEN) {
            cr->seen_token = 1;
            return check_columns(&cr->r, pl, &cr->n_cols, 1);
        }
        *at_break = cr->seen_token;
    }
}

/* Both files must agree on where sentences break, token by token. */
static nerc_status check_aligned(const conll_reader *g, const conll_reader *p, int g_break,
                                 int p_break, const parsed_line *gl, const parsed_line *pl) {
    if (g->eof != p->eof)
        return nerc_errorf(NERC_ERR_FORMAT, "%s:%" PRId64 ": misaligned: %s has no more tokens",
                           g->eof ? p->r.name : g->r.name, g->eof ? p->r.line : g->r.line,
                           g->eof ? g->r.name : p->r.name);
    if (g->eof)
        return NERC_OK;
    if (g_break != p_break)
        return nerc_errorf(NERC_ERR_FORMAT,
                           "%s:%" PRId64 ": misaligned with %s:%" PRId64
                           ": a sentence break in one file only",
                           g->r.name, g->r.line, p->r.name, p->r.line);
    if (gl->n_cols >= 2 && pl->n_cols >= 2 &&
        (gl->first.n != pl->first.n || memcmp(gl->first.s, pl->first.s, gl->first.n)))
        return nerc_errorf(NERC_ERR_FORMAT,
                           "%s:%" PRId64 ": misaligned with %s:%" PRId64 ": word '%.*s' vs '%.*s'",
                           g->r.name, g->r.line, p->r.name, p->r.line,
                           (int)(gl->first.n > 64 ? 64 : gl->first.n), gl->first.s,
                           (int)(pl->first.n > 64 ? 64 : pl->first.n), pl->first.s);
    return NERC_OK;
}

static nerc_status read_pair_records(conll_reader *g, conll_reader *p, sentence_buf *sb,
                                     nerc_scorer *sc, int64_t *n_tokens) {
    for (;;) {
        parsed_line gl, pl;
        int g_break, p_break;
        NERC_TRY(next_record(g, &gl, &g_break));
        NERC_TRY(next_record(p, &pl, &p_break));
        if (g_break || g->eof)
            NERC_TRY(sentence_flush(sb, sc));
        NERC_TRY(check_aligned(g, p, g_break, p_break, &gl, &pl));
        if (g->eof)
            return NERC_OK;
        NERC_TRY(check_tag(&g->r, gl.last, "gold"));
        NERC_TRY(check_tag(&p->r, pl.last, "predicted"));
        NERC_TRY(sentence_push(sb, &g->r, gl.last, pl.last));
        (*n_tokens)++;
    }
}

nerc_status nerc_score_read_pair_buffers(nerc_scorer *sc, const char *gold, size_t gold_len,
                                         const char *gold_name, const char *pred,
                                         size_t pred_len, const char *pred_name) {
    conll_reader g = {.r = {.buf = gold, .len = gold_len, .name = gold_name ? gold_name : "(gold)"}};
    conll_reader p = {.r = {.buf = pred, .len = pred_len, .name = pred_name ? pred_name : "(pred)"}};
    if (gold_len == 0 || pred_len == 0)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: empty file", gold_len ? p.r.name : g.r.name);
    int64_t n_tokens0 = sc->n_tokens, n_sents0 = sc->n_sents;
    sentence_buf sb = {0};
    int64_t n_tokens = 0;
    nerc_status st = read_pair_records(&g, &p, &sb, sc, &n_tokens);
    if (st == NERC_OK && n_tokens == 0)
        st = nerc_errorf(NERC_ERR_FORMAT, "%s: no token lines", g.r.name);
    sentence_free(&sb);
    return finish_read(sc, st, n_tokens0, n_sents0);
}

nerc_status nerc_score_read_pair(nerc_scorer *sc, const char *gold_path, const char *pred_path) {
    char *gold = NULL, *pred = NULL;
    size_t gold_len, pred_len;
    nerc_status st = fs_read_file(gold_path, SCORE_FILE_MAX_BYTES, &gold, &gold_len);
    if (st == NERC_OK)
        st = fs_read_file(pred_path, SCORE_FILE_MAX_BYTES, &pred, &pred_len);
    if (st == NERC_OK)
        st = nerc_score_read_pair_buffers(sc, gold, gold_len, gold_path, pred, pred_len, pred_path);
    free(gold);
    free(pred);
    return st;
}
