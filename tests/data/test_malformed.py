"""Bad input through the real CLI: exit code 2, one line naming the file and record, no output folder."""

from __future__ import annotations

import codecs
import logging

import h5py
import numpy as np
import pytest
from tests.data.conftest import random_seqs, write_genome, write_h5, write_sheet, write_table

from glmprobe.record import read_record


def _table(tmp, text, **row):
    (tmp / "t.tsv").write_text(text)
    return write_sheet(tmp, {"id": "d", "format": "table", "path": "t.tsv", **row}), "t.tsv"


def _good_rows(n=20, extra=""):
    names = ["train"] * 8 + ["valid", "test"]
    seqs = random_seqs(n, 12)
    return "".join(f"s{i}\t{s}\t{names[i % 10]}\t{i * 0.5}{extra}\n" for i, s in enumerate(seqs))


HEAD = "id\tsequence\tsplit\ty\n"


def _fasta(tmp, fasta_ids, label_ids, **row):
    seqs = random_seqs(len(fasta_ids), 12)
    (tmp / "s.fa").write_text("".join(f">{i} some description\n{s}\n" for i, s in zip(fasta_ids, seqs)))
    (tmp / "l.csv").write_text("id,y\n" + "".join(f"{i},{k}\n" for k, i in enumerate(label_ids)))
    return write_sheet(tmp, {"id": "d", "format": "fasta", "path": "s.fa", "labels": "l.csv", "split": "random",
                             "split_args": "train=0.6;valid=0.2;test=0.2", **row})


def _bed(tmp, lines, **row):
    write_genome(tmp / "g.fa", {"chr1": 300, "chr2": 200})
    (tmp / "r.bed").write_text("".join(lines))
    return write_sheet(tmp, {"id": "d", "format": "bed", "path": "r.bed", "genome": "g.fa", "split": "random",
                             **row}), "r.bed"


def _good_bed(n=20):
    return [f"chr1\t{50 + 10 * i}\t{50 + 10 * i + 20}\tr{i}\t0\t{'+-'[i % 2]}\t{i * 0.1}\n" for i in range(n)]


def _h5(tmp, fmt="chip_h5", task=None, **kw):
    write_h5(tmp / "x.h5", "binary", **kw)
    return write_sheet(tmp, {"id": "d", "format": fmt, "path": "x.h5", **({"task": task} if task else {})}), "x.h5"


def case_empty_file(tmp):
    return _table(tmp, "") + ("is empty",)


def case_header_without_sequence(tmp):
    return _table(tmp, "id\tseq\tsplit\ty\ns1\tACGT\ttrain\t1\n") + ("no sequence column 'sequence'",)


def case_header_only(tmp):
    return _table(tmp, HEAD) + ("table has a header but no rows",)


def case_missing_fasta_labels(tmp):
    return _fasta(tmp, [f"a{i}" for i in range(12)], [f"a{i}" for i in range(10)]), "s.fa", \
        "2 FASTA record(s) have no row in the labels table: 'a10', 'a11'"


def case_extra_label_ids(tmp):
    return _fasta(tmp, [f"a{i}" for i in range(10)], [f"a{i}" for i in range(11)]), "l.csv", \
        "1 labels row(s) have no FASTA record: 'a10'"


def case_duplicate_fasta_record(tmp):
    return _fasta(tmp, ["a0", "a1", "a1", "a2"], ["a0", "a1", "a2"]), "s.fa", "duplicate record id 'a1'"


def case_duplicate_label_ids(tmp):
    return _fasta(tmp, ["a0", "a1"], ["a0", "a1", "a1"]), "l.csv", "duplicate id 'a1'"


def case_non_numeric_label(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGTACGTACGT\ttrain\thigh\n") + ("'high' is not a number",)


def case_nan_binary_label(tmp):
    rows = [f"s{i}\t{s}\t{(['train'] * 8 + ['valid', 'test'])[i % 10]}\t{i % 2}\n"
            for i, s in enumerate(random_seqs(20, 12))]
    rows[5] = rows[5].rsplit("\t", 1)[0] + "\tNaN\n"
    return _table(tmp, HEAD + "".join(rows)) + ("line 7): missing label (NaN) in a binary dataset",)


def case_inf_label(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGTACGTACGT\ttrain\tinf\n") + ("line 22): target 'y' is inf",)


def case_binary_label_2(tmp):
    rows = _good_rows().replace("\t0.5\n", "\t2\n")
    rows = "".join(line.rsplit("\t", 1)[0] + f"\t{0 if i % 2 else 1}\n" if i != 1 else line
                   for i, line in enumerate(rows.splitlines(keepends=True)))
    return _table(tmp, HEAD + rows, task="binary") + ("line 3): label 'y' is 2; a binary label must be 0 or 1",)


def case_one_class(tmp):
    rows = "".join(line.rsplit("\t", 1)[0] + "\t0\n" for line in _good_rows().splitlines())
    return _table(tmp, HEAD + rows) + ("target(s) 'y' have a single class",)


def case_unequal_lengths(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGT\ttrain\t1\n", length=12) + \
        ("line 22): sequence length 4, expected 12",)


def case_invalid_character(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGTXCGTACGT\ttrain\t1\n") + \
        ("line 22): invalid character 'X' at position 5",)


def case_empty_sequence_cell(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\t\ttrain\t1\n") + ("line 22): empty 'sequence' cell",)


def case_duplicate_ids(tmp):
    return _table(tmp, HEAD + _good_rows() + "s3\tACGTACGTACGT\ttrain\t1\n") + ("line 22): duplicate id 's3'",)


def case_unknown_split_name(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGTACGTACGT\ttraining\t1\n") + \
        ("line 22): unknown split name 'training'",)


def case_empty_split(tmp):
    rows = _good_rows().replace("\ttest\t", "\ttrain\t")
    return _table(tmp, HEAD + rows) + ("split(s) test would be empty",)


def case_ragged_line(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGT\ttrain\t1\t7\n") + ("cannot parse the table",)


def case_missing_target_column(tmp):
    return _table(tmp, HEAD + _good_rows(), target_cols="y;z") + ("no target column 'z'",)


def case_utf16_csv(tmp):
    (tmp / "t.csv").write_bytes(codecs.BOM_UTF16_LE + "id,sequence,y\ns1,ACGT,1\n".encode("utf-16-le"))
    return write_sheet(tmp, {"id": "d", "format": "table", "path": "t.csv"}), "t.csv", "UTF-16"


def case_truncated_gzip(tmp):
    write_table(tmp / "t.tsv", n=400, gz=True)
    data = (tmp / "t.tsv").read_bytes()
    (tmp / "t.tsv").write_bytes(data[: len(data) // 2])
    return write_sheet(tmp, {"id": "d", "format": "table", "path": "t.tsv"}), "t.tsv", "truncated or corrupt"


def case_leakage_error(tmp):
    rows = _good_rows()
    seq = rows.splitlines()[0].split("\t")[1]
    comp = seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]  # reverse complement leaks too
    return _table(tmp, HEAD + rows + f"s99\t{comp}\ttest\t1\n") + ("1 test sequences also occur in train",
                                                                      "--on-leakage", "error")


def case_bed_start_after_end(tmp):
    return _bed(tmp, _good_bed() + ["chr1\t50\t40\tbad\t0\t+\t1\n"]) + ("line 21): bad region chr1:50-40",)


def case_unknown_chromosome(tmp):
    return _bed(tmp, _good_bed() + ["chrX\t0\t20\tbad\t0\t+\t1\n"]) + ("line 21): chromosome 'chrX' is not in",)


def case_region_out_of_bounds(tmp):
    return _bed(tmp, _good_bed() + ["chr2\t150\t199\tedge\t0\t+\t1\n"], width=100) + \
        ("line 21): region chr2:124-224 is outside the chromosome (length 200)",)


def case_chrom_split_on_table(tmp):
    return _table(tmp, HEAD + _good_rows(), split="chrom", split_args="test=chr1")[:1] + \
        ("datasets.csv", "split=chrom needs genomic coordinates")


def case_h5_missing_key(tmp):
    return _h5(tmp, groups=("train", "valid")) + ("missing key 'x_test'",)


def case_h5_mismatched_layout(tmp):
    return _h5(tmp, fmt="eclip_h5") + ("missing key 'X_train'",)


def case_h5_x_y_lengths(tmp):
    sheet, name = _h5(tmp)
    with h5py.File(tmp / "x.h5", "a") as h5:
        del h5["y_valid"]
        h5["y_valid"] = np.zeros((7, 1), dtype=np.float32)
    return sheet, name, "'x_valid' has 20 rows but 'y_valid' has 7"


def case_h5_not_onehot(tmp):
    sheet, name = _h5(tmp)
    with h5py.File(tmp / "x.h5", "a") as h5:
        x = h5["x_test"][:]
        x[3, 5, 2] = 2
        h5["x_test"][:] = x
    return sheet, name, "x_test[3]): not one-hot"


def case_h5_splicing_length(tmp):
    write_h5(tmp / "x.h5", "reg", length=30, y_shape=(20, 56, 2))
    return write_sheet(tmp, {"id": "d", "format": "splicing_h5", "path": "x.h5"}), "x.h5", \
        "has length 30; format splicing_h5 expects 800"


def case_unknown_format(tmp):
    write_table(tmp / "t.tsv")
    return write_sheet(tmp, {"id": "d", "format": "parquet", "path": "t.tsv"}), "datasets.csv", \
        "column 'format'): 'parquet' is not one of"


def case_missing_required_sheet_column(tmp):
    return write_sheet(tmp, {"id": "d", "format": "table"}), "datasets.csv", "missing value in required column 'path'"


def case_fasta_without_labels(tmp):
    (tmp / "s.fa").write_text(">a\nACGT\n")
    return write_sheet(tmp, {"id": "d", "format": "fasta", "path": "s.fa"}), "datasets.csv", \
        "required column 'labels' for format 'fasta'"


def case_bad_split_args_syntax(tmp):
    return _table(tmp, HEAD + _good_rows(), split="random", split_args="80/10/10")[:1] + \
        ("datasets.csv", "split_args must look like")


def case_bad_split_fractions(tmp):
    return _table(tmp, HEAD + _good_rows(), split="random", split_args="train=0.8;valid=0.3;test=0.1")[:1] + \
        ("datasets.csv", "must be in [0, 1] and sum to 1")


def case_bad_seed(tmp):
    return _table(tmp, HEAD + _good_rows(), seed="one")[:1] + ("datasets.csv", "'one' is not a valid integer")


def case_bad_dataset_id(tmp):
    write_table(tmp / "t.tsv")
    return write_sheet(tmp, {"id": "my data", "format": "table", "path": "t.tsv"}), "datasets.csv", \
        "id may only contain"


def case_input_not_found(tmp):
    return write_sheet(tmp, {"id": "d", "format": "table", "path": "nope.tsv"}), "nope.tsv", "input file not found"


def case_log1p_below_minus_one(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tACGTACGTACGT\ttrain\t-1\n", log1p="true") + \
        ("line 22): target 'y' is -1: log1p needs values > -1",)


# --- issue 11: the classes a fresh catalog found going through silently or with the wrong message
def _rc(seq):
    return seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def _reg_rows(n=20, y2=lambda i, split: f"{-i}"):
    names = ["train"] * 8 + ["valid", "test"]
    return "".join(f"s{i}\t{s}\t{names[i % 10]}\t{i * 0.5}\t{y2(i, names[i % 10])}\n"
                   for i, s in enumerate(random_seqs(n, 12)))


def case_h5_split_lengths_differ(tmp):
    write_h5(tmp / "x.h5", "binary", lengths={"test": 29})
    return write_sheet(tmp, {"id": "d", "format": "chip_h5", "path": "x.h5"}), "x.h5", \
        "'x_test' holds sequences of length 29 but 'x_train' holds length 30"


def case_regression_target_missing_in_whole_split(tmp):
    rows = _reg_rows(y2=lambda i, split: "" if split == "test" else f"{-i}")
    return _table(tmp, "id\tsequence\tsplit\ty1\ty2\n" + rows) + \
        ("target 'y2' is missing (NaN or empty) in every row of the test split (2 rows)",)


def case_bed_unequal_width_with_fixed_length(tmp):
    lines = _good_bed()
    lines[4] = "chr1\t90\t120\tr4\t0\t+\t0.4\n"
    return _bed(tmp, lines, length=20) + ("line 5): sequence length 30, expected 20. Set width=20",)


def case_chip_h5_label_out_of_range(tmp):
    sheet, name = _h5(tmp)
    with h5py.File(tmp / "x.h5", "a") as h5:
        y = h5["y_train"][:]
        y[3, 0] = 2
        h5["y_train"][:] = y
    return sheet, name, "x_train[3]): label 'bound' is 2; format chip_h5 is the study's binary layout"


def case_eclip_h5_nan_label(tmp):
    write_h5(tmp / "x.h5", "binary", nlc=False, channels=5, x_key="X_{g}", y_key="Y_{g}")
    with h5py.File(tmp / "x.h5", "a") as h5:
        y = h5["Y_valid"][:]
        y[1, 0] = np.nan
        h5["Y_valid"][:] = y
    return write_sheet(tmp, {"id": "d", "format": "eclip_h5", "path": "x.h5"}), "x.h5", \
        "X_valid[1]): missing label (NaN) in a binary dataset"


def case_task_contradicts_format(tmp):
    return _h5(tmp, task="regression")[0], "datasets.csv", "task regression contradicts format chip_h5"


def case_binary_test_split_one_class(tmp):
    names = (["train"] * 8 + ["valid", "test"]) * 2
    rows = "".join(f"s{i}\t{s}\t{p}\t{1 if p == 'test' else i % 2}\n"
                   for i, (s, p) in enumerate(zip(random_seqs(20, 12), names)))
    return _table(tmp, HEAD + rows) + ("target 'y' has a single class in the test split (2 positive, 0 negative)",
                                       )


def case_all_n_sequence(tmp):
    return _table(tmp, HEAD + _good_rows() + "s99\tNNNNNnnnNNNN\ttrain\t1\n") + \
        ("line 22): sequence is entirely N (12 nt)",)


def case_bed_region_inside_assembly_gap(tmp):
    sheet, name = _bed(tmp, _good_bed() + ["chr2\t120\t150\tgap\t0\t+\t1\n"])
    text = (tmp / "g.fa").read_text().split(">chr2")
    seq = "".join(text[1].splitlines()[1:])
    seq = seq[:100] + "N" * 60 + seq[160:]
    (tmp / "g.fa").write_text(text[0] + ">chr2 description\n" + seq + "\n")
    return sheet, name, "line 21): sequence is entirely N (30 nt)"


def case_lentimpra_seq_strings_disagree(tmp):
    write_h5(tmp / "x.h5", "reg", x_key="onehot_{g}", y_key="y_{g}", seq_key="seq_{g}")
    with h5py.File(tmp / "x.h5", "a") as h5:
        seqs = [v.decode() for v in h5["seq_valid"][:]]
        seqs[4] = seqs[4][:5] + ("A" if seqs[4][5] != "A" else "C") + seqs[4][6:]
        h5["seq_valid"][:] = np.array(seqs, dtype=h5py.string_dtype())
    return write_sheet(tmp, {"id": "d", "format": "lentimpra_h5", "path": "x.h5"}), "x.h5", \
        "seq_valid[4] disagrees with the one-hot onehot_valid[4] (position 6"


def case_lentimpra_seq_strings_wrong_count(tmp):
    write_h5(tmp / "x.h5", "reg", x_key="onehot_{g}", y_key="y_{g}", seq_key="seq_{g}")
    with h5py.File(tmp / "x.h5", "a") as h5:
        del h5["seq_test"]
        h5["seq_test"] = np.array(["ACGT"] * 3, dtype=h5py.string_dtype())
    return write_sheet(tmp, {"id": "d", "format": "lentimpra_h5", "path": "x.h5"}), "x.h5", \
        "'seq_test' has shape (3,) but 'onehot_test' has 20 rows"


ADAPTOR5, ADAPTOR3 = "AGGACCGGATCAACT", "CATTGCGTGAACCGA"     # 15-nt constant flanks, as in lentiMPRA


def _mpra_with_orientation_pair(tmp, n=60):
    """A lentiMPRA-like table: test row s9 is the reverse orientation of train row s0."""
    elements = random_seqs(n, 200, seed=8)
    elements[9] = _rc(elements[0])
    names = ["train"] * 8 + ["valid", "test"]
    rows = "".join(f"s{i}\t{ADAPTOR5}{e}{ADAPTOR3}\t{names[i % 10]}\t{i * 0.1:.1f}\n" for i, e in enumerate(elements))
    return _table(tmp, HEAD + rows)


def case_leakage_error_orientation_pair(tmp):
    return _mpra_with_orientation_pair(tmp) + ("near-duplicates (shared 31-mer minimizers (>= 2)): 0 valid and 1 test",
                                               "--on-leakage", "error")


def case_leakage_error_overlapping_bed_windows(tmp):
    lines = [f"chr1\t{20 * i}\t{20 * i + 15}\tr{i}\t0\t+\t{i}\t{'train' if i < 8 else 'valid'}\n"
             for i in range(10)]
    lines += ["chr2\t0\t15\tt0\t0\t+\t1\ttest\n", "chr1\t30\t45\tt1\t0\t-\t2\ttest\n"]  # t1 overlaps r1, r2
    return _bed(tmp, lines, split="column", split_col="label_2", target_cols="label_1") + \
        ("near-duplicates (overlapping genomic intervals): 0 valid and 1 test", "--on-leakage", "error")


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_exits_2_without_output(name, tmp_path, run_cli):
    sheet, filename, fragment, *extra = CASES[name](tmp_path)
    out = tmp_path / "out"
    res = run_cli(sheet, "--outdir", out, *extra)
    assert res.code == 2, res.err
    line = res.err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith("glmprobe: error: ")
    assert fragment in line
    assert filename in line
    assert not (out / "d").exists()
    assert not out.exists() or not any(p.name != ".gitkeep" for p in out.iterdir())


def test_at_least_25_distinct_malformed_inputs():
    assert len(CASES) >= 25


def test_unknown_dataset_id(tmp_path, run_cli):
    write_table(tmp_path / "t.tsv")
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv"})
    res = run_cli(sheet, "--id", "nope", "--outdir", tmp_path / "out")
    assert res.code == 2
    assert "dataset id(s) 'nope' not in the sheet" in res.err and "Known ids: d" in res.err
    assert not (tmp_path / "out" / "d").exists()


def test_sheet_not_found(tmp_path, run_cli):
    res = run_cli(tmp_path / "missing.csv", "--outdir", tmp_path / "out")
    assert res.code == 2 and "missing.csv" in res.err and "datasets sheet not found" in res.err


def test_duplicate_dataset_id_in_sheet(tmp_path, run_cli):
    write_table(tmp_path / "t.tsv")
    row = {"id": "d", "format": "table", "path": "t.tsv"}
    res = run_cli(write_sheet(tmp_path, row, row), "--outdir", tmp_path / "out")
    assert res.code == 2 and "line 3" in res.err and "duplicate dataset id 'd' (first on line 2)" in res.err


def test_unknown_sheet_column(tmp_path, run_cli):
    write_table(tmp_path / "t.tsv")
    (tmp_path / "s.csv").write_text("id,format,path,splitargs\nd,table,t.tsv,x\n")
    res = run_cli(tmp_path / "s.csv", "--outdir", tmp_path / "out")
    assert res.code == 2 and "unknown column(s) 'splitargs'" in res.err


def test_failed_force_rerun_keeps_previous_output(tmp_path, run_cli):
    write_table(tmp_path / "t.tsv")
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv"})
    assert run_cli(sheet, "--outdir", tmp_path / "out").code == 0
    before = (tmp_path / "out" / "d" / "dataset.h5").read_bytes()
    with open(tmp_path / "t.tsv", "a") as fh:
        fh.write("bad\tACGTNNXX\ttrain\t1\t2\n")
    res = run_cli(sheet, "--outdir", tmp_path / "out", "--force")
    assert res.code == 2 and "invalid character 'X'" in res.err
    assert (tmp_path / "out" / "d" / "dataset.h5").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["d"]   # no temp folders left


# --- awkward but usable input: prepared (exit 0), with a warning that gives counts, counts in the record
def warn_missing_regression_targets(tmp):
    rows = _reg_rows(y2=lambda i, split: "" if i in (0, 1, 2, 9) else "NaN" if i == 8 else f"{-i}")
    sheet, _ = _table(tmp, "id\tsequence\tsplit\ty1\ty2\n" + rows)
    return sheet, ["missing target values (NaN or empty) per split, masked out of the training loss",
                   "'y2' train 3, valid 1, test 1"], \
        lambda rec: rec["checks"]["missing_targets"] == {"y2": {"train": 3, "valid": 1, "test": 1}}


def warn_bed_unequal_widths(tmp):
    lines = _good_bed()
    for i in (2, 5, 7):
        lines[i] = f"chr1\t{50 + 10 * i}\t{50 + 10 * i + 24}\tr{i}\t0\t+\t0.1\n"
    sheet, _ = _bed(tmp, lines)
    return sheet, ["3 of 20 regions are not 20 nt wide (widths 20-24)", "set width=20 in the datasets sheet"], \
        lambda rec: rec["checks"]["lengths"] == {"min": 20, "max": 24, "distinct": 2, "most_common": 20, "other": 3}


def warn_mostly_n_sequences(tmp):
    rows = _good_rows() + "s98\tNNNNNNNACGTA\ttrain\t1\ns99\tNNNNNNACGTAC\ttrain\t1\n"   # 58 % and 50 % N
    sheet, _ = _table(tmp, HEAD + rows)
    return sheet, ["1 sequence(s) are more than 50% N"], \
        lambda rec: rec["checks"]["n_bases"]["mostly_n"] == 1 and rec["checks"]["n_bases"]["with_n"] == 2


def warn_bed_regions_overlap_gaps(tmp):
    sheet, _ = _bed(tmp, _good_bed())
    seq = (tmp / "g.fa").read_text().split(">chr2")[0]
    chr1 = "".join(seq.splitlines()[1:])
    chr1 = chr1[:100] + "N" * 12 + chr1[112:]          # a gap: r4 10/20 N, r5 12/20 N, r6 2/20 N
    rest = (tmp / "g.fa").read_text()[len(seq):]
    (tmp / "g.fa").write_text(">chr1\n" + chr1 + "\n" + rest)
    return sheet, ["3 region(s) overlap assembly gaps or other N runs of the genome (1 of them more than 50% N)"], \
        lambda rec: rec["checks"]["n_bases"]["with_n"] == 3 and rec["checks"]["n_bases"]["mostly_n"] == 1


def warn_task_inferred_and_why(tmp):
    rows = "".join(f"s{i}\t{s}\t{(['train'] * 8 + ['valid', 'test'])[i % 10]}\t{i % 3}\n"
                   for i, s in enumerate(random_seqs(20, 12)))
    sheet, _ = _table(tmp, HEAD + rows)
    return sheet, ["task regression inferred: a target is not 0/1 (2 for 'y' at line 4)",
                   "set 'task' in the datasets sheet"], \
        lambda rec: rec["checks"]["task"]["task"] == "regression" and rec["tags"]["task"] == "regression"


def warn_near_duplicates_orientation_pair(tmp):
    sheet, _ = _mpra_with_orientation_pair(tmp)
    return sheet, ["near-duplicates (shared 31-mer minimizers (>= 2)): 0 valid and 1 test rows of train rows"], \
        lambda rec: rec["leakage"]["near_duplicates"]["test_in_train"] == 1 and rec["leakage"]["test_in_train"] == 0


def warn_one_class_test_allowed(tmp):
    sheet, _, _ = case_binary_test_split_one_class(tmp)
    sheet.write_text(sheet.read_text().replace("format,path", "format,path,allow_single_class")
                     .replace("t.tsv\n", "t.tsv,true\n"))
    return sheet, ["target 'y' has a single class in the test split (2 positive, 0 negative)"], \
        lambda rec: "test" in rec["checks"]["single_class"]["y"]


WARN_CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("warn_")}


@pytest.mark.parametrize("name", sorted(WARN_CASES))
def test_awkward_input_prepares_with_counted_warning(name, tmp_path, run_cli, caplog):
    sheet, fragments, check_record = WARN_CASES[name](tmp_path)
    with caplog.at_level(logging.WARNING):
        res = run_cli(sheet, "--outdir", tmp_path / "out")
    assert res.code == 0, res.err
    for fragment in fragments:
        assert fragment in caplog.text
    rec = read_record(tmp_path / "out" / "d")
    assert any(fragments[0] in w for w in rec["warnings"])
    assert check_record(rec), rec["checks"]


def test_issue_11_catalog_size():
    assert len(CASES) >= 54 and len(WARN_CASES) >= 7
