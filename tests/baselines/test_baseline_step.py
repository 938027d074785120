"""`glmprobe baseline` end to end on tiny datasets: outputs, record, caching, user errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from glmprobe.cli import main
from glmprobe.data.dataset import Dataset, read_dataset, write_dataset
from glmprobe.data.onehot import encode
from glmprobe.record import read_record
from glmprobe.steps.baseline import baseline_step
from glmprobe.train.tune import TuneOptions

MOTIF = "GATAAG"


def make(path, n=200, length=60, task="regression", seed=0, targets=("act",), split=None, y=None):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    seqs = [s[:10] + MOTIF + s[16:] if i % 2 else s for i, s in enumerate(seqs)]
    signal = np.array([s.count(MOTIF) for s in seqs], np.float32)
    if y is None:
        y = signal + 0.1 * rng.normal(size=n) if task == "regression" else (signal > 0)
        y = np.repeat(np.asarray(y, np.float32)[:, None], len(targets), axis=1)
    if split is None:
        split = np.array(["train"] * int(0.7 * n) + ["valid"] * int(0.15 * n) + ["test"] * (n - int(0.85 * n)))
    ds = Dataset("toy", np.array([f"r{i}" for i in range(n)]), np.array(seqs), y, list(targets), task, split)
    write_dataset(path, ds)
    return path


FAST = TuneOptions(trials=2, replicates=2, max_epochs=2, pruner="none")


def test_baseline_step_writes_folder_and_record(tmp_path):
    ds = make(tmp_path / "toy.h5", targets=("a", "b"))
    rec_path = baseline_step(ds, "deepstarr", tmp_path / "res", FAST)
    assert rec_path == tmp_path / "res" / "baselines" / "toy" / "deepstarr" / "record.json"
    rec = read_record(rec_path)
    assert rec["step"] == "baseline" and rec["key"] == "baselines/toy/deepstarr"
    assert rec["tags"] == {"dataset": "toy", "arch": "deepstarr", "task": "regression", "model": "onehot",
                           "head": "deepstarr", "kind": "one-hot", "stage": "baseline"}
    from glmprobe.data.dataset import DatasetFile
    with DatasetFile(ds) as f:
        assert rec["inputs"]["dataset"]["checksum"] == f.checksum
    assert rec["n"] == {"train": 140, "valid": 30, "test": 30}
    assert {"test_pearson", "test_pearson/a", "test_pearson/b"} <= set(rec["metrics"])
    assert rec["params"]["length"] == 60 and rec["params"]["trials"] == 2
    trials = pd.read_csv(rec_path.parent / "trials.csv")
    # the published settings (DeepSTARR lr 2e-3, batch 128) are always trial 0
    assert json.loads(trials.params[0])["lr"] == 2e-3 and bool(trials.enqueued[0])
    pred = pd.read_csv(rec_path.parent / "predictions.csv")
    assert set(pred.split) == {"valid", "test"} and set(pred.seed) == {0, 1} and set(pred.target) == {"a", "b"}
    assert not set(pred.id) & {f"r{i}" for i in range(140)}  # training rows are never scored


def test_second_run_is_skipped_unless_forced_or_changed(tmp_path):
    ds = make(tmp_path / "toy.h5")
    opts = TuneOptions(trials=1, replicates=1, max_epochs=1, fixed="study")
    first = baseline_step(ds, "deepstarr", tmp_path, opts)
    stamp = read_record(first)["finished"], first.stat().st_mtime_ns
    again = baseline_step(ds, "deepstarr", tmp_path, opts)
    assert (read_record(again)["finished"], again.stat().st_mtime_ns) == stamp
    forced = baseline_step(ds, "deepstarr", tmp_path, opts, force=True)
    assert forced.stat().st_mtime_ns != stamp[1]
    changed = baseline_step(ds, "deepstarr", tmp_path, TuneOptions(trials=1, replicates=1, max_epochs=1,
                                                                    fixed="study", seed=9))
    rec = read_record(changed)
    assert rec["replicates"][0]["seed"] == 9 and rec["params"]["search"] == "fixed"


def test_binary_baseline_scores_auroc(tmp_path):
    ds = make(tmp_path / "bin.h5", task="binary")
    rec = read_record(baseline_step(ds, "deepstarr", tmp_path, TuneOptions(fixed="study", replicates=1,
                                                                          max_epochs=3)))
    assert 0.0 <= rec["metrics"]["test_auroc"] <= 1.0
    pred = pd.read_csv(ds.parent / "baselines" / "toy" / "deepstarr" / "predictions.csv")
    assert pred.y_pred.between(0, 1).all()  # stored as probabilities


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr()


def test_cli_trains_and_prints_record_path(tmp_path, capsys):
    ds = make(tmp_path / "toy.h5")
    out = tmp_path / "res"
    try:
        main(["baseline", "--dataset", str(ds), "--arch", "deepstarr", "--outdir", str(out), "--fixed", "study",
              "--replicates", "1", "--max-epochs", "1", "--device", "cpu", "--quiet"])
    except SystemExit as exc:  # standalone_mode=False returns normally on success
        assert exc.code in (0, None)
    assert capsys.readouterr().out.strip() == str(out / "baselines" / "toy" / "deepstarr" / "record.json")


@pytest.mark.parametrize("case,needle", [
    ("one_class", "binary target 'act' has only class 0 in split 'test'"),
    ("few_valid", "split 'valid' has 1 sequences, at least 2 are needed"),
    ("not01", "binary target 'act' has value 2 (must be 0 or 1)"),
    ("empty_target", "target 'act' has no observed value in split 'train'"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, case, needle):
    n = 100
    split = np.array(["train"] * 70 + ["valid"] * 15 + ["test"] * 15)
    task, y = "binary", np.zeros((n, 1), np.float32)
    y[:70:2] = 1
    if case == "few_valid":
        split = np.array(["train"] * 84 + ["valid"] + ["test"] * 15)
    if case == "not01":
        y[3] = 2
    if case == "empty_target":
        task, y = "regression", np.full((n, 1), np.nan, np.float32)
    ds = make(tmp_path / "bad.h5", n=n, task=task, split=split, y=y)
    code, cap = run_cli(["baseline", "--dataset", str(ds), "--arch", "deepstarr", "--outdir", str(tmp_path / "o"),
                         "--fixed", "study", "--max-epochs", "1"], capsys)
    assert code == 2
    assert cap.err.startswith(f"glmprobe: error: {ds}") and needle in cap.err and "Traceback" not in cap.err
    assert len(cap.err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "baselines").exists() or not any((tmp_path / "o" / "baselines").rglob("*.csv"))


def test_cli_missing_dataset_and_bad_arch(tmp_path, capsys):
    code, cap = run_cli(["baseline", "--dataset", str(tmp_path / "nope.h5"), "--outdir", str(tmp_path)], capsys)
    assert code == 2 and "dataset file not found" in cap.err
    code, cap = run_cli(["baseline", "--dataset", str(tmp_path / "nope.h5"), "--arch", "vgg"], capsys)
    assert code == 2 and "vgg" in cap.err


@pytest.mark.parametrize("arch", ["kmer", "dinuc", "mononuc"])
def test_simple_controls_are_baselines_with_records(tmp_path, arch):
    ds = make(tmp_path / "toy.h5", targets=("a",))
    rec = read_record(baseline_step(ds, arch, tmp_path / "res", TuneOptions(replicates=1)))
    assert rec["tags"]["arch"] == arch and rec["params"]["search"] == "closed-form path over k and penalty"
    assert rec["params"]["k"] == {"kmer": rec["params"]["k"], "dinuc": 2, "mononuc": 1}[arch]
    assert 0 < rec["metrics"]["test_pearson"] <= 1
    pred = pd.read_csv(tmp_path / "res" / "baselines" / "toy" / arch / "predictions.csv")
    assert set(pred.split) == {"valid", "test"}


def test_kmer_search_finds_the_planted_motif_length(tmp_path):
    ds = make(tmp_path / "toy.h5", n=400, targets=("a",))
    rec = read_record(baseline_step(ds, "kmer", tmp_path / "res", TuneOptions(replicates=1)))
    assert rec["params"]["k"] >= 3 and rec["metrics"]["test_pearson"] > 0.7


def test_dilres_and_dinuc_mlp_train_through_the_step(tmp_path):
    ds = make(tmp_path / "toy.h5", task="binary")
    for arch in ("dilres", "dinuc_mlp"):
        rec = read_record(baseline_step(ds, arch, tmp_path, TuneOptions(fixed="study", replicates=1, max_epochs=2)))
        assert rec["replicates"][0]["history"] and 0 <= rec["metrics"]["test_auroc"] <= 1
    trials = pd.read_csv(tmp_path / "baselines" / "toy" / "dilres" / "trials.csv")
    assert json.loads(trials.params[0])["batch_size"] == 64


def test_dilres_is_an_ensemble_that_reloads_with_its_members(tmp_path):
    """dilres trains MEMBERS nets per replicate; --members overrides it; the saved weights reload as
    the same ensemble and reproduce the step's test predictions."""
    from glmprobe.attribution.loader import load_trained
    from glmprobe.heads.dilres import MEMBERS
    from glmprobe.train.ensemble import Ensemble
    from glmprobe.train.fit import predict

    ds = make(tmp_path / "toy.h5", task="binary")
    for members, out in ((None, tmp_path / "own"), (2, tmp_path / "two")):
        rec = read_record(baseline_step(ds, "dilres", out, TuneOptions(fixed="study", replicates=1, max_epochs=2,
                                                                      members=members)))
        want = members or MEMBERS
        assert rec["params"]["members"] == want
        assert {row["member"] for row in rec["replicates"][0]["history"]} == set(range(want))
        folder = out / "baselines" / "toy" / "dilres"
        trained = load_trained(folder, 1)
        assert isinstance(trained.module, Ensemble) and len(trained.module.members) == want
        test = pd.read_csv(folder / "predictions.csv").query("split == 'test'")
        data = read_dataset(ds)
        seqs = dict(zip(data.ids, data.sequences))
        logits = predict(trained.module, encode([seqs[i] for i in test.id], trained.length))[:, 0]
        np.testing.assert_allclose(1 / (1 + np.exp(-logits)), test.y_pred, rtol=1e-4, atol=1e-5)
