"""The study's two-tower splicing model and the per-segment views (issue 9, defect 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glmprobe.data.onehot import encode
from glmprobe.data.segments import SegmentRows, onehot_segments, segment_ids
from glmprobe.heads import two_tower


def _keras_params(n_targets: int) -> int:
    """Trainable parameters of the study's Keras mtsplice_model(56) on 2 x (400, 4), by hand."""
    conv = lambda c_in, c_out, k: c_in * k * c_out + c_out
    bn = lambda c: 2 * c                                   # gamma, beta
    towers = 2 * (conv(4, 128, 7) + bn(128))              # 400 -> pool 4 -> 100 per tower, 200 concatenated
    body = conv(128, 164, 5) + bn(164) + conv(164, 256, 5) + bn(256)   # 200 -> 50 -> 25
    dense = (25 * 256 * 256 + 256) + bn(256) + (256 * 256 + 256) + bn(256) + (256 * n_targets + n_targets)
    return towers + body + dense


def test_onehot_two_tower_is_the_studys_mtsplice_model():
    model = two_tower.build(4, 400, 56, two_tower.STUDY_ONEHOT, reduce=False)
    assert sum(p.numel() for p in model.parameters()) == _keras_params(56)
    assert model(torch.zeros(3, 2, 4, 400)).shape == (3, 56)


def test_each_tower_reads_only_its_own_segment():
    torch.manual_seed(0)
    model = two_tower.build(8, 12, 3, {"width": 0.5}).eval()      # embedding version: BN + 1x1 per tower
    assert isinstance(model.towers[0][1], torch.nn.Conv1d) and model.towers[0][1].out_channels == 512
    x = torch.randn(2, 2, 8, 12)
    swapped = x.flip(1)                                               # left <-> right
    assert not torch.allclose(model(x), model(swapped))              # the towers are distinct, order matters
    with torch.no_grad():
        model.towers[1][1].weight.zero_()
        model.towers[1][1].bias.zero_()                               # right tower blind: right input ignored
        y = x.clone()
        y[:, 1] = torch.randn(2, 8, 12)
        assert torch.allclose(model(x), model(y), atol=1e-6)


def test_onehot_segments_encode_each_half_alone():
    seqs = ["ACGT" + "TTGC", "GGGG" + "CCAA"]
    x = onehot_segments(seqs, [4, 4])
    assert x.shape == (2, 2, 4, 4)
    np.testing.assert_array_equal(x[:, 0], encode([s[:4] for s in seqs], 4))
    np.testing.assert_array_equal(x[:, 1], encode([s[4:] for s in seqs], 4))
    uneven = onehot_segments(["ACGTTT"], [2, 4])
    assert uneven.shape == (1, 2, 4, 4) and uneven[0, 0, :, 2:].sum() == 0       # N padding


def test_segment_rows_give_one_embedding_per_segment():
    store = np.arange(6 * 3 * 2, dtype=np.float16).reshape(6, 3, 2)    # 3 rows x 2 segments, 3 tokens, D = 2

    class Reader:
        def __init__(self, array, rows):
            self.array, self.rows = array, rows

        def __getitem__(self, idx):
            return self.array[self.rows[idx]]

        def close(self):
            pass

    tokens = SegmentRows(store, np.array([2, 0]), 2, Reader)
    assert tokens.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(tokens[:][0, 1], store[5].T)        # row 2, right segment, channels-first
    pooled = SegmentRows(store[:, 0], np.array([1]), 2, Reader, flat=True)
    np.testing.assert_array_equal(pooled[:][0], np.concatenate([store[2, 0], store[3, 0]]))
    assert list(segment_ids(["a", "b"], 2)) == ["a#seg0", "a#seg1", "b#seg0", "b#seg1"]


def test_single_sequence_heads_and_archs_are_refused_on_segments():
    from glmprobe.errors import UserError
    from glmprobe.heads.segmented import check_arch, check_head

    for head in ("linear", "mlp", "two_tower"):
        check_head(head, [400, 400])
    for bad in ("token_cnn", "chip_cnn"):
        with pytest.raises(UserError, match="reads one sequence.*two_tower"):
            check_head(bad, [400, 400])
    with pytest.raises(UserError, match="needs a segmented dataset"):
        check_head("two_tower", None)
    check_arch("mtsplice", [400, 400])
    with pytest.raises(UserError, match="--arch mtsplice"):
        check_arch("resnet", [400, 400])
    with pytest.raises(UserError, match="needs a segmented dataset"):
        check_arch("mtsplice", None)


def test_baseline_cli_refuses_a_single_sequence_arch_on_splicing(splicing_dataset, tmp_path, capsys):
    from glmprobe.cli import main

    dataset, _ = splicing_dataset
    with pytest.raises(SystemExit) as exc:
        main(["baseline", "--dataset", str(dataset), "--arch", "cnn", "--outdir", str(tmp_path / "r"), "--quiet"])
    assert exc.value.code == 2 and "--arch mtsplice" in capsys.readouterr().err
    assert not (tmp_path / "r" / "baselines").exists()
