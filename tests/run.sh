#!/usr/bin/env bash
# Runs every test binary of the given build dirs (and fuzz smoke runs for a
# build-fuzz dir) from the repository root. Every tests/test_*.c (fuzz/fuzz_*.c)
# must have its binary: a missing one is a failure, so an empty build cannot
# pass. On a CPU with AVX-512 the ISA-sensitive tests of the first build dir run
# a second time with NERC_ISA=avx2 (the kernels and oneDNN of an AVX2-only CPU).
# Prints "N passed, N failed, N skipped": passed / failed count runs of test
# binaries and fuzz targets; skipped counts the cases a binary reported as
# SKIP (the CPU lacks what they need), each listed with its reason.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=(); skipped=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
ISA_TESTS="test_amx test_kernels test_fused test_model test_bf16 test_int8 test_dispatch test_train test_train_bf16 test_optim_lazy"
log=$(mktemp); trap 'rm -f "$log"' EXIT

# run LABEL CMD...: shows the output, tallies the result and the SKIP lines.
run() {
  local label=$1; shift
  echo "== $label"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  while IFS= read -r line; do skipped+=("$label: ${line#  SKIP }"); done < <(grep '^  SKIP ' "$log")
  if [ "$rc" -eq 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$label (exit $rc)"); fi
}

missing() { echo "== $1: MISSING (not built)"; fail=$((fail+1)); failed+=("$1 (missing)"); }

first=1
for dir in "$@"; do
  if [ "$(basename "$dir")" = build-fuzz ]; then
    for src in fuzz/fuzz_*.c; do
      name=$(basename "$src" .c); f="$dir/$name"; corpus="fuzz/corpus/${name#fuzz_}"
      [ -x "$f" ] || { missing "$f"; continue; }
      mkdir -p "$dir/work/$name"
      echo "== $f (smoke: 20000 runs)"
      if "$f" -runs=20000 -max_len=4096 -seed=1 "$dir/work/$name" "$corpus" >"$dir/work/$name.log" 2>&1; then
        pass=$((pass+1))
      else
        tail -30 "$dir/work/$name.log"; fail=$((fail+1)); failed+=("$f")
      fi
    done
    continue
  fi
  # the MPI build (make MPI=1) adds only its mpirun checks (tests/test_dist.c)
  if [ "$(basename "$dir")" = build-mpi ]; then
    if [ -x "$dir/tests/test_dist" ]; then run "$dir/tests/test_dist" "$dir/tests/test_dist"; else missing "$dir/tests/test_dist"; fi
    continue
  fi
  for src in tests/test_*.c; do
    t="$dir/tests/$(basename "$src" .c)"
    [ -x "$t" ] || { missing "$t"; continue; }
    run "$t" "$t"
  done
  # script tests take the build folder; exit 77 means "not for this folder"
  for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    echo "== $s $dir"
    bash "$s" "$dir"; rc=$?
    if [ $rc -eq 77 ]; then :; elif [ $rc -eq 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$s $dir"); fi
  done
  if [ $first -eq 1 ] && grep -qw avx512bw /proc/cpuinfo; then
    for name in $ISA_TESTS; do
      [ -f "tests/$name.c" ] || continue
      [ -x "$dir/tests/$name" ] || { missing "$dir/tests/$name"; continue; }
      run "NERC_ISA=avx2 $dir/tests/$name" env NERC_ISA=avx2 "$dir/tests/$name"
    done
  fi
  first=0
done
[ ${#skipped[@]} -gt 0 ] && printf 'skipped: %s\n' "${skipped[@]}"
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, ${#skipped[@]} skipped"
[ "$fail" -eq 0 ]
