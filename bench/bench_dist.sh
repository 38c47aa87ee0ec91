#!/usr/bin/env bash
# Benchmark (not a test): the training step of `nerc train` on 1 rank x 1 thread,
# 2 MPI ranks x 1 thread (the same global batch of 16 sentences split in two) and
# 1 rank x 2 threads, on the DistilBERT-base size (random init) or BERT-base, over
# CoNLL-2003 train batches; prints the mean step time (steps 3..STEPS, from
# log.jsonl) and the scaling efficiency t(1 rank) / (2 x t(2 ranks)).
#   usage: bench/bench_dist.sh [STEPS=12] [distilbert|bert]   (after make MPI=1; from the repository root)
set -euo pipefail
steps=${1:-12}
model=${2:-distilbert}
nerc=build-mpi/nerc
[ -x "$nerc" ] || { echo "bench_dist.sh: build the MPI build first (make MPI=1)"; exit 1; }
work=$(mktemp -d /tmp/nerc_bench_dist_XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/model"
cp ../shared/models/distilbert-base-uncased/vocab.txt ../shared/models/distilbert-base-uncased/tokenizer_config.json "$work/model/"
if [ "$model" = bert ]; then
  cp bench/configs/bert-base-uncased.json "$work/model/config.json"
else
  cp ../shared/models/distilbert-base-uncased/config.json "$work/model/config.json"
fi
head -4000 ../shared/data/conll2003/train.txt > "$work/train.txt"
head -60 ../shared/data/conll2003/dev.txt > "$work/dev.txt"
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
args=(train --model "$work/model" --init-random --train "$work/train.txt" --validation "$work/dev.txt"
      --max-steps "$steps" --eval-every 100000 --batch-size 16 --lr 1e-4)

step_time() { # mean "seconds" of steps 3.. in log.jsonl
  awk -F'"seconds":' 'NF > 1 { split($2, a, ","); n++; if (n > 2) { s += a[1]; k++ } } END { printf "%.3f", s / k }' "$1/log.jsonl"
}

"$nerc" "${args[@]}" --threads 1 --out "$work/n1t1" >/dev/null 2>&1
t11=$(step_time "$work/n1t1")
mpirun -np 2 --bind-to core --mca btl self,vader "$nerc" "${args[@]}" --threads 1 --out "$work/n2t1" >/dev/null 2>&1
t21=$(step_time "$work/n2t1")
"$nerc" "${args[@]}" --threads 2 --out "$work/n1t2" >/dev/null 2>&1
t12=$(step_time "$work/n1t2")
echo "$model, batch 16, mean of steps 3..$steps ($(nproc) cores; $(uptime | sed 's/.*load/load/'))"
echo "  1 rank  x 1 thread : $t11 s/step"
echo "  2 ranks x 1 thread : $t21 s/step   (MPI, shared memory)"
echo "  1 rank  x 2 threads: $t12 s/step   (OpenMP)"
awk -v a="$t11" -v b="$t21" -v c="$t12" 'BEGIN { printf "  speed-up 2 ranks %.2fx, scaling efficiency %.0f%%; 2 threads %.2fx (%.0f%%)\n", a / b, 50 * a / b, a / c, 50 * a / c }'
