"""Issue 9, defects 1-3, against stand-ins that reproduce each family's upstream interface.

1. random_init must redraw EVERY parameter (upstream ``_init_weights`` skip module types) and the
   embed step must refuse a control that kept any pretrained tensor;
2. HyenaDNA returns n_layer + 2 hidden states (the final LayerNorm output is appended);
3. Caduceus' hidden states are Mamba branch outputs: layers must be the residual stream.
"""

from __future__ import annotations

import pytest
import torch
from adapter_helpers import load_standin, make_adapter, random_dna

from glmprobe.errors import UserError

STANDINS = {"gpn": "gpn_dir", "hyenadna": "hyena_dir", "caduceus": "caduceus_dir", "dnabert2": "toy_remote_dir"}


load = load_standin


@pytest.fixture
def standin(request, fake_gpn):
    family = request.param
    return family, request.getfixturevalue(STANDINS[family])


def floats(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.is_floating_point()}


# ---------------------------------------------------------------- the stand-ins are faithful
@pytest.mark.parametrize("family, skipped", [
    ("hyenadna", ["short_filter.weight", "short_filter.bias", "filter_fn.bias", "freq", "filter_fn.z",
                  "norm1.weight", "ln_f.bias"]),
    ("caduceus", ["in_proj.weight", "x_proj.weight", "dt_proj.weight", "conv1d.weight",
                  "A_log", ".D", "norm.weight", "norm_f.weight"]),
    ("gpn", ["conv.1.weight", "conv.1.bias"]),
])
def test_standin_init_weights_skips_what_upstream_skips(family, skipped, request, fake_gpn):
    model = load(family, request.getfixturevalue(STANDINS[family])).model
    before = floats(model)
    with torch.no_grad():
        for module in model.modules():
            model._init_weights(module)
    kept = {n for n, p in floats(model).items() if torch.equal(p, before[n])}
    for part in skipped:
        assert any(part in n for n in kept), f"{family}: _init_weights should leave {part} alone"


def test_standin_outputs_match_upstream_structure(hyena_dir, caduceus_dir, gpn_dir, fake_gpn):
    ids = torch.tensor([[7, 8, 9, 10, 1]])
    hyena = load("hyenadna", hyena_dir).model
    out = hyena(input_ids=ids, output_hidden_states=True, return_dict=True)
    assert len(out.hidden_states) == hyena.config.n_layer + 2  # embeddings, blocks, ln_f output appended
    torch.testing.assert_close(out.hidden_states[-1], out.last_hidden_state)
    cad = load("caduceus", caduceus_dir).model
    out = cad(input_ids=ids, output_hidden_states=True, return_dict=True)
    assert len(out.hidden_states) == cad.config.n_layer + 1  # fused_add_norm path: final state appended
    gpn = load("gpn", gpn_dir).model
    out = gpn(input_ids=torch.tensor([[3, 4, 5, 6]]))
    assert out.hidden_states is None and out.last_hidden_state.shape == (1, 4, gpn.config.hidden_size)


# ---------------------------------------------------------------- defect 1: random init
@pytest.mark.parametrize("standin", list(STANDINS), indirect=True)
def test_random_init_redraws_every_parameter_reproducibly(standin):
    family, folder = standin
    pretrained = floats(load(family, folder).model)
    a = load(family, folder, random_init=True)
    kept = sorted(n for n, p in floats(a.model).items() if torch.equal(p, pretrained[n]))
    assert kept == [], f"{family}: random_init kept pretrained {kept}"
    a.check_random_init()  # the embed step's check passes
    b = floats(load(family, folder, random_init=True).model)
    for name, p in floats(a.model).items():
        torch.testing.assert_close(p, b[name], msg=f"{family}: {name} not reproducible")


def test_check_random_init_names_the_kept_parameters(hyena_dir):
    pretrained = load("hyenadna", hyena_dir).model
    adapter = load("hyenadna", hyena_dir, random_init=True)
    name = "backbone.layers.0.mixer.short_filter.weight"
    with torch.no_grad():
        dict(adapter.model.named_parameters())[name].copy_(dict(pretrained.named_parameters())[name])
    with pytest.raises(UserError, match=f"random_init left 1 of .*{name}"):
        adapter.check_random_init()


def test_untrained_constant_tensors_are_allowed_but_trained_ones_are_not(caplog):
    import logging

    from glmprobe.glm.adapter import check_reinitialized, parameter_digests, reinitialize
    from glmprobe.glm.tiny import build_model, build_tokenizer

    model = build_model(build_tokenizer("char"), hidden=16, layers=2, heads=2, max_tokens=64)
    ids = torch.randint(5, 10, (4, 20))
    model(input_ids=ids, labels=ids).loss.backward()  # one step: the MLM never trains the contact head
    torch.optim.AdamW(model.parameters(), lr=1e-3).step()
    pretrained = parameter_digests(model)
    layer_norm = model.esm.encoder.layer[0].attention.LayerNorm.weight.detach().clone()
    reinitialize(model)
    with caplog.at_level(logging.INFO):
        check_reinitialized(model, pretrained, "esm")  # contact_head.regression.bias: zeros before and after
    assert "contact_head.regression.bias" in caplog.text
    with torch.no_grad():
        model.esm.encoder.layer[0].attention.LayerNorm.weight.copy_(layer_norm)  # a trained tensor kept
    with pytest.raises(UserError, match="attention.LayerNorm.weight"):
        check_reinitialized(model, pretrained, "esm")


def _embed_step():
    try:
        from glmprobe.steps.embed import embed_step
    except ImportError:
        from glmprobe.glm.embed import embed_step
    return embed_step


def test_embed_step_refuses_a_partly_random_control(bpe_dir, dataset_factory, tmp_path, monkeypatch):
    from glmprobe.glm import adapter as adapter_module
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.glm.adapters import hf

    for module in (adapter_module, hf):  # an initialiser that skips everything: the bug, at its worst
        monkeypatch.setattr(module, "reinitialize", lambda model, seed=0: model)
    data = dataset_factory(tmp_path / "d.h5", n=10)
    spec = ModelSpec(id="rand", source=str(bpe_dir), family="hf-mlm", random_init=True)
    with pytest.raises(UserError, match="random_init left .* at their pre-trained values.*embeddings"):
        _embed_step()(data, spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- defect 2: HyenaDNA's n_layer + 2 states
def test_hyenadna_last_layer_is_the_post_layernorm_output(hyena_dir):
    adapter = make_adapter("hyenadna", hyena_dir)
    batch = adapter.tokenize(["ACGTN", "ACGTACGTAC"])
    assert batch.input_ids[0, :6].tolist() == [7, 8, 9, 10, 11, 1]  # bases, then [SEP]; no CLS
    assert batch.special_mask[0].tolist() == [False] * 5 + [True] + [True] * 5
    assert adapter.resolve_layers("last") == [2] and adapter.resolve_layers("all") == [1, 2]
    got = adapter.hidden_states(batch, [0, 1, 2])
    ref = adapter.model(input_ids=batch.input_ids, output_hidden_states=True, return_dict=True)
    torch.testing.assert_close(got[0], ref.hidden_states[0])
    torch.testing.assert_close(got[1], ref.hidden_states[1])
    torch.testing.assert_close(got[2], ref.last_hidden_state)  # after ln_f, what the study used
    torch.testing.assert_close(got[2], ref.hidden_states[3])


# ---------------------------------------------------------------- defect 3: Caduceus' residual stream
def test_caduceus_layers_are_the_residual_stream(caduceus_dir):
    adapter = load("caduceus", caduceus_dir)
    seqs = ["ACGTAC", "ACGTACGTAA"]
    batch = adapter.tokenize(seqs)
    assert batch.input_ids[0, :7].tolist() == [7, 8, 9, 10, 7, 8, 1] and adapter.cls_index is None
    n = adapter.num_layers
    got = adapter.hidden_states(batch, list(range(n + 1)))
    model = adapter.model
    for i, seq in enumerate(seqs):
        ids = adapter.tokenize([seq]).input_ids
        with torch.no_grad():
            hidden, residual = model.backbone.embeddings(ids), None
            stream = [hidden]
            for block in model.backbone.layers:
                hidden, residual = block(hidden, residual)
                stream.append(hidden + residual)
            final = model(input_ids=ids).last_hidden_state
            branch = model(input_ids=ids, output_hidden_states=True).hidden_states
        k = ids.shape[1]
        for layer in range(n):
            torch.testing.assert_close(got[layer][i, :k], stream[layer][0])
        torch.testing.assert_close(got[n][i, :k], final[0])  # the last layer: after norm_f
        assert not torch.allclose(got[1][i, :k], branch[1][0])  # not upstream's branch output


def test_caduceus_random_init_and_rc_width_on_the_standin(caduceus_dir):
    adapter = load("caduceus", caduceus_dir)
    assert adapter.hidden_size == adapter.model.config.d_model
    assert adapter.hidden_states(adapter.tokenize(random_dna(2, 9)), [2])[2].shape == (2, 10, adapter.hidden_size)
