#!/usr/bin/env python3
"""PyTorch peer of bench/compare.sh (not a test): DistilBertForTokenClassification
with Hugging Face's semantics written out here (no transformers needed), random
init from config.json, run on the exact batches nerc runs (bench/dump_batches).

  compare_torch.py train BATCHES.json STEPS fp32|bf16   training step time, real tokens/s
  compare_torch.py infer BATCHES.json fp32|bf16|int8    dev inference sentences/s
  compare_torch.py export OUT.onnx                      the fp32 model for ONNX Runtime

Prints one JSON line; peak RSS is this process's. bf16 is torch.autocast(cpu,
bfloat16); int8 is torch.quantization.quantize_dynamic over nn.Linear."""
import json
import math
import resource
import sys
import time

import torch
from torch import nn

CONFIG = "../shared/models/distilbert-base-uncased/config.json"
N_LABELS = 9


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h = c["dim"], c["hidden_dim"]
        self.n_heads = c["n_heads"]
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (nn.Linear(d, d) for _ in range(4))
        self.sa_layer_norm = nn.LayerNorm(d, eps=1e-12)
        self.lin1, self.lin2 = nn.Linear(d, h), nn.Linear(h, d)
        self.output_layer_norm = nn.LayerNorm(d, eps=1e-12)
        self.drop = nn.Dropout(c["dropout"])
        self.att_drop = nn.Dropout(c["attention_dropout"])

    def forward(self, x, mask):
        bs, t, d = x.shape
        dh = d // self.n_heads

        def heads(y):
            return y.view(bs, t, self.n_heads, dh).transpose(1, 2)

        q = heads(self.q_lin(x)) / math.sqrt(dh)
        k, v = heads(self.k_lin(x)), heads(self.v_lin(x))
        scores = q @ k.transpose(2, 3)
        scores = scores.masked_fill((mask == 0).view(bs, 1, 1, t), torch.finfo(scores.dtype).min)
        w = self.att_drop(nn.functional.softmax(scores, dim=-1))
        ctx = (w @ v).transpose(1, 2).reshape(bs, t, d)
        x = self.sa_layer_norm(self.out_lin(ctx) + x)
        return self.output_layer_norm(self.drop(self.lin2(nn.functional.gelu(self.lin1(x)))) + x)


class DistilBertNER(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], d, padding_idx=c.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.drop = nn.Dropout(c["dropout"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["n_layers"]))
        self.cls_drop = nn.Dropout(c.get("seq_classif_dropout", 0.1))
        self.classifier = nn.Linear(d, N_LABELS)
        for m in self.modules():  # HF _init_weights
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0.0, c["initializer_range"])
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.data.zero_()

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.drop(self.ln(self.word_embeddings(ids) + self.position_embeddings(pos)))
        for layer in self.layers:
            x = layer(x, mask)
        return self.classifier(self.cls_drop(x))


def pad(seqs, key=None):
    """HF DataCollatorForTokenClassification: right padding to the batch's longest."""
    rows = [s[key] if key else s for s in seqs]
    t = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), t, dtype=torch.long)
    mask = torch.zeros(len(rows), t, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask, sum(len(r) for r in rows)


def model():
    torch.manual_seed(42)
    with open(CONFIG) as f:
        return DistilBertNER(json.load(f))


def train(batches, steps, precision):
    m = model().train()
    opt = torch.optim.AdamW(m.parameters(), lr=2e-5, eps=1e-8, weight_decay=0.0)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    total_s = tokens = 0
    for i, batch in enumerate(batches[: steps + 2]):
        ids, mask, real = pad(batch, "ids")
        labels = torch.full(ids.shape, -100, dtype=torch.long)
        for r, s in enumerate(batch):
            labels[r, : len(s["labels"])] = torch.tensor(s["labels"])
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = m(ids, mask)
            loss = loss_fn(logits.float().view(-1, N_LABELS), labels.view(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if i >= 2:  # two warm-up batches, as bench_model
            total_s += time.perf_counter() - t0
            tokens += real
    n = len(batches[2 : steps + 2])
    return {"step_s": total_s / n, "tokens_per_s": tokens / total_s, "steps": n}


def infer(batches, precision):
    m = model().eval()
    if precision == "int8":
        m = torch.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8)
    sents = 0
    t0 = time.perf_counter()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        for batch in batches:
            ids, mask, _ = pad(batch)
            m(ids, mask).float().argmax(-1)
            sents += len(batch)
    dt = time.perf_counter() - t0
    return {"sent_per_s": sents / dt, "seconds": dt}


def export(path):
    m = model().eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    torch.onnx.export(m, (ids, torch.ones_like(ids)), path, input_names=["input_ids", "attention_mask"],
                      output_names=["logits"], opset_version=14,
                      dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                    "logits": {0: "b", 1: "t"}})
    return {"exported": path}


def main():
    torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
    mode = sys.argv[1]
    if mode == "export":
        out = export(sys.argv[2])
    else:
        with open(sys.argv[2]) as f:
            data = json.load(f)
        if mode == "train":
            out = train(data["train"], int(sys.argv[3]), sys.argv[4])
        else:  # infer PRECISION [KEY=dev|dev_order]
            out = infer(data[sys.argv[4] if len(sys.argv) > 4 else "dev"], sys.argv[3])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["torch"] = torch.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
