#!/bin/sh
# Writes the nerc(1) man page (roff) to stdout from the --help texts of a
# built nerc, so the page never drifts from the program. Run by `make`.
#   tools/gen_man.sh build/nerc VERSION > build/nerc.1
set -eu
nerc=$1
version=$2

# roff escaping: backslashes, and lines that would read as requests
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

top=$("$nerc" --help)
summary=$(printf '%s\n' "$top" | sed -n '1s/^nerc[^a-z]*//p')
commands=$(printf '%s\n' "$top" | sed -n '/^commands:/,$ s/^  \([a-z][a-z-]*\)  *\(.*\)$/\1/p')

cat <<HEAD
.TH NERC 1 "" "nerc $version" "User Commands"
.SH NAME
nerc \\- $summary
.SH SYNOPSIS
.B nerc
.I command
.RI [ options ]
.br
.B nerc \\-\\-version
.SH DESCRIPTION
nerc fine-tunes, evaluates and runs BERT-family encoders for token classification
(named-entity recognition) with Hugging Face semantics, as one native program over
the libnerc library.
Each command below lists its options with their defaults, as
.B nerc
.I command
.B \\-\\-help
prints them.
A model argument is a directory, or a Hugging Face hub id (ORG/NAME) found in the
Hugging Face cache (see the download command).
.SH COMMANDS
HEAD
for c in $commands; do
  desc=$(printf '%s\n' "$top" | sed -n "s/^  $c  *//p" | esc)
  printf '.SS %s\n%s\n.PP\n.nf\n' "$c" "$desc"
  "$nerc" "$c" --help | esc
  printf '.fi\n'
done
cat <<TAIL
.SH EXIT STATUS
0 on success, 1 on a failure (one line on standard error names the file, line or
tensor at fault), 2 on a usage error.
.SH SEE ALSO
.BR pkg-config (1)
(pkg-config \\-\\-cflags \\-\\-libs nerc builds programs on libnerc; the API is in
.IR nerc.h ).
TAIL
