"""A pass that needs only the first layers stops after them: same states, fewer blocks run."""

from __future__ import annotations

import logging

import pytest
import torch
from adapter_helpers import load_standin, make_adapter, random_dna

from glmprobe.glm.adapters.hf import HFAdapter

# family -> the fixture holding its stand-in (every family glmprobe ships)
FAMILIES = {"hf-mlm": "bpe_dir", "hf-clm": "clm_dir", "nt": "nt_dir", "dnabert": "kmer_dir", "gena": "bpe_dir",
            "dnabert2": "toy_remote_dir", "hyenadna": "hyena_dir", "caduceus": "caduceus_dir", "gpn": "gpn_dir"}


def _adapter(family, request):
    folder = request.getfixturevalue(FAMILIES[family])
    if family == "gpn":
        request.getfixturevalue("fake_gpn")
    return load_standin(family, folder)


def _block_calls(adapter):
    calls = [0] * adapter.num_layers
    for i, block in enumerate(adapter.blocks()):
        block.register_forward_hook(lambda *args, i=i: calls.__setitem__(i, calls[i] + 1))
    return calls


@pytest.mark.parametrize("family", list(FAMILIES))
def test_partial_depth_states_equal_the_full_pass_and_skip_the_deeper_blocks(family, request):
    adapter = _adapter(family, request)
    n = adapter.num_layers
    assert n >= 2
    batch = adapter.tokenize(random_dna(3, 24, seed=1) + ["ACGTACGTAC"])   # two lengths: padding in play
    full = adapter.hidden_states(batch, list(range(n + 1)))
    adapter.hidden_states(batch, [0])   # the first partial-depth pass also checks the hooks against a full one
    calls = _block_calls(adapter)
    for depth in range(n):
        before = list(calls)
        got = adapter.hidden_states(batch, [0, depth] if depth else [0])
        torch.testing.assert_close(got[depth], full[depth])
        torch.testing.assert_close(got[0], full[0])
        ran = [after - was for after, was in zip(calls, before)]
        assert all(ran[:depth]) and not any(ran[depth:]), (depth, ran)   # blocks 1..depth only
    assert adapter._exits_early is True
    # the deepest layer still runs the whole model (some families' last layer is after a final norm)
    torch.testing.assert_close(adapter.hidden_states(batch, [n])[n], full[n])


def test_switched_off_every_pass_runs_all_blocks(bpe_dir):
    adapter = make_adapter("hf-mlm", bpe_dir)
    adapter.early_exit = False
    calls = _block_calls(adapter)
    batch = adapter.tokenize(random_dna(2, 20))
    adapter.hidden_states(batch, [1])
    assert all(c == 1 for c in calls)


def test_a_model_whose_blocks_are_not_its_hidden_states_keeps_full_passes(bpe_dir, caplog):
    adapter = make_adapter("hf-mlm", bpe_dir)
    adapter.block_state = lambda output: 2 * HFAdapter.block_state(adapter, output)   # not the hidden states
    batch = adapter.tokenize(random_dna(2, 20))
    with caplog.at_level(logging.INFO, logger="glmprobe.glm.adapters.hf"):
        got = adapter.hidden_states(batch, [1])[1]
    assert adapter._exits_early is False and "every pass runs all" in caplog.text
    ref = adapter.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                          output_hidden_states=True).hidden_states[1]
    torch.testing.assert_close(got, ref)
    calls = _block_calls(adapter)
    adapter.hidden_states(batch, [1])
    assert all(c == 1 for c in calls)   # decided once: later passes run every block
