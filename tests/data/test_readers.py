"""Happy paths of every reader: the dataset written matches the input exactly."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
from tests.data.conftest import random_seqs, write_genome, write_h5, write_sheet, write_table

from glmprobe.data.dataset import read_dataset
from glmprobe.data.onehot import encode, reverse_complement
from glmprobe.steps.prepare import prepare_rows


def _prepare(tmp, row, **kw):
    sheet = write_sheet(tmp, {"id": "d", **row})
    return read_dataset(prepare_rows(sheet, tmp / "out", **kw)[0])


@pytest.mark.parametrize("sep,gz,name", [("\t", False, "t.tsv"), (",", False, "t.csv"), (";", True, "t.data")])
def test_table_sniffs_delimiter_and_gzip(tmp_path, sep, gz, name):
    write_table(tmp_path / name, n=40, sep=sep, gz=gz)
    ds = _prepare(tmp_path, {"format": "table", "path": name})
    raw = pd.read_csv(tmp_path / name, sep=sep, compression="gzip" if gz else None)
    assert list(ds.ids) == list(raw["id"]) and list(ds.sequences) == list(raw["sequence"])
    np.testing.assert_allclose(ds.targets, raw[["y1", "y2"]].to_numpy(np.float32))
    assert list(ds.split) == list(raw["split"]) and ds.target_names == ["y1", "y2"] and ds.task == "regression"


def test_table_options_and_cleanup(tmp_path):
    (tmp_path / "t.csv").write_text(
        "name,seq,part,a,b,note\n"
        "x1,acgtRY,train,1,0,hello\nx2,ACGTAC,val,0,1,\nx3,ACGTTT,test,1,1,\nx4,GGGTTT,train,0,0,\n")
    ds = _prepare(tmp_path, {"format": "table", "path": "t.csv", "id_col": "name", "sequence_col": "seq",
                             "split_col": "part"})
    assert list(ds.ids) == ["x1", "x2", "x3", "x4"]
    assert ds.sequences[0] == "ACGTNN"                      # soft-mask uppercased, IUPAC -> N
    assert list(ds.split) == ["train", "valid", "test", "train"]
    assert ds.task == "multilabel" and ds.target_names == ["a", "b"]   # 'note' is text: not a target


def test_fasta_with_labels(tmp_path):
    seqs = random_seqs(30, 25, seed=3)
    (tmp_path / "s.fa").write_bytes(gzip.compress("".join(
        f">r{i} extra words\n{s[:10]}\n{s[10:].lower()}\n" for i, s in enumerate(seqs)).encode()))
    order = np.random.default_rng(0).permutation(30)          # labels in another order than the FASTA
    (tmp_path / "l.tsv").write_text("id\tscore\n" + "".join(f"r{i}\t{i / 10}\n" for i in order))
    ds = _prepare(tmp_path, {"format": "fasta", "path": "s.fa", "labels": "l.tsv", "seed": 3})
    assert list(ds.ids) == [f"r{i}" for i in range(30)]
    assert list(ds.sequences) == seqs
    np.testing.assert_allclose(ds.targets[:, 0], np.arange(30) / 10, rtol=1e-6)


def test_bed_strand_recentre_and_coords(tmp_path):
    genome = write_genome(tmp_path / "g.fa", {"chr1": 500, "chr2": 400})
    lines = ["#chrom\tstart\tend\tname\tscore\tstrand\tsignal\tsplit\n"]
    regions = [("chr1", 100, 140, "+"), ("chr1", 200, 230, "-"), ("chr2", 50, 90, "-"), ("chr2", 300, 320, "+")]
    for i, (c, a, b, s) in enumerate(regions):
        lines.append(f"{c}\t{a}\t{b}\tp{i}\t0\t{s}\t{i * 1.5}\t{['train', 'valid', 'test', 'train'][i]}\n")
    (tmp_path / "r.bed").write_text("".join(lines))
    ds = _prepare(tmp_path, {"format": "bed", "path": "r.bed", "genome": "g.fa", "width": 20})
    for i, (c, a, b, s) in enumerate(regions):
        start = (a + b) // 2 - 10
        ref = genome[c][start:start + 20].upper()
        assert ds.sequences[i] == (reverse_complement(ref) if s == "-" else ref)
        assert (ds.coords["chrom"][i], ds.coords["start"][i], ds.coords["end"][i], ds.coords["strand"][i]) == \
            (c, start, start + 20, s)
    assert list(ds.ids) == ["p0", "p1", "p2", "p3"] and ds.target_names == ["signal"]
    assert list(ds.split) == ["train", "valid", "test", "train"]


def test_bed3_without_header_and_chrom_split(tmp_path):
    write_genome(tmp_path / "g.fa", {"chr1": 400, "chr8": 400, "chr9": 400})
    lines = [f"{c}\t{10 * i}\t{10 * i + 15}\t{i % 2}\n" for c in ("chr1", "chr8", "chr9") for i in range(6)]
    (tmp_path / "r.bed").write_text("track name=x\n" + "".join(lines))
    ds = _prepare(tmp_path, {"format": "bed", "path": "r.bed", "genome": "g.fa", "split": "chrom",
                             "split_args": "valid=chr8;test=chr9"})
    assert ds.task == "binary" and ds.target_names == ["label"]
    expect = {"chr1": "train", "chr8": "valid", "chr9": "test"}
    assert [expect[c] for c in ds.coords["chrom"]] == list(ds.split)
    assert ds.ids[0] == "chr1:0-15(+)"


@pytest.mark.parametrize("nlc", [True, False])
def test_chip_h5_nlc_and_ncl(tmp_path, nlc):
    groups = write_h5(tmp_path / "x.h5", "binary", nlc=nlc)
    ds = _prepare(tmp_path, {"format": "chip_h5", "path": "x.h5"})
    assert list(ds.sequences) == groups["train"] + groups["valid"] + groups["test"]
    assert list(ds.split) == ["train"] * 20 + ["valid"] * 20 + ["test"] * 20
    assert ds.task == "binary" and ds.target_names == ["bound"] and ds.ids[0] == "train_00"
    with h5py.File(tmp_path / "x.h5") as h5:
        np.testing.assert_array_equal(ds.targets[:20, 0], h5["y_train"][:, 0])


def test_eclip_h5_uses_first_four_channels_and_decodes_n(tmp_path):
    groups = write_h5(tmp_path / "x.h5", "binary", nlc=False, channels=6, x_key="X_{g}", y_key="Y_{g}")
    with h5py.File(tmp_path / "x.h5", "a") as h5:
        x = h5["X_test"][:]
        x[0, :4, 3] = 0                                   # an all-zero position is N
        h5["X_test"][:] = x
    ds = _prepare(tmp_path, {"format": "eclip_h5", "path": "x.h5", "target_cols": "TIA1"})
    first_test = groups["test"][0]
    assert ds.sequences[40] == first_test[:3] + "N" + first_test[4:]
    assert ds.target_names == ["TIA1"]


def test_insert_h5_first_column_log1p(tmp_path):
    write_h5(tmp_path / "x.h5", "reg", y_cols=3, x_key="X_{g}", y_key="Y_{g}")
    with h5py.File(tmp_path / "x.h5", "a") as h5:
        for g in ("train", "valid", "test"):
            h5[f"Y_{g}"][:] = np.abs(h5[f"Y_{g}"][:])
        y = h5["Y_train"][:]
    ds = _prepare(tmp_path, {"format": "insert_h5", "path": "x.h5"})     # log1p is the default here
    assert ds.targets.shape == (60, 1) and ds.target_names == ["elongation"] and ds.task == "regression"
    np.testing.assert_allclose(ds.targets[:20, 0], np.log1p(y[:, 0]), rtol=1e-6)
    (tmp_path / "out").rename(tmp_path / "out_default")
    raw = _prepare(tmp_path, {"format": "insert_h5", "path": "x.h5", "log1p": "false"})   # turned off
    np.testing.assert_allclose(raw.targets[:20, 0], y[:, 0], rtol=1e-6)


def test_splicing_h5_segments_and_nan(tmp_path):
    write_h5(tmp_path / "x.h5", "reg", n=6, length=800, y_shape=(6, 56, 2))
    with h5py.File(tmp_path / "x.h5", "a") as h5:
        y = h5["y_valid"][:]
        y[2, :10, 0] = np.nan
        h5["y_valid"][:] = y
    ds = _prepare(tmp_path, {"format": "splicing_h5", "path": "x.h5"})
    assert ds.segments == [400, 400] and ds.targets.shape == (18, 56)
    assert ds.target_names[0] == "tissue_0" and ds.target_names[-1] == "tissue_55"
    assert np.isnan(ds.targets[8, :10]).all() and not np.isnan(ds.targets[8, 10:]).any()
    np.testing.assert_allclose(ds.targets[8, 10:], y[2, 10:, 0])


def test_lentimpra_processed_and_fold_files(tmp_path):
    write_h5(tmp_path / "p.h5", "reg", x_key="onehot_{g}", y_key="y_{g}")
    ds = _prepare(tmp_path, {"format": "lentimpra_h5", "path": "p.h5"})
    assert ds.target_names == ["activity"] and len(ds) == 60
    write_h5(tmp_path / "f.h5", "reg", n=5, groups=range(1, 11), x_key="{g}_x", y_key="{g}_y")
    sheet = write_sheet(tmp_path, {"id": "f", "format": "lentimpra_folds_h5", "path": "f.h5"})
    folds = read_dataset(prepare_rows(sheet, tmp_path / "out")[0])
    assert list(folds.split) == ["train"] * 40 + ["valid"] * 5 + ["test"] * 5     # study preset 1-8 / 9 / 10
    assert folds.ids[0] == "fold1_0" and folds.provenance["split"]["method"] == "folds"
    sheet = write_sheet(tmp_path, {"id": "f", "format": "lentimpra_folds_h5", "path": "f.h5",
                                   "split_args": "train=3-10;valid=1;test=2"}, name="s2.csv")
    other = read_dataset(prepare_rows(sheet, tmp_path / "out2")[0])
    assert list(other.split) == ["valid"] * 5 + ["test"] * 5 + ["train"] * 40


def test_onehot_round_trip_of_written_sequences(tmp_path):
    write_h5(tmp_path / "x.h5", "binary")
    ds = _prepare(tmp_path, {"format": "chip_h5", "path": "x.h5"})
    with h5py.File(tmp_path / "x.h5") as h5:
        np.testing.assert_array_equal(encode(list(ds.sequences[:20]), 30), h5["x_train"][:].transpose(0, 2, 1))
