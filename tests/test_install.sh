#!/usr/bin/env bash
# `make install` into a temporary DESTDIR from build folder $1, then
# examples/embed.c compiled with only `pkg-config --cflags --libs nerc` against
# that tree and run; libnerc.so exports exactly the functions declared in
# include/ (and has its soname); `make uninstall` removes every installed file.
# Exit 77 (skipped) for a build folder without a shared library (sanitizer builds).
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
[ -e "$build/libnerc.so" ] || { echo "skipped: $build has no libnerc.so"; exit 77; }
fails=0
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then :; else echo "  FAIL: $what"; fails=$((fails + 1)); fi
}

# -- exports: nm -D against the declarations of every public header (functions
#    as gcc -aux-info lists them, minus static inline ones; extern data)
aux=$(mktemp /tmp/nerc_test_install_aux_XXXXXX)
all_headers=$(for h in include/nerc/*.h; do echo "#include \"nerc/$(basename "$h")\""; done)
echo "$all_headers" | gcc -std=c17 -Iinclude -fsyntax-only -aux-info "$aux" -x c -
declared=$( (grep '^/\* include/nerc' "$aux" | sed -n 's/^.*\*\/ extern [^(]*\b\(nerc_[a-z0-9_]*\) (.*$/\1/p'
             echo "$all_headers" | cpp -P -Iinclude | sed -n 's/^extern [^(]*\b\(nerc_[a-z0-9_]*\)[[:space:]]*[[;].*$/\1/p') |
           sort -u)
rm -f "$aux"
exported=$(nm -D --defined-only "$build/libnerc.so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u)
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
check "libnerc.so exports symbols not declared in include/: $(echo $extra)" test -z "$extra"
check "functions declared in include/ but not exported (a header without the visibility pragma?): $(echo $missing)" \
  test -z "$missing"
check "soname libnerc.so.0" sh -c "readelf -d '$build/libnerc.so' | grep -q 'SONAME.*\[libnerc.so.0\]'"
echo "  libnerc.so exports $(echo "$exported" | wc -l) symbols; include/ declares $(echo "$declared" | wc -l)"

# -- install into a staging tree
dest=$(mktemp -d /tmp/nerc_test_install_XXXXXX)
trap 'rm -rf "$dest"' EXIT
run_make() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make --no-print-directory -s BUILD="$build" DESTDIR="$dest" PREFIX=/usr/local "$@"; }
check "make install" run_make install
root=$dest/usr/local
for f in bin/nerc lib/libnerc.a lib/libnerc.so.0 lib/libnerc.so include/nerc.h include/nerc/hub.h \
         include/nerc/model.h lib/pkgconfig/nerc.pc share/man/man1/nerc.1; do
  check "installed $f" test -e "$root/$f"
done
check "lib/libnerc.so -> libnerc.so.0" test "$(readlink "$root/lib/libnerc.so")" = libnerc.so.0
check "installed nerc runs" sh -c "'$root/bin/nerc' --version | grep -q '^nerc '"
check "man page has a section per command" sh -c "grep -q '^.TH NERC 1' '$root/share/man/man1/nerc.1' &&
  grep -q '^.SS download' '$root/share/man/man1/nerc.1' && grep -q '^.SS train' '$root/share/man/man1/nerc.1'"

# -- a program built against the installed tree through pkg-config only
export PKG_CONFIG_PATH=$root/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs nerc)
echo "  pkg-config --cflags --libs nerc: $flags"
check "embed.c builds with pkg-config flags" cc -std=c17 -Wall -Werror examples/embed.c $flags -o "$dest/embed"
out=$(LD_LIBRARY_PATH=$root/lib "$dest/embed" ../shared/fixtures/model/tiny "John lives in Berlin ." 2>&1)
check "embed runs on the installed libnerc.so: $out" test "$(echo "$out" | head -1)" = "John lives in Berlin ."
check "embed loads libnerc.so.0 from the staging tree" \
  sh -c "LD_LIBRARY_PATH='$root/lib' ldd '$dest/embed' | grep -q 'libnerc.so.0 => $root/lib/libnerc.so.0'"

# -- uninstall leaves nothing of nerc
check "make uninstall" run_make uninstall
left=$(find "$dest" \( -type f -o -type l \) ! -name embed)
check "files left after uninstall: $(echo $left)" test -z "$left"
[ "$fails" -eq 0 ] && echo "test_install: OK" || echo "test_install: $fails failed -> FAIL"
[ "$fails" -eq 0 ]
