/* A string interning table: maps byte strings to dense ids 0, 1, 2, ... */
#include "metrics/strtab.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Slot holding s[0..n), or the empty slot where it would go. */
static uint32_t find_slot(const strtab *t, const char *s, size_t n) {
    uint32_t mask = t->n_slots - 1;
    uint32_t i = hash_bytes(s, n) & mask;
    for (;;) {
        int32_t id = t->slots[i];
        if (id < 0 || (t->lens[id] == n && memcmp(t->strs[id], s, n) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

/* Doubles the slot array (keeps the load factor under 1/2). */
static nerc_status grow_slots(strtab *t) {
    uint32_t n_slots = t->n_slots ? t->n_slots * 2 : 64;
    if (n_slots < t->n_slots)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: too many strings");
    int32_t *slots = malloc((size_t)n_slots * sizeof *slots);
    if (!slots)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: out of memory");
    memset(slots, 0xff, (size_t)n_slots * sizeof *slots);
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    for (int32_t id = 0; id < t->n; id++)
        t->slots[find_slot(t, t->strs[id], t->lens[id])] = id;
    return NERC_OK;
}

static nerc_status grow_strings(strtab *t) {
    if (t->cap > INT32_MAX / 2)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: too many strings");
    int32_t cap = t->cap ? t->cap * 2 : 16;
    char **strs = realloc(t->strs, (size_t)cap * sizeof *strs);
    if (!strs)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: out of memory");
    t->strs = strs;
    size_t *lens = realloc(t->lens, (size_t)cap * sizeof *lens);
    if (!lens)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: out of memory");
    t->lens = lens;
    t->cap = cap;
    return NERC_OK;
}

int32_t strtab_find(const strtab *t, const char *s, size_t n) {
    if (t->n_slots == 0)
        return -1;
    return t->slots[find_slot(t, s, n)];
}

nerc_status strtab_intern(strtab *t, const char *s, size_t n, int32_t *id) {
    int32_t found = strtab_find(t, s, n);
    if (found >= 0) {
        *id = found;
        return NERC_OK;
    }
    if ((uint32_t)(t->n + 1) * 2 > t->n_slots)
        NERC_TRY(grow_slots(t));
    if (t->n == t->cap)
        NERC_TRY(grow_strings(t));
    if (n == SIZE_MAX)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: string too long");
    char *copy = malloc(n + 1);
    if (!copy)
        return nerc_errorf(NERC_ERR_NOMEM, "string table: out of memory");
    memcpy(copy, s, n);
    copy[n] = '\0';
    t->strs[t->n] = copy;
    t->lens[t->n] = n;
    t->slots[find_slot(t, s, n)] = t->n;
    *id = t->n++;
    return NERC_OK;
}

void strtab_free(strtab *t) {
    for (int32_t i = 0; i < t->n; i++)
        free(t->strs[i]);
    free(t->strs);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
