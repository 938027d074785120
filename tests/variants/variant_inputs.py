"""Constants and helpers shared by the variants tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import numpy as np

# chr1: 300 bp, chr2: 120 bp, fixed by a seed so ref bases are known to the tests
_RNG = np.random.default_rng(7)
CHR1 = "".join(_RNG.choice(list("ACGT"), 300))
CHR2 = "".join(_RNG.choice(list("ACGT"), 120))


def other(base: str) -> str:
    return "ACGT"[("ACGT".index(base) + 1) % 4]


def cagi5_text(rows: list[tuple], element: str) -> str:
    """The CAGI5 regulation-saturation layout: ## comments, a #Chrom header, hg19 1-based rows."""
    head = [f"## CAGI5 regulation saturation challenge: {element}",
            "## Saturation mutagenesis MPRA (Kircher et al. 2019)",
            "## Genome build: GRCh37/hg19",
            "## Value: log2 variant expression effect",
            "## Confidence: confidence score of the value",
            "## Coordinates: 1-based",
            "#Chrom\tPos\tRef\tAlt\tValue\tConfidence"]
    return "\n".join(head + ["\t".join(map(str, r)) for r in rows]) + "\n"


VCF_HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=300>
##contig=<ID=chr2,length=120>
##INFO=<ID=EFFECT,Number=1,Type=Float,Description="measured effect">
##INFO=<ID=LOCUS,Number=1,Type=String,Description="locus">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""
