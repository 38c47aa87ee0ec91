# nerc — build with `make`; test with `make test` (release + ASan/UBSan + fuzz smoke).
#   make CC=clang        build with clang (same flags, -Werror clean)
#   make sanitize        ASan+UBSan build of everything into build-san/
#   make fuzz            libFuzzer targets (clang) into build-fuzz/
#   make bench           benchmarks (see bench/README.md)
#   make MPI=1           the same with MPI (Open MPI: mpirun -np N nerc ...) into build-mpi/

CC      ?= cc
MPI     ?=
BUILD   ?= $(if $(MPI),build-mpi,build)
OPT     ?= -O3
# One build for every x86-64 CPU with AVX2+FMA (x86-64-v3): never -march=native
# (a binary built on an AVX-512 machine must run on a Zen 3). nerc's own hot
# kernels (SIMD_SRC) are compiled once more per ISA level and chosen at start
# by the CPU (src/core/cpu.c, src/kernels/dispatch.c); oneDNN dispatches its own.
ARCH    ?= -march=x86-64-v3 -mtune=generic
SAN     ?=
IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -qi clang && echo 1)
# oneDNN from Debian runs on GNU OpenMP; clang must use the same runtime so
# one thread pool serves both (two pools on 2 cores is up to 16x slower).
OMPFLAG := $(if $(IS_CLANG),-fopenmp=libgomp,-fopenmp)

# -fno-math-errno: sqrtf & co. never set errno (nerc does not read it), so loops over them vectorise.
CFLAGS  = -std=c17 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
          -D_GNU_SOURCE -Iinclude -Isrc $(OMPFLAG) $(OPT) $(ARCH) -fno-math-errno -g $(SAN) $(EXTRA_CFLAGS)
LDLIBS  = -ldnnl -ljansson -lonig -lmicrohttpd -lcurl -lcrypto -lm
LDFLAGS = $(OMPFLAG) $(SAN)
# MPI=1: src/dist over Open MPI (flags from pkg-config ompi-c, else mpicc);
# without it src/dist is the single-rank stub and nothing needs MPI.
ifneq ($(MPI),)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link)
CFLAGS  += $(MPI_CFLAGS)
LDLIBS  += $(MPI_LIBS)
endif

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_SRC  := $(filter-out src/cli/% src/dist/dist_$(if $(MPI),none,mpi).c,$(LIB_SRC))
# Per-ISA kernels (kernels/simd.h lists them): built as $(BUILD)/simd-<level>/...
SIMD_SRC := src/kernels/ops.c src/kernels/attention.c src/kernels/convert.c src/kernels/adamw.c src/kernels/quant.c \
            src/kernels/fused.c src/kernels/simd_table.c
SIMD_LEVELS := avx2 avx512
# -fno-trapping-math: FP operations may run on lanes whose result a select then
# drops (nerc never reads the FP exception flags; values are unchanged). Without
# it GCC keeps a loop with a clamp or a NaN test before arithmetic (vm_expf,
# vm_erff: GELU, its slope) scalar at the AVX2 level, where it has no masks.
SIMD_FLAGS_avx2   := -march=x86-64-v3 -mtune=generic -fno-trapping-math
SIMD_FLAGS_avx512 := -march=x86-64-v4 -mtune=generic -mprefer-vector-width=512 -fno-trapping-math
LIB_SRC  := $(filter-out $(SIMD_SRC),$(LIB_SRC))
# Compiled for plain x86-64 so that a CPU without AVX2 gets a message, not SIGILL.
BASELINE_SRC := src/core/cpu.c src/cli/main.c
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(foreach l,$(SIMD_LEVELS),$(SIMD_SRC:%.c=$(BUILD)/simd-$(l)/%.o))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
EXAMPLES := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
LIB      := $(BUILD)/libnerc.a
NERC     := $(BUILD)/nerc
# shared library, man page, install: make install PREFIX=/usr/local [DESTDIR=/staging]; make uninstall
VERSION := $(shell sed -n 's/^\#define NERC_VERSION "\(.*\)"/\1/p' include/nerc/common.h)
SOVERSION := 0
SHLIB    := $(BUILD)/libnerc.so.$(VERSION)
MANPAGE  := $(BUILD)/nerc.1
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR   ?= $(PREFIX)/share/man
PUBLIC_HEADERS := $(sort $(wildcard include/nerc/*.h))

.PHONY: all test test-release sanitize test-sanitize fuzz fuzz-smoke bench clean layers install uninstall
all: $(LIB) $(NERC) $(TESTS) $(BENCHES) $(EXAMPLES) $(if $(SAN),,$(SHLIB) $(MANPAGE))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BASELINE_SRC:%.c=$(BUILD)/%.o): ARCH = -march=x86-64 -mtune=generic
# nerc's AMX kernels (run only where cpu_amx_bf16 says so)
$(BUILD)/src/kernels/amx.o: ARCH = -march=x86-64-v4 -mamx-tile -mamx-bf16 -mtune=generic

define SIMD_RULE
$(BUILD)/simd-$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(SIMD_FLAGS_$(1)) -DNERC_SIMD=$(1) -MMD -MP -c $$< -o $$@
endef
$(foreach l,$(SIMD_LEVELS),$(eval $(call SIMD_RULE,$(l))))
# the per-ISA flags live here: a change to them rebuilds those objects
$(foreach l,$(SIMD_LEVELS),$(SIMD_SRC:%.c=$(BUILD)/simd-$(l)/%.o)): Makefile
# attention's micro-kernels multiply-add in one instruction (ISO C mode would
# keep a*b+c as two roundings); the same fused operations at every ISA level.
$(foreach l,$(SIMD_LEVELS),$(BUILD)/simd-$(l)/src/kernels/attention.o): CFLAGS += -ffp-contract=fast

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The library's objects are position-independent (they also make libnerc.so)
# and export only what include/nerc/*.h declares (visibility pragmas there).
$(LIB_OBJ): CFLAGS += -fPIC -fvisibility=hidden
# (objects of a build folder made before this rule are rebuilt once)
$(LIB_OBJ): $(BUILD)/.pic-objects
$(BUILD)/.pic-objects:
	@mkdir -p $(dir $@) && touch $@

$(NERC): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) tests/test.h tests/test_conll.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# examples see only the public API (include/), as an embedding program would
$(BUILD)/examples/%: examples/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -Wall -Wextra -Werror -Iinclude $(OMPFLAG) $(OPT) $(ARCH) $(SAN) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c bench/bench.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# The README's test command: release tests (gcc), the same tests under
# ASan+UBSan built with clang (so both compilers build -Werror clean), and
# every fuzz target in smoke mode; with Open MPI installed, the MPI build and
# its mpirun checks (tests/test_dist.c). Prints "N passed, N failed" last.
HAVE_MPI := $(shell pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null && echo 1)
test: layers
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory CC=clang BUILD=build-san OPT="-O1" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all
	@$(MAKE) --no-print-directory fuzz
	$(if $(HAVE_MPI),@$(MAKE) --no-print-directory MPI=1 BUILD=build-mpi build-mpi/nerc build-mpi/tests/test_dist)
	@tests/run.sh build build-san build-fuzz $(if $(HAVE_MPI),build-mpi)

# The include layering of src/ and include/ (tools/check_layers.sh), and a
# planted violation that the check must catch.
layers:
	@tools/check_layers.sh
	@d=$$(mktemp -d) && mkdir -p $$d/src/text $$d/src/model $$d/include && \
	  printf '#include "model/x.h"\n' > $$d/src/text/bad.c && printf '\n' > $$d/src/model/x.h && \
	  if tools/check_layers.sh $$d >/dev/null; then echo "layers: the check missed a planted violation"; rm -rf $$d; exit 1; fi; \
	  rm -rf $$d

test-release: all
	@tests/run.sh build

sanitize:
	@$(MAKE) --no-print-directory CC=clang BUILD=build-san OPT="-O1" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all

test-sanitize: sanitize
	@tests/run.sh build-san

FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
fuzz:
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz/obj OPT="-O1" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" build-fuzz/obj/libnerc.a
	@$(MAKE) --no-print-directory CC=clang $(FUZZERS)

build-fuzz/fuzz_%: fuzz/fuzz_%.c build-fuzz/obj/libnerc.a
	clang -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc -fopenmp=libgomp -O1 -g \
	    -fsanitize=fuzzer,address,undefined -o $@ $< build-fuzz/obj/libnerc.a $(LDLIBS)

bench: all
	@echo "benchmarks built in $(BUILD)/bench: run $(BUILD)/bench/bench_model 30 and $(BUILD)/bench/bench_tokenize (see bench/README.md)"

clean:
	rm -rf build build-san build-fuzz build-mpi

# ---- shared library, man page, install (variables at the top) --------------

$(SHLIB): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libnerc.so.$(SOVERSION) -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/libnerc.so.$(SOVERSION)
	ln -sf libnerc.so.$(SOVERSION) $(BUILD)/libnerc.so

# the man page is the --help texts of the nerc just built
$(MANPAGE): $(NERC) tools/gen_man.sh
	tools/gen_man.sh $(NERC) $(VERSION) > $@.tmp && mv $@.tmp $@

install: $(NERC) $(LIB) $(SHLIB) $(MANPAGE)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/nerc $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(NERC) $(DESTDIR)$(PREFIX)/bin/nerc
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libnerc.a
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/libnerc.so.$(SOVERSION)
	ln -sf libnerc.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libnerc.so
	install -m 644 include/nerc.h $(DESTDIR)$(INCLUDEDIR)/nerc.h
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/nerc/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    tools/nerc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/nerc.pc
	install -m 644 $(MANPAGE) $(DESTDIR)$(MANDIR)/man1/nerc.1
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/nerc $(DESTDIR)$(LIBDIR)/libnerc.a $(DESTDIR)$(LIBDIR)/libnerc.so \
	    $(DESTDIR)$(LIBDIR)/libnerc.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$(notdir $(SHLIB)) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/nerc.pc $(DESTDIR)$(INCLUDEDIR)/nerc.h $(DESTDIR)$(MANDIR)/man1/nerc.1 \
	    $(addprefix $(DESTDIR)$(INCLUDEDIR)/nerc/,$(notdir $(PUBLIC_HEADERS)))
	rmdir $(DESTDIR)$(INCLUDEDIR)/nerc 2>/dev/null || true

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d)
