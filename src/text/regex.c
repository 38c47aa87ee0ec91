/* Oniguruma glue: compiled patterns, leftmost search with a per-call region, and Unicode
 * class membership asked of the same engine (one-time initialisation, then read-only). */
#include "text/regex.h"

#include <oniguruma.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"

struct tok_regex {
    OnigRegex re;
};

enum { CLASS_L, CLASS_N, CLASS_ALPHA, CLASS_M, CLASS_ND, CLASS_PC, CLASS_JOIN, N_CLASSES };
static const char *const class_names[N_CLASSES] = {"L", "N", "Alphabetic", "M", "Nd", "Pc", "Join_Control"};
static OnigCtype class_ctype[N_CLASSES];
static uint8_t latin1[256]; /* bit k: member of class k, for code points < 256 */
static uint8_t latin1_space[256];
static pthread_once_t onig_once = PTHREAD_ONCE_INIT;

static bool class_member(int k, uint32_t cp) {
    return ONIGENC_IS_CODE_CTYPE(ONIG_ENCODING_UTF8, cp, class_ctype[k]) != 0;
}

static void onig_setup(void) {
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
    for (int k = 0; k < N_CLASSES; k++) {
        const UChar *name = (const UChar *)class_names[k];
        const UChar *end = name;
        while (*end)
            end++;
        class_ctype[k] = (OnigCtype)ONIGENC_PROPERTY_NAME_TO_CTYPE(enc, (UChar *)name, (UChar *)end);
    }
    for (uint32_t cp = 0; cp < 256; cp++) {
        for (int k = 0; k < N_CLASSES; k++)
            latin1[cp] |= (uint8_t)(class_member(k, cp) << k);
        latin1_space[cp] = ONIGENC_IS_CODE_CTYPE(enc, cp, ONIGENC_CTYPE_SPACE) != 0;
    }
}

static bool has_class(int k, uint32_t cp) {
    pthread_once(&onig_once, onig_setup);
    if (cp < 256)
        return (latin1[cp] >> k) & 1;
    return class_member(k, cp);
}

bool uni_is_letter(uint32_t cp) { return has_class(CLASS_L, cp); }
bool uni_is_number(uint32_t cp) { return has_class(CLASS_N, cp); }

bool uni_is_regex_space(uint32_t cp) {
    pthread_once(&onig_once, onig_setup);
    if (cp < 256)
        return latin1_space[cp];
    return ONIGENC_IS_CODE_CTYPE(ONIG_ENCODING_UTF8, cp, ONIGENC_CTYPE_SPACE) != 0;
}

bool uni_is_word(uint32_t cp) {
    return has_class(CLASS_ALPHA, cp) || has_class(CLASS_M, cp) || has_class(CLASS_ND, cp) ||
           has_class(CLASS_PC, cp) || has_class(CLASS_JOIN, cp);
}

nerc_status tok_regex_compile(tok_regex **out, const char *pattern, size_t len, const char *where) {
    pthread_once(&onig_once, onig_setup);
    *out = NULL;
    tok_regex *r = calloc(1, sizeof *r);
    if (!r)
        return nerc_errorf(NERC_ERR_NOMEM, "%s: out of memory", where);
    OnigErrorInfo info;
    const UChar *p = (const UChar *)pattern;
    int rc = onig_new(&r->re, p, p + len, ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
    if (rc != ONIG_NORMAL) {
        UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, rc, &info);
        free(r);
        return nerc_errorf(NERC_ERR_FORMAT, "%s: invalid regex '%.60s': %s", where, pattern, (const char *)msg);
    }
    *out = r;
    return NERC_OK;
}

void tok_regex_free(tok_regex *re) {
    if (!re)
        return;
    onig_free(re->re);
    free(re);
}

int tok_regex_search(const tok_regex *re, tok_regex_scratch *sc, const char *s, size_t len, size_t from,
                     size_t *ms, size_t *me) {
    if (!sc->region && !(sc->region = onig_region_new()))
        return 0;
    OnigRegion *region = sc->region;
    const UChar *str = (const UChar *)s;
    int pos = onig_search(re->re, str, str + len, str + from, str + len, region, ONIG_OPTION_NONE);
    if (pos < 0 || region->num_regs < 1)
        return 0;
    *ms = (size_t)region->beg[0];
    *me = (size_t)region->end[0];
    return 1;
}

void tok_regex_scratch_free(tok_regex_scratch *sc) {
    if (sc->region)
        onig_region_free(sc->region, 1);
    sc->region = NULL;
}
