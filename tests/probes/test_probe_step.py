"""probe_step / `glmprobe probe` end to end on hand-built stores: records, sweep, cache, streaming."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from glmprobe.cli import main
from glmprobe.glm.store import EmbeddingStore, StoreRows
from glmprobe.record import read_record
from glmprobe.steps.probe import probe_step
from glmprobe.train.tune import TuneOptions

QUICK = TuneOptions(trials=1, replicates=2, max_epochs=2, fixed="study")


def test_layer_sweep_writes_one_record_per_layer_and_pooling(probe_inputs, tmp_path):
    dataset, store = probe_inputs(layers=(1, 2, 3), poolings=("cls", "mean"))
    out = tmp_path / "probes" / "toy" / "toy-glm"
    paths = probe_step(dataset, store, out, layers="all", heads=["linear"])
    assert sorted(p.relative_to(out).parent.as_posix() for p in paths) == [
        f"L{layer}/{pool}-linear" for layer in (1, 2, 3) for pool in ("cls", "mean")]
    rec = read_record(out / "L3" / "mean-linear")
    assert rec["step"] == "probe" and rec["key"] == "probes/toy/toy-glm/L3/mean-linear"
    assert rec["tags"] == {"dataset": "toy", "model": "toy-glm", "revision": "abc123", "family": "hf-mlm",
                           "random_init": False, "layer": 3, "pooling": "mean", "head": "linear",
                           "task": "regression", "stage": "probe"}
    assert rec["inputs"]["store"]["cache_key"] == "store-0-regression"
    assert rec["inputs"]["dataset"]["checksum"] == json.loads((store / "manifest.json").read_text())["dataset"]["checksum"]
    assert rec["n"] == {"train": 54, "valid": 18, "test": 18}
    assert rec["metrics"]["test_pearson"] > 0.7                     # the planted signal is found
    lo, hi = rec["ci"]["test_pearson"]                               # bootstrap CI on test
    assert lo < rec["metrics"]["test_pearson"] < hi
    trials = pd.read_csv(out / "L3" / "mean-linear" / "trials.csv")
    assert len(trials) == 25 and rec["params"]["alpha"] > 0
    preds = pd.read_csv(out / "L3" / "mean-linear" / "predictions.csv")
    assert set(preds["split"]) == {"valid", "test"} and "train" not in set(preds["split"])
    # the deeper layer (stronger planted signal) probes better than the shallow one
    assert rec["metrics"]["test_pearson"] > read_record(out / "L1" / "mean-linear")["metrics"]["test_pearson"]


def test_rerun_is_skipped_unless_forced_or_changed(probe_inputs, tmp_path):
    dataset, store = probe_inputs(layers=(2,), poolings=("mean",))
    out = tmp_path / "p"
    (path,) = probe_step(dataset, store, out, layers=[2])
    first = path.stat().st_mtime_ns
    assert probe_step(dataset, store, out, layers=[-1]) == [path]   # -1 = deepest stored layer
    assert path.stat().st_mtime_ns == first
    probe_step(dataset, store, out, layers=[2], force=True)
    assert path.stat().st_mtime_ns != first
    key = read_record(path)["cache_key"]
    probe_step(dataset, store, out, layers=[2], opts=TuneOptions(seed=5))
    assert read_record(path)["cache_key"] != key


def test_binary_linear_probe_scores_probabilities_and_auroc(probe_inputs, tmp_path):
    dataset, store = probe_inputs(task="binary", n=150, poolings=("mean",), layers=(1,))
    (path,) = probe_step(dataset, store, tmp_path / "p", heads=["linear"])
    rec = read_record(path)
    assert rec["metrics"]["test_auroc"] > 0.8 and rec["params"]["penalty"] == "logistic-l2"
    preds = pd.read_csv(path.parent / "predictions.csv")
    assert preds["y_pred"].between(0, 1).all() and preds["y_pred"].nunique() > 10


def test_neural_heads_run_through_the_cli(probe_inputs, tmp_path, capsys):
    dataset, store = probe_inputs(layers=(1, 2), n_targets=2)
    out = tmp_path / "p"
    main(["probe", "--dataset", str(dataset), "--store", str(store), "--outdir", str(out), "--layer", "2",
          "--head", "mlp", "--head", "token_cnn", "--head", "chip_cnn", "--fixed", "study",
          "--max-epochs", "2", "--replicates", "2", "--device", "cpu", "--quiet"])   # returns: exit code 0
    printed = capsys.readouterr().out.split()
    assert sorted(p.split("/L2/")[1] for p in printed) == [
        "cls-mlp/record.json", "mean-mlp/record.json", "tokens-chip_cnn/record.json", "tokens-token_cnn/record.json"]
    chip = read_record(out / "L2" / "tokens-chip_cnn")
    assert chip["params"]["reduce"] is True and chip["params"]["input_shape"] == "8x12"   # channels-first D x T
    assert chip["params"]["reduce_dim"] == 512 and chip["params"]["search"] == "fixed"
    assert sorted(r["seed"] for r in chip["replicates"]) == [0, 1] and "test_pearson" in chip["ci"]
    assert (out / "L2" / "tokens-token_cnn" / "model_seed1.safetensors").exists()
    assert read_record(out / "L2" / "cls-mlp")["params"]["lr"] == pytest.approx(1e-4)   # the study's rep_mlp


def test_heads_that_cannot_read_a_stored_pooling_are_skipped_with_a_note(probe_inputs, tmp_path, caplog):
    dataset, store = probe_inputs(layers=(1,), poolings=("mean",))
    with caplog.at_level(logging.WARNING):
        paths = probe_step(dataset, store, tmp_path / "p", heads=["linear", "token_cnn"], opts=QUICK)
    assert [p.parent.name for p in paths] == ["mean-linear"]
    assert "skipping head token_cnn" in caplog.text


def test_store_rows_reads_any_rows_like_the_memmap(probe_inputs):
    _, store = probe_inputs(n=40)
    with EmbeddingStore(store) as st:
        mm = st.tokens(2)
        rows = np.array([3, 4, 5, 9, 20, 21, 39])
        view = StoreRows(mm, rows, channels_first=True)
        assert view.shape == (7, 8, 12) and len(view) == 7
        np.testing.assert_array_equal(view[np.array([0, 1, 6])], mm[[3, 4, 39]].astype(np.float32).transpose(0, 2, 1))
        np.testing.assert_array_equal(view[[6, 0, 2]], mm[[39, 3, 5]].astype(np.float32).transpose(0, 2, 1))
        np.testing.assert_array_equal(view[2:5], mm[[5, 9, 20]].astype(np.float32).transpose(0, 2, 1))
        assert view[np.array([0])].dtype == np.float32
        pooled = StoreRows(st.pooled(1, "mean"), rows)
        np.testing.assert_array_equal(np.asarray(pooled), st.pooled(1, "mean")[rows].astype(np.float32))
        view.close()
        pooled.close()


def test_store_rows_falls_back_to_h5py_for_chunked_arrays(tmp_path):
    import h5py

    data = np.random.default_rng(0).normal(size=(30, 5, 3)).astype(np.float16)
    with h5py.File(tmp_path / "c.h5", "w") as h5:
        h5.create_dataset("x", data=data, chunks=(4, 5, 3))
        view = StoreRows(h5["x"], np.array([2, 3, 17, 29]), channels_first=True)
        np.testing.assert_array_equal(view[[3, 0]], data[[29, 2]].astype(np.float32).transpose(0, 2, 1))
