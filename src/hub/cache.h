/* The Hugging Face cache layout and the environment huggingface_hub reads
 * (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
#ifndef NERC_HUB_CACHE_H
#define NERC_HUB_CACHE_H

#include "nerc/hub.h"

/* printf into a malloc'd string; NULL on failure. */
char *hub_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 if s is a hub repository id as huggingface_hub validates it: "NAME" or
 * "ORG/NAME", [A-Za-z0-9_.-] starting and ending with [A-Za-z0-9_], no "--"
 * or "..", at most 96 characters. */
int hub_is_repo_id(const char *s);
/* 1 if s is a full 40-hex commit id. */
int hub_is_commit(const char *s);

/* malloc'd: the cache directory (params value, $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE,
 * $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub). */
char *hub_cache_dir_for(const char *given);
/* malloc'd: the endpoint without a trailing '/' (given, $HF_ENDPOINT, https://huggingface.co). */
char *hub_endpoint_for(const char *given);
/* malloc'd token (given, $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, $HF_TOKEN_PATH or
 * $HF_HOME/token); NULL when there is none. */
char *hub_token_for(const char *given);
/* HF_HUB_OFFLINE set to 1/ON/YES/TRUE (any case). */
int hub_offline_env(void);

/* malloc'd <cache>/models--ORG--NAME. */
char *hub_storage_dir(const char *cache, const char *repo_id);
/* The commit of `revision` in storage: the revision itself when it is a
 * commit, else the content of refs/<revision>. 0 if found, -1 otherwise. */
int hub_read_ref(const char *storage, const char *revision, char commit[41]);
/* Writes refs/<revision> = commit (atomically) unless revision is the commit. */
nerc_status hub_write_ref(const char *storage, const char *revision, const char *commit);
/* malloc'd <storage>/snapshots/<commit> when that directory exists for `revision`, else NULL. */
char *hub_cached_snapshot(const char *storage, const char *revision);

/* Copies s into out (out_size bytes) or fails with NERC_ERR_ARG naming `what`. */
nerc_status hub_copy_out(char *out, size_t out_size, const char *s, const char *what);

#endif
