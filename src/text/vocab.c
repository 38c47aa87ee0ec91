/* Model vocabulary: id -> string array plus an FNV-1a open-addressing hash table. */
#include "text/vocab.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static uint32_t fnv1a_update(uint32_t h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        h = vocab_hash_byte(h, (unsigned char)s[i]);
    return h;
}

static const uint32_t fnv1a_seed = VOCAB_HASH_SEED;

nerc_status vocab_init(vocab *v, int32_t n) {
    memset(v, 0, sizeof *v);
    if (n <= 0 || n > (1 << 28))
        return nerc_errorf(NERC_ERR_FORMAT, "vocabulary size %d out of range", (int)n);
    size_t nslots = 16;
    while (nslots < 2 * (size_t)n)
        nslots *= 2;
    v->n = n;
    v->nslots = nslots;
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->lens = calloc((size_t)n, sizeof *v->lens);
    v->slots = malloc(nslots * sizeof *v->slots);
    if (!v->tokens || !v->lens || !v->slots) {
        vocab_free(v);
        return nerc_errorf(NERC_ERR_NOMEM, "vocabulary of %d tokens: out of memory", (int)n);
    }
    for (size_t i = 0; i < nslots; i++)
        v->slots[i] = (vocab_slot){0, -1};
    return NERC_OK;
}

void vocab_free(vocab *v) {
    if (v->tokens)
        for (int32_t i = 0; i < v->n; i++)
            free(v->tokens[i]);
    free(v->tokens);
    free(v->lens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

static int slot_matches(const vocab *v, const vocab_slot *sl, uint32_t h, const char *prefix,
                        size_t plen, const char *s, size_t len) {
    if (sl->hash != h || v->lens[sl->id] != plen + len)
        return 0;
    const char *t = v->tokens[sl->id];
    return memcmp(t, prefix, plen) == 0 && memcmp(t + plen, s, len) == 0;
}

int32_t vocab_find2(const vocab *v, const char *prefix, size_t plen, const char *s, size_t len) {
    uint32_t h = fnv1a_update(fnv1a_update(fnv1a_seed, prefix, plen), s, len);
    size_t mask = v->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const vocab_slot *sl = &v->slots[i];
        if (sl->id < 0)
            return -1;
        if (slot_matches(v, sl, h, prefix, plen, s, len))
            return sl->id;
    }
}

int32_t vocab_find_hashed(const vocab *v, uint32_t h, const char *s, size_t len) {
    size_t mask = v->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const vocab_slot *sl = &v->slots[i];
        if (sl->id < 0)
            return -1;
        if (slot_matches(v, sl, h, "", 0, s, len))
            return sl->id;
    }
}

nerc_status vocab_set(vocab *v, int32_t id, const char *s, size_t len, int32_t *dup_of) {
    *dup_of = -1;
    if (id < 0 || id >= v->n || len > UINT32_MAX / 2)
        return NERC_ERR_FORMAT;
    if (v->tokens[id]) {
        *dup_of = id;
        return NERC_ERR_FORMAT;
    }
    int32_t existing = vocab_find(v, s, len);
    if (existing >= 0) {
        *dup_of = existing;
        return NERC_ERR_FORMAT;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return nerc_errorf(NERC_ERR_NOMEM, "vocabulary: out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->tokens[id] = copy;
    v->lens[id] = (uint32_t)len;
    uint32_t h = fnv1a_update(fnv1a_seed, s, len);
    size_t mask = v->nslots - 1, i = h & mask;
    while (v->slots[i].id >= 0)
        i = (i + 1) & mask;
    v->slots[i] = (vocab_slot){h, id};
    return NERC_OK;
}
