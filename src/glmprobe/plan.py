"""The plan: expand a params file and its sheets into the list of tasks, once, for every runner.

``glmprobe run`` executes the tasks in order in-process; the Nextflow pipeline mirrors
the same expansion (or reads ``glmprobe plan --format json``). Task ids equal the
``key`` of the record the task leaves behind (``probes/<dataset>/<model>/L<layer>/<pooling>-<head>``), which is also the task's
folder in the output tree of docs/CONTRACTS.md (``outdir``).

Expansion: [synth] -> prepare per dataset -> [pretrain] -> embed per dataset x model ->
probe per dataset x model x layer x pooling x head (heads only on compatible poolings) ->
baseline per dataset x arch -> [attribute per baseline, and per gLM's deepest pooled probe] ->
[variants: zero-shot per gLM, supervised per baseline and deepest pooled probe] -> track -> report.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from glmprobe.data.sheet import read_sheet
from glmprobe.errors import UserError
from glmprobe.glm.adapter import POOLINGS, ModelSpec, absolute_layers
from glmprobe.heads.registry import fits
from glmprobe.params import Params, load_params

PRETRAINED_ID = "pretrained"                # the schema's id for the `pretrain: true` model
PRETRAINED_RANDOM_ID = "pretrained-random"  # its random-init control (same architecture, weights re-drawn)


@dataclass
class Task:
    id: str                      # == the record key it leaves behind
    step: str                    # synth | prepare | pretrain | embed | probe | baseline | track | report
    outdir: str                  # folder under the results dir
    deps: list[str] = field(default_factory=list)
    inputs: dict = field(default_factory=dict)   # files it reads (results-relative or absolute)
    args: dict = field(default_factory=dict)     # step arguments (dataset, model, layer, pooling, head, arch)


# --------------------------------------------------------------------------- sheets

def dataset_ids(params: Params) -> list[str]:
    """Dataset ids from the datasets sheet (or the synthetic benchmark), filtered by ``datasets``."""
    sheet = Path(params["input"])
    if sheet.is_file():
        ids = [row.id for row in read_sheet(sheet)]   # the one parser (and validator) of the sheet
    elif params.get("synth"):
        from glmprobe.data.synth import SIZES  # dataset names are fixed by the generator

        ids = list(SIZES[bool(params.get("synth_small"))])
    else:
        raise UserError("datasets sheet not found", path=sheet)
    wanted = params.list("datasets")
    missing = [d for d in wanted if d not in ids]
    if missing:
        raise UserError(f"param 'datasets' names {', '.join(missing)}, not in the datasets sheet",
                        path=params.path, where="param 'datasets'", hint=f"The sheet has: {', '.join(ids)}")
    return [d for d in ids if d in wanted] if wanted else ids


def model_specs(params: Params) -> list[ModelSpec]:
    """Models sheet rows, plus the pre-trained demo model and its random-init twin if ``pretrain``."""
    specs: list[ModelSpec] = []
    if params.get("models"):
        from glmprobe.glm.models_sheet import read_models_sheet

        specs = read_models_sheet(params["models"])
    if params.get("pretrain"):
        folder = str(Path(params.outdir) / "pretrain" / PRETRAINED_ID)
        taken = {s.id for s in specs} & {PRETRAINED_ID, PRETRAINED_RANDOM_ID}
        if taken:
            raise UserError(f"model id(s) {', '.join(sorted(taken))} are reserved for 'pretrain: true'",
                            path=params["models"], hint="Rename those rows")
        common = dict(source=folder, family="hf-mlm", layers="all", pooling=list(POOLINGS),
                      dtype="float32")
        specs += [ModelSpec(id=PRETRAINED_ID, **common),
                  ModelSpec(id=PRETRAINED_RANDOM_ID, random_init=True, **common)]
    return specs


def known_layers(spec: ModelSpec, params: Params) -> list[int] | None:
    """Absolute layer numbers when they can be known before embedding, else None."""
    if spec.family == "onehot":
        return [0]
    n = _pretrain_layers(params) if spec.id in (PRETRAINED_ID, PRETRAINED_RANDOM_ID) else _config_layers(spec)
    return absolute_layers(spec.layers, n, spec.id, path=params.get("models"))


def _config_layers(spec: ModelSpec) -> int | None:
    """The number of blocks a local model folder's config.json states, else None."""
    config = Path(spec.source) / "config.json"
    if not config.is_file():
        return None
    cfg = json.loads(config.read_text())
    return next((cfg[k] for k in ("num_hidden_layers", "n_layer", "num_layers", "n_layers") if k in cfg), None)


def pretrain_args(params: Params) -> dict:
    """Arguments of ``pretrain_step`` for the demo model: its defaults, ``pretrain_steps`` if set."""
    from glmprobe.glm.pretrain import PretrainOptions

    defaults = PretrainOptions()
    args = {k: getattr(defaults, k) for k in ("tokens", "layers", "hidden", "heads", "steps")}
    if params.get("pretrain_steps"):
        args["steps"] = int(params["pretrain_steps"])
    args["seed"] = int(params.get("seed", 0))
    return args


def _pretrain_layers(params: Params) -> int | None:
    return int(pretrain_args(params)["layers"])


# --------------------------------------------------------------------------- expansion

def build_plan(params: Params) -> list[Task]:
    """Every task, dependencies before dependents."""
    tasks = _synth_tasks(params)
    datasets = dataset_ids(params)
    tasks += _prepare_tasks(params, datasets, deps=[t.id for t in tasks])
    specs = model_specs(params)
    heads = params.list("heads")
    tasks += _pretrain_tasks(params, datasets)
    for ds in datasets:
        for spec in specs:
            tasks += _embed_tasks(params, ds, spec, heads)
        tasks += _baseline_tasks(params, ds)
        tasks += attribution_tasks(params, ds, specs, heads)
    tasks += variant_tasks(params, datasets, specs, heads)
    return tasks + _closing_tasks(params, tasks)


def _synth_tasks(params: Params) -> list[Task]:
    if not params.get("synth"):
        return []
    return [Task("synth", "synth", "synth", args={"seed": params.get("seed", 0),
                                                  "small": bool(params.get("synth_small"))})]


def _prepare_tasks(params: Params, datasets: list[str], deps: list[str]) -> list[Task]:
    return [Task(f"datasets/{ds}", "prepare", f"datasets/{ds}", deps=list(deps), inputs={"sheet": params["input"]},
                 args={"dataset": ds}) for ds in datasets]


def _pretrain_tasks(params: Params, datasets: list[str]) -> list[Task]:
    """The demo model's pre-training on ``pretrain_dataset`` (default: the first dataset)."""
    if not params.get("pretrain"):
        return []
    source = params.get("pretrain_dataset") or (datasets[0] if datasets else None)
    if source not in datasets:
        raise UserError(f"param 'pretrain_dataset' is {source!r}, not one of the selected datasets",
                        path=params.path, where="param 'pretrain_dataset'",
                        hint=f"Choose one of: {', '.join(datasets)}")
    # train split only (pretrain_step reads split 0): valid/test stay unseen by the gLM
    return [Task(f"pretrain/{PRETRAINED_ID}", "pretrain", f"pretrain/{PRETRAINED_ID}",
                 deps=[f"datasets/{source}"], inputs={"sequences": f"datasets/{source}/dataset.h5"},
                 args={"model": PRETRAINED_ID, **pretrain_args(params)})]


def _embed_tasks(params: Params, ds: str, spec: ModelSpec, heads: list[str]) -> list[Task]:
    """Embedding ``ds`` with ``spec``, then its probes."""
    embed_id = f"embeddings/{ds}/{spec.id}"
    deps = [f"datasets/{ds}"]
    if spec.id in (PRETRAINED_ID, PRETRAINED_RANDOM_ID):
        deps.append(f"pretrain/{PRETRAINED_ID}")
    embed = Task(embed_id, "embed", embed_id, deps=deps, inputs={"dataset": f"datasets/{ds}/dataset.h5"},
                 args={"dataset": ds, "model": spec.id})
    return [embed, *_probe_tasks(ds, spec, known_layers(spec, params), heads, embed_id)]


def _probe_tasks(ds: str, spec: ModelSpec, layers: list[int] | None, heads: list[str], embed_id: str) -> list[Task]:
    """One probe per layer x pooling x head that reads that pooling (the head registry says which).

    Unknown depth until embedded (``layers`` None): one task per pooling x head over every layer
    the store then holds ("all")."""
    return [_probe_task(ds, spec, layer, pooling, head, embed_id)
            for layer, pooling, head in itertools.product(layers if layers is not None else ["*"], spec.pooling, heads)
            if fits(head, pooling)]


def _probe_task(ds: str, spec: ModelSpec, layer: int | str, pooling: str, head: str, embed_id: str) -> Task:
    folder = f"probes/{ds}/{spec.id}/L{layer}/{pooling}-{head}"
    return Task(folder, "probe", folder if layer != "*" else f"probes/{ds}/{spec.id}", deps=[embed_id],
                inputs={"dataset": f"datasets/{ds}/dataset.h5", "store": embed_id},
                args={"dataset": ds, "model": spec.id, "layer": layer if layer != "*" else "all",
                      "pooling": pooling, "head": head})


def _baseline_tasks(params: Params, ds: str) -> list[Task]:
    return [Task(f"baselines/{ds}/{arch}", "baseline", f"baselines/{ds}/{arch}", deps=[f"datasets/{ds}"],
                 inputs={"dataset": f"datasets/{ds}/dataset.h5"}, args={"dataset": ds, "arch": arch})
            for arch in params.list("baselines")]


def _closing_tasks(params: Params, tasks: list[Task]) -> list[Task]:
    """track and report, after every task that leaves a record."""
    work = [t.id for t in tasks if t.step in ("probe", "baseline", "embed", "prepare", "pretrain", "attribute",
                                              "variants")]
    return [Task("track", "track", ".", deps=work, args={"experiment": params.get("experiment", "glmprobe"),
                                                         "tracking_uri": params.get("tracking_uri")}),
            Task("report", "report", "report", deps=work)]


# --------------------------------------------------------------------------- attribution and variants

def _explained_probe(spec: ModelSpec, params: Params, heads: list[str]) -> str | None:
    """The probe explained for a gLM: its deepest layer, first pooled pooling, first head that reads it."""
    if spec.family == "onehot":
        return None
    layers = known_layers(spec, params)
    if not layers:
        return None
    for pooling in [p for p in ("mean", "cls") if p in spec.pooling]:
        for head in heads:
            if fits(head, pooling):
                return f"{spec.id}/L{max(layers)}/{pooling}-{head}"
    return None


def _neural_baselines(params: Params) -> list[str]:
    from glmprobe.heads.baseline import CONTROLS

    return [a for a in params.list("baselines") if a not in CONTROLS]


def attribution_tasks(params: Params, ds: str, specs: list[ModelSpec], heads: list[str]) -> list[Task]:
    """``attribute`` methods for every neural baseline, ``attribute_glm`` for each gLM's explained probe."""
    common = {"k": int(params.get("attribute_k", 100)), "modisco": bool(params.get("attribute_modisco", True))}
    inputs = {"dataset": f"datasets/{ds}/dataset.h5"}
    if params.get("synth"):   # the synthetic benchmark's answer key
        inputs.update(sites="synth/motif_sites.tsv", motifs="synth/motifs.meme")
    out = []
    methods = params.list("attribute")
    for arch in _neural_baselines(params) if methods else ():
        out.append(Task(f"attribution/{ds}/{arch}", "attribute", f"attribution/{ds}/{arch}",
                        deps=[f"baselines/{ds}/{arch}"], inputs={**inputs, "model": f"baselines/{ds}/{arch}"},
                        args={"dataset": ds, "methods": methods, **common}))
    glm_methods = params.list("attribute_glm")
    for spec in specs if glm_methods else ():
        probe = _explained_probe(spec, params, heads)
        if probe:
            out.append(Task(f"attribution/{ds}/{probe}", "attribute", f"attribution/{ds}/{probe}",
                            deps=[f"probes/{ds}/{probe}"], inputs={**inputs, "model": f"probes/{ds}/{probe}"},
                            args={"dataset": ds, "methods": glm_methods, **common}))
    return out


def variant_sets(params: Params) -> tuple[str, str, str] | None:
    """(set name, variants file, genome) of param ``variants`` ('synth' = the synthetic set)."""
    value = params.get("variants")
    if not value:
        return None
    if value == "synth":
        if not params.get("synth"):
            raise UserError("param 'variants' is 'synth' but 'synth' is off", path=params.path,
                            where="param 'variants'", hint="Set synth: true, or give a variants file")
        return "synth_variants", "synth/variants.tsv", "synth/variants_genome.fa"
    if not params.get("variants_genome"):
        raise UserError("param 'variants' needs 'variants_genome' (the reference FASTA)", path=params.path,
                        where="param 'variants_genome'")
    return Path(value).name.split(".")[0], str(value), str(params["variants_genome"])


def variant_tasks(params: Params, datasets: list[str], specs: list[ModelSpec], heads: list[str]) -> list[Task]:
    """Zero-shot scores of every gLM; supervised scores of the models trained on ``variants_dataset``."""
    found = variant_sets(params)
    if found is None:
        return []
    name, variants, genome = found
    ds = params.get("variants_dataset") or ("synth_mpra" if params.get("synth") else datasets[0])
    if ds not in datasets:
        raise UserError(f"param 'variants_dataset' is {ds!r}, not one of the selected datasets", path=params.path,
                        where="param 'variants_dataset'", hint=f"Choose one of: {', '.join(datasets)}")
    inputs = {"variants": variants, "genome": genome}
    args = {"name": name, "length": params.get("variants_length"),
            "on_mismatch": params.get("variants_on_mismatch", "drop")}
    deps = ["synth"] if params.get("synth") else []
    out = []
    for spec in specs:
        if spec.family == "onehot":
            continue
        pre = [f"pretrain/{PRETRAINED_ID}"] if spec.id in (PRETRAINED_ID, PRETRAINED_RANDOM_ID) else []
        out.append(Task(f"variants/{name}/{spec.id}", "variants", f"variants/{name}/{spec.id}", deps=deps + pre,
                        inputs=inputs, args={**args, "model": spec.id}))
        probe = _explained_probe(spec, params, heads)
        if probe:
            folder = f"variants/{name}/{probe.replace('/', '_')}"
            out.append(Task(folder, "variants", folder, deps=deps + [f"probes/{ds}/{probe}"],
                            inputs={**inputs, "trained": f"probes/{ds}/{probe}"}, args=dict(args)))
    for arch in _neural_baselines(params):
        out.append(Task(f"variants/{name}/{arch}", "variants", f"variants/{name}/{arch}",
                        deps=deps + [f"baselines/{ds}/{arch}"],
                        inputs={**inputs, "trained": f"baselines/{ds}/{arch}"}, args=dict(args)))
    return out


def spec_by_id(params: Params) -> dict[str, ModelSpec]:
    return {s.id: s for s in model_specs(params)}


def to_rows(tasks: list[Task]) -> list[dict]:
    return [{"id": t.id, "step": t.step, "outdir": t.outdir, "deps": ";".join(t.deps),
             "inputs": json.dumps(t.inputs, sort_keys=True), "args": json.dumps(t.args, sort_keys=True, default=str)}
            for t in tasks]


@click.command("plan")
@click.argument("params_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (overrides the params file's 'outdir'; default: results).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="Output format on stdout: a JSON list of tasks, or CSV with JSON-encoded inputs/args.")
@click.option("--fail-unknown", is_flag=True,
              help="Fail on a param that nextflow_schema.json does not declare (as nf-schema does in the pipeline).")
def plan_command(params_file: Path, outdir: Path | None, fmt: str, fail_unknown: bool = False) -> None:
    """Expand PARAMS_FILE and its sheets into the task list (id, step, outdir, deps, inputs, args)."""
    params = load_params(params_file, {"outdir": outdir})
    if fail_unknown and params.unknown:
        raise UserError(f"unknown param(s) {', '.join(params.unknown)} (not in nextflow_schema.json)",
                        path=params_file, hint="Check the spelling; `nextflow run . --help` lists every param")
    tasks = build_plan(params)
    if fmt == "json":
        click.echo(json.dumps([asdict(t) for t in tasks], indent=2, default=str))
    else:
        rows = to_rows(tasks)
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
