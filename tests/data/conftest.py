"""Helpers for the data tests: tiny inputs written into tmp_path, and a CLI runner."""

from __future__ import annotations

import gzip
from pathlib import Path

import h5py
import numpy as np
import pytest

from glmprobe.cli import main
from glmprobe.data.onehot import encode

SHEET_COLUMNS = ("id", "format", "path", "labels", "genome", "id_col", "sequence_col", "target_cols", "split_col",
                 "task", "split", "split_args", "seed", "width", "length", "log1p", "allow_single_class",
                 "description")


def random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def write_sheet(folder: Path, *rows: dict, name: str = "datasets.csv") -> Path:
    """A datasets sheet with only the columns the rows use (values with commas are quoted)."""
    cols = [c for c in SHEET_COLUMNS if any(c in r for r in rows)]
    quote = lambda v: f'"{v}"' if "," in str(v) else str(v)
    lines = [",".join(cols)] + [",".join(quote(r.get(c, "")) for c in cols) for r in rows]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def write_table(path: Path, n: int = 60, length: int = 30, seed: int = 0, sep: str = "\t", gz: bool = False,
                splits: bool = True, binary: bool = False) -> Path:
    """id, sequence, (split,) y1, y2: a small table; splits cycle train x8 / valid / test."""
    rng = np.random.default_rng(seed)
    seqs = random_seqs(n, length, seed)
    names = ["train"] * 8 + ["valid", "test"]
    head = ["id", "sequence"] + (["split"] if splits else []) + (["label"] if binary else ["y1", "y2"])
    lines = [sep.join(head)]
    for i, s in enumerate(seqs):
        vals = [str(i % 2)] if binary else [f"{v:.4f}" for v in rng.normal(size=2)]
        lines.append(sep.join([f"s{i}", s] + ([names[i % 10]] if splits else []) + vals))
    text = "\n".join(lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def write_h5(path: Path, layout: str, n: int = 20, length: int = 30, seed: int = 0, nlc: bool = True,
             y_cols: int = 1, channels: int = 4, groups=("train", "valid", "test"), x_key="x_{g}", y_key="y_{g}",
             y_shape=None, seq_key: str | None = None, lengths: dict | None = None) -> dict:
    """An HDF5 file in one of the study's layouts; returns {group: sequences}.

    ``seq_key`` also writes the sequences as strings (lentiMPRA ``seq_{g}``); ``lengths`` gives some
    groups another sequence length.
    """
    rng = np.random.default_rng(seed)
    out = {}
    with h5py.File(path, "w") as h5:
        for gi, g in enumerate(groups):
            L = (lengths or {}).get(g, length)
            seqs = random_seqs(n, L, seed + 10 * gi + 1)
            x = encode(seqs, L)  # (n, 4, L)
            if channels > 4:
                x = np.concatenate([x, rng.random((n, channels - 4, L)).astype(np.float32)], axis=1)
            if nlc:
                x = x.transpose(0, 2, 1)
            h5[x_key.format(g=g)] = x
            if seq_key:
                h5[seq_key.format(g=g)] = np.array(seqs, dtype=h5py.string_dtype())
            shape = y_shape or (n, y_cols)
            h5[y_key.format(g=g)] = rng.integers(0, 2, size=shape).astype(np.float32) if layout == "binary" \
                else rng.normal(size=shape).astype(np.float32)
            out[g] = seqs
    return out


def write_genome(path: Path, chroms: dict[str, int], seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    seqs = {c: "".join(rng.choice(list("ACGTacgt"), n)) for c, n in chroms.items()}
    path.write_text("".join(f">{c} description\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n"
                            for c, s in seqs.items()))
    return seqs


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli(capsys):
    """Run `glmprobe ARGS` through the real entry point; returns exit code, stdout, stderr."""
    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["prepare", *map(str, args), "--quiet"])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)
    return run
