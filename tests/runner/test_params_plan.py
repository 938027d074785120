"""Params validation (errors name the param and its line) and the plan's expansion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from glmprobe.cli import cli
from glmprobe.errors import UserError
from glmprobe.params import load_params
from glmprobe.plan import build_plan

REPO = Path(__file__).parents[2]
SHEET = "id,format,path,task,split,target_cols\nd1,table,d1.tsv,regression,column,y\nd2,table,d2.tsv,binary,column,y\n"
MODELS = ("id,source,family,layers,pooling\n"
          "onehot,onehot,onehot,all,mean;tokens\n"
          "m,{src},hf-mlm,1;-1,cls;mean;tokens\n")


@pytest.fixture
def project(tmp_path):
    """A params file with relative sheets, and a local 'model' folder with a config.json (3 layers)."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "datasets.csv").write_text(SHEET)
    model = tmp_path / "conf" / "mymodel"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"num_hidden_layers": 3}))
    (tmp_path / "conf" / "models.csv").write_text(MODELS.format(src="mymodel"))
    return tmp_path


def write(project: Path, text: str) -> Path:
    p = project / "conf" / "p.yaml"
    p.write_text(text)
    return p


def test_relative_paths_resolve_against_the_params_file(project, monkeypatch):
    monkeypatch.chdir(project)
    p = load_params(write(project, "input: datasets.csv\nmodels: models.csv\n"))
    assert p["input"] == str(project / "conf" / "datasets.csv")
    assert p["models"] == str(project / "conf" / "models.csv")
    assert p.outdir == project / "results"                         # not in the file: relative to cwd
    assert p["trials"] == 20 and p["heads"] == "linear,mlp" and p.list("heads") == ["linear", "mlp"]
    p2 = load_params(write(project, "input: datasets.csv\noutdir: out\n"), {"outdir": "cli_out"}, cwd=project)
    assert p2.outdir == project / "cli_out"                        # the command line wins


@pytest.mark.parametrize("text, where, words", [
    ("input: datasets.csv\ntrials: many\n", "line 2, param 'trials'", "'many' is not of type 'integer'"),
    ("input: datasets.csv\npruner: hyperbandit\n", "param 'pruner'", "Choose one of: median, hyperband, none"),
    ("input: datasets.csv\nheads: [linear, mlp]\n", "param 'heads'", "Write it as heads: linear,mlp"),
    ("input: nope.csv\n", "line 1, param 'input'", "nope.csv"),
    ("trials: 3\n", "", "required param 'input' is missing"),
    ("input: datasets.csv\nsynth: true\n", "param 'input'", "not both"),
])
def test_validation_errors_name_the_param(project, text, where, words):
    with pytest.raises(UserError) as err:
        load_params(write(project, text))
    msg = str(err.value)
    assert str(project / "conf" / "p.yaml") in msg and where in msg and words in msg


def test_bad_yaml_names_the_line(project):
    with pytest.raises(UserError, match=r"p.yaml \(line 2\): not valid YAML"):
        load_params(write(project, "input: datasets.csv\n  trials: 3\n"))


def test_run_cli_turns_param_errors_into_exit_2(project):
    import subprocess
    import sys

    p = write(project, "input: datasets.csv\nreplicates: 0\n")
    proc = subprocess.run([sys.executable, "-m", "glmprobe.cli", "run", str(p), "--outdir", str(project / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "param 'replicates'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (project / "o").exists()                            # nothing written before validation


def test_plan_expands_heads_on_compatible_poolings_and_known_layers(project):
    p = load_params(write(project, "input: datasets.csv\nmodels: models.csv\nheads: linear,mlp,token_cnn\n"
                                   "baselines: cnn,resnet\ndatasets: d2\n"), {"outdir": project / "out"})
    tasks = build_plan(p)
    ids = [t.id for t in tasks]
    assert ids[0] == "datasets/d2" and ids[-2:] == ["track", "report"] and not any("d1" in i for i in ids)
    probes = [t for t in tasks if t.step == "probe"]
    # onehot: L0 x (mean: linear, mlp; tokens: token_cnn); m: layers 1 and -1 -> 1, 3 x (cls/mean x 2 + tokens)
    assert len(probes) == 3 + 2 * 5
    assert {t.args["layer"] for t in probes if t.args["model"] == "m"} == {1, 3}
    assert "probes/d2/m/L3/cls-mlp" in ids and "probes/d2/m/L3/tokens-token_cnn" in ids
    assert not any(i.endswith("tokens-linear") or i.endswith("mean-token_cnn") for i in ids)
    assert {"baselines/d2/cnn", "baselines/d2/resnet"} <= set(ids)
    # task id == the folder (and record key) it writes; dependencies come first
    seen = set()
    for t in tasks:
        assert set(t.deps) <= seen, t.id
        seen.add(t.id)
        if t.step in ("probe", "baseline", "embed", "prepare"):
            assert t.id == t.outdir


def test_plan_with_synth_and_pretrain(project):
    p = load_params(write(project, "synth: true\nsynth_small: true\npretrain: true\npretrain_steps: 7\n"
                                   "heads: mlp\nbaselines: cnn\n"), {"outdir": project / "out"})
    tasks = build_plan(p)
    assert tasks[0].id == "synth" and p["input"] == str(project / "out" / "synth" / "datasets.csv")
    pre = next(t for t in tasks if t.step == "pretrain")
    assert pre.args["steps"] == 7 and pre.inputs["sequences"] == "datasets/synth_mpra/dataset.h5"
    embeds = {t.id for t in tasks if t.step == "embed"}
    assert embeds == {f"embeddings/{d}/{m}" for d in ("synth_mpra", "synth_chip")
                      for m in ("pretrained", "pretrained-random")}
    layers = {t.args["layer"] for t in tasks if t.step == "probe"}
    assert layers == set(range(1, pre.args["layers"] + 1))


def test_plan_cli_json_and_csv(project):
    p = write(project, "input: datasets.csv\nbaselines: cnn\nheads: linear\n")
    res = CliRunner().invoke(cli, ["plan", str(p), "--outdir", str(project / "o")])
    assert res.exit_code == 0, res.output
    tasks = json.loads(res.output)
    assert [t["id"] for t in tasks] == ["datasets/d1", "datasets/d2", "baselines/d1/cnn", "baselines/d2/cnn",
                                        "track", "report"]
    res = CliRunner().invoke(cli, ["plan", str(p), "--format", "csv"])
    assert res.output.splitlines()[0] == "id,step,outdir,deps,inputs,args"
    assert len(res.output.splitlines()) == 7


def test_unknown_dataset_subset_is_a_user_error(project):
    p = load_params(write(project, "input: datasets.csv\ndatasets: d1,d9\n"))
    with pytest.raises(UserError, match="param 'datasets' names d9"):
        build_plan(p)


@pytest.mark.parametrize("name", ["demo.yaml", "demo_full.yaml"])
def test_demo_params_files_are_valid(tmp_path, name):
    p = load_params(REPO / "conf" / name, {"outdir": tmp_path})
    assert p["synth"] and p["pretrain"] and p["models"] == str(REPO / "conf" / "demo_models.csv")
    steps = {t.step for t in build_plan(p)}
    optional = {"attribute"} if p.get("attribute") else set()
    optional |= {"variants"} if p.get("variants") else set()
    assert steps == {"synth", "prepare", "pretrain", "embed", "probe", "baseline", "track", "report"} | optional


def test_hub_model_of_unknown_depth_probes_every_stored_layer(project):
    """A hub id has no local config.json: the plan cannot list layers, so each probe task
    asks for 'all' stored layers (the store holds exactly the resolved ones)."""
    (project / "conf" / "models.csv").write_text(
        "id,source,family,layers,pooling\nhub,org/some-model,hf-mlm,last,mean\nhub2,org/other,hf-mlm,1;-1,mean\n")
    p = load_params(write(project, "input: datasets.csv\nmodels: models.csv\nheads: linear\n"))
    probes = [t for t in build_plan(p) if t.step == "probe"]
    assert probes and all(t.args["layer"] == "all" for t in probes)
    assert {t.outdir for t in probes} == {"probes/d1/hub", "probes/d2/hub", "probes/d1/hub2", "probes/d2/hub2"}


def test_plan_and_adapter_read_layers_by_one_rule(project):
    from glmprobe.glm.adapter import absolute_layers

    assert absolute_layers([1, -1], 3, "m") == [1, 3] and absolute_layers("all", 3, "m") == [1, 2, 3]
    assert absolute_layers("last", 3, "m") == [3] and absolute_layers("last", None, "m") is None
    assert absolute_layers([2, 0, 2], None, "m") == [0, 2] and absolute_layers([2, -1], None, "m") is None
    (project / "conf" / "models.csv").write_text(MODELS.format(src="mymodel").replace("1;-1", "1;-5"))
    p = load_params(write(project, "input: datasets.csv\nmodels: models.csv\n"), {"outdir": project / "out"})
    with pytest.raises(UserError, match=r"models.csv: layer -5 out of range for model 'm' \(it has layers 0..3;"):
        build_plan(p)


def test_plan_reads_the_datasets_sheet_with_the_prepare_parser(project):
    sheet = project / "conf" / "datasets.csv"
    sheet.write_text("# a comment line\n" + SHEET.replace(",", "\t") + "d3\ttabel\td3.tsv\tregression\tcolumn\ty\n")
    p = load_params(write(project, "input: datasets.csv\n"), {"outdir": project / "out"})
    with pytest.raises(UserError, match=r"datasets.csv \(line 5, column 'format'\): 'tabel' is not one of .*"
                                        r"Did you mean 'table'\?"):
        build_plan(p)
    sheet.write_text("# a comment line\n" + SHEET.replace(",", "\t"))      # tab-separated, any suffix
    assert [t.id for t in build_plan(p) if t.step == "prepare"] == ["datasets/d1", "datasets/d2"]
