"""Shift jitter and random substitutions: in training only; rows move by their own offset with zero
fill; substitutions keep one-hot columns one-hot and N columns N."""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import MutateAugment, ShiftAugment, mutate_batch, shift_batch, with_mutate, with_shift


def test_shift_batch_moves_each_row_by_its_offset_with_zero_fill():
    x = torch.arange(2 * 3 * 6, dtype=torch.float32).reshape(2, 3, 6) + 1
    out = shift_batch(x, torch.tensor([2, -1]))
    expected = torch.zeros_like(x)
    expected[0, :, 2:] = x[0, :, :4]      # right by 2
    expected[1, :, :5] = x[1, :, 1:]      # left by 1
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(shift_batch(x, torch.tensor([0, 0])), x)
    seg = torch.stack([x, 2 * x], 1)                                   # (N, S, C, L) segmented input
    torch.testing.assert_close(shift_batch(seg, torch.tensor([2, -1])), torch.stack([expected, 2 * expected], 1))


class Record(nn.Module):
    def forward(self, x):
        self.seen = x
        return x.sum((1, 2))[:, None]


def test_shift_augment_jitters_in_training_and_not_in_eval():
    torch.manual_seed(0)
    x = torch.rand(64, 4, 20)
    net = ShiftAugment(Record(), 3)
    net.train()(x)
    seen = net.model.seen
    moved = [next(s for s in range(-3, 4) if torch.equal(shift_batch(x[i:i + 1], torch.tensor([s])), seen[i:i + 1]))
             for i in range(64)]
    assert set(moved) == set(range(-3, 4))        # every offset occurs, none beyond 3
    net.eval()(x)
    assert torch.equal(net.model.seen, x)
    assert with_shift(Record(), {"shift": 0}).__class__ is Record
    assert isinstance(with_shift(Record(), {"shift": 2}), ShiftAugment)


def test_mutate_batch_redraws_bases_at_the_rate_and_leaves_n_alone():
    torch.manual_seed(0)
    codes = torch.randint(0, 4, (200, 2, 300))
    x = nn.functional.one_hot(codes, 4).transpose(-1, -2).float()      # (N, S, 4, L): segmented too
    x[:, :, :, :10] = 0                                                 # N columns
    out = mutate_batch(x, 0.2)
    assert torch.equal(out.sum(-2)[..., 10:], torch.ones(200, 2, 290)) and not out[..., :10].any()
    changed = (out != x).any(-2)[..., 10:].float().mean().item()
    assert abs(changed - 0.2 * 3 / 4) < 0.005                           # redrawn uniformly: 3 in 4 change
    new = out.argmax(-2)[..., 10:][(out != x).any(-2)[..., 10:]]
    assert torch.bincount(new, minlength=4).min() > 0.2 * len(new)      # to any base
    torch.testing.assert_close(mutate_batch(x, 0.0), x)


def test_mutate_augment_acts_in_training_and_not_in_eval():
    torch.manual_seed(0)
    x = nn.functional.one_hot(torch.randint(0, 4, (8, 50)), 4).transpose(1, 2).float()
    net = MutateAugment(Record(), 0.3)
    net.train()(x)
    assert not torch.equal(net.model.seen, x)
    net.eval()(x)
    assert torch.equal(net.model.seen, x)
    assert with_mutate(Record(), {"mutate": 0}).__class__ is Record
    assert isinstance(with_mutate(Record(), {"mutate": 0.05}), MutateAugment)
