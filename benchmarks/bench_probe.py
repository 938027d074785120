#!/usr/bin/env python3
"""Probe performance, each number against a plain reference measured in the same run.

1. Ridge alpha grid: the closed-form path (one eigendecomposition for all 25 alphas, validation predictions
   included) against refitting sklearn ``Ridge`` once per alpha. Also checks both pick the
   same alpha with the same validation losses.
2. Peak RSS of one token-head training epoch (+ prediction) at two store sizes, each in a
   fresh subprocess: batches read with :class:`glmprobe.glm.store.StoreRows` (pread) against
   the plain ``np.memmap`` reader, whose touched pages stay resident.

    .venv/bin/python benchmarks/bench_probe.py          # small: < 1 minute
    .venv/bin/python benchmarks/bench_probe.py --full   # NT-sized features, bigger stores
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_ridge(n: int, d: int, n_valid: int, repeats: int) -> None:
    from sklearn.linear_model import Ridge

    from glmprobe.heads.linear import ALPHAS, fit_ridge

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n + n_valid, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)   # correlated features
    y = X @ rng.normal(size=(d, 1)) * 0.1 + rng.normal(size=(n + n_valid, 1))
    Xt, yt, Xv, yv = X[:n], y[:n], X[n:], y[n:]

    def closed():
        return fit_ridge(Xt, yt, Xv, yv, ALPHAS)[2][:, 0]

    def naive():
        return np.array([np.mean((Ridge(alpha=a).fit(Xt, yt[:, 0]).predict(Xv) - yv[:, 0]) ** 2) for a in ALPHAS])

    def timed(fn):
        best, out = np.inf, None
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        return best, out

    t_closed, loss_closed = timed(closed)
    t_naive, loss_naive = timed(naive)
    assert np.allclose(loss_closed, loss_naive, rtol=1e-6), "closed-form and sklearn validation losses differ"
    assert np.argmin(loss_closed) == np.argmin(loss_naive)
    print(f"ridge grid, {len(ALPHAS)} alphas, train {n} x {d}, valid {n_valid}:")
    print(f"  closed form (one eigh) {t_closed:8.3f} s   per-alpha sklearn Ridge {t_naive:8.3f} s   "
          f"speed-up x{t_naive / t_closed:.1f}   (same losses, same alpha)")


def make_store(root: Path, n: int, tokens: int, hidden: int) -> tuple[Path, Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "probes"))
    from conftest import make_inputs  # the tests' hand-built store writer (docs/CONTRACTS.md layout)

    return make_inputs(root, n=n, layers=(1,), poolings=("tokens",), hidden=hidden, tokens=tokens)


def child(store: str, reader: str) -> None:
    """One epoch of rep_cnn on the store's train split, then predictions on valid/test; print peak RSS."""
    import torch

    from glmprobe.glm.store import EmbeddingStore, StoreRows
    from glmprobe.heads import rep_cnn
    from glmprobe.train.data import Arrays, Feeder
    from glmprobe.train.fit import FitConfig, fit, predict

    class ChannelsFirst(torch.nn.Module):   # the memmap reference yields (B, T, D) rows
        def forward(self, x):
            return x.transpose(1, 2)

    torch.set_num_threads(1)
    with EmbeddingStore(store) as st:
        mm, split = st.tokens(1), st.split
        data = {}
        for code, name in enumerate(("train", "valid", "test")):
            rows = np.flatnonzero(split == code)
            if reader == "storerows":
                X = StoreRows(mm, rows, channels_first=True)
            else:   # plain reference: a memmap view of the split's rows (contiguous here)
                X = mm[rows[0]: rows[-1] + 1]
            data[name] = Arrays(X, np.zeros((len(rows), 1), np.float32), rows.astype(str))
        n_tok, hidden = mm.shape[1:]
        model = rep_cnn.build(hidden, n_tok, 1, {"width": 0.25, "reduce_dim": 32})
        if reader != "storerows":
            model = torch.nn.Sequential(ChannelsFirst(), model)
        feeder = Feeder(data["train"])
        for _ in feeder.batches(256, np.random.default_rng(0).permutation(len(feeder))):
            pass                                 # one shuffled read pass alone: the reader's own footprint
        read_mb = peak_rss_mb()
        t0 = time.perf_counter()
        fit(model, data["train"], data["valid"], "regression", FitConfig(max_epochs=1, batch_size=256))
        predict(model, data["test"].X)
        seconds = time.perf_counter() - t0
    print(json.dumps({"read_mb": read_mb, "rss_mb": peak_rss_mb(), "seconds": seconds}))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec,
    so a child would report its (store-writing) parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_rss(sizes: tuple[int, int], tokens: int, hidden: int) -> None:
    print(f"peak RSS of one rep_cnn epoch + test prediction, tokens {tokens} x hidden {hidden} fp16 "
          f"({tokens * hidden * 2 / 1024:.0f} KiB per sequence):")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            _, store = make_store(Path(tmp) / f"n{n}", n, tokens, hidden)
            for reader in ("storerows", "memmap"):
                out = subprocess.run([sys.executable, __file__, "--child", str(store), reader], check=True,
                                     capture_output=True, text=True).stdout
                results[n, reader] = json.loads(out.strip().splitlines()[-1])
    size_mb = {n: n * tokens * hidden * 2 / 2**20 for n in sizes}
    print(f"  store sizes: N={sizes[0]} ({size_mb[sizes[0]]:.0f} MB) and N={sizes[1]} ({size_mb[sizes[1]]:.0f} MB)")
    for key, what in (("read_mb", "shuffled read pass"), ("rss_mb", "+ epoch + predict")):
        for reader, label in (("storerows", "StoreRows (pread)"), ("memmap", "np.memmap reference")):
            a, b = (results[n, reader][key] for n in sizes)
            print(f"  {what:18s} {label:20s} {a:6.0f} MB -> {b:6.0f} MB   growth {b - a:+5.0f} MB")
    for reader in ("storerows", "memmap"):
        a, b = (results[n, reader]["seconds"] for n in sizes)
        print(f"  epoch + predict time, {reader}: {a:.1f} s -> {b:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="NT-sized features (d=2560) and larger stores")
    ap.add_argument("--child", nargs=2, metavar=("STORE", "READER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.full:
        bench_ridge(n=20000, d=2560, n_valid=2500, repeats=1)
        bench_rss((4000, 16000), tokens=41, hidden=512)
    else:
        bench_ridge(n=3000, d=192, n_valid=500, repeats=2)
        bench_rss((1000, 4000), tokens=40, hidden=128)


if __name__ == "__main__":
    main()
