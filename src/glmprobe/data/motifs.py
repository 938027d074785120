"""JASPAR motifs: fetch position frequency matrices offline, score and sample sites, write MEME.

pyjaspar bundles the JASPAR SQLite databases, so nothing here needs the network.
The release is pinned (:data:`JASPAR_RELEASE`) because matrices change between
releases and the synthetic benchmark must be byte-identical for a given seed.

Matrices are (4, L) arrays in the alphabet A, C, G, T, like the one-hot layout
(glmprobe.data.onehot) and tangermeme/memelite.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glmprobe.atomic import atomic_path
from glmprobe.errors import UserError

JASPAR_RELEASE = "JASPAR2024"
ALPHABET = "ACGT"
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@dataclass(frozen=True)
class Motif:
    """One JASPAR matrix: counts (4, L) over A, C, G, T."""

    matrix_id: str
    name: str
    counts: np.ndarray

    @property
    def length(self) -> int:
        return self.counts.shape[1]

    def ppm(self, pseudocount: float = 0.8) -> np.ndarray:
        """Position probability matrix (4, L); the pseudocount keeps log-odds finite."""
        c = self.counts + pseudocount / 4.0
        return c / c.sum(axis=0, keepdims=True)

    def log_odds(self, background: Sequence[float] = (0.25,) * 4, pseudocount: float = 0.8) -> np.ndarray:
        """Log2-odds matrix (4, L) against a base background."""
        bg = np.asarray(background, dtype=float)[:, None]
        return np.log2(self.ppm(pseudocount) / bg)


@functools.cache
def _database(release: str):
    from pyjaspar import jaspardb  # lazy: only motif users pay for the import

    try:
        return jaspardb(release=release)
    except Exception as exc:  # pyjaspar raises a bare Exception for unknown releases
        raise UserError(f"JASPAR release {release!r} is not available in pyjaspar ({exc})",
                        hint="Use e.g. JASPAR2024") from None


@functools.cache
def fetch_motif(matrix_id: str, release: str = JASPAR_RELEASE) -> Motif:
    """One matrix by JASPAR id (e.g. ``MA0139.2``), cached per process."""
    with warnings.catch_warnings():  # pyjaspar warns before returning None; we raise a clearer error
        warnings.simplefilter("ignore")
        record = _database(release).fetch_motif_by_id(matrix_id)
    if record is None:
        raise UserError(f"JASPAR matrix {matrix_id!r} not found in {release}",
                        hint="Check the id (with version, e.g. MA0139.2) on jaspar.elixir.no")
    counts = np.array([record.counts[b] for b in ALPHABET], dtype=float)
    counts.setflags(write=False)  # shared through the cache: keep it immutable
    return Motif(record.matrix_id, record.name, counts)


def fetch_motifs(matrix_ids: Iterable[str], release: str = JASPAR_RELEASE) -> list[Motif]:
    return [fetch_motif(m, release) for m in matrix_ids]


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def score_range(log_odds: np.ndarray) -> tuple[float, float]:
    """Minimum and maximum achievable score of a log-odds matrix."""
    return float(log_odds.min(axis=0).sum()), float(log_odds.max(axis=0).sum())


def site_scores(sites: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """Normalised match scores in [0, 1] of sites given as base codes (n, L), read on the motif strand.

    0 is the worst possible site, 1 the consensus; a site sampled from the PPM
    typically scores 0.7-0.95, background DNA 0.2-0.5.
    """
    lo, hi = score_range(log_odds)
    raw = log_odds[sites, np.arange(log_odds.shape[1])].sum(axis=1)
    return (raw - lo) / (hi - lo)


def sample_sites(ppm: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sites drawn column-wise from a PPM (4, L): base codes (n, L) on the motif strand."""
    cdf = np.cumsum(ppm, axis=0)  # (4, L)
    u = rng.random((n, ppm.shape[1]))
    # Count how many cumulative bounds each draw exceeds -> base code 0..3.
    codes = (u[:, None, :] > cdf[None, :, :]).sum(axis=1)
    return np.minimum(codes, 3).astype(np.int8)


def decode(codes: np.ndarray) -> list[str]:
    """Base codes (n, L) -> strings."""
    table = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    return [row.tobytes().decode() for row in table[codes]]


def write_meme(path: str | os.PathLike, motifs: Sequence[Motif], background: Sequence[float] = (0.25,) * 4,
               pseudocount: float = 0.8) -> Path:
    """Write the PPMs in minimal MEME format (readable by memelite.io.read_meme and the MEME suite)."""
    lines = ["MEME version 5", "", f"ALPHABET= {ALPHABET}", "", "strands: + -", "",
             "Background letter frequencies",
             " ".join(f"{b} {f:.4f}" for b, f in zip(ALPHABET, background)), ""]
    for m in motifs:
        ppm = m.ppm(pseudocount)
        nsites = int(round(m.counts[:, 0].sum()))
        lines += [f"MOTIF {m.matrix_id} {m.name}", "",
                  f"letter-probability matrix: alength= 4 w= {m.length} nsites= {nsites} E= 0"]
        lines += [" ".join(f"{p:.6f}" for p in col) for col in ppm.T]
        lines += [f"URL https://jaspar.elixir.no/matrix/{m.matrix_id}/", ""]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path
