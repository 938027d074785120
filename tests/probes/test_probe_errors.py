"""Bad input to `glmprobe probe`: one line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glmprobe.cli import main


def _probe(capsys, dataset, store, out, *extra):
    with pytest.raises(SystemExit) as exc:
        main(["probe", "--dataset", str(dataset), "--store", str(store), "--outdir", str(out), "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2
    assert err.startswith("glmprobe: error: ") and "\n" not in err and "Traceback" not in err
    assert not out.exists()                                   # nothing written
    return err


def test_store_from_another_dataset(probe_inputs, tmp_path, capsys):
    dataset, _ = probe_inputs(seed=1)
    _, other_store = probe_inputs(seed=2)
    err = _probe(capsys, dataset, other_store, tmp_path / "out")
    assert "manifest.json (dataset.checksum)" in err and "embedded from another dataset" in err
    assert "glmprobe embed" in err


def test_missing_layer(probe_inputs, tmp_path, capsys):
    dataset, store = probe_inputs(layers=(1, 2))
    err = _probe(capsys, dataset, store, tmp_path / "out", "--layer", "7")
    assert "layer 7 is not in the store" in err and "Stored layers: 1, 2" in err


def test_head_that_cannot_read_the_asked_pooling(probe_inputs, tmp_path, capsys):
    dataset, store = probe_inputs()
    err = _probe(capsys, dataset, store, tmp_path / "out", "--head", "token_cnn", "--pooling", "mean")
    assert "head 'token_cnn' cannot read 'mean' embeddings" in err and "tokens" in err


def test_pooling_not_in_the_store(probe_inputs, tmp_path, capsys):
    dataset, store = probe_inputs(poolings=("mean",))
    err = _probe(capsys, dataset, store, tmp_path / "out", "--pooling", "cls")
    assert "pooling 'cls' is not in the store" in err and "Stored poolings: mean" in err


def test_too_few_samples_in_a_split(probe_inputs, tmp_path, capsys):
    dataset, store = probe_inputs(split_counts=(40, 1, 10))
    err = _probe(capsys, dataset, store, tmp_path / "out")
    assert "dataset.h5 (split=valid)" in err and "has 1 sequences" in err


def test_binary_target_with_one_class(probe_inputs, tmp_path, capsys):
    labels = np.ones((60, 1), np.float32)
    labels[:10] = 0                      # both classes in train, only 1s in valid and test
    dataset, store = probe_inputs(task="binary", n=60, labels=labels)
    err = _probe(capsys, dataset, store, tmp_path / "out")
    assert "dataset.h5 (target=t0)" in err and "only class 1 in split 'test'" in err


def test_incomplete_store(probe_inputs, tmp_path, capsys):
    dataset, store = probe_inputs()
    manifest = json.loads((store / "manifest.json").read_text())
    (store / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    err = _probe(capsys, dataset, store, tmp_path / "out")
    assert "incomplete" in err
