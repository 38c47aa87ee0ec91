/* SentencePiece's precompiled charsmap (HF's Precompiled normalizer, crate spm_precompiled):
 * [u32 LE trie size in bytes][Darts double-array trie of u32 units][NUL-separated replacements].
 * Parsed and checked once (every reachable leaf must point inside the replacement blob at a
 * UTF-8 boundary), then searched read-only. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/tokenizer_internal.h"

struct precompiled {
    uint32_t *units;   /* the double array */
    size_t n_units;
    char *normalized;  /* the replacement strings, NUL-separated (valid UTF-8) */
    size_t normalized_len;
};

static bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }
static uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

void precompiled_free(precompiled *pc) {
    if (!pc)
        return;
    free(pc->units);
    free(pc->normalized);
    free(pc);
}

static bool is_utf8_boundary(const precompiled *pc, size_t i) {
    return i >= pc->normalized_len || ((unsigned char)pc->normalized[i] & 0xC0) != 0x80;
}

/* Walks every reachable transition once (each array slot is a child of at most one walk step)
 * and checks each leaf's replacement index. */
static nerc_status check_trie(const precompiled *pc, const char *where) {
    size_t n = pc->n_units;
    uint8_t *seen = calloc(n, 1);
    uint32_t *stack = malloc((n + 1) * sizeof *stack);
    nerc_status st = NERC_OK;
    if (!seen || !stack) {
        st = nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    size_t top = 0;
    stack[top++] = unit_offset(pc->units[0]);
    while (top > 0 && st == NERC_OK) {
        uint32_t node = stack[--top];
        for (uint32_t c = 1; c < 256; c++) {
            uint32_t child = node ^ c;
            if (child >= n || unit_label(pc->units[child]) != c || seen[child])
                continue;
            seen[child] = 1;
            uint32_t next = child ^ unit_offset(pc->units[child]);
            if (unit_has_leaf(pc->units[child])) {
                uint32_t v = next < n ? unit_value(pc->units[next]) : UINT32_MAX;
                if (next >= n || v > pc->normalized_len || !is_utf8_boundary(pc, v)) {
                    st = nerc_errorf(NERC_ERR_FORMAT, "%s: precompiled_charsmap: a trie leaf points outside the "
                                     "replacement strings", where);
                    break;
                }
            }
            stack[top++] = next;
        }
    }
done:
    free(seen);
    free(stack);
    return st;
}

nerc_status precompiled_parse(precompiled **out, const uint8_t *data, size_t len, const char *where) {
    *out = NULL;
    if (len < 4)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: precompiled_charsmap is too short (%zu bytes)", where, len);
    uint32_t trie_bytes = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                          (uint32_t)data[3] << 24;
    size_t n_units = trie_bytes / 4;
    if (n_units == 0 || n_units > (len - 4) / 4)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: precompiled_charsmap: trie of %u bytes does not fit in %zu bytes",
                           where, trie_bytes, len - 4);
    const uint8_t *blob = data + 4 + 4 * n_units;
    size_t blob_len = len - 4 - 4 * n_units;
    if (utf8_validate((const char *)blob, blob_len) != blob_len)
        return nerc_errorf(NERC_ERR_FORMAT, "%s: precompiled_charsmap: replacement strings are not UTF-8", where);
    precompiled *pc = calloc(1, sizeof *pc);
    if (!pc || !(pc->units = malloc(n_units * sizeof *pc->units)) || !(pc->normalized = malloc(blob_len + 1))) {
        precompiled_free(pc);
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    }
    for (size_t i = 0; i < n_units; i++) {
        const uint8_t *u = data + 4 + 4 * i;
        pc->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    pc->n_units = n_units;
    memcpy(pc->normalized, blob, blob_len);
    pc->normalized[blob_len] = '\0';
    pc->normalized_len = blob_len;
    nerc_status st = check_trie(pc, where);
    if (st != NERC_OK) {
        precompiled_free(pc);
        return st;
    }
    *out = pc;
    return NERC_OK;
}

/* The first (shortest) key that prefixes s: its replacement index, or -1. Stops at a NUL byte. */
static int64_t first_prefix(const precompiled *pc, const char *s, size_t len) {
    uint32_t node = unit_offset(pc->units[0]);
    for (size_t i = 0; i < len; i++) {
        uint32_t c = (unsigned char)s[i];
        if (c == 0)
            break;
        node ^= c;
        if (node >= pc->n_units || unit_label(pc->units[node]) != c)
            return -1;
        uint32_t unit = pc->units[node];
        node ^= unit_offset(unit);
        if (unit_has_leaf(unit))
            return node < pc->n_units ? (int64_t)unit_value(pc->units[node]) : -1;
    }
    return -1;
}

const char *precompiled_transform(const precompiled *pc, const char *s, size_t len, size_t *out_len) {
    int64_t at = first_prefix(pc, s, len);
    if (at < 0 || (size_t)at > pc->normalized_len)
        return NULL;
    const char *r = pc->normalized + at;
    *out_len = strlen(r); /* up to the next NUL, or the end of the blob */
    return r;
}
