/* nerc/common.h — status codes, errors and logging shared by the whole API.
 *
 * Conventions (whisper.cpp / SQLite style):
 *  - every fallible call returns nerc_status; NERC_OK is 0;
 *  - on failure, nerc_last_error() gives a one-line message naming the
 *    file, line or tensor at fault (thread-local, valid until the next
 *    failing call on the same thread);
 *  - the library never exits and never prints except through the log hook;
 *  - objects are opaque and come in load/init and free pairs.
 *
 * Ownership:
 *  - `*_init` / `*_load` / `*_read` allocate an object that the caller owns and
 *    releases with the matching `*_free` (every `*_free` accepts NULL); on
 *    failure the out-pointer is set to NULL and nothing needs freeing;
 *  - objects given to another object's init are BORROWED unless the function
 *    says it takes them: they must outlive the object (e.g. a predictor made by
 *    nerc_predictor_init borrows its model and tokenizer; nerc_predictor_load
 *    owns its own);
 *  - result structs filled by a call (nerc_eval_result, nerc_report,
 *    nerc_encoding, nerc_entity_list) are owned by the caller and released
 *    with their `*_free`; views returned by accessors (`const` pointers such as
 *    nerc_state_logits, nerc_prediction's arrays) belong to the object and stay
 *    valid until its next call or its free;
 *  - strings passed in are copied when the object keeps them, unless a comment
 *    says otherwise.
 * Naming: `nerc_<module>_<verb>`; enum values carry their enum's name
 * (nerc_label_mode -> NERC_LABEL_MODE_*), except the status codes, which keep
 * SQLite's short form (NERC_OK, NERC_ERR_*). */
#ifndef NERC_COMMON_H
#define NERC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(default) /* the public API is what libnerc.so exports */

#ifdef __cplusplus
extern "C" {
#endif

#define NERC_VERSION "0.1.0"

/* "nerc 0.1.0 (oneDNN 2.6.3, ...)": the library and the versions it runs on. */
const char *nerc_version_string(void);
/* Two lines: the CPU (brand, family/model, relevant flags), then what nerc
 * uses on it: its kernels' ISA level (NERC_ISA=avx2|avx512 forces a lower
 * one), oneDNN's ISA, and which precisions run natively. */
const char *nerc_cpu_info(void);
/* 1 when the CPU has what this build needs (x86-64-v3: AVX2, FMA, BMI, F16C);
 * safe to call on any x86-64 (the rest of the library may not be). */
int nerc_cpu_supported(void);

typedef enum {
    NERC_OK = 0,
    NERC_ERR_IO,      /* a file could not be opened, read or written */
    NERC_ERR_FORMAT,  /* an input file is malformed */
    NERC_ERR_ARG,     /* a caller-supplied value is invalid */
    NERC_ERR_NOMEM,   /* an allocation failed or a size overflowed */
    NERC_ERR_NUMERIC, /* NaN / Inf met in training */
    NERC_ERR_INTERNAL,
    NERC_ERR_UNSUPPORTED /* this CPU cannot run the requested mode natively (e.g. bf16 without AVX512_BF16) */
} nerc_status;

/* Arithmetic of the linear layers (the GEMMs; everything else stays fp32).
 * FP32 (default) is exact to the reference. BF16 rounds activations and
 * weights to bfloat16 and accumulates in fp32 (oneDNN; needs AVX512_BF16 or
 * AMX-BF16). INT8 is dynamic quantization for inference, as
 * torch.quantization.quantize_dynamic: int8 weights with a scale per output
 * channel, u8 activations with a scale and zero point per row, int32 sums. */
typedef enum { NERC_PRECISION_FP32 = 0, NERC_PRECISION_BF16, NERC_PRECISION_INT8 } nerc_precision;
/* NERC_OK when this CPU runs `p` natively; otherwise NERC_ERR_UNSUPPORTED and
 * a one-line reason (bf16 without AVX512_BF16/AMX-BF16 is refused rather than
 * emulated slower than fp32). */
nerc_status nerc_precision_check(nerc_precision p);
/* "fp32" / "bf16" / "int8" -> value (NERC_ERR_ARG otherwise). */
nerc_status nerc_precision_parse(const char *name, nerc_precision *p);
const char *nerc_precision_name(nerc_precision p);

/* The message of the last failure on this thread ("" if none), and its status. */
const char *nerc_last_error(void);
nerc_status nerc_last_status(void);
/* A short name for a status code ("io error", "format error", ...). */
const char *nerc_status_name(nerc_status s);

/* Threads used by every parallel kernel (default: OMP_NUM_THREADS or all
 * cores). n <= 0 keeps the current setting. */
void nerc_set_threads(int n);
int nerc_get_threads(void);

/* Log hook: the library reports notices (e.g. "skipped 6 tensors of a
 * masked-LM head") through it. Default: print to stderr. NULL silences. */
typedef void (*nerc_log_fn)(const char *msg, void *user);
void nerc_set_log(nerc_log_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#pragma GCC visibility pop
#endif /* NERC_COMMON_H */
