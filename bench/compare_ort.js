// ONNX Runtime peer of bench/compare.sh (not a test): dev inference over the
// exact batches nerc runs (bench/dump_batches), each padded to its longest
// sequence with an attention mask, on the fp32 model exported from PyTorch.
//   node compare_ort.js MODEL.onnx BATCHES.json THREADS [KEY=dev|dev_order]   -> one JSON line
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, batchesPath, threads, key] = process.argv.slice(2);
  const dev = JSON.parse(fs.readFileSync(batchesPath, 'utf8'))[key || 'dev'];
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads || 2), interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  let sents = 0;
  const t0 = process.hrtime.bigint();
  for (const batch of dev) {
    const t = Math.max(...batch.map((s) => s.length));
    const ids = new BigInt64Array(batch.length * t), mask = new BigInt64Array(batch.length * t);
    batch.forEach((s, r) => s.forEach((id, j) => { ids[r * t + j] = BigInt(id); mask[r * t + j] = 1n; }));
    await session.run({
      input_ids: new ort.Tensor('int64', ids, [batch.length, t]),
      attention_mask: new ort.Tensor('int64', mask, [batch.length, t]),
    });
    sents += batch.length;
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({
    sent_per_s: sents / dt, seconds: dt, peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    ort: ort.env.versions.common,
  }));
}
main().catch((e) => { console.error(`compare_ort: ${e.message}`); process.exit(1); });
