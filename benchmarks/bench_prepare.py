#!/usr/bin/env python3
"""Throughput and peak memory of `glmprobe prepare`, per reader, against a plain reference.

The reference reads everything into memory (pandas / h5py / lists), builds the
in-memory Dataset and writes it with ``write_dataset``: what a straightforward
script would do, with none of prepare's validation, leakage check or streaming.
Each run happens in a fresh subprocess so its peak RSS (ru_maxrss) is its own.

    python benchmarks/bench_prepare.py                  # small default (20k sequences)
    python benchmarks/bench_prepare.py --n 1000000      # the full measurement
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

READERS = ("table", "fasta", "bed", "chip_h5")
_LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)
_BLOCK = 100_000


def _seq_blocks(n: int, length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for a in range(0, n, _BLOCK):
        k = min(_BLOCK, n - a)
        codes = rng.integers(0, 4, size=(k, length), dtype=np.uint8)
        rows = _LETTERS[codes]
        yield a, codes, [r.tobytes().decode() for r in rows], rng.normal(size=k)


def make_inputs(folder: Path, fmt: str, n: int, length: int) -> Path:
    """Write the input for one reader plus its one-row datasets sheet; returns the sheet."""
    splits = np.array(["train"] * 8 + ["valid", "test"])
    if fmt == "table":
        with open(folder / "data.tsv", "w") as fh:
            fh.write("id\tsequence\tsplit\ty\n")
            for a, _, seqs, y in _seq_blocks(n, length):
                fh.writelines(f"s{a + i}\t{s}\t{splits[(a + i) % 10]}\t{v:.5f}\n" for i, (s, v) in enumerate(zip(seqs, y)))
        row = "d,table,data.tsv,,,"
    elif fmt == "fasta":
        with open(folder / "data.fa", "w") as fa, open(folder / "labels.csv", "w") as lab:
            lab.write("id,split,y\n")
            for a, _, seqs, y in _seq_blocks(n, length):
                fa.writelines(f">s{a + i}\n{s}\n" for i, s in enumerate(seqs))
                lab.writelines(f"s{a + i},{splits[(a + i) % 10]},{v:.5f}\n" for i, v in enumerate(y))
        row = "d,fasta,data.fa,labels.csv,,"
    elif fmt == "bed":
        size = max(n * 2 + length, 10_000)
        rng = np.random.default_rng(1)
        genome = _LETTERS[rng.integers(0, 4, size=size, dtype=np.uint8)].tobytes().decode()
        with open(folder / "genome.fa", "w") as fh:
            fh.write(">chr1\n" + "\n".join(genome[i:i + 80] for i in range(0, size, 80)) + "\n")
        starts = rng.integers(0, size - length, size=n)
        with open(folder / "regions.bed", "w") as fh:
            fh.write("#chrom\tstart\tend\tname\tscore\tstrand\ty\tsplit\n")
            fh.writelines(f"chr1\t{s}\t{s + length}\tr{i}\t0\t{'+-'[i % 2]}\t{i % 7 / 7:.4f}\t{splits[i % 10]}\n"
                          for i, s in enumerate(starts))
        row = "d,bed,regions.bed,,genome.fa,"
    else:
        import h5py

        sizes = {"train": n - 2 * (n // 10), "valid": n // 10, "test": n // 10}
        with h5py.File(folder / "data.h5", "w") as h5:
            for gi, (g, k) in enumerate(sizes.items()):
                x = h5.create_dataset(f"x_{g}", (k, 4, length), dtype="f4", chunks=(min(k, 4096), 4, length))
                y = h5.create_dataset(f"y_{g}", (k, 1), dtype="f4")
                for a, codes, _, v in _seq_blocks(k, length, seed=gi + 1):
                    x[a:a + len(codes)] = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1)
                    y[a:a + len(codes), 0] = v > 0
        row = "d,chip_h5,data.h5,,,"
    sheet = folder / "datasets.csv"
    sheet.write_text("id,format,path,labels,genome,description\n" + row + "\n")
    return sheet


def reference(sheet: Path, out: Path) -> int:
    """Read everything at once, then write_dataset."""
    import pandas as pd

    from glmprobe.data.dataset import Dataset, write_dataset

    folder, fmt = sheet.parent, sheet.read_text().splitlines()[1].split(",")[1]
    coords = None
    if fmt == "table":
        df = pd.read_csv(folder / "data.tsv", sep="\t")
        ids, seqs, y, split = df["id"], df["sequence"], df[["y"]].to_numpy(), df["split"]
    elif fmt == "fasta":
        text = (folder / "data.fa").read_text().split(">")[1:]
        recs = dict(r.split("\n", 1) for r in text)
        lab = pd.read_csv(folder / "labels.csv")
        ids, split, y = lab["id"], lab["split"], lab[["y"]].to_numpy()
        seqs = [recs[i].replace("\n", "") for i in ids]
    elif fmt == "bed":
        import pyfaidx

        from glmprobe.data.onehot import reverse_complement

        fa = pyfaidx.Fasta(str(folder / "genome.fa"), as_raw=True)
        df = pd.read_csv(folder / "regions.bed", sep="\t")
        seqs = [fa[c][s:e] for c, s, e in zip(df["#chrom"], df["start"], df["end"])]
        seqs = [reverse_complement(s) if st == "-" else s for s, st in zip(seqs, df["strand"])]
        ids, split, y = df["name"], df["split"], df[["y"]].to_numpy()
        coords = {"chrom": df["#chrom"].to_numpy(object), "start": df["start"].to_numpy(), "end": df["end"].to_numpy(),
                  "strand": df["strand"].to_numpy(object)}
    else:
        import h5py

        from glmprobe.data.onehot import decode

        ids, seqs, ys, split = [], [], [], []
        with h5py.File(folder / "data.h5") as h5:
            for g in ("train", "valid", "test"):
                x = h5[f"x_{g}"][:]
                seqs += decode(x)
                ys.append(h5[f"y_{g}"][:])
                ids += [f"{g}_{i}" for i in range(len(x))]
                split += [g] * len(x)
        y = np.concatenate(ys)
    ds = Dataset("d", np.asarray(ids, dtype=object), np.asarray(seqs, dtype=object), np.asarray(y, np.float32),
                 ["y"], "regression", np.asarray(split, dtype=object), coords)
    write_dataset(out / "d" / "dataset.h5", ds)
    return len(ds)


def worker(impl: str, sheet: Path, out: Path) -> None:
    t0 = time.perf_counter()
    if impl == "glmprobe":
        from glmprobe.data.dataset import DatasetFile
        from glmprobe.steps.prepare import prepare_rows

        (path,) = prepare_rows(sheet, out, force=True)
        with DatasetFile(path) as f:
            n = f.n
    else:
        n = reference(sheet, out)
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "seconds": seconds, "peak_rss_mb": rss_mb}))


def measure(impl: str, sheet: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run([sys.executable, __file__, "--worker", impl, "--sheet", str(sheet), "--out", str(out)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{impl} failed on {sheet}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="sequences per input (default 20000; full: 1000000)")
    ap.add_argument("--length", type=int, default=230, help="sequence length (default 230, lentiMPRA)")
    ap.add_argument("--readers", default=",".join(READERS), help=f"comma-separated subset of {','.join(READERS)}")
    ap.add_argument("--workdir", type=Path, default=None, help="where inputs are written (default: a temp folder)")
    ap.add_argument("--worker", choices=["glmprobe", "reference"], help=argparse.SUPPRESS)
    ap.add_argument("--sheet", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.sheet, args.out)
    root = Path(tempfile.mkdtemp(prefix="bench_prepare_", dir=args.workdir))
    try:
        print(f"n={args.n} length={args.length}")
        print(f"{'reader':8} {'impl':9} {'seq/s':>10} {'peak RSS MB':>12}   ratio glmprobe/reference (speed, memory)")
        for fmt in args.readers.split(","):
            folder = root / fmt
            folder.mkdir()
            sheet = make_inputs(folder, fmt, args.n, args.length)
            res = {impl: measure(impl, sheet, folder / f"out_{impl}") for impl in ("reference", "glmprobe")}
            for impl, r in res.items():
                assert r["n"] == args.n, r
                print(f"{fmt:8} {impl:9} {r['n'] / r['seconds']:10.0f} {r['peak_rss_mb']:12.0f}")
            g, ref = res["glmprobe"], res["reference"]
            print(f"{fmt:8} {'ratio':9} {ref['seconds'] / g['seconds']:10.2f}x {g['peak_rss_mb'] / ref['peak_rss_mb']:11.2f}x")
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
