"""Attribution benchmarks, each a ratio against a plain reference measured in the same run.

1. gLM ISM, batched (edits of several sequences per gLM batch, one shared reference pass)
   vs one edited sequence per forward pass, on the tiny gLM (``glmprobe pretrain``'s default
   shape: ESM, 2 layers, hidden 32, character tokens); maps checked equal.
2. Forward passes per sequence vs the 3L + 1 bound (reference + every substitution).
3. grad x input throughput: the batched tangermeme path vs a plain autograd loop (one
   sequence per backward), on a DeepSTARR-shaped one-hot CNN; maps checked equal.
4. Peak memory (max RSS of a child process) computing and streaming maps to disk for N
   and 4N sequences: flat means the ratio stays near 1.

Usage: ``python benchmarks/bench_attribution.py [--length 230] [--n-ism 2] [--n-sal 256]``.
The CPU load is printed beside each figure (shared machines make absolute times noisy).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def tiny_probe(folder: Path):
    from glmprobe.attribution.loader import GLMChain, Trained
    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.glm.tiny import save_tiny_model
    from glmprobe.heads.linear import LinearProbe

    save_tiny_model(folder, "char", hidden=32, layers=2, heads=2, max_tokens=512)
    adapter = get_adapter(ModelSpec(id="tiny", source=str(folder), family="hf-mlm"))
    adapter.load()
    d = adapter.hidden_size
    head = LinearProbe(np.zeros(d), np.ones(d), np.random.default_rng(0).normal(size=(1, d)), np.zeros(1)).eval()
    return Trained("glm", folder, {}, "tiny", None, "", head,
                   glm=GLMChain(adapter, adapter.num_layers, "mean", 0, False, {}))


def bench_glm_ism(length: int, n: int) -> None:
    from glmprobe.attribution.glm_ism import GLMPredictor, brute_force_ism, glm_ism

    with tempfile.TemporaryDirectory() as d:
        trained = tiny_probe(Path(d) / "tiny")
        seqs = random_seqs(n, length)
        pred = GLMPredictor(trained, batch_size=256)
        t0 = time.perf_counter()
        maps = glm_ism(pred, seqs, chunk=4096)
        batched = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        one = GLMPredictor(trained, batch_size=1)
        delta = brute_force_ism(one, seqs[0])
        single = time.perf_counter() - t0
        assert np.allclose(maps.hypothetical[0], delta - delta.mean(0, keepdims=True), atol=1e-4)
        print(f"gLM ISM ({length} nt, tiny gLM): batched {batched:.2f} s/seq, one at a time {single:.2f} s/seq, "
              f"ratio {single / batched:.1f}x ({load()})")
        bound = 3 * length + 1
        per_seq = pred.forward_passes / n
        print(f"forward passes per sequence: {per_seq:.0f} vs bound 3L+1 = {bound}: {per_seq / bound:.3f}x ({load()})")


def deepstarr(length: int):
    import torch

    from glmprobe.heads import deepstarr as ds

    torch.manual_seed(0)
    return ds.build(4, length, 1, {"width": 0.5}).eval()


def bench_saliency(length: int, n: int) -> None:
    import torch

    from glmprobe.attribution.onehot_maps import onehot_maps
    from glmprobe.data.onehot import encode

    model = deepstarr(length)
    X = encode(random_seqs(n, length, 1))
    onehot_maps(model, X[:8], "gxi")  # warm-up
    t0 = time.perf_counter()
    maps = onehot_maps(model, X, "gxi", batch_size=128)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    grads = []
    for x in X:   # the plain loop: one sequence per backward
        xt = torch.tensor(x[None], requires_grad=True)
        model(xt)[:, 0].sum().backward()
        grads.append(xt.grad[0].numpy())
    loop = time.perf_counter() - t0
    g = np.stack(grads)
    assert np.allclose(maps.projected, (g - g.mean(1, keepdims=True)) * X, atol=1e-5)
    print(f"grad x input ({n} x {length} nt, DeepSTARR w0.5): batched {n / batched:.0f} seq/s, "
          f"autograd loop {n / loop:.0f} seq/s, ratio {loop / batched:.1f}x ({load()})")


def memory_child(n: int, length: int) -> None:
    """Compute gxi maps for n sequences in batches, streamed to disk; print max RSS (KiB)."""
    import resource

    from glmprobe.attribution.mapstore import MapWriter
    from glmprobe.attribution.onehot_maps import onehot_maps
    from glmprobe.data.onehot import encode

    model = deepstarr(length)
    with tempfile.TemporaryDirectory() as d, MapWriter(Path(d) / "m.h5", length, method="gxi") as w:
        for a in range(0, n, 64):
            seqs = random_seqs(min(64, n - a), length, a)
            maps = onehot_maps(model, encode(seqs), "gxi")
            w.append([f"s{a + i}" for i in range(len(seqs))], maps.hypothetical, maps.projected)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def bench_memory(length: int, n: int) -> None:
    def rss(k: int) -> int:
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(k), "--length", str(length)],
                             check=True, capture_output=True, text=True).stdout
        return int(out.strip().splitlines()[-1])

    small, large = rss(n), rss(4 * n)
    print(f"peak memory streaming maps: {n} seqs {small / 1024:.0f} MiB, {4 * n} seqs {large / 1024:.0f} MiB, "
          f"ratio {large / small:.2f} ({load()})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=230)
    p.add_argument("--n-ism", type=int, default=2)
    p.add_argument("--n-sal", type=int, default=256)
    p.add_argument("--n-mem", type=int, default=512)
    p.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.memory_child is not None:
        memory_child(a.memory_child, a.length)
        return
    bench_glm_ism(a.length, a.n_ism)
    bench_saliency(a.length, a.n_sal)
    bench_memory(a.length, a.n_mem)


if __name__ == "__main__":
    main()
