"""The study's published HDF5 layouts (paper.md §1.1), streamed in chunks.

Each layout is a row of :data:`LAYOUTS`: key templates for x and y per group
(split name or fold number), a default target name and how y becomes targets.
x is one-hot, channels-last (N, L, 4: NLC) or channels-first (N, 4, L: NCL); the
layout is detected from the shape (the channel axis is the short one). eCLIP
files carry extra channels after the four bases; only the first four are sequence.
All-zero positions decode to N; anything that is not one-hot is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glmprobe.data.dataset import SPLITS
from glmprobe.data.readers import FORMATS
from glmprobe.data.readers.base import Chunk, Reader, check_file, is_gzip
from glmprobe.errors import UserError


def _as_2d(y: np.ndarray) -> np.ndarray:
    return y.reshape(len(y), -1) if y.ndim <= 2 else y


@dataclass(frozen=True)
class Layout:
    x: str                        # key template, "{g}" = group
    y: str
    target: str                   # default target name
    groups: tuple = SPLITS        # split names (or fold numbers when folds)
    folds: bool = False           # groups are fold numbers, not split names
    extra_channels: bool = False  # eCLIP: channels after the first 4 are not sequence
    transform: Callable[[np.ndarray], np.ndarray] = _as_2d
    segments: tuple[int, ...] | None = None
    y_ndim: tuple[int, ...] = (1, 2)
    task: str = "regression"      # the study's task for this layout (the format fixes it)
    seq: str | None = None        # optional key of the same sequences as strings (checked against x)
    offsets: Callable[[np.ndarray], np.ndarray] | None = None   # y -> per-target logit baselines
    help: str = ""                # one line for the FORMATS registry
    log1p: bool = False           # the study trained these targets as log(y + 1): the sheet's default


LAYOUTS: dict[str, Layout] = {
    "lentimpra_h5": Layout("onehot_{g}", "y_{g}", "activity", seq="seq_{g}",
                           help="lentiMPRA HDF5: onehot_/y_/seq_<split> per train/valid/test"),
    "lentimpra_folds_h5": Layout("{g}_x", "{g}_y", "activity", groups=tuple(range(1, 11)), folds=True,
                                 help="lentiMPRA HDF5 in ten folds: <fold>_x/<fold>_y, folds 1..10"),
    "chip_h5": Layout("x_{g}", "y_{g}", "bound", task="binary", help="ChIP-seq HDF5: x_/y_<split>, binary"),
    "eclip_h5": Layout("X_{g}", "Y_{g}", "bound", extra_channels=True, task="binary",
                       help="eCLIP HDF5: X_/Y_<split>, binary; channels after the four bases are not sequence"),
    # INSERT-seq: only the first y column is the elongation readout (paper.md §1.1); the study always
    # trained on log(y + 1), so the sheet's log1p defaults to true for this format (see sheet.py).
    "insert_h5": Layout("X_{g}", "Y_{g}", "elongation", transform=lambda y: _as_2d(y)[:, :1], log1p=True,
                        help="INSERT-seq HDF5: X_/Y_<split>, the first y column (elongation), log1p by default"),
    # Splicing: y (N, 56, 2); [..., 0] is the tissue-specific delta logit, NaN where unobserved, and
    # [..., 1] the mean logit it is relative to (kept as target offsets: diff_KL and the test filter need it).
    "splicing_h5": Layout("x_{g}", "y_{g}", "tissue", transform=lambda y: y[..., 0], segments=(400, 400),
                          y_ndim=(3,), offsets=lambda y: y[..., 1],
                          help="splicing HDF5: x_/y_<split>, two 400-nt segments, per-tissue delta logits"),
}


_LETTERS = np.frombuffer(b"NACGT", dtype=np.uint8)


def decode_checked(x: np.ndarray) -> tuple[list[str], int | None]:
    """(k, 4, L) one-hot -> (sequences, index of the first non-one-hot row or None).

    Same result as :func:`glmprobe.data.onehot.decode` on valid input (all-zero = N),
    but one pass over contiguous channel planes, which is several times faster than
    an argmax over the channel axis, and it validates while it decodes.
    """
    k, _, L = x.shape
    if x.dtype.kind not in "fc":  # bool/int one-hot: accumulate in float (bool += int fails)
        x = x.astype(np.float32)
    code = np.zeros((k, L), dtype=x.dtype)
    total = np.zeros((k, L), dtype=x.dtype)
    nonbinary = np.zeros((k, L), dtype=bool)
    for c in range(4):
        plane = x[:, c]
        nonbinary |= (plane != 0) & (plane != 1)
        total += plane
        code += (c + 1) * plane
    bad = (nonbinary | (total > 1)).any(axis=1)
    if bad.any():
        return [], int(np.flatnonzero(bad)[0])
    blob = _LETTERS[code.astype(np.uint8)].tobytes().decode("ascii")
    return [blob[i * L:(i + 1) * L] for i in range(k)], None


def _check_strings(path: Path, sk: str, xk: str, a: int, raw, seqs: list[str]) -> None:
    """Refuse a file whose sequence strings (lentiMPRA ``seq_*``) disagree with its one-hot arrays."""
    for i, (r, s) in enumerate(zip(raw, seqs)):
        text = (r.decode("ascii", "replace") if isinstance(r, bytes) else str(r)).strip().upper()
        if text != s:
            pos = next((p for p, (u, v) in enumerate(zip(text, s)) if u != v), min(len(text), len(s)))
            what = (f"length {len(text)} vs {len(s)}" if pos == min(len(text), len(s))
                    else f"position {pos + 1}: {text[pos]!r} vs {s[pos]!r}")
            raise UserError(f"{sk}[{a + i}] disagrees with the one-hot {xk}[{a + i}] ({what})", path=path,
                            where=f"{xk}[{a + i}]", hint="glmprobe reads the one-hot arrays; the file is inconsistent, "
                            "so re-create it (or delete its seq_* keys if you trust the one-hot arrays).")


class Hdf5Reader(Reader):
    def __init__(self, row, chunk_size: int = 16384):
        super().__init__(row, min(chunk_size, 16384))
        import h5py

        self.layout = LAYOUTS[row.format]
        self.format = row.format
        self.path = check_file(row.path, "HDF5 file")
        if is_gzip(self.path):
            raise UserError("HDF5 file is gzip-compressed", path=self.path,
                            hint="Decompress it first (gunzip); HDF5 cannot be read through gzip.")
        try:
            with h5py.File(self.path, "r") as h5:
                self.groups = self._check_keys(h5)
        except OSError as exc:
            raise UserError(f"not a readable HDF5 file ({exc})", path=self.path) from None
        self.natural_split = "folds" if self.layout.folds else "column"
        self.segments = list(self.layout.segments) if self.layout.segments else None
        self.has_offsets = self.layout.offsets is not None
        lay_task = self.layout.task
        if lay_task == "binary" and len(self.target_names) > 1:
            lay_task = "multilabel"
        if row.task and row.task != lay_task:
            raise row.error(f"task {row.task} contradicts format {row.format}, whose task is {lay_task} "
                            "(the study's layout)", "task", "Leave 'task' empty for the study's HDF5 layouts, or "
                            "convert the data to a table (format=table) to choose another task.")
        self.task = lay_task
        self.task_reason = f"format {row.format} is the study's {lay_task} layout"

    def sources(self) -> dict[str, Path]:
        return {"data": self.path}

    def _check_keys(self, h5) -> list[tuple]:
        lay, out, T, first = self.layout, [], None, None
        keys = sorted(h5.keys())
        for g in lay.groups:
            xk, yk = lay.x.format(g=g), lay.y.format(g=g)
            for k in (xk, yk):
                if k not in h5:
                    raise UserError(f"missing key {k!r} for format {self.row.format} (keys: {', '.join(keys)})",
                                    path=self.path, hint=f"Expected {lay.x} and {lay.y} for {{g}} in "
                                    f"{', '.join(map(str, lay.groups))}; check the 'format' column.")
            x, y = h5[xk], h5[yk]
            if x.ndim != 3:
                raise UserError(f"{xk!r} has shape {x.shape}; expected one-hot (N, L, 4) or (N, 4, L)", path=self.path)
            short = 1 if x.shape[1] < x.shape[2] else 2
            channels = x.shape[short]
            if x.shape[1] == x.shape[2] or channels < 4 or (channels > 4 and not lay.extra_channels):
                raise UserError(f"{xk!r} has shape {x.shape}: cannot find a 4-channel one-hot axis", path=self.path,
                                hint="x must be (N, L, 4) or (N, 4, L).")
            if len(x) != len(y):
                raise UserError(f"{xk!r} has {len(x)} rows but {yk!r} has {len(y)}", path=self.path,
                                hint="x and y of a split must have one row per sequence.")
            if y.ndim not in lay.y_ndim:
                raise UserError(f"{yk!r} has shape {y.shape}; format {self.row.format} expects "
                                f"{' or '.join(f'{d}-D' for d in lay.y_ndim)} targets", path=self.path)
            t = lay.transform(np.zeros((1,) + y.shape[1:], dtype=np.float32)).shape[1]
            if T is not None and t != T:
                raise UserError(f"{yk!r} has {t} targets but earlier splits have {T}", path=self.path)
            T = t
            if lay.segments and (x.shape[3 - short] != sum(lay.segments)):
                raise UserError(f"{xk!r} has length {x.shape[3 - short]}; format {self.row.format} expects "
                                f"{sum(lay.segments)} ({' + '.join(map(str, lay.segments))})", path=self.path)
            L = x.shape[3 - short]
            if first is not None and first[1] != L:
                # a model needs one input length; mixed splits mean the file was assembled wrongly
                raise UserError(f"{xk!r} holds sequences of length {L} but {first[0]!r} holds length {first[1]}",
                                path=self.path, hint="Every split must have the same sequence length; "
                                "re-export the file with one length (pad or trim the odd split).")
            first = first or (xk, L)
            sk = lay.seq.format(g=g) if lay.seq else None
            if sk is not None and sk in h5:
                if h5[sk].shape[:1] != (len(x),):
                    raise UserError(f"{sk!r} has shape {h5[sk].shape} but {xk!r} has {len(x)} rows", path=self.path,
                                    hint=f"{sk} must hold one sequence string per row of {xk}.")
            else:
                sk = None
            out.append((g, xk, yk, short, len(x), sk))
        names = self.row.target_cols
        if names and len(names) != T:
            raise self.row.error(f"{len(names)} target name(s) given but the file has {T} target(s)", "target_cols")
        self.target_names = list(names) if names else (
            [lay.target] if T == 1 else [f"{lay.target}_{j}" for j in range(T)])
        self.size_hint = sum(o[4] for o in out)
        return out

    def chunks(self) -> Iterator[Chunk]:
        import h5py

        lay = self.layout
        with h5py.File(self.path, "r") as h5:
            for g, xk, yk, short, n, sk in self.groups:
                X, Y = h5[xk], h5[yk]
                width = len(str(n - 1))
                prefix = f"fold{g}" if lay.folds else str(g)
                for a in range(0, n, self.chunk_size):
                    b = min(a + self.chunk_size, n)
                    x = np.asarray(X[a:b])
                    x = x[:, :4, :] if short == 1 else np.ascontiguousarray(x[:, :, :4].transpose(0, 2, 1))
                    locate = (lambda i, a=a, xk=xk: f"{xk}[{a + i}]")
                    seqs, bad = decode_checked(x)
                    if bad is not None:
                        raise UserError("not one-hot: a position has values other than a single 1", path=self.path,
                                        where=locate(bad), hint="x must hold 0/1 one-hot bases (all-zero = N).")
                    if sk is not None:
                        _check_strings(self.path, sk, xk, a, h5[sk][a:b], seqs)
                    raw = np.asarray(Y[a:b], dtype=np.float64)
                    y = lay.transform(raw)
                    k = b - a
                    yield Chunk(ids=[f"{prefix}_{a + i:0{width}d}" for i in range(k)], sequences=seqs,
                                targets=y, path=self.path, locate=locate,
                                split=None if lay.folds else [g] * k,
                                offsets=lay.offsets(raw) if lay.offsets else None,
                                fold=np.full(k, g, dtype=np.int64) if lay.folds else None)


for _name, _layout in LAYOUTS.items():     # one registered format per layout, all read by Hdf5Reader
    FORMATS.register(_name, Hdf5Reader, help=_layout.help, log1p=_layout.log1p)
