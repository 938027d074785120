"""Tiny inputs for the variants tests: a two-chromosome genome, CAGI5-layout files, a VCF."""

from __future__ import annotations

import pytest
from variant_inputs import CHR1, CHR2, VCF_HEADER, cagi5_text, other


@pytest.fixture
def genome(tmp_path):
    path = tmp_path / "genome.fa"
    with open(path, "w") as fh:
        for name, seq in (("chr1", CHR1), ("chr2", CHR2)):
            fh.write(f">{name}\n" + "".join(seq[a:a + 60] + "\n" for a in range(0, len(seq), 60)))
    return path


@pytest.fixture
def cagi5_files(tmp_path):
    """release_ELEM1.tsv and challenge_ELEM1.tsv on chr1 (chromosome written without 'chr', as in CAGI5)."""
    rel = [(1, p, CHR1[p - 1], other(CHR1[p - 1]), round(0.1 * i - 0.5, 2), 0.5) for i, p in enumerate(range(140, 152))]
    cha = [(1, p, CHR1[p - 1], other(other(CHR1[p - 1])), round(0.05 * i, 2), 0.05) for i, p in enumerate(range(140, 146))]
    a, b = tmp_path / "release_ELEM1.tsv", tmp_path / "challenge_ELEM1.tsv"
    a.write_text(cagi5_text(rel, "ELEM1"))
    b.write_text(cagi5_text(cha, "ELEM1"))
    return [a, b]


@pytest.fixture
def vcf_file(tmp_path):
    lines = [f"chr1\t{p}\trs{p}\t{CHR1[p - 1]}\t{other(CHR1[p - 1])}\t.\tPASS\tEFFECT={0.1 * p:.1f};LOCUS=A"
             for p in (100, 101, 102)]
    p = 60
    lines.append(f"chr2\t{p}\t.\t{CHR2[p - 1]}\t{other(CHR2[p - 1])},{other(other(CHR2[p - 1]))}\t.\tPASS\t"
                 "EFFECT=-1.0;LOCUS=B")
    path = tmp_path / "small.vcf"
    path.write_text(VCF_HEADER + "\n".join(lines) + "\n")
    return path
