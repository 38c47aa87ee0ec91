#!/usr/bin/env bash
# The test command: install dependencies, build (release + ASan/UBSan + fuzzers)
# and run every test and fuzz smoke run. Ends with "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)" test
