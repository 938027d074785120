#!/usr/bin/env python3
"""Variant scoring throughput and memory, each against a plain reference measured in the same run.

1. Variants/s of zero-shot scoring (embedding distances + masked LLR) with a tiny masked LM on a
   saturation-mutagenesis set (3 alts per position): the engine (chunks of sites, each ref window
   run once and shared by its alts, ref and alt windows batched) against one pair at a time (ref
   and alt run separately, batch 1, one masked pass per variant). The scores must agree.
2. Peak traced memory of the engine at N and 4N variants (``tracemalloc``, Python + numpy
   allocations): flat in N means the chunked engine holds one chunk, not the whole set.

    .venv/bin/python benchmarks/bench_variants.py          # small: a few minutes on 2 busy cores
    .venv/bin/python benchmarks/bench_variants.py --full   # longer windows, more variants
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def make_inputs(folder: Path, n_positions: int, length: int, seed: int = 0) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), n_positions + 2 * length))
    fa = folder / "genome.fa"
    fa.write_text(">chrB\n" + "\n".join(seq[a:a + 60] for a in range(0, len(seq), 60)) + "\n")
    rows = [("chrB", p + 1, seq[p], b) for p in range(length, length + n_positions) for b in "ACGT" if b != seq[p]]
    df = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    df["effect"], df["group"], df["source"], df["line"] = rng.normal(size=len(df)), "b", "bench", np.arange(len(df))
    df["id"] = [f"v{i}" for i in range(len(df))]
    return fa, df


def engine(adapter, df, genome, length, chunk=256, batch=64):
    from glmprobe.variants.genome import check_variants
    from glmprobe.variants.windows import iter_chunks
    from glmprobe.variants.zeroshot import EmbeddingScorer, MaskedLLR

    kept = check_variants(df, genome).kept
    scorers = [EmbeddingScorer(adapter, [adapter.num_layers], "mean", ["l2"], batch_size=batch),
               MaskedLLR(adapter, batch_size=batch)]
    out = {"l2_L%d" % adapter.num_layers: np.full(len(kept), np.nan), "llr": np.full(len(kept), np.nan)}
    for ch in iter_chunks(kept, genome, length, chunk):
        for s in scorers:
            for k, v in s.score(ch).items():
                out[k][ch.rows] = v
    return out


def one_at_a_time(adapter, df, genome, length):
    """The plain reference: every variant alone, ref and alt each through the model."""
    from glmprobe.variants.genome import check_variants
    from glmprobe.variants.windows import SiteChunk, centre
    from glmprobe.variants.zeroshot import EmbeddingScorer, MaskedLLR

    kept = check_variants(df, genome).kept
    emb = EmbeddingScorer(adapter, [adapter.num_layers], "mean", ["l2"], batch_size=1)
    llr = MaskedLLR(adapter, batch_size=1)
    c = centre(length)
    l2, lr = np.empty(len(kept)), np.empty(len(kept))
    for i, r in enumerate(kept.itertuples()):
        start = r.pos - 1 - c
        ref = genome.fetch(r.chrom_genome, start, start + length)
        alt = ref[:c] + r.alt + ref[c + 1:]
        ch = SiteChunk(np.array([i]), [ref], [alt], np.array([0]), np.array([1]), c, 0)
        l2[i] = emb.score(ch)["l2_L%d" % adapter.num_layers][0]
        lr[i] = llr.score(ch)["llr"][0]
    return {"l2_L%d" % adapter.num_layers: l2, "llr": lr}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    length, n_pos = (500, 400) if args.full else (200, 100)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.glm.tiny import save_tiny_model
    from glmprobe.variants.genome import Genome

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = save_tiny_model(tmp / "m", "char", hidden=32, layers=2, max_tokens=1024)
        adapter = get_adapter(ModelSpec(id="tiny", source=str(model), family="hf-mlm"))
        adapter.load()
        fa, df = make_inputs(tmp, n_pos, length)
        with Genome(fa) as g:
            engine(adapter, df.head(30), g, length)          # warm-up
            t = time.perf_counter()
            fast = engine(adapter, df, g, length)
            t_fast = time.perf_counter() - t
            ref_n = min(len(df), 60)                         # the reference is slow: time a prefix
            t = time.perf_counter()
            slow = one_at_a_time(adapter, df.head(ref_n), g, length)
            t_slow = time.perf_counter() - t
            for k in fast:
                np.testing.assert_allclose(fast[k][:ref_n], slow[k], rtol=1e-3, atol=1e-4)
            v_fast, v_slow = len(df) / t_fast, ref_n / t_slow
            print(f"zero-shot scoring, {length}-nt windows, tiny MLM (l2 + llr):")
            print(f"  engine (shared ref, batched) {v_fast:8.1f} variants/s  ({len(df)} variants)")
            print(f"  one pair at a time           {v_slow:8.1f} variants/s  ({ref_n} variants)")
            print(f"  ratio {v_fast / v_slow:.1f}x   [{load()}]")

            peaks = []
            for mult in (1, 4):
                (tmp / f"m{mult}").mkdir()
                fa2, df2 = make_inputs(tmp / f"m{mult}", n_pos * mult, length, seed=mult)
                with Genome(fa2) as g2:
                    tracemalloc.start()
                    engine(adapter, df2, g2, length)
                    peaks.append(tracemalloc.get_traced_memory()[1] / 2 ** 20)
                    tracemalloc.stop()
            print(f"peak traced memory: {len(df)} variants {peaks[0]:.1f} MiB, {4 * len(df)} variants "
                  f"{peaks[1]:.1f} MiB (ratio {peaks[1] / peaks[0]:.2f} for 4x the variants)   [{load()}]")


if __name__ == "__main__":
    main()
