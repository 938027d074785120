"""The canonical dataset file: round trip, checksum, atomicity, clear errors."""

import h5py
import numpy as np
import pytest

from glmprobe.data.dataset import Dataset, DatasetFile, DatasetWriter, read_dataset, write_dataset
from glmprobe.errors import UserError


def _toy(n=10, T=2, name="toy"):
    rng = np.random.default_rng(0)
    seqs = np.array(["".join(rng.choice(list("ACGTN"), 12)) for _ in range(n)], dtype=object)
    y = rng.normal(size=(n, T)).astype("f4")
    y[0, 1] = np.nan
    split = np.array(["train"] * (n - 4) + ["valid"] * 2 + ["test"] * 2, dtype=object)
    ids = np.array([f"s{i}" for i in range(n)], dtype=object)
    return Dataset(name, ids, seqs, y, [f"t{j}" for j in range(T)], "regression", split,
                   provenance={"reader": "test"})


def test_round_trip_keeps_everything(tmp_path):
    ds = _toy()
    checksum = write_dataset(tmp_path / "d.h5", ds)
    back = read_dataset(tmp_path / "d.h5")
    assert back.checksum == checksum and len(checksum) == 64
    assert list(back.ids) == list(ds.ids)
    assert list(back.sequences) == list(ds.sequences)
    np.testing.assert_array_equal(back.targets, ds.targets)  # NaN positions equal too
    assert list(back.split) == list(ds.split)
    assert back.target_names == ["t0", "t1"] and back.task == "regression"
    assert back.provenance == {"reader": "test"}
    assert len(back.subset("test")) == 2


def test_checksum_depends_on_content_only(tmp_path):
    a = write_dataset(tmp_path / "a.h5", _toy())
    b = write_dataset(tmp_path / "b.h5", _toy(name="other-name"))
    assert a == b
    changed = _toy()
    changed.targets[3, 0] += 1
    assert write_dataset(tmp_path / "c.h5", changed) != a


def test_chunked_writes_equal_one_shot(tmp_path):
    ds = _toy(n=9)
    with DatasetWriter(tmp_path / "w.h5", name="toy", target_names=ds.target_names, task="regression",
                       provenance={"reader": "test"}) as w:
        for a in range(0, 9, 4):
            w.append(list(ds.ids[a:a + 4]), list(ds.sequences[a:a + 4]), ds.targets[a:a + 4], list(ds.split[a:a + 4]))
    assert w.checksum == write_dataset(tmp_path / "x.h5", ds)


def test_failed_write_leaves_nothing(tmp_path):
    ds = _toy()
    with pytest.raises(RuntimeError):
        with DatasetWriter(tmp_path / "d.h5", name="toy", target_names=ds.target_names, task="regression") as w:
            w.append(list(ds.ids), list(ds.sequences), ds.targets, list(ds.split))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_unknown_split_and_task_are_user_errors(tmp_path):
    ds = _toy()
    ds.split[0] = "training"
    with pytest.raises(UserError, match="unknown split name 'training'"):
        write_dataset(tmp_path / "d.h5", ds)
    assert not (tmp_path / "d.h5").exists()
    with pytest.raises(UserError, match="unknown task type"):
        DatasetWriter(tmp_path / "e.h5", name="x", target_names=["a"], task="ranking")


def test_reading_a_foreign_file_is_a_user_error(tmp_path):
    with h5py.File(tmp_path / "foreign.h5", "w") as h:
        h["x"] = np.zeros(3)
    with pytest.raises(UserError, match="not a glmprobe dataset file"):
        DatasetFile(tmp_path / "foreign.h5")
    with pytest.raises(UserError, match="run `glmprobe prepare` first"):
        DatasetFile(tmp_path / "missing.h5")


def test_coords_round_trip(tmp_path):
    ds = _toy(n=6)
    ds.coords = {"chrom": np.array(["chr1"] * 6, dtype=object), "start": np.arange(6) * 100,
                 "end": np.arange(6) * 100 + 12, "strand": np.array(list("++--+-"), dtype=object)}
    write_dataset(tmp_path / "d.h5", ds)
    back = read_dataset(tmp_path / "d.h5")
    assert list(back.coords["strand"]) == list("++--+-")
    np.testing.assert_array_equal(back.coords["end"], ds.coords["end"])


def test_empty_dataset_is_refused_and_leaves_no_file(tmp_path):
    with pytest.raises(UserError, match="no sequences to write"):
        with DatasetWriter(tmp_path / "d.h5", name="x", target_names=["a"], task="regression"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_sequences_come_back_in_the_order_asked(tmp_path):
    ds = _toy()
    write_dataset(tmp_path / "d.h5", ds)
    with DatasetFile(tmp_path / "d.h5") as f:
        assert list(f.sequences(np.array([5, 1, 3]))) == [ds.sequences[5], ds.sequences[1], ds.sequences[3]]
