#!/usr/bin/env bash
# Side-by-side anchors (a benchmark, not a test): the same workload through
# nerc, PyTorch (Debian python3-torch, HF DistilBertForTokenClassification
# semantics in bench/compare_torch.py) and ONNX Runtime (npm onnxruntime-node,
# the model exported from PyTorch), one after the other on this machine:
#   training step time and real tokens/s (the same random CoNLL batches of 16,
#   real = non-padding tokens, counted the same way), fp32 and bf16;
#   dev inference sentences/s (the same batches of 64, longest first) at
#   fp32 / bf16 / int8, and at fp32 over unsorted batches in file order (where
#   padding peers pay for each batch's longest sentence); peak RSS of each run
#   (its own process).
# Prints the CPU model and flags, every figure and the ratios. A peer that is
# not installed, or a precision this CPU cannot run natively, is skipped with
# a note. The npm package goes into bench/work/ (git-ignored); nothing is
# downloaded at build or test time.
#   usage: bench/compare.sh [STEPS=10] [THREADS=2]
set -u
cd "$(dirname "$0")/.."
STEPS=${1:-10}
THREADS=${2:-2}
W=bench/work
ORT_VERSION=1.17.3
PY=/usr/bin/python3
mkdir -p "$W"
export OMP_NUM_THREADS=$THREADS THREADS
[ -x build/bench/bench_model ] && [ -x build/bench/dump_batches ] || make -s -j2 >/dev/null
notes=()
: >"$W/results.tsv"
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$W/results.tsv"; }

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core)' | sed 's/  */ /g'
echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512_vnni|avx512_bf16|avx_vnni|amx_bf16|amx_int8)$' | tr '\n' ' ')"
build/nerc --version
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); threads: $THREADS; training steps timed: $STEPS"
build/bench/dump_batches "$STEPS" "$W/batches.json" || exit 1

echo "== nerc"
build/bench/bench_model "$STEPS" "$THREADS" train | tee "$W/nerc_train.txt"
for p in fp32 bf16; do
  awk -v p="$p" '$1 == p && $2 == "training" && $3 == "step" {print $6; exit}' "$W/nerc_train.txt" | while read -r v; do put nerc "train_step_$p" "$v"; done
  awk -v p="$p" '$1 == p && $2 == "training" && $3 == "step" {print $8; exit}' "$W/nerc_train.txt" | while read -r v; do put nerc "train_tok_$p" "$v"; done
done
put nerc train_rss "$(awk '/peak RSS during fp32 training/ {print $(NF-1)}' "$W/nerc_train.txt")"
put nerc train_floor_fp32 "$(awk '/fp32 step floor on this CPU/ {print $7}' "$W/nerc_train.txt")"
for p in fp32 bf16 int8; do
  build/bench/bench_model "$STEPS" "$THREADS" "$p" >"$W/nerc_$p.txt"
  grep "dev inference" "$W/nerc_$p.txt"
  v=$(awk -v p="$p" '$3 == p && /sentences\/s/ {print $7}' "$W/nerc_$p.txt")
  [ -n "$v" ] && put nerc "infer_$p" "$v" && put nerc "infer_rss_$p" "$(awk '/peak RSS of this process/ {print $(NF-1)}' "$W/nerc_$p.txt")"
done
build/bench/bench_model "$STEPS" "$THREADS" order >"$W/nerc_order.txt"
grep "file order" "$W/nerc_order.txt"
v=$(awk '/file order/ {for (i = 1; i < NF; i++) if ($(i + 1) == "sentences/s") print $i}' "$W/nerc_order.txt")
[ -n "$v" ] && put nerc infer_order_fp32 "$v"
native_bf16=$(grep -q "bf16 (native" <(build/nerc --version) && echo 1 || echo 0)

echo "== PyTorch"
json() { "$PY" -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
if "$PY" -c "import torch" 2>/dev/null; then
  # Debian's torch takes its GEMM from the libblas.so.3 alternative: the reference (netlib) BLAS
  # is ~10x slower than OpenBLAS, which a fair comparison needs
  blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null)
  echo "PyTorch's BLAS: ${blas:-unknown}"
  case "$blas" in */blas/libblas.so*) notes+=("PyTorch ran on the reference (netlib) BLAS: apt-get install libopenblas0-pthread for a fair peer");; esac
  for p in fp32 bf16; do
    if [ "$p" = bf16 ] && [ "$native_bf16" = 0 ]; then notes+=("PyTorch bf16: skipped (no native bf16 on this CPU, as for nerc)"); continue; fi
    out=$("$PY" bench/compare_torch.py train "$W/batches.json" "$STEPS" "$p") || { notes+=("PyTorch train $p failed"); continue; }
    echo "train $p: $out"
    put torch "train_step_$p" "$(echo "$out" | json step_s)"
    put torch "train_tok_$p" "$(echo "$out" | json tokens_per_s)"
    [ "$p" = fp32 ] && put torch train_rss "$(echo "$out" | json peak_rss_mb)"
  done
  for p in fp32 bf16 int8; do
    if [ "$p" = bf16 ] && [ "$native_bf16" = 0 ]; then continue; fi
    out=$("$PY" bench/compare_torch.py infer "$W/batches.json" "$p") || { notes+=("PyTorch infer $p failed"); continue; }
    echo "infer $p: $out"
    put torch "infer_$p" "$(echo "$out" | json sent_per_s)"
    put torch "infer_rss_$p" "$(echo "$out" | json peak_rss_mb)"
  done
  if out=$("$PY" bench/compare_torch.py infer "$W/batches.json" fp32 dev_order); then
    echo "infer fp32, batches in file order: $out"
    put torch infer_order_fp32 "$(echo "$out" | json sent_per_s)"
  else
    notes+=("PyTorch infer fp32 in file order failed")
  fi
  "$PY" bench/compare_torch.py export "$W/model.onnx" >/dev/null 2>"$W/export.log" || notes+=("ONNX export failed: $(tail -1 "$W/export.log")")
else
  notes+=("PyTorch: skipped ($PY cannot import torch; Debian: apt-get install python3-torch)")
fi

echo "== ONNX Runtime"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  notes+=("ONNX Runtime: skipped (no node/npm)")
elif [ ! -f "$W/model.onnx" ]; then
  notes+=("ONNX Runtime: skipped (no exported model: it comes from PyTorch)")
else
  if [ ! -d "$W/npm/node_modules/onnxruntime-node" ]; then
    # --ignore-scripts: the package's install script only fetches CUDA binaries; the CPU ones ship in the package
    mkdir -p "$W/npm" && (cd "$W/npm" && npm install --silent --no-audit --no-fund --ignore-scripts \
      "onnxruntime-node@$ORT_VERSION" >/dev/null 2>&1) || notes+=("ONNX Runtime: npm install failed")
  fi
  if out=$(NODE_PATH="$W/npm/node_modules" node bench/compare_ort.js "$W/model.onnx" "$W/batches.json" "$THREADS"); then
    echo "infer fp32: $out"
    put ort infer_fp32 "$(echo "$out" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).sent_per_s))")"
    put ort infer_rss_fp32 "$(echo "$out" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).peak_rss_mb))")"
  else
    notes+=("ONNX Runtime: run failed")
  fi
  if out=$(NODE_PATH="$W/npm/node_modules" node bench/compare_ort.js "$W/model.onnx" "$W/batches.json" "$THREADS" dev_order); then
    echo "infer fp32, batches in file order: $out"
    put ort infer_order_fp32 "$(echo "$out" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).sent_per_s))")"
  fi
  notes+=("ONNX Runtime bf16 / int8: not run (its CPU provider has no bf16 GEMM; its int8 quantizer is the Python onnxruntime package, not available here)")
fi

echo "== table ($(lscpu | sed -n 's/^Model name: *//p'), $THREADS threads)"
awk -F'\t' '
  { v[$1 "," $2] = $3 }
  function cell(p, m, fmt) { return (p "," m) in v ? sprintf(fmt, v[p "," m]) : "-" }
  function ratio(a, b, m, inv) {
    if (!((a "," m) in v) || !((b "," m) in v) || v[b "," m] == 0 || v[a "," m] == 0) return "-"
    return sprintf("%.1fx", inv ? v[b "," m] / v[a "," m] : v[a "," m] / v[b "," m])
  }
  function row(name, m, fmt, inv) {
    printf "| %-34s | %10s | %10s | %10s | %12s | %10s |\n", name, cell("nerc", m, fmt), cell("torch", m, fmt),
      cell("ort", m, fmt), ratio("nerc", "torch", m, inv), ratio("nerc", "ort", m, inv)
  }
  END {
    printf "| %-34s | %10s | %10s | %10s | %12s | %10s |\n", "", "nerc", "PyTorch", "ORT", "nerc/PyTorch", "nerc/ORT"
    printf "|%s|%s|%s|%s|%s|%s|\n", "---", "---", "---", "---", "---", "---"
    row("training step fp32 (s)", "train_step_fp32", "%.3f", 1)
    row("training real tokens/s fp32", "train_tok_fp32", "%.0f", 0)
    row("training step bf16 (s)", "train_step_bf16", "%.3f", 1)
    row("training real tokens/s bf16", "train_tok_bf16", "%.0f", 0)
    row("peak RSS training fp32 (MB)", "train_rss", "%.0f", 1)
    row("dev inference fp32 (sentences/s)", "infer_fp32", "%.1f", 0)
    row("dev inference bf16 (sentences/s)", "infer_bf16", "%.1f", 0)
    row("dev inference int8 (sentences/s)", "infer_int8", "%.1f", 0)
    row("dev inference fp32, file order (sent/s)", "infer_order_fp32", "%.1f", 0)
    row("peak RSS inference fp32 (MB)", "infer_rss_fp32", "%.0f", 1)
    if (("nerc,train_tok_fp32" in v) && ("torch,train_tok_fp32" in v) && ("nerc,train_tok_bf16" in v))
      printf "nerc bf16 training vs PyTorch fp32: %.1fx real tokens/s\n", v["nerc,train_tok_bf16"] / v["torch,train_tok_fp32"]
    if (("nerc,train_floor_fp32" in v) && ("torch,train_step_fp32" in v) && v["nerc,train_floor_fp32"] > 0)
      printf "fp32 training ratio this CPU allows at most: PyTorch step %.3f s / nerc floor %.3f s = %.1fx (bench_model: GEMMs at oneDNN best sgemm rate + norm and AdamW)\n", v["torch,train_step_fp32"], v["nerc,train_floor_fp32"], v["torch,train_step_fp32"] / v["nerc,train_floor_fp32"]
    if (("nerc,infer_int8" in v) && ("nerc,infer_fp32" in v))
      printf "nerc int8 vs nerc fp32 inference: %.2fx\n", v["nerc,infer_int8"] / v["nerc,infer_fp32"]
  }' "$W/results.tsv"
echo "(ratios: > 1 means nerc is faster, or uses less memory for RSS)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${notes[@]}"; do echo "note: $n"; done
