/* A model vocabulary: token strings by id and an open-addressing hash from string to id. */
#ifndef NERC_TEXT_VOCAB_H
#define NERC_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "nerc/common.h"

typedef struct {
    uint32_t hash;
    int32_t id; /* -1: empty slot */
} vocab_slot;

typedef struct {
    int32_t n;          /* ids are 0 .. n-1 */
    char **tokens;      /* [n] NUL-terminated, NULL until set */
    uint32_t *lens;     /* [n] byte lengths */
    vocab_slot *slots;  /* [nslots], nslots a power of two >= 2n */
    size_t nslots;
} vocab;

/* Allocates room for ids 0 .. n-1 (all unset). */
nerc_status vocab_init(vocab *v, int32_t n);
void vocab_free(vocab *v);

/* Sets the string of `id`. Returns the id already holding `s` in *dup_of (or -1)
 * and fails with NERC_ERR_FORMAT (no message set) on a duplicate token or id. */
nerc_status vocab_set(vocab *v, int32_t id, const char *s, size_t len, int32_t *dup_of);

/* The id of prefix+s (prefix may be empty), or -1. */
int32_t vocab_find2(const vocab *v, const char *prefix, size_t plen, const char *s, size_t len);

static inline int32_t vocab_find(const vocab *v, const char *s, size_t len) {
    return vocab_find2(v, "", 0, s, len);
}

/* The hash of a string built byte by byte (Unigram's prefix search): start from VOCAB_HASH_SEED,
 * extend with vocab_hash_byte, look up with vocab_find_hashed. */
#define VOCAB_HASH_SEED 2166136261u
static inline uint32_t vocab_hash_byte(uint32_t h, unsigned char c) {
    return (h ^ c) * 16777619u;
}
int32_t vocab_find_hashed(const vocab *v, uint32_t h, const char *s, size_t len);

#endif
