"""The registries are the single source of truth: the schema enums/patterns agree with them, and
every registered entry builds and runs (or, for closed-form fits, exposes its tune hook)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from glmprobe.data.readers import FORMATS, Reader, open_reader
from glmprobe.data.readers.hdf5 import LAYOUTS, Hdf5Reader
from glmprobe.data.sheet import DatasetRow
from glmprobe.errors import UserError
from glmprobe.glm.adapter import FAMILIES, POOLED, POOLINGS, TOKENS, Adapter, adapter_class
from glmprobe.heads.baseline import ARCHS, CONTROLS, load_arch
from glmprobe.heads.registry import HEADS, get_head
from glmprobe.registry import Registry
from glmprobe.train.tune import study_settings

ASSETS = Path(__file__).resolve().parents[2] / "src" / "glmprobe" / "assets"


def _params(schema: dict) -> dict:
    """Every parameter of a Nextflow schema, across its $defs groups."""
    out = dict(schema.get("properties", {}))
    for group in (schema.get("$defs") or schema.get("definitions") or {}).values():
        out.update(group.get("properties", {}))
    return out


def _pattern_names(pattern: str) -> set[str]:
    """``^(a|b)(,(a|b))*$`` (optionally wrapped in ``(...)?``) -> {a, b}; both alternations must agree."""
    groups = re.findall(r"\(([a-z0-9_|]+)\)", pattern)
    assert groups and all(g == groups[0] for g in groups), pattern
    return set(groups[0].split("|"))


NEXTFLOW = _params(json.loads((ASSETS / "nextflow_schema.json").read_text()))


def test_nextflow_schema_lists_exactly_the_registered_heads_and_archs():
    assert _pattern_names(NEXTFLOW["heads"]["pattern"]) == set(HEADS.names())
    assert _pattern_names(NEXTFLOW["baselines"]["pattern"]) == set(ARCHS.names())


def test_nextflow_schema_lists_exactly_the_attribution_methods():
    from glmprobe.attribution.onehot_maps import METHODS
    from glmprobe.steps.attribute import GLM_METHODS
    assert _pattern_names(NEXTFLOW["attribute"]["pattern"]) == set(METHODS)
    assert _pattern_names(NEXTFLOW["attribute_glm"]["pattern"]) == set(GLM_METHODS)


def test_models_sheet_schema_names_every_registered_family():
    family = json.loads((ASSETS / "schema_models.json").read_text())["items"]["properties"]["family"]
    listed = re.search(r":\s*(.*?)\s*\(", family["description"]).group(1)
    assert {f.strip() for f in listed.split(",")} == set(FAMILIES.names())
    assert all(re.fullmatch(family["pattern"], f) for f in FAMILIES.names())


def test_models_sheet_schema_poolings_are_the_store_poolings():
    pooling = json.loads((ASSETS / "schema_models.json").read_text())["items"]["properties"]["pooling"]
    assert _pattern_names(pooling["pattern"]) == set(POOLINGS) == set(POOLED) | set(TOKENS)
    assert all(set(e.poolings) <= set(POOLINGS) for e in HEADS.entries())


def test_datasets_sheet_schema_format_enum_is_the_readers_formats():
    fmt = json.loads((ASSETS / "schema_datasets.json").read_text())["items"]["properties"]["format"]
    assert fmt["enum"] == list(FORMATS)


@pytest.mark.parametrize("name", FORMATS.names())
def test_every_format_has_a_reader_and_a_description(name):
    entry = FORMATS[name]
    assert issubclass(entry.obj, Reader) and entry.help and not entry.help.endswith(".")
    assert name in LAYOUTS if entry.obj is Hdf5Reader else entry.obj.format == name


def test_only_insert_h5_defaults_to_log1p():
    assert FORMATS.select(log1p=True) == ["insert_h5"]


def test_misspelled_format_suggests_the_right_one(tmp_path):
    row = DatasetRow(id="d", format="fatsa", path=tmp_path / "s.fa", sheet=tmp_path / "datasets.csv", line=2)
    with pytest.raises(UserError, match=r"datasets.csv \(line 2, dataset 'd', column 'format'\): unknown input "
                                        r"format 'fatsa'\. Did you mean 'fasta'\? Use one of: bed, chip_h5"):
        open_reader(row)


def test_misspelled_format_in_a_sheet_exits_2_with_a_suggestion(tmp_path):
    sheet = tmp_path / "datasets.csv"
    sheet.write_text("id,format,path\nd,tabel,t.tsv\n")
    proc = subprocess.run([sys.executable, "-m", "glmprobe.cli", "prepare", str(sheet), "--outdir",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (f"{sheet} (line 2, column 'format'): 'tabel' is not one of bed, chip_h5" in proc.stderr
            and "Did you mean 'table'? See assets/schema_datasets.json." in proc.stderr), proc.stderr


def test_controls_are_the_archs_registered_as_controls():
    assert set(CONTROLS) == {"kmer", "mononuc", "dinuc", "dinuc_mlp"}
    assert all(ARCHS[a].kind == "one-hot" for a in ARCHS if a not in CONTROLS)


def test_misspelled_family_suggests_the_right_one_and_unavailable_says_why():
    with pytest.raises(UserError, match=r"unknown model family 'hyenadan'\. Did you mean 'hyenadna'\?"):
        adapter_class("hyenadan")
    reg = Registry("model family", modules=("glmprobe.glm.adapters.no_such_family",))
    with pytest.raises(UserError, match="'no_such_family' is not available in this installation: "
                                        "ModuleNotFoundError: No module named"):
        reg.get("no_such_family")


def _forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("name", HEADS.names())
def test_every_head_builds_and_runs(name):
    spec, n_targets = get_head(name), 2
    mod = spec.load()
    if not hasattr(mod, "build"):               # closed-form fit (linear: ridge/logistic path)
        assert callable(mod.tune)
        return
    hp = study_settings(mod, "regression", "nt")
    shape = (8, 24) if spec.tokens else (8,)
    model = spec.builder(shape, n_targets)(hp)
    x = torch.randn(3, 2, *shape) if name == "two_tower" else torch.randn(3, *shape)   # two segments
    assert _forward(model, x).shape == (3, n_targets)


@pytest.mark.parametrize("name", ARCHS.names())
def test_every_arch_builds_and_runs(name):
    arch, n_targets, length = load_arch(name), 2, 64
    if not hasattr(arch.module, "build"):       # closed-form control (k-mer counts + linear fit)
        assert callable(arch.module.tune)
        return
    model = arch.build(length, n_targets, arch.study_for("regression"))
    x = torch.randn(3, 2, 4, length) if name == "mtsplice" else torch.randn(3, 4, length)
    assert _forward(model, x).shape == (3, n_targets)


@pytest.mark.parametrize("name", FAMILIES.names())
def test_every_family_resolves_to_its_adapter_class(name):
    cls = adapter_class(name)
    assert issubclass(cls, Adapter) and cls.family == name
