#!/usr/bin/env bash
# Load benchmark of `nerc serve` over CoNLL-2003 dev sentences (not a test; prints figures):
#   1. the batched server (default --max-batch-tokens 4096),
#   2. the same server with --max-batch-tokens 1 (every forward pass holds one sentence),
#   3. sequential `nerc predict` calls, one process per sentence (the naive deployment).
# usage: bench/serve.sh [MODEL_DIR] [CLIENTS=16] [SECONDS=20] [EXTRA SERVE FLAGS...]
# Without MODEL_DIR a random-init DistilBERT-base model is written to /tmp/nerc_serve_bench_model
# (nerc init: the real size and speed; its entities are meaningless). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-}
clients=${2:-16}
seconds=${3:-20}
shift $(( $# < 3 ? $# : 3 )) || true
extra=("$@")
nerc=build/nerc
work=$(mktemp -d /tmp/nerc_bench_serve_XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ -z "$model" ]; then
  model=/tmp/nerc_serve_bench_model
  [ -f "$model/model.safetensors" ] ||
    "$nerc" init --config ../shared/models/distilbert-base-uncased/config.json --out "$model" >/dev/null
fi
# dev sentences as text lines (words joined by spaces)
awk 'NF == 0 { if (s != "") print s; s = ""; next } $1 == "-DOCSTART-" { next }
     { s = (s == "" ? $1 : s " " $1) } END { if (s != "") print s }' \
  ../shared/data/conll2003/dev.txt > "$work/dev.txt"

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; flags: $(grep -o -w -E 'avx512f|avx512_bf16|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(uptime | sed 's/.*load average: //')"
echo "model: $model; $(wc -l < "$work/dev.txt") dev sentences; $clients clients for $seconds s each"

run_server() { # label, serve flags...
  local label=$1; shift
  "$nerc" serve --model "$model" --port 0 "$@" "${extra[@]}" > "$work/url" 2> "$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 600); do grep -q http "$work/url" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/url")
  printf '%-36s ' "$label"
  build/bench/bench_serve "$port" "$work/dev.txt" "$clients" "$seconds" || true
  command -v curl > /dev/null && curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^nerc_batch_texts_(sum|count)/ { v[$1] = $2 } /^nerc_tokens_per_second/ { t = $2 }
         END { if (v["nerc_batch_texts_count"] > 0)
                 printf "%-36s mean batch %.1f sentences, %.0f tokens/s of batcher time\n", "",
                        v["nerc_batch_texts_sum"] / v["nerc_batch_texts_count"], t }' || true
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=
}

run_server "batched (--max-batch-tokens 4096)"
run_server "unbatched (--max-batch-tokens 1)" --max-batch-tokens 1

n=20
head -n "$n" "$work/dev.txt" > "$work/first.txt"
t0=$(date +%s.%N)
while IFS= read -r line; do printf '%s\n' "$line" | "$nerc" predict --model "$model" > /dev/null; done < "$work/first.txt"
t1=$(date +%s.%N)
awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-36s %d calls in %.1f s: %.2f sentences/s, %.0f ms per call\n",
  "sequential nerc predict (1 process/call)", n, b - a, n / (b - a), 1000 * (b - a) / n }'
echo "load after: $(uptime | sed 's/.*load average: //')"
