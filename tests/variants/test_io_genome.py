"""Readers (table, VCF, CAGI5), genome checks and windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from variant_inputs import CHR1, CHR2, VCF_HEADER, other

from glmprobe.errors import UserError
from glmprobe.variants.genome import Genome, Policy, check_variants
from glmprobe.variants.io import detect_format, read_variants
from glmprobe.variants.windows import centre, iter_chunks


def test_cagi5_release_and_challenge_merged(cagi5_files, genome):
    assert [detect_format(p) for p in cagi5_files] == ["cagi5", "cagi5"]
    df = read_variants(cagi5_files)
    assert len(df) == 12 + 6
    assert set(df["group"]) == {"ELEM1"} and set(df["set"]) == {"release", "challenge"}
    assert df["effect"].iloc[0] == -0.5 and df["confidence"].iloc[-1] == 0.05
    assert df["line"].iloc[0] == 8                      # 7 header lines, as the study skipped
    with Genome(genome) as g:
        res = check_variants(df, g)
    assert len(res.kept) == 18 and res.n_renamed == 18  # '1' matched to 'chr1'


def test_cagi5_header_detected_without_the_file_name(tmp_path, cagi5_files):
    other_name = tmp_path / "ldlr_hg19.tsv"
    other_name.write_text(cagi5_files[0].read_text())
    assert detect_format(other_name) == "cagi5"
    assert read_variants([other_name])["group"].iloc[0] == "ldlr_hg19"


def test_vcf_multiallelic_split_with_info_fields(vcf_file):
    df = read_variants([vcf_file], effect_col="EFFECT", group_col="LOCUS")
    assert len(df) == 5
    assert list(df["group"]) == ["A", "A", "A", "B", "B"]
    assert df["effect"].tolist() == pytest.approx([10.0, 10.1, 10.2, -1.0, -1.0])
    assert df["id"].iloc[0] == "rs100"
    assert df["line"].tolist() == [7, 8, 9, 10, 10]
    assert df["alt"].iloc[3] != df["alt"].iloc[4]


def test_malformed_vcf_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.vcf"
    path.write_text(VCF_HEADER + "chr1\t5\t.\tA\tC\t.\tPASS\t.\nchr1\tnotanumber\t.\tA\n")
    with pytest.raises(UserError, match=r"bad\.vcf \(line 8\)"):
        read_variants([path])


def test_table_aliases_and_bad_position(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(f"Chromosome,Position,REF,ALT,locus,effect\nchr1,10,{CHR1[9]},{other(CHR1[9])},L1,0.5\n")
    df = read_variants([path])
    assert df.loc[0, ["chrom", "pos", "group", "effect"]].tolist() == ["chr1", 10, "L1", 0.5]
    path.write_text("chrom,pos,ref,alt\nchr1,ten,A,C\n")
    with pytest.raises(UserError, match=r"v\.csv \(line 2\).*not an integer"):
        read_variants([path])
    path.write_text("chrom,ref,alt\nchr1,A,C\n")
    with pytest.raises(UserError, match="no pos column"):
        read_variants([path])


def _table(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    df["effect"], df["group"], df["source"] = 0.0, "g", "in.tsv"
    df["id"], df["line"] = [f"v{i}" for i in range(len(df))], np.arange(2, len(df) + 2)
    return df


def test_every_problem_counted_dropped_or_refused(genome):
    good = ("chr1", 50, CHR1[49], other(CHR1[49]))
    df = _table([good, good,                                          # duplicate
                 ("chr1", 51, other(CHR1[50]), CHR1[50]),             # ref mismatch
                 ("chr1", 52, CHR1[51] + CHR1[52], "A"),             # indel
                 ("chrX", 5, "A", "C"),                              # unknown chromosome
                 ("chr2", 121, "A", "C"),                            # past the end of chr2 (120 bp)
                 ("chr1", 53, "A", "A"),                             # not a change
                 ("2", 10, CHR2[9] + CHR2[10], other(CHR2[9]) + CHR2[10])])   # MNV, chr alias: kept
    drop_all = Policy(on_invalid="drop", on_indel="drop", on_mismatch="drop", on_duplicate="drop")
    with Genome(genome) as g:
        res = check_variants(df, g, drop_all)
        assert res.counts == {"unknown_chrom": 1, "out_of_bounds": 1, "bad_allele": 1, "indel": 1,
                              "ref_mismatch": 1, "duplicate": 1}
        assert res.kept["id"].tolist() == ["v0", "v7"]
        assert set(res.dropped["line"]) == {3, 4, 5, 6, 7, 8}
        with pytest.raises(UserError, match=r"in\.tsv \(line 6\): chromosome 'chrX' is not in the genome"):
            check_variants(df, g, Policy())                          # on_invalid=error is the default
        with pytest.raises(UserError, match=r"line 4\).*genome has"):
            check_variants(df, g, Policy(on_invalid="drop", on_mismatch="error"))
        with pytest.raises(UserError, match=r"line 3\).*already read"):
            check_variants(df, g, Policy(on_invalid="drop", on_duplicate="error"))
        with pytest.raises(UserError, match=r"line 5\).*indel"):
            check_variants(df, g, Policy(on_invalid="drop", on_indel="error"))


def test_windows_centred_padded_and_shared(genome):
    df = _table([("chr1", 3, CHR1[2], b) for b in "ACGT" if b != CHR1[2]] + [("chr1", 150, CHR1[149], other(CHR1[149]))])
    with Genome(genome) as g:
        df = check_variants(df, g).kept
        chunks = list(iter_chunks(df, g, 10, chunk=2))
    assert centre(10) == 4 and centre(11) == 5            # the study's L/2 - 1 for even L
    first = chunks[0]
    assert len(first) == 3 and len(first.ref) == 1        # 3 alts of one site share one ref window
    assert first.ref[0] == "NN" + CHR1[:8] and first.n_padded == 1   # padded before the chromosome start
    for alt in first.alt:
        assert [i for i in range(10) if alt[i] != first.ref[0][i]] == [4]
    last = chunks[1]
    assert last.ref[0] == CHR1[145:155] and last.alt[0][4] == other(CHR1[149]) and last.n_padded == 0
