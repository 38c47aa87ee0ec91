#!/usr/bin/env bash
# Runs every test binary of the given build dirs (and fuzz smoke runs for a
# build-fuzz dir) from the repository root; prints "N passed, N failed, N skipped":
# skipped counts the cases a binary reported as SKIP (tests/test.h), each listed
# with its reason.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=(); skipped=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
log=$(mktemp); trap 'rm -f "$log"' EXIT
for dir in "$@"; do
  if [ "$(basename "$dir")" = build-fuzz ]; then
    for f in "$dir"/fuzz_*; do
      [ -x "$f" ] || continue
      name=$(basename "$f"); corpus="fuzz/corpus/${name#fuzz_}"
      mkdir -p "$dir/work/$name"
      echo "== $dir/$name (smoke: 20000 runs)"
      if "$f" -runs=20000 -max_len=4096 -seed=1 "$dir/work/$name" "$corpus" >"$dir/work/$name.log" 2>&1; then
        pass=$((pass+1))
      else
        tail -30 "$dir/work/$name.log"; fail=$((fail+1)); failed+=("$dir/$name")
      fi
    done
    continue
  fi
  for t in "$dir"/tests/test_*; do
    case "$t" in *.d) continue;; esac
    [ "$(basename "$dir")" = build-mpi ] && [ "$(basename "$t")" != test_dist ] && continue # the MPI build adds its mpirun checks
    [ -x "$t" ] || continue
    echo "== $t"
    "$t" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    while IFS= read -r line; do skipped+=("$t: ${line#  SKIP }"); done < <(grep '^  SKIP ' "$log")
    if [ "$rc" -eq 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
  done
  # script tests take the build folder; exit 77 means "not for this folder"
  for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    echo "== $s $dir"
    bash "$s" "$dir"; rc=$?
    if [ $rc -eq 77 ]; then :; elif [ $rc -eq 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$s $dir"); fi
  done
done
[ ${#skipped[@]} -gt 0 ] && printf 'skipped: %s\n' "${skipped[@]}"
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, ${#skipped[@]} skipped"
[ "$fail" -eq 0 ]
