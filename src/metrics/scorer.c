/* The scorer: accumulates gold/predicted tag sentences and computes seqeval / conlleval reports. */
#include "metrics/scorer.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "metrics/chunks.h"

/* ---- names ---- */

static const char *const scheme_names[] = {
    [NERC_SCHEME_IOB2] = "IOB2",   [NERC_SCHEME_IOB1] = "IOB1",   [NERC_SCHEME_IOE1] = "IOE1",
    [NERC_SCHEME_IOE2] = "IOE2",   [NERC_SCHEME_IOBES] = "IOBES", [NERC_SCHEME_BILOU] = "BILOU",
};
#define N_SCHEMES ((int)(sizeof scheme_names / sizeof scheme_names[0]))

const char *nerc_scheme_name(nerc_scheme scheme) {
    return (unsigned)scheme < N_SCHEMES ? scheme_names[scheme] : "?";
}

nerc_status nerc_scheme_parse(const char *name, nerc_scheme *scheme) {
    for (int i = 0; i < N_SCHEMES; i++)
        if (name && !strcmp(name, scheme_names[i])) {
            *scheme = (nerc_scheme)i;
            return NERC_OK;
        }
    return nerc_errorf(NERC_ERR_ARG, "unknown scheme '%s' (IOB1, IOB2, IOE1, IOE2, IOBES, BILOU)",
                       name ? name : "(null)");
}

const char *nerc_level_name(nerc_level level) {
    return level == NERC_LEVEL_SUBTOKEN ? "sub-token" : "word";
}

nerc_status nerc_level_parse(const char *name, nerc_level *level) {
    if (name && !strcmp(name, "word")) {
        *level = NERC_LEVEL_WORD;
        return NERC_OK;
    }
    if (name && !strcmp(name, "sub-token")) {
        *level = NERC_LEVEL_SUBTOKEN;
        return NERC_OK;
    }
    return nerc_errorf(NERC_ERR_ARG, "unknown level '%s' (word, sub-token)", name ? name : "(null)");
}

/* ---- tags ---- */

int tag_shape_ok(const char *s, size_t n) {
    if (n == 1 && s[0] == 'O')
        return 1;
    if (n < 3 || s[0] == 'O' || !prefix_bit(s[0]) || s[1] != '-')
        return 0;
    if (s[2] == '-' || s[n - 1] == '-')
        return 0;
    /* "_" is the type seqeval gives "O": it would let a chunk run across sentences */
    if (n == 3 && s[2] == '_')
        return 0;
    return memchr(s, '\0', n) == NULL;
}

int nerc_tag_is_valid(const char *tag) { return tag && tag_shape_ok(tag, strlen(tag)); }

/* ---- lifetime ---- */

nerc_status nerc_scorer_init(nerc_scorer **out) {
    nerc_scorer *sc = calloc(1, sizeof *sc);
    if (!sc)
        return nerc_errorf(NERC_ERR_NOMEM, "scorer: out of memory");
    nerc_status st = strtab_intern(&sc->types, "_", 1, &sc->o_type);
    if (st == NERC_OK)
        st = strtab_intern(&sc->types, "", 0, &sc->empty_type);
    if (st != NERC_OK) {
        nerc_scorer_free(sc);
        return st;
    }
    *out = sc;
    return NERC_OK;
}

void nerc_scorer_free(nerc_scorer *sc) {
    if (!sc)
        return;
    strtab_free(&sc->tags);
    strtab_free(&sc->types);
    free(sc->tag_prefix);
    free(sc->tag_type);
    free(sc->tag_conll_type);
    free(sc->gold);
    free(sc->pred);
    free(sc->sent_end);
    free(sc);
}

void nerc_scorer_reset(nerc_scorer *sc) {
    sc->n_tokens = 0;
    sc->n_sents = 0;
    sc->max_sent_len = 0;
    sc->open_end = 0;
}

int64_t nerc_scorer_n_sentences(const nerc_scorer *sc) { return sc->n_sents; }
int64_t nerc_scorer_n_tokens(const nerc_scorer *sc) { return sc->n_tokens; }

/* ---- accumulation ---- */

/* realloc to n elements of `size` bytes, with an overflow check. */
static nerc_status grow_array(void **p, int64_t n, size_t size) {
    if (n < 0 || (uint64_t)n > SIZE_MAX / size)
        return nerc_errorf(NERC_ERR_NOMEM, "scorer: too many tokens");
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return nerc_errorf(NERC_ERR_NOMEM, "scorer: out of memory");
    *p = q;
    return NERC_OK;
}

static int64_t next_cap(int64_t cap, int64_t need) {
    int64_t c = cap ? cap : 256;
    while (c < need)
        c = c > INT64_MAX / 2 ? need : c * 2;
    return c;
}

static nerc_status reserve_tokens(nerc_scorer *sc, int n) {
    int64_t need = sc->n_tokens + n;
    if (need > sc->tok_cap) {
        int64_t cap = next_cap(sc->tok_cap, need);
        NERC_TRY(grow_array((void **)&sc->gold, cap, sizeof *sc->gold));
        NERC_TRY(grow_array((void **)&sc->pred, cap, sizeof *sc->pred));
        sc->tok_cap = cap;
    }
    if (sc->n_sents + 1 > sc->sent_cap) {
        int64_t cap = next_cap(sc->sent_cap, sc->n_sents + 1);
        NERC_TRY(grow_array((void **)&sc->sent_end, cap, sizeof *sc->sent_end));
        sc->sent_cap = cap;
    }
    return NERC_OK;
}

static nerc_status reserve_tags(nerc_scorer *sc) {
    if (sc->tags.n < sc->tag_cap)
        return NERC_OK;
    int64_t cap = next_cap(sc->tag_cap, (int64_t)sc->tags.n + 1);
    if (cap > INT32_MAX)
        return nerc_errorf(NERC_ERR_NOMEM, "scorer: too many distinct tags");
    NERC_TRY(grow_array((void **)&sc->tag_prefix, cap, sizeof *sc->tag_prefix));
    NERC_TRY(grow_array((void **)&sc->tag_type, cap, sizeof *sc->tag_type));
    NERC_TRY(grow_array((void **)&sc->tag_conll_type, cap, sizeof *sc->tag_conll_type));
    sc->tag_cap = (int32_t)cap;
    return NERC_OK;
}

/* The id of a well-formed tag, registering its prefix and types if new. */
static nerc_status tag_id(nerc_scorer *sc, tag_view v, int32_t *id) {
    *id = strtab_find(&sc->tags, v.s, v.n);
    if (*id >= 0)
        return NERC_OK;
    NERC_TRY(reserve_tags(sc));
    uint8_t prefix = prefix_bit(v.s[0]);
    int32_t type = sc->o_type, conll_type = sc->empty_type;
    if (prefix != PFX_O) {
        NERC_TRY(strtab_intern(&sc->types, v.s + 2, v.n - 2, &type));
        /* conlleval.pl: `$type ? $type : ""` turns the type "0" into "" */
        conll_type = (v.n == 3 && v.s[2] == '0') ? sc->empty_type : type;
    }
    NERC_TRY(strtab_intern(&sc->tags, v.s, v.n, id));
    sc->tag_prefix[*id] = prefix;
    sc->tag_type[*id] = type;
    sc->tag_conll_type[*id] = conll_type;
    return NERC_OK;
}

nerc_status scorer_add_views(nerc_scorer *sc, const tag_view *gold, const tag_view *pred, int n) {
    if (n < 0)
        return nerc_errorf(NERC_ERR_ARG, "scorer: negative sentence length %d", n);
    NERC_TRY(reserve_tokens(sc, n));
    int64_t base = sc->n_tokens;
    for (int i = 0; i < n; i++) {
        NERC_TRY(tag_id(sc, gold[i], &sc->gold[base + i]));
        NERC_TRY(tag_id(sc, pred[i], &sc->pred[base + i]));
    }
    sc->n_tokens += n;
    sc->sent_end[sc->n_sents++] = sc->n_tokens;
    sc->open_end = 0;
    if (n > sc->max_sent_len)
        sc->max_sent_len = n;
    return NERC_OK;
}

/* Checks one caller tag and views it. */
static nerc_status view_tag(const char *tag, const char *which, int i, tag_view *out) {
    if (!nerc_tag_is_valid(tag))
        return nerc_errorf(NERC_ERR_ARG, "%s tag %d: malformed tag '%s' (want O or B-/I-/E-/S-/L-/U-TYPE)",
                           which, i, tag ? tag : "(null)");
    *out = (tag_view){tag, strlen(tag)};
    return NERC_OK;
}

nerc_status nerc_scorer_add_sentence(nerc_scorer *sc, const char *const *gold,
                                     const char *const *pred, int n) {
    if (n < 0 || (n > 0 && (!gold || !pred)))
        return nerc_errorf(NERC_ERR_ARG, "scorer: bad sentence (n=%d)", n);
    tag_view stack[2 * 128];
    tag_view *views = stack; /* gold views in [0, n), predicted in [n, 2n) */
    if (n > 128 && !(views = malloc(2 * (size_t)n * sizeof *views)))
        return nerc_errorf(NERC_ERR_NOMEM, "scorer: out of memory");
    nerc_status st = NERC_OK;
    for (int i = 0; i < n && st == NERC_OK; i++) {
        st = view_tag(gold[i], "gold", i, &views[i]);
        if (st == NERC_OK)
            st = view_tag(pred[i], "predicted", i, &views[n + i]);
    }
    if (st == NERC_OK)
        st = scorer_add_views(sc, views, views + n, n);
    if (views != stack)
        free(views);
    return st;
}
