"""create_store copies record ids in chunks: every id lands in its row, across chunk edges."""

from __future__ import annotations

import h5py
import numpy as np

from glmprobe.glm import store as S


def test_ids_are_copied_chunk_by_chunk_into_their_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "ID_CHUNK", 3)       # 10 rows -> chunks 3, 3, 3, 1
    ids = np.array([f"seq_{i}" for i in range(10)], dtype=object)
    asked = []

    def read(lo, hi):
        asked.append((lo, hi))
        return ids[lo:hi]

    S.create_store(tmp_path / "s.h5", ids=read, split=np.zeros(10, "u1"), layers=[0], poolings=["mean"],
                   hidden=2, max_tokens=0, dtype="float16")
    assert asked == [(0, 3), (3, 6), (6, 9), (9, 10)]    # never the whole column at once
    with h5py.File(tmp_path / "s.h5") as h5:
        assert list(h5["ids"].asstr()[:]) == list(ids)
        assert h5[S.pooled_name(0, "mean")].shape == (10, 2)
