/* Strict UTF-8 (no overlongs, surrogates or values above U+10FFFF). */
#ifndef NERC_CORE_UTF8_H
#define NERC_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one strict UTF-8 scalar value at s[*pos]; advances *pos. Returns
 * false on invalid input. */
bool utf8_decode(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp);
/* Writes the UTF-8 of cp (a scalar value) into out[0..4); returns its length. */
size_t utf8_encode(uint32_t cp, char *out);
/* Byte offset of the first invalid sequence, or len when s is valid UTF-8. */
size_t utf8_validate(const char *s, size_t len);

#endif
