#!/usr/bin/env python3
"""Embedding-engine benchmarks, each a ratio against a plain reference measured in the same run.

(a) throughput of `embed_step` (tokenize + forward + pool + write) vs the bare forward pass
    of the same model on the same batches;
(b) a k-layer sweep from ONE forward pass vs the study's per-layer re-run (k passes);
(c) peak RSS of `embed_step` at growing N (each size in a fresh subprocess): flat = streaming;
(d) store size: fp16 vs fp32, pooled vs per-token.

Default sizes run in < 1 minute on 2 cores; --full uses larger ones, --n sets (c)'s largest N
(e.g. --n 1000000 with the one-hot model for the full memory measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_data(path: Path, n: int, length: int, seed: int = 0) -> Path:
    from glmprobe.data.dataset import DatasetWriter

    rng = np.random.default_rng(seed)
    with DatasetWriter(path, name="bench", target_names=["y"], task="regression") as w:
        for a in range(0, n, 50_000):
            k = min(50_000, n - a)
            codes = rng.integers(0, 4, (k, length), dtype=np.uint8)
            seqs = [row.tobytes().decode() for row in np.frombuffer(b"ACGT", np.uint8)[codes]]
            w.append([f"s{a + i}" for i in range(k)], seqs, np.zeros((k, 1), "f4"), ["train"] * k)
    return path


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_throughput(tmp: Path, model: Path, n: int, length: int, layers: int) -> list[tuple]:
    import torch

    from glmprobe.data.dataset import read_dataset
    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.steps.embed import embed_step

    data = make_data(tmp / "a.h5", n, length)
    seqs = list(read_dataset(data).sequences)
    spec = ModelSpec("m", str(model), "hf-mlm", layers="all", pooling=["mean", "cls"], batch_size=32)
    adapter = get_adapter(spec)
    adapter.load()
    batches = [adapter.tokenize(seqs[a:a + 32]) for a in range(0, n, 32)]

    def bare(layers_wanted):
        with torch.inference_mode():
            for b in batches:
                adapter.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask, output_hidden_states=True)

    def bare_one_layer_each():
        for _ in range(layers):  # the study: NT re-run once per probed layer
            bare(None)

    def engine():
        embed_step(data, spec, tmp / "a_store", force=True)

    # interleaved, best of 3: the host is shared, so load drifts between measurements
    t_bare = t_engine = t_rerun = float("inf")
    for _ in range(3):
        t_bare = min(t_bare, timed(lambda: bare(None)))
        t_engine = min(t_engine, timed(engine))
        t_rerun = min(t_rerun, timed(bare_one_layer_each))
    t_engine_all = t_engine
    return [("(a) embed_step vs bare forward", f"{n / t_engine:.0f} seq/s", f"{n / t_bare:.0f} seq/s",
             f"{t_engine / t_bare:.2f}x time"),
            (f"(b) {layers}-layer sweep: one pass vs per-layer re-run", f"{t_engine_all:.2f} s", f"{t_rerun:.2f} s",
             f"{t_rerun / t_engine_all:.1f}x faster")]


def rss_child(data: str, out: str) -> None:
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.steps.embed import embed_step

    embed_step(data, ModelSpec("oh", "onehot", "onehot", pooling=["mean"]), out, chunk_rows=4096)
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def bench_rss(tmp: Path, sizes: list[int], length: int) -> list[tuple]:
    rows = []
    for n in sizes:
        data = make_data(tmp / f"r{n}.h5", n, length)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(data), str(tmp / f"r{n}")],
                             capture_output=True, text=True, check=True)
        rss = json.loads(out.stdout.strip().splitlines()[-1])["maxrss_mb"]
        rows.append((n, rss, time.perf_counter() - t))
    base = rows[0][1]
    return [(f"(c) peak RSS, N={n:,} (onehot, {length} nt)", f"{rss:.0f} MB", f"{base:.0f} MB at N={sizes[0]:,}",
             f"{rss / base:.2f}x ({secs:.0f} s)") for n, rss, secs in rows]


def bench_size(tmp: Path, model: Path, n: int, length: int) -> list[tuple]:
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.steps.embed import embed_step

    data = make_data(tmp / "d.h5", n, length)
    size = {}
    for dtype in ("float16", "float32"):
        for pooling in (["mean"], ["tokens"]):
            out = embed_step(data, ModelSpec("m", str(model), "hf-mlm", layers="last", pooling=pooling, dtype=dtype),
                             tmp / f"s_{dtype}_{pooling[0]}")
            size[(dtype, pooling[0])] = (out / "store.h5").stat().st_size / 1e6
    return [("(d) store fp16 vs fp32, pooled mean", f"{size[('float16', 'mean')]:.2f} MB",
             f"{size[('float32', 'mean')]:.2f} MB", f"{size[('float32', 'mean')] / size[('float16', 'mean')]:.2f}x smaller"),
            ("(d) store fp16 vs fp32, per-token", f"{size[('float16', 'tokens')]:.2f} MB",
             f"{size[('float32', 'tokens')]:.2f} MB", f"{size[('float32', 'tokens')] / size[('float16', 'tokens')]:.2f}x smaller"),
            ("(d) fp16 per-token vs pooled", f"{size[('float16', 'tokens')]:.2f} MB",
             f"{size[('float16', 'mean')]:.2f} MB", f"{size[('float16', 'tokens')] / size[('float16', 'mean')]:.0f}x larger")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="larger sizes (minutes)")
    ap.add_argument("--n", type=int, default=None, help="largest N for the RSS measurement (c)")
    ap.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    from glmprobe.glm.tiny import save_tiny_model

    n, length, layers = (2000, 230, 6) if args.full else (256, 200, 4)
    largest = args.n or (200_000 if args.full else 40_000)
    sizes = sorted({largest // 16, largest // 4, largest})
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = save_tiny_model(tmp / "model", "char", hidden=64 if args.full else 32, layers=layers, heads=4,
                                max_tokens=512)
        rows = bench_throughput(tmp, model, n, length, layers)
        rows += bench_rss(tmp, sizes, 200)
        rows += bench_size(tmp, model, min(n, 500), length)
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'glmprobe':>14}  {'reference':>22}  ratio")
    for name, ours, ref, ratio in rows:
        print(f"{name:<{width}}  {ours:>14}  {ref:>22}  {ratio}")


if __name__ == "__main__":
    main()
