"""``glmprobe attribute``: nucleotide-level maps of a trained model, scored against the planted truth.

One task = one trained model (a one-hot baseline or a gLM probe) x one dataset; it writes
``attribution/<dataset>/<model>/``:

* ``maps_<method>.h5``: the maps, streamed to disk a batch at a time (:mod:`~glmprobe.attribution.mapstore`);
  when the sum over several targets is explained, each target's own maps beside them (``--per-target``);
* ``selection.csv``: which sequences were explained (id, row, explained prediction);
* ``ground_truth.csv``: AUROC/AUPRC of |attribution| per target, method and site class, with CIs
  (when ``--sites`` is given, e.g. synth's ``motif_sites.tsv``; each target's own map against its own sites);
* ``agreement.csv``: per-sequence Pearson/Spearman and top-k overlap between every pair of
  methods and against the maps of other attribution folders (``--agree-with``);
* ``motifs_<method>.csv`` + ``logos/``: modisco-lite patterns named by TOMTOM against
  ``--motifs`` (e.g. synth's ``motifs.meme``), with q-values and CWM logos;
* ``gia.csv``: global importance analysis of each ``--gia-motif``;
* ``logos/top<k>_<method>.png/.svg``: the strongest window of the top sequences' maps;
* ``record.json``: headline metrics (``gt_auroc/<method>``, ``motifs_recovered/<method>``, ...; with
  ``--sites`` also ``motifs_recovered_planted/<method>`` and ``motifs_recovered_other/<method>``:
  recovered motifs that are, or are not, planted with an effect in the explained sequences).

Everything that can be checked is checked before any map is computed (model, dataset,
target, methods, ids, lengths), and all outputs appear together or not at all.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from glmprobe.device import DEFAULT_DEVICE, DEVICES, resolve_device
from glmprobe.errors import UserError
from glmprobe.steps.paths import dataset_option, folder_option

log = logging.getLogger(__name__)

ONEHOT_METHODS = ("saliency", "gxi", "ism", "deeplift", "ig")
GLM_METHODS = ("ism", "entropy", "grad_entropy", "masked_llr", "causal_llr")
ALL_METHODS = tuple(dict.fromkeys(ONEHOT_METHODS + GLM_METHODS))
HYPOTHETICAL = {"saliency", "gxi", "ism", "deeplift", "masked_llr", "causal_llr"}   # modisco can read these
TARGET_FREE = {"entropy", "masked_llr", "causal_llr"}   # zero-shot maps of the gLM alone: the same for every output


def _sha(path: Path | None) -> str:
    return "" if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_methods(kind: str, methods: Sequence[str]) -> list[str]:
    allowed = ONEHOT_METHODS if kind == "onehot" else GLM_METHODS
    for m in methods:
        if m not in allowed:
            why = ("gradient methods cannot pass through a tokenizer (token ids are discrete)" if kind == "glm"
                   else "it needs a gLM")
            raise UserError(f"method {m!r} is not available for a {'gLM probe' if kind == 'glm' else 'one-hot model'}: "
                            f"{why}", where="--method", hint=f"Use one of {', '.join(allowed)}.")
    return list(dict.fromkeys(methods))


def _target_index(target: str | None, names: list[str]) -> tuple[int | None, str | None]:
    """(output index or None for the sum, target name for the sites table or None)."""
    if target is None:
        return (0, names[0]) if len(names) == 1 else (None, None)
    if target == "sum":
        return None, None
    if target not in names:
        raise UserError(f"target {target!r} is not one of the dataset's targets ({', '.join(names)})",
                        where="--target", hint="Name a target, or 'sum' to explain the sum over targets.")
    return names.index(target), target


class _Explainer:
    """sequences -> explained output (N,), for selection and GIA, whatever the model kind."""

    def __init__(self, trained, target: int | None, batch_size: int, device: str):
        self.trained, self.target, self.batch_size, self.device = trained, target, batch_size, device
        self.glm = None
        if trained.kind == "glm":
            from glmprobe.attribution.glm_ism import GLMPredictor
            self.glm = GLMPredictor(trained, batch_size=max(batch_size, 64), device=device)

    def raw(self, seqs: Sequence[str]) -> np.ndarray:
        import torch

        from glmprobe.data.onehot import encode

        if self.glm is not None:
            return self.glm(list(seqs))
        out = []
        with torch.no_grad():
            for a in range(0, len(seqs), 512):
                X = torch.from_numpy(encode(list(seqs[a:a + 512]), self.trained.length)).to(self.device)
                out.append(self.trained.module(X).float().cpu().numpy())
        return np.concatenate(out)

    def __call__(self, seqs: Sequence[str]) -> np.ndarray:
        y = self.raw(seqs)
        return y.sum(axis=1) if self.target is None else y[:, self.target]


def _compute(trained, method: str, seqs: list[str], target: int | None, opts: dict, explainer: _Explainer):
    """Maps for one batch of sequences."""
    from glmprobe.attribution.onehot_maps import Maps, onehot_maps
    from glmprobe.data.onehot import encode

    X = encode(seqs, max(len(s) for s in seqs))
    if trained.kind == "onehot":
        return onehot_maps(trained.module, X, method, target=target, seed=opts["seed"], n_shuffles=opts["n_shuffles"],
                           ig_steps=opts["ig_steps"], batch_size=opts["batch_size"], device=opts["device"])
    from glmprobe.attribution import zeroshot
    from glmprobe.attribution.glm_ism import glm_ism

    adapter = trained.glm.adapter
    if method == "ism":
        return glm_ism(explainer.glm, seqs, target=target, chunk=opts["chunk"])
    if method in ("entropy", "grad_entropy"):
        s = (zeroshot.information_maps(adapter, seqs) if method == "entropy"
             else zeroshot.gradient_information_maps(trained, seqs, target))
        proj = (X * s[:, None, :]).astype(np.float32)
        return Maps(proj, proj)
    llr = zeroshot.masked_llr_maps(adapter, seqs) if method == "masked_llr" else zeroshot.causal_llr_maps(adapter, seqs)
    llr = np.nan_to_num(llr, nan=0.0)
    hyp = np.where(X.sum(1, keepdims=True) > 0, llr - llr.mean(axis=1, keepdims=True), 0.0).astype(np.float32)
    return Maps(hyp, (hyp * X).astype(np.float32))


def _compute_outputs(trained, method: str, seqs: list[str], outputs: Sequence[int | None], opts: dict,
                     explainer: _Explainer) -> list:
    """Maps of one batch for several explained outputs (a target index, or None for the sum); gLM ISM
    gets them all from one set of forward passes."""
    if trained.kind == "glm" and method == "ism":
        from glmprobe.attribution.glm_ism import glm_ism_targets
        return glm_ism_targets(explainer.glm, seqs, list(outputs), chunk=opts["chunk"])
    return [_compute(trained, method, seqs, t, opts, explainer) for t in outputs]


def attribute_step(model: str | Path, dataset: str | Path, outdir: str | Path, methods: Sequence[str], *,
                   target: str | None = None, select: str = "top", k: int = 500, split: str = "test",
                   ids_file: Path | None = None, sites: Path | None = None, motifs: Path | None = None,
                   modisco: bool = True, per_target: bool = True, max_seqlets: int = 2000, gia_motifs: Sequence[str] = (), gia_n: int = 300,
                   agree_with: Sequence[Path] = (), top_k_overlap: int = 20, logos: int = 3, window: int = 40,
                   n_shuffles: int = 20, ig_steps: int = 50, batch_size: int = 64, chunk: int = 2048,
                   seed: int = 0, model_seed: int | None = None, store: Path | None = None,
                   device: str = DEFAULT_DEVICE, force: bool = False, progress: bool = False) -> Path:
    """Compute, score and write one model's maps; returns the record path."""
    from glmprobe.attribution.ceiling_maps import synth_answer_key
    from glmprobe.attribution.loader import check_dataset, check_lengths, load_trained, read_trained_record
    from glmprobe.attribution.select import select_rows
    from glmprobe.data.dataset import DatasetFile
    from glmprobe.steps.skeleton import Task

    model, dataset, outdir = Path(model), Path(dataset), Path(outdir)
    device = resolve_device(device)
    if not methods:
        raise UserError("no --method given", where="--method", hint=f"Choose from {', '.join(ALL_METHODS)}.")
    rec = read_trained_record(model)
    kind = "onehot" if rec["step"] == "baseline" else "glm"
    methods = check_methods(kind, methods)
    id_list = []
    if select == "ids":
        if ids_file is None:
            raise UserError("--select ids needs --ids FILE", where="--ids")
        try:
            id_list = [line.strip() for line in Path(ids_file).read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise UserError(f"cannot read the id list ({exc.strerror})", path=ids_file) from None
    for m in gia_motifs:
        if not m or set(m.upper()) - set("ACGT"):
            raise UserError(f"GIA motif {m!r} must be a string of A/C/G/T", where="--gia-motif",
                            hint="Give a consensus without IUPAC codes, e.g. CCGCGAGGGGGCAG.")
    for path, what in ((sites, "--sites"), (motifs, "--motifs")):
        if path is not None and not Path(path).exists():
            raise UserError("file not found", path=path, where=what)
    with DatasetFile(dataset) as ds:
        name, checksum, names = ds.name, ds.checksum, list(ds.target_names)
        all_ids, split_names = ds.ids, ds.split
        t_index, t_name = _target_index(target, names)
        blob = {"model": rec.get("cache_key"), "model_seed": model_seed, "dataset": checksum, "methods": methods,
                "target": target, "select": select, "k": k, "split": split, "ids": id_list,
                "sites": _sha(sites), "motifs": _sha(motifs), "modisco": modisco,
                "per_target": per_target, "max_seqlets": max_seqlets,
                "gia": list(gia_motifs), "gia_n": gia_n, "agree_with": sorted(str(p) for p in agree_with),
                "top_k_overlap": top_k_overlap, "logos": logos, "window": window, "n_shuffles": n_shuffles,
                "ig_steps": ig_steps, "seed": seed, "ceiling": sites is not None and synth_answer_key(sites, name)}
        check_dataset(model, rec, checksum, dataset)
        trained = load_trained(model, len(names), seed=model_seed, device=device, store=store)
        task = Task("attribute", f"attribution/{name}/{trained.name}", outdir, blob,
                    outputs=tuple(f"maps_{m}.h5" for m in methods),
                    tags={"dataset": name, "model": trained.name, "kind": kind, "task": ds.task,
                          "target": t_name or ("sum" if t_index is None else names[t_index]),
                          **{k2: rec.get("tags", {}).get(k2) for k2 in ("arch", "head", "layer", "pooling")
                             if rec.get("tags", {}).get(k2) is not None}},
                    params={"methods": ",".join(methods), "select": select, "k": k, "split": split,
                            "n_shuffles": n_shuffles, "ig_steps": ig_steps, "seed": seed,
                            "model_seed": trained.seed, "window": window},
                    inputs={"dataset": {"path": str(dataset), "checksum": checksum},
                            "model": {"path": str(model), "cache_key": rec.get("cache_key")},
                            **({"sites": {"path": str(sites), "sha256": blob["sites"]}} if sites else {}),
                            **({"motifs": {"path": str(motifs), "sha256": blob["motifs"]}} if motifs else {})})
        if task.up_to_date(force):
            return task.record_path
        explainer = _Explainer(trained, t_index, batch_size, device)
        preds = None
        if select == "top":
            pool = np.flatnonzero(split_names == split) if split != "all" else np.arange(len(all_ids))
            preds = np.full(len(all_ids), -np.inf)
            if pool.size:
                seqs_pool = list(ds.sequences(pool))
                check_lengths(trained, seqs_pool, all_ids[pool])
                preds[pool] = explainer(seqs_pool)
        rows = select_rows(all_ids, split_names, select, k, on_split=split, predictions=preds, id_list=id_list,
                           seed=seed, id_source=ids_file)
        seqs = list(ds.sequences(rows))
        chosen_ids = all_ids[rows]
    check_lengths(trained, seqs, chosen_ids)
    site_table = None
    if sites is not None:
        from glmprobe.attribution.evaluate import read_sites
        site_table = read_sites(sites, name)
    motif_db = None
    if motifs is not None:
        from glmprobe.attribution.motifs import read_meme
        motif_db = read_meme(motifs)
    others = [_read_other(p, chosen_ids) for p in agree_with]

    opts = {"seed": seed, "n_shuffles": n_shuffles, "ig_steps": ig_steps, "batch_size": batch_size,
            "device": device, "chunk": chunk}
    with task.writing() as tmp:
        _work(task, tmp, trained, methods, seqs, chosen_ids, rows, t_index, opts, explainer, site_table, motif_db,
              modisco, max_seqlets, gia_motifs, gia_n, others, top_k_overlap, logos, window, seed, progress,
              explained=t_name, ceiling=name if blob["ceiling"] else None,
              target_names=names if t_index is None and len(names) > 1 and per_target else ())
    return task.record_path


def _target_scores(path: Path, target: str) -> np.ndarray:
    from glmprobe.attribution.mapstore import MapFile

    with MapFile(path) as mf:
        return mf.scores(target)


def _gt_metrics(record: dict, method: str, cls: str, r: dict, target: str | None) -> None:
    """Headline metrics of one ground-truth row: ``gt_auroc[_<class>]/<method>[:<target>]``; the
    attribution ceiling's strong-site AUROC as ``gt_ceiling_auroc[/<target>]`` (a reference, not a
    method of this model)."""
    from glmprobe.attribution.ceiling_maps import CEILING

    metrics, ci = record["metrics"], record["ci"]
    at = "" if target is None else f":{target}"
    if method == CEILING:
        if cls == "strong":
            key = "gt_ceiling_auroc" + ("" if target is None else f"/{target}")
            metrics[key], ci[key] = r["auroc"], r["auroc_ci"]
            if target is None:
                metrics["gt_ceiling_auprc"] = r["auprc"]
        return
    suffix = "" if cls == "strong" else f"_{cls}"
    metrics[f"gt_auroc{suffix}/{method}{at}"] = r["auroc"]
    metrics[f"gt_auprc{suffix}/{method}{at}"] = r["auprc"]
    if cls == "strong":
        ci[f"gt_auroc/{method}{at}"] = r["auroc_ci"]


def _read_other(folder: Path, ids: np.ndarray) -> tuple[str, dict[str, np.ndarray]]:
    """Another attribution folder's maps, on the same sequences: (its model name, {method: scores})."""
    from glmprobe.attribution.mapstore import MapFile
    from glmprobe.record import read_record

    folder = Path(folder)
    try:
        rec = read_record(folder)
    except (OSError, ValueError):
        raise UserError("not an attribution folder (no record.json)", path=folder, where="--agree-with") from None
    out = {}
    for f in sorted(folder.glob("maps_*.h5")):
        with MapFile(f) as mf:
            index = {rid: i for i, rid in enumerate(mf.ids)}
            missing = [rid for rid in ids if rid not in index]
            if missing:
                raise UserError(f"its maps do not cover sequence '{missing[0]}' ({len(missing)} of {len(ids)} "
                                "missing)", path=f, where="--agree-with",
                                hint="Explain the same sequences (or a subset): --select ids --ids FILE.")
            out[mf.method] = mf.scores()[[index[rid] for rid in ids]]
    return rec.get("tags", {}).get("model", folder.name), out


def _flat(result: dict) -> dict:
    """{name_ci: [lo, hi]} -> name_lo, name_hi columns."""
    out = {}
    for k, v in result.items():
        if isinstance(v, list):
            out[f"{k[:-3]}_lo"], out[f"{k[:-3]}_hi"] = v
        else:
            out[k] = v
    return out


def _work(task, tmp: Path, trained, methods, seqs, ids, rows, t_index, opts, explainer, sites, motif_db, modisco,
          max_seqlets, gia_motifs, gia_n, others, top_k_overlap, logos, window, seed, progress, *,
          explained: str | None = None, ceiling: str | None = None, target_names: Sequence[str] = ()) -> None:
    """``explained``: the explained target's name (None: the sum over targets); ``ceiling``: the synth
    dataset whose PWM predictor maps the same outputs; ``target_names``: targets also mapped one by one."""
    from glmprobe.attribution import evaluate
    from glmprobe.attribution.logos import save_logo
    from glmprobe.attribution.mapstore import MapFile, MapWriter
    from glmprobe.attribution.select import strongest_window
    from glmprobe.data.onehot import encode

    L = max(len(s) for s in seqs)
    metrics, artifacts = task.record["metrics"], task.record["artifacts"]
    pred = explainer(seqs)
    pd.DataFrame({"id": ids, "row": rows, "prediction": pred}).to_csv(tmp / "selection.csv", index=False)
    artifacts["selection"] = "selection.csv"
    (tmp / "logos").mkdir()
    step = max(1, opts["batch_size"] if trained.kind == "onehot" else 16)
    scores: dict[str, np.ndarray] = {}
    for method in methods:
        path = tmp / f"maps_{method}.h5"
        own = [] if method in TARGET_FREE else list(target_names)   # targets mapped on their own too
        outputs = [t_index, *range(len(own))]
        bar = tqdm(total=len(seqs), desc=f"{method}", unit="seq", file=sys.stderr,
                   disable=not progress or not sys.stderr.isatty())
        with MapWriter(path, L, method=method, model=trained.name, targets=own) as w:
            for a in range(0, len(seqs), step):
                maps, *each = _compute_outputs(trained, method, seqs[a:a + step], outputs, opts, explainer)
                w.append(ids[a:a + step], maps.hypothetical, maps.projected, maps.extra,
                         per_target=[(m.hypothetical, m.projected) for m in each])
                bar.update(len(seqs[a:a + step]))
        bar.close()
        artifacts[f"maps_{method}"] = path.name
        with MapFile(path) as mf:
            scores[method] = mf.scores()
            for key, values in mf.extra().items():
                metrics[f"{key}_max/{method}"] = float(np.max(values))
                metrics[f"{key}_mean/{method}"] = float(np.mean(values))
        for j in range(min(logos, len(seqs))):   # the strongest window of the top sequences
            a, b = strongest_window(scores[method][j], window)
            with MapFile(path) as mf:
                proj = mf.array("projected", j)[:, a:b]
            save_logo(proj, tmp / "logos" / f"top{j + 1}_{method}", f"{ids[j]} {method} ({trained.name})", start=a)
    if "ism" in methods and trained.kind == "glm":
        metrics["forward_passes_per_seq"] = metrics.get("forward_passes_mean/ism")
        metrics["forward_pass_bound"] = float(np.mean([3 * sum(c in "ACGT" for c in s) + 1 for s in seqs]))

    effects = None if sites is None else evaluate.site_effects(sites, explained)
    if effects is not None:   # ground truth: the explained output, then each target's own map against its own sites
        table = []
        outputs = [(explained, effects)] + [(t, evaluate.site_effects(sites, t)) for t in target_names]
        ceilings = {}
        if ceiling is not None:   # the same sequences and outputs, mapped through the generator's PWM predictor
            from glmprobe.attribution.ceiling_maps import CEILING, ceiling_scores
            ceilings = ceiling_scores(ceiling, seqs, [t for t, _ in outputs])
        for t, eff in outputs:
            masks = evaluate.site_classes(ids, seqs, eff)
            scored = dict(scores) if t == explained else {
                m: _target_scores(tmp / f"maps_{m}.h5", t) for m in scores if m not in TARGET_FREE}
            if t in ceilings:
                scored[CEILING] = ceilings[t]
            for method, s in scored.items():
                for cls, r in evaluate.ground_truth(s, masks, seed=seed).items():
                    table.append({"target": t or "sum", "method": method, "class": cls,
                                  **{k: v for k, v in r.items() if not k.endswith("_ci")},
                                  "auroc_lo": r["auroc_ci"][0], "auroc_hi": r["auroc_ci"][1],
                                  "auprc_lo": r["auprc_ci"][0], "auprc_hi": r["auprc_ci"][1]})
                    _gt_metrics(task.record, method, cls, r, None if t == explained else t)
        for key in [k for k in metrics if k.startswith("gt_auroc/")]:   # each map's fraction of its ceiling
            name = key.split("/", 1)[1]
            ref = metrics.get("gt_ceiling_auroc" + (f"/{name.split(':', 1)[1]}" if ":" in name else ""))
            if ref:
                metrics[f"gt_auroc_of_ceiling/{name}"] = metrics[key] / ref
        pd.DataFrame(table).to_csv(tmp / "ground_truth.csv", index=False)
        artifacts["ground_truth"] = "ground_truth.csv"

    pairs = [(trained.name, a, trained.name, b, scores[a], scores[b]) for a, b in itertools.combinations(scores, 2)]
    for other_name, other_scores in others:
        pairs += [(trained.name, a, other_name, b, scores[a], other_scores[b]) for a in scores for b in other_scores]
    if pairs:
        agree = [{"model_a": ma, "method_a": a, "model_b": mb, "method_b": b,
                  **_flat(evaluate.agreement(x, y, top_k_overlap))} for ma, a, mb, b, x, y in pairs]
        pd.DataFrame(agree).to_csv(tmp / "agreement.csv", index=False)
        artifacts["agreement"] = "agreement.csv"
        for row in agree:
            if row["model_b"] != row["model_a"]:
                metrics[f"agreement_pearson/{row['method_a']}~{row['model_b']}:{row['method_b']}"] = row["pearson"]

    if motif_db is not None and modisco:
        from glmprobe.attribution.motifs import name_patterns, recovered, run_modisco
        X = encode(seqs, L)
        # motifs planted in the explained sequences with an effect on the explained output
        planted = None if effects is None else set(
            effects.loc[effects["id"].isin(set(ids)) & (effects["effect"] != 0), "motif_id"])
        for method in [m for m in methods if m in HYPOTHETICAL]:
            # the explained sum, then (for a sum over several targets) each target's own maps: a motif that
            # acts in one cell type is diluted in the sum, so modisco finds more of them target by target
            with MapFile(tmp / f"maps_{method}.h5") as mf:
                runs = [("sum" if mf.targets else None, None), *((t, t) for t in mf.targets)]
            tables, found = [], set()
            for target, stored in runs:
                with MapFile(tmp / f"maps_{method}.h5") as mf:
                    h = mf.array("hypothetical", target=stored)
                patterns = run_modisco(X, h, max_seqlets=max_seqlets)
                table = name_patterns(patterns, motif_db)
                tag = f"_{target}" if target else ""
                for pt, row in zip(patterns, table.itertuples(index=False)):
                    title = (f"{method}{' ' + target if target else ''} {pt['pattern']} ({pt['n_seqlets']} seqlets) "
                             f"~ {row.match_name} q={row.q_value:.2g}")
                    save_logo(pt["cwm"], tmp / "logos" / f"motif_{method}{tag}_{pt['pattern']}", title)
                if target:
                    table.insert(0, "target", target)
                    metrics[f"motifs_recovered_in/{method}:{target}"] = len(recovered(table))
                tables.append(table)
                found |= set(recovered(table))
            table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
            table.to_csv(tmp / f"motifs_{method}.csv", index=False)
            artifacts[f"motifs_{method}"] = f"motifs_{method}.csv"
            found = sorted(found)
            metrics[f"motifs_recovered/{method}"] = len(found)
            metrics[f"modisco_patterns/{method}"] = len(table)
            task.record["params"][f"motifs_recovered/{method}"] = ",".join(found)
            if planted is not None:   # a named motif that acts on nothing here is a false discovery
                metrics["motifs_planted"] = len(planted)
                metrics[f"motifs_recovered_planted/{method}"] = len(set(found) & planted)
                metrics[f"motifs_recovered_other/{method}"] = len(set(found) - planted)
                task.record["params"][f"motifs_recovered_other/{method}"] = ",".join(sorted(set(found) - planted))

    if gia_motifs:
        from glmprobe.attribution.gia import gia, shuffled_backgrounds
        backgrounds = shuffled_backgrounds(seqs, gia_n, seed)
        results = [gia(explainer, backgrounds, m) for m in gia_motifs]
        pd.DataFrame([{k: v for k, v in r.items() if k != "effect_ci"} | {"effect_lo": r["effect_ci"][0],
                                                                          "effect_hi": r["effect_ci"][1]}
                      for r in results]).to_csv(tmp / "gia.csv", index=False)
        artifacts["gia"] = "gia.csv"
        for r in results:
            metrics[f"gia_effect/{r['motif']}"] = r["effect"]
            metrics[f"gia_p/{r['motif']}"] = r["mannwhitney_p"]
    task.record["n"] = {"sequences": len(seqs), "length": L}
    artifacts["logos"] = "logos"


@click.command("attribute")
@folder_option("--model", "Trained model folder: baselines/<dataset>/<arch>/ or "
                          "probes/<dataset>/<model>/L<l>/<pooling>-<head>/.")
@dataset_option("The dataset.h5 the model was trained on.")
@folder_option("--outdir", "Output folder for this model (attribution/<dataset>/<model>/).")
@click.option("--method", "methods", multiple=True, type=click.Choice(ALL_METHODS), required=True,
              help="Map to compute (repeatable). One-hot models: saliency, gxi (grad x input, corrected), ism, "
                   "deeplift, ig. gLM probes: ism; zero-shot: entropy, grad_entropy, masked_llr, causal_llr.")
@click.option("--target", default=None, help="Output to explain: a target name or 'sum'. "
                                             "Default: the only target, or the sum over targets.")
@click.option("--select", type=click.Choice(("top", "random", "ids")), default="top", show_default=True,
              help="Which sequences: highest explained prediction, a seeded random sample, or --ids.")
@click.option("-k", "--k", "k", type=click.IntRange(1), default=500, show_default=True,
              help="Number of sequences for top/random.")
@click.option("--split", type=click.Choice(("test", "valid", "train", "all")), default="test", show_default=True,
              help="Split to select from (test: sequences the model never trained on).")
@click.option("--ids", "ids_file", type=click.Path(dir_okay=False, path_type=Path), help="Id list, one per line.")
@click.option("--sites", type=click.Path(dir_okay=False, path_type=Path),
              help="Ground truth (synth's motif_sites.tsv): score maps at planted sites.")
@click.option("--motifs", type=click.Path(dir_okay=False, path_type=Path),
              help="MEME motif file (synth's motifs.meme or a JASPAR export): name modisco patterns with TOMTOM.")
@click.option("--modisco/--no-modisco", default=True, show_default=True,
              help="Run modisco-lite (when --motifs is given) on every map with hypothetical scores.")
@click.option("--per-target/--no-per-target", "per_target", default=True, show_default=True,
              help="When the sum over several targets is explained, also map each target on its own (stored in "
                   "the same maps_<method>.h5): scored against that target's own sites (with --sites) and run "
                   "through modisco, every motif named in any run counted (a cell-type motif is diluted in the "
                   "sum).")
@click.option("--max-seqlets", type=click.IntRange(100), default=2000, show_default=True,
              help="modisco-lite seqlets per metacluster.")
@click.option("--gia-motif", "gia_motifs", multiple=True, help="Consensus to implant for GIA (repeatable).")
@click.option("--gia-n", type=click.IntRange(10), default=300, show_default=True,
              help="Dinucleotide-shuffled backgrounds for GIA.")
@click.option("--agree-with", "agree_with", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Another attribution folder (same sequences) to compare maps with (repeatable).")
@click.option("--top-k-overlap", type=click.IntRange(1), default=20, show_default=True,
              help="k of the top-k position overlap.")
@click.option("--logos", type=click.IntRange(0), default=3, show_default=True, help="Top sequences to draw.")
@click.option("--window", type=click.IntRange(5), default=40, show_default=True,
              help="Logo window (nt) around the strongest signal.")
@click.option("--n-shuffles", type=click.IntRange(1), default=20, show_default=True,
              help="DeepLIFT/SHAP dinucleotide-shuffled references per sequence.")
@click.option("--ig-steps", type=click.IntRange(2), default=50, show_default=True, help="Integrated-gradients steps.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Sequences per attribution batch.")
@click.option("--chunk", type=click.IntRange(16), default=2048, show_default=True,
              help="gLM ISM: edited sequences per gLM batch group (memory vs speed).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for references, selection and GIA.")
@click.option("--model-seed", type=int, default=None, help="Replicate whose weights to explain (default: the first).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path),
              help="Embedding store of a gLM probe, if it moved since the probe was fitted.")
@click.option("--device", type=click.Choice(DEVICES), default=DEFAULT_DEVICE, show_default=True,
              help="auto (cuda when a GPU is visible, else cpu), cpu or cuda (cuda without a GPU is an error).")
@click.option("--force", is_flag=True, help="Recompute even if an up-to-date record.json exists.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def attribute_command(device: str, quiet: bool, **kwargs) -> None:
    """Nucleotide-level attribution maps of a trained model, scored against ground truth and motifs."""
    kwargs["gia_motifs"] = list(kwargs["gia_motifs"])
    path = attribute_step(device=device, progress=not quiet, **kwargs)
    click.echo(str(path))
