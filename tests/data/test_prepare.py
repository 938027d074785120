"""The prepare step: splits, leakage policy, records, caching, warnings and the CLI process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.data.conftest import random_seqs, write_sheet, write_table

from glmprobe.data.dataset import DatasetFile, read_dataset
from glmprobe.data.leakage import canonical_hashes, check_leakage
from glmprobe.data.sheet import read_sheet
from glmprobe.record import read_record
from glmprobe.steps.prepare import prepare_rows

GLMPROBE = Path(sys.executable).with_name("glmprobe")


def _rows(seqs, splits, ys):
    return "id\tsequence\tsplit\ty\n" + "".join(f"s{i}\t{s}\t{p}\t{y}\n" for i, (s, p, y) in
                                                  enumerate(zip(seqs, splits, ys)))


def test_random_split_exact_seeded_and_reproducible(tmp_path):
    write_table(tmp_path / "t.tsv", n=200, splits=False)
    rows = [{"id": f"r{s}", "format": "table", "path": "t.tsv", "split": "random", "seed": s,
             "split_args": "train=0.7;valid=0.2;test=0.1"} for s in (1, 1, 2)]
    rows[1]["id"] = "r1b"
    sheet = write_sheet(tmp_path, *rows)
    a, b, c = (read_dataset(p) for p in prepare_rows(sheet, tmp_path / "out"))
    assert {s: int((a.split == s).sum()) for s in ("train", "valid", "test")} == {"train": 140, "valid": 40, "test": 20}
    assert list(a.split) == list(b.split) and list(a.split) != list(c.split)


def test_default_split_is_random_80_10_10(tmp_path):
    write_table(tmp_path / "t.tsv", n=50, splits=False)
    out = prepare_rows(write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv"}), tmp_path / "o")[0]
    assert read_record(out.parent)["n"] == {"train": 40, "valid": 5, "test": 5}


def test_fold_column_with_folds_split(tmp_path):
    seqs = random_seqs(30, 10)
    text = "id\tsequence\tfold\ty\n" + "".join(f"s{i}\t{s}\t{i % 10 + 1}\t{i}\n" for i, s in enumerate(seqs))
    (tmp_path / "t.tsv").write_text(text)
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv", "split": "folds",
                                   "split_col": "fold"})
    ds = read_dataset(prepare_rows(sheet, tmp_path / "o")[0])
    expect = ["train" if i % 10 + 1 <= 8 else "valid" if i % 10 + 1 == 9 else "test" for i in range(30)]
    assert list(ds.split) == expect


def test_leakage_counts_reverse_complements():
    seqs = ["AACC", "GGTT", "ACGA", "TTTT", "CCCC", "AAAA", "GGGG"]
    codes = np.array([0, 1, 2, 0, 2, 1, 1], dtype=np.uint8)
    leak = check_leakage(canonical_hashes(seqs), codes)
    # GGTT (valid) = rc(AACC) train; AAAA (valid) = rc(TTTT) train; CCCC (test) = rc(GGGG) valid
    assert leak.exact == {"valid_in_train": 2, "test_in_train": 0, "test_in_valid": 1}
    assert list(np.flatnonzero(leak.drop)) == [1, 4, 5]


@pytest.mark.parametrize("action", ["warn", "drop"])
def test_leakage_warn_and_drop(tmp_path, caplog, action):
    seqs = random_seqs(20, 12, seed=5)
    splits = (["train"] * 8 + ["valid", "test"]) * 2
    seqs[9] = seqs[0]                                        # test copies a train sequence
    seqs[8] = reverse = seqs[1].translate(str.maketrans("ACGT", "TGCA"))[::-1]  # valid = rc(train)
    (tmp_path / "t.tsv").write_text(_rows(seqs, splits, range(20)))
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv"})
    with caplog.at_level(logging.WARNING):
        path = prepare_rows(sheet, tmp_path / "o", on_leakage=action)[0]
    rec, ds = read_record(path.parent), read_dataset(path)
    assert rec["leakage"]["valid_in_train"] == 1 and rec["leakage"]["test_in_train"] == 1
    assert "1 valid and 1 test sequences also occur in train" in caplog.text
    if action == "drop":
        assert len(ds) == 18 and "s9" not in ds.ids and "s8" not in ds.ids and "s0" in ds.ids and "s1" in ds.ids
        assert rec["n"] == {"train": 16, "valid": 1, "test": 1} and rec["leakage"]["dropped"] == 2
    else:
        assert len(ds) == 20 and reverse in ds.sequences and rec["n"]["valid"] == 2


def test_record_cache_and_force(tmp_path, caplog):
    write_table(tmp_path / "t.tsv", n=30)
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv", "description": "tiny, test"})
    path = prepare_rows(sheet, tmp_path / "o")[0]
    rec = read_record(path.parent)
    with DatasetFile(path) as f:
        checksum, prov = f.checksum, f.provenance
    assert rec["step"] == "prepare" and rec["key"] == "datasets/d" and rec["dataset"]["checksum"] == checksum
    assert rec["n"] == {"train": 24, "valid": 3, "test": 3} and rec["tags"]["task"] == "regression"
    assert rec["inputs"]["data"]["sha256"] == prov["sources"]["data"]["sha256"] and prov["reader"] == "table"
    assert prov["options"]["description"] == "tiny, test"
    mtime = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        prepare_rows(sheet, tmp_path / "o")
    assert path.stat().st_mtime_ns == mtime and "up to date" in caplog.text          # skipped
    prepare_rows(sheet, tmp_path / "o", force=True)
    assert path.stat().st_mtime_ns != mtime and read_dataset(path).checksum == checksum  # redone, same content
    write_table(tmp_path / "t.tsv", n=30, seed=1)                                     # input changed
    prepare_rows(sheet, tmp_path / "o")
    assert read_record(path.parent)["cache_key"] != rec["cache_key"]
    prepare_rows(sheet, tmp_path / "o", on_leakage="drop")                            # option changed: redone
    assert read_record(path.parent)["params"]["on_leakage"] == "drop"


def test_iupac_warning_and_all_nan_rows_dropped(tmp_path, caplog):
    seqs = random_seqs(20, 10, seed=2)
    seqs[3] = "ACGTRYKMAC"
    (tmp_path / "t.tsv").write_text("id\tsequence\tsplit\ta\tb\n" + "".join(
        f"s{i}\t{s}\t{(['train'] * 8 + ['valid', 'test'])[i % 10]}\t{'' if i == 4 else i}\t{'NaN' if i in (4, 5) else -i}\n"
        for i, s in enumerate(seqs)))
    with caplog.at_level(logging.WARNING):
        path = prepare_rows(write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv"}), tmp_path / "o")[0]
    ds, rec = read_dataset(path), read_record(path.parent)
    assert "4 IUPAC ambiguity code(s) in 1 sequence(s) were converted to N" in caplog.text
    assert "dropped 1 row(s) whose targets are all NaN" in caplog.text
    assert "s4" not in ds.ids and len(ds) == 19 and ds.sequences[3] == "ACGTNNNNAC"
    assert np.isnan(ds.targets[4, 1]) and ds.targets[4, 0] == 5                    # partial NaN kept
    assert rec["dropped"]["all_nan_targets"] == 1 and rec["ambiguous"] == {"bases": 4, "records": 1}


def test_single_class_in_valid_warns_and_test_needs_allow_single_class(tmp_path, caplog):
    seqs = random_seqs(20, 10, seed=4)
    splits = (["train"] * 8 + ["valid", "test"]) * 2
    ys = [i % 2 if s == "train" else 1 for i, s in enumerate(splits)]
    (tmp_path / "t.tsv").write_text(_rows(seqs, splits, ys))
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv", "allow_single_class": "true"})
    with caplog.at_level(logging.WARNING):
        path = prepare_rows(sheet, tmp_path / "o")[0]
    assert "target 'y' has a single class in the valid split (2 positive, 0 negative)" in caplog.text
    assert "target 'y' has a single class in the test split" in caplog.text
    rec = read_record(path.parent)
    assert rec["checks"]["single_class"] == {"y": ["valid", "test"]}
    assert rec["checks"]["task"] == {"task": "binary", "reason": "inferred: every label is 0 or 1"}
    assert any("task binary inferred: every label is 0 or 1" in w for w in rec["warnings"])


def test_sheet_parsing_types_and_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "s.tsv").write_text("id\tformat\tpath\tseed\tlog1p\ttarget_cols\n# comment\n\n"
                                    "a\ttable\tsub/t.tsv\t7\tTrue\tx; y\n")
    (row,) = read_sheet(tmp_path / "s.tsv")
    assert row.path == tmp_path.resolve() / "sub" / "t.tsv" and row.seed == 7 and row.log1p is True
    assert row.target_cols == ("x", "y") and row.line == 4


def test_synth_sheet_prepares(synth_dir, tmp_path):
    paths = prepare_rows(synth_dir / "datasets.csv", tmp_path / "o")
    assert [p.parent.name for p in paths] == ["synth_mpra", "synth_chip"]
    mpra, chip = (read_dataset(p) for p in paths)
    assert mpra.task == "regression" and mpra.target_names == ["cellA", "cellB", "cellC"]
    assert chip.task == "binary" and set(np.unique(chip.targets)) == {0.0, 1.0}
    for p in paths:
        n = read_record(p.parent)["n"]
        assert min(n.values()) > 0 and sum(n.values()) == len(read_dataset(p))


def test_cli_process_success_and_user_error(tmp_path):
    write_table(tmp_path / "t.tsv", n=30)
    sheet = write_sheet(tmp_path, {"id": "d", "format": "table", "path": "t.tsv"},
                        {"id": "e", "format": "table", "path": "missing.tsv"})
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    ok = subprocess.run([GLMPROBE, "prepare", sheet, "--id", "d", "--outdir", tmp_path / "o"], capture_output=True,
                        text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(tmp_path / "o" / "d" / "dataset.h5")
    bad = subprocess.run([GLMPROBE, "prepare", sheet, "--id", "e", "--outdir", tmp_path / "o"], capture_output=True,
                         text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.tsv: input file not found" in bad.stderr
    assert not (tmp_path / "o" / "e").exists()
    rec = json.loads((tmp_path / "o" / "d" / "record.json").read_text())
    assert rec["leakage"]["action"] == "warn"
