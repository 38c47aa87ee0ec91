/* The hub's model API answer (GET /api/models/{repo}/revision/{rev}): the
 * commit ("sha") and the repository's files ("siblings"[].rfilename). */
#ifndef NERC_HUB_LISTING_H
#define NERC_HUB_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "nerc/common.h"

typedef struct {
    char commit[41];
    int32_t n_files;
    char **files; /* repository paths, each checked by hub_path_is_safe */
} hub_listing;

/* Parses the JSON answer; `what` (the URL) prefixes error messages. A
 * missing or malformed "sha", a sibling without a string rfilename, or a path
 * that could leave the target directory is NERC_ERR_FORMAT. */
nerc_status hub_listing_parse(hub_listing *out, const char *json, size_t len, const char *what);
void hub_listing_free(hub_listing *l);

/* 1 if rel is a relative path made of non-empty components other than "."
 * and "..", without control characters, at most 1024 bytes. */
int hub_path_is_safe(const char *rel);

/* 1 if path matches one of the globs (fnmatch, '*' also crosses '/'; a glob
 * ending in '/' matches everything under that folder), or if n == 0. */
int hub_glob_match(const char *const *globs, int n, const char *path);

#endif
