"""Real public checkpoints, one per family (skipped unless GLMPROBE_NETWORK=1; GPU ones need CUDA).

Each family runs in its own container (docs/adding_a_model.md), so each test skips when that
family's software is missing. Revisions: set GLMPROBE_REV_<FAMILY> (e.g. GLMPROBE_REV_NT) to the
commit to pin; the default "main" is only for a first look and is reported in the test id.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
from adapter_helpers import make_adapter, random_dna

# family, hub id, expected (num_layers, hidden_size), token count for 230 nt (None: data-dependent)
CHECKPOINTS = [
    ("nt", "InstaDeepAI/nucleotide-transformer-500m-human-ref", (24, 1280), 41),
    ("nt", "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species", (12, 512), 41),
    ("dnabert2", "zhihan1996/DNABERT-2-117M", (12, 768), None),
    ("gena", "AIRI-Institute/gena-lm-bert-base-t2t", (12, 768), None),
    ("dnabert", "zhihan1996/DNA_bert_6", (12, 768), 227),
    ("hyenadna", "LongSafari/hyenadna-tiny-1k-seqlen-d256-hf", (2, 256), None),
    ("gpn", "songlab/gpn-brassicales", (25, 512), 230),
]


def revision(family: str) -> str:
    return os.environ.get(f"GLMPROBE_REV_{family.upper()}", "main")


@pytest.mark.network
@pytest.mark.parametrize("family, source, shape, tokens", CHECKPOINTS, ids=[c[1] for c in CHECKPOINTS])
def test_public_checkpoint_shapes(family, source, shape, tokens, monkeypatch):
    if family == "gpn" and importlib.util.find_spec("gpn") is None:
        pytest.skip("gpn package not installed (gpn container)")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    trust = family in {"dnabert2", "gena", "hyenadna"} or "v2" in source
    adapter = make_adapter(family, source, revision=revision(family), trust_remote_code=trust)
    assert (adapter.num_layers, adapter.hidden_size) == shape
    seqs = random_dna(2, 230, seed=0)
    batch = adapter.tokenize(seqs)
    if tokens is not None:
        assert batch.lengths.tolist() == [tokens, tokens]
    states = adapter.hidden_states(batch, [0, adapter.num_layers])
    assert states[adapter.num_layers].shape == (2, batch.input_ids.shape[1], adapter.hidden_size)


@pytest.mark.network
@pytest.mark.gpu
def test_caduceus_ps_checkpoint():
    if importlib.util.find_spec("mamba_ssm") is None:
        pytest.skip("mamba_ssm not installed (caduceus container)")
    source = "kuleshov-group/caduceus-ps_seqlen-131k_d_model-256_n_layer-16"
    adapter = make_adapter("caduceus", source, load=False, revision=revision("caduceus"), trust_remote_code=True)
    adapter.device = "cuda"
    adapter.load()
    assert adapter.hidden_size == 512  # RC-equivariant: 2 x d_model
    batch = adapter.tokenize(random_dna(2, 230))
    assert adapter.hidden_states(batch, [16])[16].shape[-1] == 512
