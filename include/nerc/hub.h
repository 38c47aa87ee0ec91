/* nerc/hub.h — models from the Hugging Face hub: download a repository into
 * the Hugging Face cache (or a plain directory) over HTTPS, and resolve a hub
 * id ("ORG/NAME" or "NAME") to its cached snapshot directory.
 *
 * Semantics follow huggingface_hub's snapshot_download / hf_hub_download:
 *  - the file list is the model API's "siblings" at the revision
 *    (GET {endpoint}/api/models/{repo}/revision/{rev}); its "sha" is the commit;
 *  - each file is HEAD {endpoint}/{repo}/resolve/{commit}/{file}: ETag (or
 *    X-Linked-Etag for LFS files, then the file's sha256), X-Linked-Size /
 *    Content-Length, and the Location of the content when redirected;
 *  - the cache layout is huggingface_hub's, so either tool finds what the other
 *    fetched: <cache>/models--ORG--NAME/{blobs/<etag>, refs/<rev> (the commit),
 *    snapshots/<commit>/<file> -> ../../blobs/<etag>};
 *  - a transfer goes to <blob>.incomplete, resumes with an HTTP Range request
 *    (within the call, and in a later call after a crash or Ctrl-C), is checked
 *    (size; sha256 against the ETag for LFS files) and renamed into place.
 * Environment, as huggingface_hub reads it: HF_ENDPOINT (default
 * https://huggingface.co), HF_TOKEN (else $HF_HOME/token) sent as
 * "Authorization: Bearer", HF_HUB_CACHE or HF_HOME (default
 * ~/.cache/huggingface; the cache is $HF_HOME/hub), HF_HUB_OFFLINE=1. */
#ifndef NERC_HUB_H
#define NERC_HUB_H

#include "nerc/common.h"

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

/* What a download reports through the progress callback, per file. */
typedef enum {
    NERC_HUB_FILE_START = 0, /* a transfer begins (done = bytes already there, total = size or 0 if unknown) */
    NERC_HUB_FILE_PROGRESS,  /* bytes arrived */
    NERC_HUB_FILE_DONE,      /* verified and in place */
    NERC_HUB_FILE_CACHED     /* already present: nothing transferred */
} nerc_hub_event;

typedef void (*nerc_hub_progress_fn)(nerc_hub_event ev, const char *file, uint64_t done, uint64_t total,
                                     void *user);

typedef struct {
    const char *revision;        /* branch, tag or commit (default "main") */
    const char *local_dir;       /* NULL: the cache; else the files go straight into this directory
                                  * (metadata in DIR/.cache/huggingface/download/, as huggingface_hub) */
    const char *const *include;  /* fnmatch globs on repository paths; a file is fetched when it
                                  * matches one (a glob ending in '/' matches the folder); NULL: all */
    int n_include;
    const char *endpoint;        /* NULL: $HF_ENDPOINT or https://huggingface.co */
    const char *token;           /* NULL: $HF_TOKEN, else the file $HF_HOME/token */
    const char *cache_dir;       /* NULL: $HF_HUB_CACHE, else $HF_HOME/hub */
    int offline;                 /* -1: from HF_HUB_OFFLINE; 1: the cache only, no network */
    int max_retries;             /* resumes after a dropped connection within one call (default 5) */
    long connect_timeout_s;      /* default 10 */
    long stall_timeout_s;        /* a transfer slower than 1 byte/s for this long fails (default 60) */
    nerc_hub_progress_fn progress; /* NULL: silent */
    void *progress_user;
} nerc_hub_params;

nerc_hub_params nerc_hub_default_params(void);

/* What a download did. */
typedef struct {
    int32_t n_files;        /* files selected */
    int32_t n_downloaded;   /* transferred in this call */
    int32_t n_cached;       /* already present */
    uint64_t bytes;         /* bytes received over the network */
    char commit[41];        /* the commit the revision resolved to */
} nerc_hub_stats;

/* Downloads the files of model repository `repo_id` ("ORG/NAME" or "NAME")
 * and writes the directory that holds them (the snapshot folder, or
 * local_dir) into out (out_size bytes). Files already present are not
 * transferred again. Offline, or when the hub cannot be reached, a snapshot
 * already in the cache is used (with a notice through the log hook); without
 * one the error says so in one line. stats may be NULL.
 * Errors: NERC_ERR_ARG (bad id, glob matching nothing), NERC_ERR_IO (network,
 * HTTP status, disk), NERC_ERR_FORMAT (a malformed hub answer, a size or
 * sha256 mismatch: the partial file is removed and nothing is put in place). */
nerc_status nerc_hub_download(const char *repo_id, const nerc_hub_params *params, char *out, size_t out_size,
                              nerc_hub_stats *stats);

/* Where a model named on a command line lives. A path that exists is always
 * that path. Otherwise `name` is read as a hub id ("ORG/NAME" or "NAME") and
 * resolved in the Hugging Face cache to models--ORG--NAME/snapshots/<commit of
 * refs/main>/. The result goes to out (out_size bytes). A name that is neither
 * is NERC_ERR_IO with a one-line message that says how to fetch it. The model,
 * tokenizer and predictor loaders call this on their directory argument. */
nerc_status nerc_hub_resolve(const char *name, char *out, size_t out_size);

/* The hub cache directory in use ($HF_HUB_CACHE, $HF_HOME/hub, or
 * ~/.cache/huggingface/hub), written into out. */
nerc_status nerc_hub_cache_dir(char *out, size_t out_size);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop
#endif /* NERC_HUB_H */
