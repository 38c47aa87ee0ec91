/* A string interning table: maps byte strings to dense ids 0, 1, 2, ... */
#ifndef NERC_EVAL_STRTAB_H
#define NERC_EVAL_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "nerc/common.h"

typedef struct {
    char **strs;     /* strs[id]: NUL-terminated copy */
    size_t *lens;    /* lens[id] */
    int32_t n, cap;
    int32_t *slots;  /* open addressing, -1 = empty */
    uint32_t n_slots;
} strtab;

/* The id of s[0..n), added if new. */
nerc_status strtab_intern(strtab *t, const char *s, size_t n, int32_t *id);
/* The id of s[0..n), or -1. */
int32_t strtab_find(const strtab *t, const char *s, size_t n);
void strtab_free(strtab *t);

#endif
