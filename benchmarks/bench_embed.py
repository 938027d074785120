#!/usr/bin/env python3
"""Embedding-engine benchmarks, each a ratio against a plain reference measured in the same run.

(a) ``embed_step`` end to end (model load, token-count pre-pass, store, tokenise, forward,
    pool, fp16 cast, write) vs the bare forward pass: ``encoder(ids, mask,
    output_hidden_states=True)`` under ``inference_mode`` on the SAME padded batches (the
    engine's own length buckets), tokenised beforehand and not timed. Bar: >= 0.90.
(b) a k-layer sweep from ONE ``embed_step`` vs k bare forward passes (the study re-ran the
    model once per probed layer). Bar: >= 0.9 k. Each reference pass runs the whole model,
    as a pass for one probed layer does, and the engine keeps every layer of its one pass, so
    (b) is k x (a) up to timing noise: the sweep's distance from k is the end-to-end
    overhead (a) measures (model load, the count pre-pass, tokenising), not per-layer
    pooling or writing (the --profile lines show those are a few percent of the forward).
(c) peak RSS of ``embed_step`` with a gLM (a tiny ESM: hidden 8, 1 layer, 20-nt sequences,
    so 1M sequences run in minutes on 2 cores) and per-token output, each N in a fresh
    subprocess. Bar: flat within 10 %.
(d) store bytes: fp16 vs fp32, per-token vs pooled.
(e) one early layer (layer 1 of k) from ``embed_step``: the pass stops after block 1 vs every
    block run (the adapters' ``early_exit`` off), stores checked equal. Bar: >= 0.5 k.
--profile adds where the time goes: each stage timed alone on the same batches.

Timings interleave engine and references (--rounds, order rotating, median of the per-round
ratios), because the host may be shared; each line prints the load average when it was measured. Default sizes
take about a minute on 2 idle cores; --full uses the larger model and N up to 1M for (c).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}")


def engine_batches(adapter, seqs: list[str], batch_size: int):
    """The padded batches embed_step runs, in its order: its chunks, its token-length buckets."""
    from glmprobe.glm.embed import CHUNK_ROWS
    from glmprobe.glm.extract import Chunk, Extractor

    ex = Extractor(adapter, [adapter.num_layers], ["mean"], batch_size=batch_size)
    out = []
    for lo in range(0, len(seqs), CHUNK_ROWS):
        chunk = seqs[lo:lo + CHUNK_ROWS]
        n_tokens = adapter.count_tokens(chunk)
        _, batches = ex._state(Chunk(lo, chunk, {}, n_tokens))
        out += [adapter.tokenize([chunk[i] for i in units]) for units in batches]
    return out


def bench_throughput(tmp: Path, model: Path, n: int, length: int, layers: int, rounds: int,
                     sweep: bool = True) -> list[tuple]:
    import torch

    from glmprobe.data.dataset import read_dataset
    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.steps.embed import embed_step

    data = make_data(tmp / "a.h5", n, length)
    seqs = list(read_dataset(data).sequences)
    spec = ModelSpec("m", str(model), "hf-mlm", layers="all", pooling=["mean", "cls"], batch_size=32)
    adapter = get_adapter(spec)
    adapter.load()
    batches = engine_batches(adapter, seqs, spec.batch_size)

    def bare():
        with torch.inference_mode():
            for b in batches:
                adapter.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask, output_hidden_states=True)

    def k_passes():  # the study: the model re-run once per probed layer
        for _ in range(layers):
            bare()

    def engine():
        embed_step(data, spec, tmp / "a_store", force=True, device="cpu")

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    engine(), bare()  # warm up: first-call allocations, page cache
    times: dict[str, list[float]] = {"bare": [], "engine": [], "k": []}
    loads = []
    runs = [("bare", bare), ("engine", engine), ("k", k_passes)][:3 if sweep else 2]
    for r in range(rounds):  # interleaved, order rotating each round: load drift hits every side alike
        for name, fn in runs[r % len(runs):] + runs[:r % len(runs)]:
            times[name].append(timed(fn))
        loads.append(os.getloadavg()[0])
    t_bare, t_engine, t_k = times["bare"], times["engine"], times["k"]
    ratio = np.median(np.array(t_bare) / np.array(t_engine))
    where = f"load {np.mean(loads):.1f}, {rounds} rounds"
    rows = [(f"(a) embed_step end to end vs bare forward, {n:,} x {length} nt", f"{n / min(t_engine):.0f} seq/s",
             f"{n / min(t_bare):.0f} seq/s", f"{ratio:.2f} of bare speed (bar 0.90)", where)]
    if sweep:
        speedup = np.median(np.array(t_k) / np.array(t_engine))
        rows.append((f"(b) {layers}-layer sweep: one embed_step vs {layers} bare passes", f"{min(t_engine):.2f} s",
                     f"{min(t_k):.2f} s", f"{speedup:.2f}x faster (bar {0.9 * layers:.1f})", where))
    return rows


def bench_early_layer(tmp: Path, model: Path, n: int, length: int, layers: int, rounds: int) -> list[tuple]:
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.glm.adapters.hf import HFAdapter
    from glmprobe.glm.store import EmbeddingStore
    from glmprobe.steps.embed import embed_step

    data = make_data(tmp / "e.h5", n, length)
    spec = ModelSpec("m", str(model), "hf-mlm", layers=[1], pooling=["mean"], batch_size=32)
    times: dict[bool, list[float]] = {True: [], False: []}
    loads = []
    try:
        for r in range(rounds + 1):   # round 0 warms up
            for exits in (True, False) if r % 2 else (False, True):
                HFAdapter.early_exit = exits
                t = time.perf_counter()
                embed_step(data, spec, tmp / f"e_{exits}", force=True, device="cpu")
                if r:
                    times[exits].append(time.perf_counter() - t)
            loads.append(os.getloadavg()[0])
    finally:
        HFAdapter.early_exit = True
    with EmbeddingStore(tmp / "e_True") as a, EmbeddingStore(tmp / "e_False") as b:
        assert np.array_equal(np.asarray(a.pooled(1, "mean")), np.asarray(b.pooled(1, "mean")))
    ratio = np.median(np.array(times[False]) / np.array(times[True]))
    return [(f"(e) layer 1 of {layers}: stop after block 1 vs run every block, {n:,} x {length} nt",
             f"{min(times[True]):.2f} s", f"{min(times[False]):.2f} s",
             f"{ratio:.2f}x faster, same store (bar {0.5 * layers:.1f})", f"load {np.mean(loads):.1f}, {rounds} rounds")]


def rss_child(data: str, model: str, out: str) -> None:
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.steps.embed import embed_step

    t = time.perf_counter()
    embed_step(data, ModelSpec("g", model, "hf-mlm", layers="all", pooling=["mean", "tokens"], batch_size=256),
               out, device="cpu")
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": time.perf_counter() - t}))


def bench_rss(tmp: Path, sizes: list[int], length: int) -> list[tuple]:
    from glmprobe.glm.tiny import save_tiny_model

    model = save_tiny_model(tmp / "rss_model", "char", hidden=8, layers=1, heads=2, max_tokens=64)
    rows = []
    for n in sizes:
        data = make_data(tmp / f"r{n}.h5", n, length)
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(data), str(model), str(tmp / f"r{n}")],
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"RSS child for N={n} failed:\n{out.stderr[-2000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((n, res["maxrss_mb"], res["seconds"], load()))
        print(f"(c) N={n:,}: peak RSS {res['maxrss_mb']:.0f} MB, {res['seconds']:.0f} s, {load()}", file=sys.stderr,
              flush=True)  # as it goes: a larger N may not finish in the time there is
        for p in (data, tmp / f"r{n}"):  # keep the disk small
            subprocess.run(["rm", "-rf", str(p)], check=True)
    base = rows[0][1]
    return [(f"(c) peak RSS, N={n:,} (tiny ESM, {length} nt, mean + per-token)", f"{rss:.0f} MB",
             f"{base:.0f} MB at N={sizes[0]:,}", f"{rss / base:.2f}x (bar <= 1.10)", f"{secs:.0f} s, {ld}")
            for n, rss, secs, ld in rows]


def bench_size(tmp: Path, model: Path, n: int, length: int) -> list[tuple]:
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.steps.embed import embed_step

    data = make_data(tmp / "d.h5", n, length)
    size = {}
    for dtype in ("float16", "float32"):
        for pooling in (["mean"], ["tokens"]):
            out = embed_step(data, ModelSpec("m", str(model), "hf-mlm", layers="last", pooling=pooling, dtype=dtype),
                             tmp / f"s_{dtype}_{pooling[0]}", device="cpu")
            size[(dtype, pooling[0])] = (out / "store.h5").stat().st_size / 1e6
    f16t, f32t, f16m, f32m = (size[k] for k in [("float16", "tokens"), ("float32", "tokens"), ("float16", "mean"),
                                                 ("float32", "mean")])
    return [("(d) store fp16 vs fp32, per-token", f"{f16t:.2f} MB", f"{f32t:.2f} MB", f"{f16t / f32t:.2f} of the bytes", ""),
            ("(d) store fp16 vs fp32, pooled mean", f"{f16m:.3f} MB", f"{f32m:.3f} MB", f"{f16m / f32m:.2f} of the bytes", ""),
            ("(d) fp16 pooled vs fp32 per-token", f"{f16m:.3f} MB", f"{f32t:.2f} MB", f"{f16m / f32t:.4f} of the bytes", "")]


def profile(tmp: Path, model: Path, n: int, length: int, layers: int) -> list[tuple]:
    """Each stage of one embedding pass timed alone, on the engine's batches."""
    import torch

    from glmprobe.data.dataset import read_dataset
    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.glm.embed import CHUNK_ROWS
    from glmprobe.glm.extract import Chunk, Extractor, plan_tokens
    from glmprobe.glm.store import RowWriter, create_store, tokens_name

    data = make_data(tmp / "p.h5", n, length)
    ds = read_dataset(data)
    seqs = list(ds.sequences)
    adapter = get_adapter(ModelSpec("m", str(model), "hf-mlm"))
    adapter.load()
    all_layers = adapter.resolve_layers("all")
    ex = Extractor(adapter, all_layers, ["mean", "cls"], batch_size=32)
    t = {}
    t0 = time.perf_counter()
    plan_tokens(adapter, zip(ds.ids, seqs), n, limit=None, window="refuse")
    t["token-count pre-pass (count-only)"] = time.perf_counter() - t0
    units = [[seqs[lo + i] for i in u] for lo in range(0, n, CHUNK_ROWS)
             for u in ex._state(Chunk(lo, seqs[lo:lo + CHUNK_ROWS]))[1]]
    t0 = time.perf_counter()
    batches = [adapter.tokenize(texts) for texts in units]
    t["tokenise + pad (prefetch thread)"] = time.perf_counter() - t0
    T = max(b.input_ids.shape[1] for b in batches)
    all_ids = ds.ids
    create_store(tmp / "p_store.h5", ids=lambda lo, hi: all_ids[lo:hi], split=np.zeros(n, "u1"),
                 layers=all_layers, poolings=["mean", "tokens"], hidden=adapter.hidden_size, max_tokens=T,
                 dtype="float16")
    writer = RowWriter(tmp / "p_store.h5")
    for key in ("forward (all hidden states)", "pooling (mean + cls)", "fp16 cast (pooled)",
                "fp16 cast (per-token)", "write (per-token, memmap)"):
        t[key] = 0.0
    row = 0
    with torch.inference_mode():
        for b in batches:
            keep = torch.from_numpy(~b.special_mask)
            c = time.perf_counter()
            states = adapter.hidden_states(b, all_layers)
            d = time.perf_counter()
            pooled = ex._pool(states, keep)
            e = time.perf_counter()
            [v.to(torch.float16) for v in pooled.values()]
            f = time.perf_counter()
            cast = {layer: h.to(torch.float16).numpy() for layer, h in states.items()}
            g = time.perf_counter()
            rows = np.arange(row, row + len(b.lengths))
            for layer, v in cast.items():
                writer.scatter(tokens_name(layer), rows, v)
            writer.sync()
            h = time.perf_counter()
            row += len(b.lengths)
            for key, dt in zip(("forward (all hidden states)", "pooling (mean + cls)", "fp16 cast (pooled)",
                                "fp16 cast (per-token)", "write (per-token, memmap)"), (d - c, e - d, f - e, g - f, h - g)):
                t[key] += dt
    fwd = t["forward (all hidden states)"]
    return [(f"(p) {stage}", f"{secs:.3f} s", f"forward {fwd:.3f} s", f"{secs / fwd:.3f} of the forward", load())
            for stage, secs in t.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="larger model and N (minutes)")
    ap.add_argument("--n", type=int, default=None, help="largest N for the RSS measurement (c)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds for (a)/(b)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--profile", action="store_true", help="also time each stage alone (where the time goes)")
    ap.add_argument("--only", choices=["a", "c", "d", "e"], help="run one benchmark (a includes the sweep b)")
    ap.add_argument("--no-sweep", action="store_true", help="(a) without the k-layer sweep (b): k times shorter")
    ap.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    import torch

    from glmprobe.glm.tiny import save_tiny_model

    if args.threads:
        torch.set_num_threads(args.threads)
    n, length, layers, hidden = (4096, 230, 6, 64) if args.full else (2048, 200, 4, 32)
    largest = args.n or (1_000_000 if args.full else 100_000)
    sizes = sorted({max(1, largest // 100), largest // 10, largest})
    print(f"machine: {machine()}; {load()}")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = save_tiny_model(tmp / "model", "char", hidden=hidden, layers=layers, heads=4, max_tokens=512)
        if args.profile:
            rows += profile(tmp, model, n, length, layers)
        if args.only in (None, "a"):
            rows += bench_throughput(tmp, model, n, length, layers, args.rounds, sweep=not args.no_sweep)
        if args.only in (None, "c"):
            rows += bench_rss(tmp, sizes, 20)
        if args.only in (None, "d"):
            rows += bench_size(tmp, model, min(n, 500), length)
        if args.only in (None, "e"):
            rows += bench_early_layer(tmp, model, n, length, layers, args.rounds)
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'glmprobe':>12}  {'reference':>20}  {'ratio':<32}  conditions")
    for name, ours, ref, ratio, cond in rows:
        print(f"{name:<{width}}  {ours:>12}  {ref:>20}  {ratio:<32}  {cond}")


if __name__ == "__main__":
    main()
