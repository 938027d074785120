"""Splicing data (issue 9, defect 6): the mean logit is kept, the study's test filter is exact."""

from __future__ import annotations

import h5py
import numpy as np
from scipy.special import expit

from glmprobe.data.dataset import Dataset, DatasetFile, read_dataset, write_dataset
from glmprobe.data.delta_logit import study_test_rows
from glmprobe.train.dataset_rows import dataset_rows


def test_prepare_keeps_the_mean_logit_as_target_offsets(splicing_dataset):
    path, arrays = splicing_dataset
    ds = read_dataset(path)
    assert ds.segments == [400, 400] and ds.task == "regression"
    y = np.concatenate([arrays[s][1] for s in ("train", "valid", "test")])
    np.testing.assert_allclose(ds.targets, y[..., 0], rtol=1e-6)          # NaN where unobserved, kept
    np.testing.assert_allclose(ds.offsets, y[..., 1], rtol=1e-6)
    with DatasetFile(path) as f:
        np.testing.assert_allclose(f.target_offsets, y[..., 1], rtol=1e-6)


def test_offsets_enter_the_checksum_and_leave_other_datasets_unchanged(tmp_path):
    rng = np.random.default_rng(0)
    base = Dataset("d", np.array(["a", "b", "c"]), np.array(["ACGT", "CCGT", "GGTA"]),
                   rng.normal(size=(3, 2)).astype(np.float32), ["t0", "t1"], "regression",
                   np.array(["train", "valid", "test"]))
    plain = write_dataset(tmp_path / "plain.h5", base)
    with h5py.File(tmp_path / "plain.h5") as h5:
        assert "target_offsets" not in h5
    base.offsets = np.zeros((3, 2), np.float32)
    zero = write_dataset(tmp_path / "zero.h5", base)
    base.offsets = np.ones((3, 2), np.float32)
    one = write_dataset(tmp_path / "one.h5", base)
    assert len({plain, zero, one}) == 3
    assert read_dataset(tmp_path / "one.h5").subset("valid").offsets.tolist() == [[1.0, 1.0]]


def _reference_filter(delta, mean):
    """The study's loop (alternative-splicing/CNN_perf.py), one exon at a time."""
    keep = []
    for i in range(len(delta)):
        target = delta[i] + mean[i]
        diff = np.abs(expit(mean[i]) - expit(target))
        if np.sum(~np.isnan(target)) >= 10 and np.nanmax(diff) >= 0.2:
            keep.append(i)
    return np.array(keep, dtype=int)


def test_study_test_filter_matches_the_study_loop():
    rng = np.random.default_rng(3)
    delta = rng.normal(scale=0.8, size=(300, 14))
    delta[rng.random(delta.shape) < 0.4] = np.nan
    delta[:5] = np.nan                                   # no observation at all
    mean = np.repeat(rng.normal(scale=2, size=(300, 1)), 14, axis=1)
    got = np.flatnonzero(study_test_rows(delta, mean))
    want = _reference_filter(delta, mean)
    assert 0 < len(got) < 300 - 5
    np.testing.assert_array_equal(got, want)


def test_dataset_rows_filter_the_test_split_and_pick_diff_kl(splicing_dataset):
    path, arrays = splicing_dataset
    with DatasetFile(path) as f:
        dr = dataset_rows(f)
    ds = read_dataset(path)
    test = np.flatnonzero(ds.split == "test")
    keep = study_test_rows(ds.targets[test], ds.offsets[test])
    assert dr.loss == "diff_kl" and dr.metric == "spearman" and dr.segments == [400, 400]
    np.testing.assert_array_equal(dr.rows["test"], test[keep])
    assert dr.params["n_test_before_filter"] == len(test) > dr.params["n_test_filtered"] == keep.sum() >= 2
    assert len(dr.rows["valid"]) == (ds.split == "valid").sum()          # only test is filtered
