"""Windows of genome sequence centred on each variant, ref and alt, in chunks of shared sites.

A window of ``length`` L puts the variant's first ref base at index ``(L - 1) // 2`` (the
study's ``L/2 - 1`` for even L, paper.md §1.3 T3), on the + strand. Beyond a chromosome end
the window is padded with N (counted). The alt window is the ref window with the allele
swapped in, so ref and alt always have the same length and the same context.

Saturation-mutagenesis sets have three alts per position: variants are processed in genome
order and every chunk embeds each distinct ref window once (:class:`SiteChunk`), so the
shared context is computed once per site, not once per variant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glmprobe.variants.genome import Genome


def centre(length: int) -> int:
    """Index of the variant's first base in a window of ``length``."""
    return (length - 1) // 2


@dataclass
class SiteChunk:
    """One chunk of variants: the distinct ref windows and one alt window per variant."""

    rows: np.ndarray        # (k,) row numbers into the variants frame
    ref: list[str]          # distinct ref windows (one per site)
    alt: list[str]          # (k,) alt windows
    site: np.ndarray        # (k,) index into ``ref`` for each variant
    width: np.ndarray       # (k,) allele length
    offset: int             # index of the variant's first base in every window
    n_padded: int           # windows that reach past a chromosome end

    def __len__(self) -> int:
        return len(self.rows)


def genome_order(df: pd.DataFrame) -> np.ndarray:
    """Row order that puts the alts of one site next to each other (stable)."""
    keys = pd.DataFrame({"c": df["chrom_genome"].astype(str), "p": df["pos"].to_numpy()})
    return keys.sort_values(["c", "p"], kind="stable").index.to_numpy()


def iter_chunks(df: pd.DataFrame, genome: Genome, length: int, chunk: int = 256) -> Iterator[SiteChunk]:
    """SiteChunks of at most ``chunk`` variants (a site's alts never split across chunks)."""
    order = genome_order(df)
    c = centre(length)
    chrom = df["chrom_genome"].to_numpy()
    pos = df["pos"].to_numpy()
    ref = df["ref"].to_numpy()
    alt = df["alt"].to_numpy()
    a = 0
    while a < len(order):
        b = min(a + chunk, len(order))
        while b < len(order) and (chrom[order[b]], pos[order[b]]) == (chrom[order[b - 1]], pos[order[b - 1]]):
            b += 1   # keep the alts of the last site together
        rows = order[a:b]
        sites: dict[tuple, int] = {}
        refs, alts, site, width, padded = [], [], np.empty(len(rows), np.int64), np.empty(len(rows), np.int64), 0
        for j, r in enumerate(rows):
            m = len(ref[r])
            key = (chrom[r], int(pos[r]), m)
            if key not in sites:
                start = int(pos[r]) - 1 - c
                window = genome.fetch(chrom[r], start, start + length)
                padded += start < 0 or start + length > genome.lengths[chrom[r]]
                sites[key] = len(refs)
                refs.append(window)
            k = sites[key]
            w = refs[k]
            alts.append(w[:c] + alt[r] + w[c + m:])
            site[j], width[j] = k, m
        yield SiteChunk(rows, refs, alts, site, width, c, int(padded))
        a = b
