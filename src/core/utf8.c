/* Strict UTF-8: decode one scalar value, encode one, find the first invalid byte. */
#include "core/utf8.h"

bool utf8_decode(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp) {
    size_t i = *pos;
    unsigned char c = s[i];
    if (c < 0x80) {
        *cp = c;
        *pos = i + 1;
        return true;
    }
    size_t need;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, v = c & 0x07, min = 0x10000;
    } else {
        return false;
    }
    if (len - i <= need)
        return false;
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[i + k];
        if ((cc & 0xC0) != 0x80)
            return false;
        v = (v << 6) | (cc & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return false;
    *cp = v;
    *pos = i + need + 1;
    return true;
}

size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_validate(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0;
    uint32_t cp;
    while (pos < len) {
        if (u[pos] < 0x80) {
            pos++;
            continue;
        }
        size_t at = pos;
        if (!utf8_decode(u, len, &pos, &cp))
            return at;
    }
    return len;
}
