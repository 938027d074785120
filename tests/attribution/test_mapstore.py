"""maps_<method>.h5: batches appended and read back, each target's own maps beside the explained output's."""

from __future__ import annotations

import numpy as np
import pytest

from glmprobe.attribution.mapstore import MapFile, MapWriter


def _batch(rng, n, L=7):
    hyp = rng.normal(size=(n, 4, L)).astype(np.float32)
    onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, L))].transpose(0, 2, 1)
    return hyp, hyp * onehot


def test_batches_and_per_target_maps_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    batches = [(["a", "b"], _batch(rng, 2), [_batch(rng, 2), _batch(rng, 2)]),
               (["c"], _batch(rng, 1), [_batch(rng, 1), _batch(rng, 1)])]
    with MapWriter(tmp_path / "m.h5", 7, method="gxi", targets=["cellA", "cellB"]) as w:
        for ids, (hyp, proj), each in batches:
            w.append(ids, hyp, proj, {"delta": np.ones(len(ids))}, per_target=each)
    with MapFile(tmp_path / "m.h5") as mf:
        assert list(mf.ids) == ["a", "b", "c"] and mf.method == "gxi" and mf.targets == ["cellA", "cellB"]
        np.testing.assert_array_equal(mf.array("hypothetical"), np.concatenate([b[1][0] for b in batches]))
        for j, t in enumerate(mf.targets):
            proj = np.concatenate([b[2][j][1] for b in batches])
            np.testing.assert_array_equal(mf.array("projected", target=t), proj)
            np.testing.assert_allclose(mf.scores(t), proj.sum(axis=1))
        np.testing.assert_array_equal(mf.extra()["delta"], np.ones(3))


def test_a_map_without_targets_has_none_and_refuses_per_target_maps(tmp_path):
    rng = np.random.default_rng(1)
    with MapWriter(tmp_path / "m.h5", 7, method="ism") as w:
        w.append(["a"], *_batch(rng, 1))
        with pytest.raises(ValueError, match="1 per-target maps for 0 targets"):
            w.append(["b"], *_batch(rng, 1), per_target=[_batch(rng, 1)])
    with MapFile(tmp_path / "m.h5") as mf:
        assert mf.targets == [] and mf.scores().shape == (1, 7)
        with pytest.raises(ValueError):
            mf.scores("cellA")
