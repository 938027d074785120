"""Check variants against the reference genome (pyfaidx) and decide what to keep.

Every problem a variant can have is counted under one reason and, depending on the user's
policy, either dropped (listed in ``dropped.tsv`` with its file and line) or refused with a
one-line :class:`~glmprobe.errors.UserError` naming the file and line:

=================  ===============================================  ===============
reason             what                                             policy option
=================  ===============================================  ===============
unknown_chrom      chromosome not in the genome (``chr`` tolerated)  ``on_invalid``
out_of_bounds      allele runs past the chromosome end               ``on_invalid``
bad_allele         non-ACGT allele, or ref == alt                    ``on_invalid``
indel              ref and alt of different lengths                  ``on_indel``
ref_mismatch       genome base(s) differ from ref                    ``on_mismatch``
duplicate          same chrom/pos/ref/alt seen before (first kept)   ``on_duplicate``
=================  ===============================================  ===============

Indels are not scored: a window centred on an indel has a different length or frame for ref
and alt, and the study scored substitutions only. Equal-length multi-base substitutions are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from glmprobe.data.readers.base import check_file, is_gzip
from glmprobe.errors import UserError

REASONS = ("unknown_chrom", "out_of_bounds", "bad_allele", "indel", "ref_mismatch", "duplicate")
POLICY_OF = {"unknown_chrom": "on_invalid", "out_of_bounds": "on_invalid", "bad_allele": "on_invalid",
             "indel": "on_indel", "ref_mismatch": "on_mismatch", "duplicate": "on_duplicate"}
OPTION_OF = {"on_invalid": "--on-invalid", "on_indel": "--on-indel", "on_mismatch": "--on-mismatch",
             "on_duplicate": "--on-duplicate"}
_ACGT = frozenset("ACGT")


@dataclass
class Policy:
    """``drop`` (count, list and continue) or ``error`` (refuse) per kind of problem."""

    on_invalid: str = "error"     # a wrong genome build or a typo: refuse by default
    on_indel: str = "drop"
    on_mismatch: str = "drop"     # the study dropped ref mismatches (paper.md §1.3, T3)
    on_duplicate: str = "drop"


class Genome:
    """A FASTA opened with pyfaidx; chromosome names matched with or without a ``chr`` prefix."""

    def __init__(self, path: str | Path):
        import pyfaidx

        self.path = check_file(Path(path), "reference genome")
        if is_gzip(self.path):
            with open(self.path, "rb") as fh:
                if fh.read(16)[12:14] != b"BC":
                    raise UserError("reference genome is gzip- but not bgzip-compressed", path=self.path,
                                    hint="Decompress it (gunzip) or recompress it with `bgzip`")
        try:
            self.fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=True,
                                       rebuild=False, build_index=True)
        except Exception as exc:  # pyfaidx raises many types for unreadable genomes
            raise UserError(f"cannot index the reference genome ({type(exc).__name__}: {exc})", path=self.path,
                            hint="It must be a FASTA file (plain or bgzip) with a .fai beside it or in a "
                                 "writable folder") from None
        self.lengths = {name: len(rec) for name, rec in self.fasta.records.items()}

    def resolve(self, chrom: str) -> str | None:
        """The genome's name for ``chrom`` (``1`` ~ ``chr1``, ``MT`` ~ ``chrM``), or None."""
        if chrom in self.lengths:
            return chrom
        bare = chrom[3:] if chrom.lower().startswith("chr") else chrom
        for name in (bare, f"chr{bare}", "chrM" if bare in ("M", "MT") else None, "MT" if bare == "M" else None):
            if name and name in self.lengths:
                return name
        return None

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases [start, end) (0-based) of a resolved chromosome, N outside it; non-ACGT bases -> N."""
        n = self.lengths[chrom]
        a, b = max(start, 0), min(end, n)
        core = str(self.fasta[chrom][a:b]) if b > a else ""
        core = core.translate(_TO_N)
        return "N" * (a - start) + core + "N" * (end - b)

    def close(self) -> None:
        self.fasta.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# every byte that is not A/C/G/T becomes N (IUPAC codes, gaps): models read A/C/G/T/N only
_TO_N = {c: "N" for c in range(256) if chr(c) not in _ACGT}


@dataclass
class CheckResult:
    """Variants that passed, and the problems found (counted per reason, listed per row)."""

    kept: pd.DataFrame
    dropped: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    n_renamed: int = 0             # chromosome names matched through the chr prefix


def check_variants(df: pd.DataFrame, genome: Genome, policy: Policy = Policy()) -> CheckResult:
    """Resolve chromosomes, check alleles and ref bases, drop or refuse per ``policy``."""
    reasons = np.full(len(df), "", dtype=object)
    resolved = np.empty(len(df), dtype=object)
    cache: dict[str, str | None] = {}
    seen: set[tuple] = set()
    for i, row in enumerate(df.itertuples(index=False)):
        if row.chrom not in cache:
            cache[row.chrom] = genome.resolve(row.chrom)
        chrom = cache[row.chrom]
        resolved[i] = chrom
        ref, alt = row.ref, row.alt
        if chrom is None:
            reason, detail = "unknown_chrom", (f"chromosome {row.chrom!r} is not in the genome "
                                               f"(it has {_some(genome.lengths)})")
        elif not ref or not alt or set(ref) - _ACGT or set(alt) - _ACGT or ref == alt:
            reason, detail = "bad_allele", f"alleles {ref!r}>{alt!r} are not a change of A/C/G/T bases"
        elif len(ref) != len(alt):
            reason, detail = "indel", f"{ref}>{alt} is an indel; only substitutions (equal lengths) are scored"
        elif row.pos - 1 + len(ref) > genome.lengths[chrom]:
            reason, detail = "out_of_bounds", (f"position {row.pos} is beyond the end of {chrom} "
                                               f"({genome.lengths[chrom]} bp)")
        else:
            base = genome.fetch(chrom, row.pos - 1, row.pos - 1 + len(ref))
            key = (chrom, row.pos, ref, alt)
            if base != ref:
                reason, detail = "ref_mismatch", f"ref {ref} but the genome has {base} at {chrom}:{row.pos}"
            elif key in seen:
                reason, detail = "duplicate", f"{chrom}:{row.pos} {ref}>{alt} was already read"
            else:
                seen.add(key)
                continue
        reasons[i] = reason
        option = POLICY_OF[reason]
        if getattr(policy, option) == "error":
            raise UserError(detail, path=row.source, where=f"line {row.line}",
                            hint=f"Fix the input, or pass {OPTION_OF[option]} drop to drop such variants "
                                 "(they are counted and listed in dropped.tsv)")
    out = df.copy()
    out["chrom_genome"] = resolved
    bad = reasons != ""
    dropped = out.loc[bad, ["id", "chrom", "pos", "ref", "alt", "source", "line"]].copy()
    dropped["reason"] = reasons[bad]
    counts = {r: int((reasons == r).sum()) for r in REASONS}
    renamed = int(sum(1 for c, g in zip(out["chrom"], resolved) if g is not None and g != c))
    return CheckResult(out.loc[~bad].reset_index(drop=True), dropped.reset_index(drop=True), counts, renamed)


def _some(names, k: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:k]) + (f", ... ({len(names)} in all)" if len(names) > k else "")
