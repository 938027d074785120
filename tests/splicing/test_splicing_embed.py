"""Segmented datasets are embedded one segment at a time (issue 9, defect 6)."""

from __future__ import annotations

import numpy as np
from tests.splicing.conftest import embed_splicing

from glmprobe.data.dataset import read_dataset
from glmprobe.glm.store import EmbeddingStore


def test_splicing_embeds_each_half_alone(tmp_path, splicing_dataset, tiny_nt):
    dataset, _ = splicing_dataset
    ds = read_dataset(dataset)
    store = embed_splicing(tmp_path, dataset, tiny_nt)
    with EmbeddingStore(store) as st:
        assert len(st.ids) == 2 * len(ds) and st.ids[1] == f"{ds.ids[0]}#seg1"
        assert st.manifest["key_fields"]["segments"] == [400, 400]
        assert (np.asarray(st.lengths) == 71).all()                   # one 400-nt half each: never the 800 nt
        assert np.asarray(st.spans).max() == 400                       # no token reaches past its half
