"""The plan's attribution and variant-effect tasks: which models, which inputs, which dependencies."""

from __future__ import annotations

import pytest

from glmprobe.errors import UserError
from glmprobe.params import load_params
from glmprobe.plan import build_plan

PARAMS = """synth: true
synth_small: true
pretrain: true
heads: linear,mlp
baselines: cnn,kmer
attribute: gxi,deeplift
attribute_glm: ism
attribute_k: 7
variants: synth
"""


def _plan(tmp_path, text=PARAMS):
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return {t.id: t for t in build_plan(load_params(p, {"outdir": str(tmp_path / "res")}))}


def test_every_neural_baseline_and_each_glms_deepest_pooled_probe_is_explained(tmp_path):
    tasks = _plan(tmp_path)
    attr = {k: t for k, t in tasks.items() if t.step == "attribute"}
    assert "attribution/synth_mpra/cnn" in attr and "attribution/synth_chip/cnn" in attr
    assert not any(k.endswith("/kmer") for k in attr)      # controls have no useful gradient
    cnn = attr["attribution/synth_mpra/cnn"]
    assert cnn.deps == ["baselines/synth_mpra/cnn"] and cnn.args["methods"] == ["gxi", "deeplift"]
    assert cnn.inputs["sites"] == "synth/motif_sites.tsv" and cnn.inputs["motifs"] == "synth/motifs.meme"
    assert cnn.args["k"] == 7
    probe = attr["attribution/synth_mpra/pretrained/L2/mean-linear"]    # the demo gLM has 2 layers
    assert probe.deps == ["probes/synth_mpra/pretrained/L2/mean-linear"] and probe.args["methods"] == ["ism"]
    assert probe.deps[0] in tasks                                        # a probe the plan fits
    assert "attribution/synth_mpra/pretrained-random/L2/mean-linear" in attr
    assert tasks["track"].deps[-1].startswith(("attribution/", "variants/"))


def test_synthetic_variants_are_scored_zero_shot_and_supervised(tmp_path):
    tasks = _plan(tmp_path)
    var = {k: t for k, t in tasks.items() if t.step == "variants"}
    assert {"variants/synth_variants/pretrained", "variants/synth_variants/pretrained-random",
            "variants/synth_variants/cnn", "variants/synth_variants/pretrained_L2_mean-linear"} <= set(var)
    assert "variants/synth_variants/kmer" not in var
    zs = var["variants/synth_variants/pretrained"]
    assert zs.args["model"] == "pretrained" and "trained" not in zs.inputs
    assert zs.deps == ["synth", "pretrain/pretrained"]
    sup = var["variants/synth_variants/cnn"]
    assert sup.inputs == {"variants": "synth/variants.tsv", "genome": "synth/variants_genome.fa",
                          "trained": "baselines/synth_mpra/cnn"}
    assert sup.deps == ["synth", "baselines/synth_mpra/cnn"]


def test_no_attribution_or_variants_unless_asked(tmp_path):
    tasks = _plan(tmp_path, "synth: true\nsynth_small: true\nbaselines: cnn\n")
    assert not any(t.step in ("attribute", "variants") for t in tasks.values())


def test_synthetic_variants_need_synth_and_a_file_needs_its_genome(tmp_path):
    (tmp_path / "s.csv").write_text("id,format,path,task,split,target_cols\nd1,table,d1.tsv,regression,column,y\n")
    with pytest.raises(UserError, match="'variants' is 'synth' but 'synth' is off"):
        _plan(tmp_path, "input: s.csv\nvariants: synth\n")
    with pytest.raises(UserError, match="needs 'variants_genome'"):
        _plan(tmp_path, "synth: true\nvariants: v.tsv\n")   # a pattern-valid path; the genome is missing
