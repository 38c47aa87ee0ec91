/* CPU feature detection (cpuid + xgetbv), the ISA level of nerc's kernels,
 * and the one-line description `nerc --version` prints. */
#include "core/cpu.h"

#include <cpuid.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static cpu_features feat;
static cpu_isa_level level_detected, level_used;
static char isa_note[160]; /* why the level differs from the detected one, or "" */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]);
}

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

#define BIT(x, n) (((x) >> (n)) & 1u)

static void read_brand(void) {
    unsigned r[4], max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext < 0x80000004u) {
        snprintf(feat.brand, sizeof feat.brand, "unknown x86-64");
        return;
    }
    char raw[49] = {0};
    for (unsigned i = 0; i < 3; i++) {
        cpuid(0x80000002u + i, 0, r);
        memcpy(raw + 16 * i, r, 16);
    }
    const char *s = raw;
    while (*s == ' ')
        s++;
    snprintf(feat.brand, sizeof feat.brand, "%s", s);
    for (size_t n = strlen(feat.brand); n > 0 && feat.brand[n - 1] == ' '; n--)
        feat.brand[n - 1] = '\0';
}

static void detect(void) {
    unsigned r1[4], r7[4], r71[4], re[4];
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    cpuid(1, 0, r1);
    cpuid(7, 0, r7);
    cpuid(7, 1, r71);
    cpuid(0x80000001u, 0, re);
    if (max_leaf < 7)
        memset(r7, 0, sizeof r7), memset(r71, 0, sizeof r71);
    unsigned fam = (r1[0] >> 8) & 0xf, mod = (r1[0] >> 4) & 0xf;
    feat.family = (int)(fam == 0xf ? fam + ((r1[0] >> 20) & 0xff) : fam);
    feat.model = (int)(fam >= 6 ? mod | (((r1[0] >> 16) & 0xf) << 4) : mod);
    uint64_t xcr0 = BIT(r1[2], 27) ? xgetbv0() : 0; /* OSXSAVE */
    int os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0,
        os_tile = (xcr0 & 0x60000) == 0x60000;
    feat.fma = BIT(r1[2], 12) && os_ymm;
    feat.avx2 = BIT(r7[1], 5) && os_ymm;
    feat.v3 = feat.avx2 && feat.fma && BIT(r1[2], 28) && BIT(r1[2], 29) /* avx f16c */ && BIT(r1[2], 22) /* movbe */ &&
              BIT(r7[1], 3) && BIT(r7[1], 8) /* bmi1 bmi2 */ && BIT(re[2], 5) /* lzcnt */;
    feat.avx512f = BIT(r7[1], 16) && os_zmm;
    feat.avx512bw = BIT(r7[1], 30) && os_zmm;
    feat.avx512vl = BIT(r7[1], 31) && os_zmm;
    feat.v4 = feat.v3 && feat.avx512f && feat.avx512bw && feat.avx512vl && BIT(r7[1], 17) /* dq */ &&
              BIT(r7[1], 28) /* cd */;
    feat.avx512_vnni = BIT(r7[2], 11) && os_zmm;
    feat.avx512_bf16 = BIT(r71[0], 5) && os_zmm;
    feat.avx_vnni = BIT(r71[0], 4) && os_ymm;
    feat.amx_bf16 = BIT(r7[3], 22) && BIT(r7[3], 24) && os_tile;
    feat.amx_int8 = BIT(r7[3], 25) && BIT(r7[3], 24) && os_tile;
    read_brand();
}

/* NERC_ISA=avx2|avx512 lowers the level; anything else is reported and ignored. */
static void choose_level(void) {
    level_detected = feat.v4 ? CPU_ISA_AVX512 : feat.v3 ? CPU_ISA_AVX2 : CPU_ISA_NONE;
    level_used = level_detected;
    const char *env = getenv("NERC_ISA");
    if (!env || !*env)
        return;
    cpu_isa_level want = !strcmp(env, "avx2") ? CPU_ISA_AVX2 : !strcmp(env, "avx512") ? CPU_ISA_AVX512 : CPU_ISA_NONE;
    if (want == CPU_ISA_NONE)
        nerc_logf("NERC_ISA=%s is not a level (avx2, avx512); using %s", env, cpu_isa_name(level_detected));
    else if (want > level_detected)
        nerc_logf("NERC_ISA=%s: this CPU tops out at %s; using %s", env, cpu_isa_name(level_detected),
                  cpu_isa_name(level_detected));
    else if (want < level_detected) {
        level_used = want;
        snprintf(isa_note, sizeof isa_note, "forced by NERC_ISA=%s", env);
        /* oneDNN must not use more than the kernels: the same code paths as a real AVX2 CPU */
        if (dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2) != dnnl_success)
            nerc_logf("NERC_ISA=%s: oneDNN had already chosen its ISA; its GEMMs may still use AVX-512", env);
    }
}

static void init(void) {
    detect();
    choose_level();
}

const cpu_features *cpu_features_get(void) {
    pthread_once(&once, init);
    return &feat;
}

cpu_isa_level cpu_isa(void) {
    pthread_once(&once, init);
    return level_used;
}

cpu_isa_level cpu_isa_detected(void) {
    pthread_once(&once, init);
    return level_detected;
}

const char *cpu_isa_name(cpu_isa_level l) {
    return l == CPU_ISA_AVX512 ? "avx512" : l == CPU_ISA_AVX2 ? "avx2" : "none (no AVX2+FMA)";
}

int cpu_bf16_native(void) {
    const cpu_features *f = cpu_features_get();
    return cpu_isa() == CPU_ISA_AVX512 && (f->avx512_bf16 || f->amx_bf16);
}

int cpu_int8_vnni(void) {
    const cpu_features *f = cpu_features_get();
    return cpu_isa() == CPU_ISA_AVX512 && (f->avx512_vnni || f->amx_int8);
}

static int dnnl_runs_amx(void) {
    const unsigned amx = (unsigned)dnnl_cpu_isa_avx512_core_amx; /* ISA values are nested bit masks */
    return cpu_isa() == CPU_ISA_AVX512 && ((unsigned)dnnl_get_effective_cpu_isa() & amx) == amx;
}

int cpu_amx_bf16(void) { return cpu_features_get()->amx_bf16 && dnnl_runs_amx(); }
int cpu_amx_int8(void) { return cpu_features_get()->amx_int8 && dnnl_runs_amx(); }

static const char *dnnl_isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "all";
    }
}

const char *nerc_cpu_info(void) {
    static char buf[640];
    const cpu_features *f = cpu_features_get();
    struct {
        int on;
        const char *name;
    } flags[] = {{f->avx2, "avx2"},           {f->fma, "fma"},         {f->avx512f, "avx512f"},
                 {f->avx512bw, "avx512bw"},   {f->avx512vl, "avx512vl"}, {f->avx512_vnni, "avx512_vnni"},
                 {f->avx512_bf16, "avx512_bf16"}, {f->avx_vnni, "avx_vnni"}, {f->amx_bf16, "amx_bf16"},
                 {f->amx_int8, "amx_int8"}};
    char list[200] = "";
    size_t at = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].on && at < sizeof list)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", at ? " " : "", flags[i].name);
    snprintf(buf, sizeof buf,
             "cpu: %s (family %d, model %d): %s\n"
             "kernels: %s%s%s (detected %s; NERC_ISA=avx2|avx512 forces a lower level); oneDNN: %s; "
             "precisions: fp32, bf16 %s, int8 %s",
             f->brand, f->family, f->model, at ? list : "no AVX2", cpu_isa_name(cpu_isa()), *isa_note ? ", " : "",
             isa_note, cpu_isa_name(cpu_isa_detected()), dnnl_isa_name(dnnl_get_effective_cpu_isa()),
             !cpu_bf16_native() ? "(refused: needs AVX512_BF16 or AMX-BF16 at the avx512 level)"
             : cpu_amx_bf16()   ? "(native, AMX tiles)"
                                : "(native)",
             !cpu_int8_vnni() ? "(no VNNI: 7-bit activations)" : cpu_amx_int8() ? "(VNNI, AMX tiles)" : "(VNNI)");
    return buf;
}

int nerc_cpu_supported(void) { return cpu_isa_detected() != CPU_ISA_NONE; }

nerc_status nerc_precision_check(nerc_precision p) {
    const cpu_features *f = cpu_features_get();
    if (cpu_isa() == CPU_ISA_NONE)
        return nerc_errorf(NERC_ERR_UNSUPPORTED, "this CPU (%s) lacks AVX2+FMA, which nerc needs", f->brand);
    if (p == NERC_PRECISION_BF16 && !cpu_bf16_native()) {
        if (*isa_note)
            return nerc_errorf(NERC_ERR_UNSUPPORTED,
                               "bf16 needs AVX512_BF16 or AMX-BF16 at the avx512 level; nerc runs at %s here (%s; "
                               "CPU: %s); use --precision fp32",
                               cpu_isa_name(cpu_isa()), isa_note, f->brand);
        return nerc_errorf(NERC_ERR_UNSUPPORTED,
                           "bf16 needs AVX512_BF16 or AMX-BF16, which this CPU (%s) lacks: emulated bf16 would be "
                           "slower than fp32; use --precision fp32",
                           f->brand);
    }
    return NERC_OK;
}

nerc_status nerc_precision_parse(const char *name, nerc_precision *p) {
    for (int i = 0; i <= NERC_PRECISION_INT8; i++)
        if (!strcmp(name, nerc_precision_name((nerc_precision)i))) {
            *p = (nerc_precision)i;
            return NERC_OK;
        }
    return nerc_errorf(NERC_ERR_ARG, "unknown precision '%s' (fp32, bf16, int8)", name);
}

const char *nerc_precision_name(nerc_precision p) {
    return p == NERC_PRECISION_BF16 ? "bf16" : p == NERC_PRECISION_INT8 ? "int8" : "fp32";
}
