"""``glmprobe variants``: score variants with one model, zero-shot or supervised, and correlate.

One task = one variant set x one model, written to ``variants/<set>/<model>/``:

* ``scores.tsv``: one row per kept variant (id, chrom, pos, ref, alt, group, effect and one
  column per score);
* ``correlations.csv``: Pearson and Spearman of every score against the signed and the
  absolute effect, per group and over all variants, with bootstrap CIs (the CAGI5 table);
* ``dropped.tsv``: every variant left out, with its file, line and reason;
* ``record.json``: the correlations as metrics (``<signed|abs>_<pearson|spearman>/<score>/<group>``)
  with CIs, the counts of every kind of problem, throughput.

The model is either a gLM (``--models``/``--model`` or ``--source``/``--family``: zero-shot
scores, :mod:`glmprobe.variants.zeroshot`) or a trained-model folder (``--trained``: alt - ref
predictions, :mod:`glmprobe.variants.supervised`). Inputs are checked against the genome
before anything is scored (:mod:`glmprobe.variants.genome`); the folder appears only complete.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from glmprobe.atomic import sha256_file
from glmprobe.device import DEFAULT_DEVICE, resolve_device
from glmprobe.errors import UserError
from glmprobe.glm.adapter import POOLED
from glmprobe.steps.skeleton import Task
from glmprobe.variants import genome as vgenome
from glmprobe.variants.io import READERS, read_variants
from glmprobe.variants.metrics import correlation_table, record_metrics
from glmprobe.variants.windows import iter_chunks
from glmprobe.variants.zeroshot import DISTANCES

log = logging.getLogger(__name__)
OUTPUTS = ("scores.tsv", "correlations.csv", "dropped.tsv")
MATCHED_LENGTH = 230          # the study's task-1 input length: the matched context for every model
ZERO_SHOT = (*DISTANCES, "llr", "delta_ll")
POLICIES = ("drop", "error")


def _scorers(adapter, scores: Sequence[str] | None, layers: list[int], pooling: str, batch_size: int,
             rc_average: bool, device: str) -> list:
    """Zero-shot scorers for ``scores`` (default: every distance, plus llr or delta_ll when the model has one)."""
    from glmprobe.variants.zeroshot import CausalDeltaLL, EmbeddingScorer, MaskedLLR

    causal = bool(getattr(adapter, "causal", False))
    has_lm = getattr(adapter, "encoder", None) is not getattr(adapter, "model", None)
    if not scores:
        scores = list(DISTANCES) + (["delta_ll" if causal else "llr"] if has_lm else [])
    dists = [s for s in scores if s in DISTANCES]
    out = []
    if dists:
        out.append(EmbeddingScorer(adapter, layers, pooling, dists, batch_size=batch_size, rc_average=rc_average,
                                   device=device))
    if "llr" in scores:
        if causal:
            raise UserError("'llr' is the masked-LM score; this model is causal: use delta_ll", where="--score")
        out.append(MaskedLLR(adapter, batch_size=batch_size))
    if "delta_ll" in scores:
        out.append(CausalDeltaLL(adapter, batch_size=batch_size))
    return out


def _genome_key(genome: vgenome.Genome) -> str:
    """The genome's identity for the cache key: its .fai (names, lengths, offsets) and file size.
    Hashing a 3 GB FASTA on every run would cost more than scoring a CAGI5 locus."""
    fai = Path(str(genome.path) + ".fai")
    return json.dumps({"fai": sha256_file(fai) if fai.exists() else None, "size": genome.path.stat().st_size})


def variants_step(variant_files: Sequence[str | os.PathLike], genome_path: str | os.PathLike,
                  outdir: str | os.PathLike, *, spec=None, trained: str | os.PathLike | None = None,
                  name: str | None = None, fmt: str = "auto", effect_col: str | None = None,
                  group_col: str | None = None, id_col: str | None = None, min_confidence: float | None = None,
                  length: int | None = None, scores: Sequence[str] | None = None, pooling: str = "mean",
                  rc_average: bool = False, policy: vgenome.Policy = vgenome.Policy(), n_boot: int = 1000,
                  seed: int = 0, chunk: int = 256, batch_size: int = 32, device: str = DEFAULT_DEVICE,
                  store: str | os.PathLike | None = None, force: bool = False, quiet: bool = True) -> Path:
    """Score the variants with one model (a gLM ``spec`` or a ``trained`` folder); return record.json."""
    if (spec is None) == (trained is None):
        raise UserError("give one model: a gLM (--models/--model or --source/--family) or --trained FOLDER")
    t0 = time.perf_counter()
    files = [Path(p) for p in variant_files]
    outdir = Path(outdir)
    device = resolve_device(device)
    df = read_variants(files, fmt, effect_col=effect_col, group_col=group_col, id_col=id_col)
    n_read = len(df)
    n_low_conf = 0
    if min_confidence is not None:
        if "confidence" not in df:
            raise UserError("--min-confidence needs a confidence column (the CAGI5 layout has one)",
                            where="--min-confidence")
        keep = df["confidence"].to_numpy(dtype=float) >= min_confidence
        n_low_conf = int((~keep).sum())
        df = df.loc[keep].reset_index(drop=True)
    with vgenome.Genome(genome_path) as genome:
        checked = vgenome.check_variants(df, genome, policy)
        kept = checked.kept
        if kept.empty:
            raise UserError(f"no variant left to score (read {n_read}; dropped: "
                            f"{', '.join(f'{k} {v}' for k, v in checked.counts.items() if v)})",
                            path=", ".join(map(str, files)), hint="See the reasons above; check the genome build")

        model_blob, scorers, tags, model_id = _model(spec, trained, scores, pooling, rc_average, batch_size,
                                                     device, store)
        if length is None:
            length = getattr(scorers[0], "length", None) or MATCHED_LENGTH
        set_name = name or files[0].name.split(".")[0]
        too_long = int((kept["ref"].str.len() > length - (length - 1) // 2).sum())
        if too_long:
            raise UserError(f"{too_long} substitutions are longer than the right half of a {length}-nt window",
                            where="--length", hint="Use a longer --length")
        blob = {"variants": {str(p): sha256_file(p) for p in files}, "genome": _genome_key(genome),
                "format": fmt, "effect_col": effect_col, "group_col": group_col, "id_col": id_col,
                "min_confidence": min_confidence, "length": length, "policy": vars(policy), "n_boot": n_boot,
                "seed": seed, "model": model_blob}
        task = Task("variants", f"variants/{set_name}/{model_id}", outdir, blob, outputs=OUTPUTS,
                    tags={"variant_set": set_name, "model": model_id, **tags, "stage": "variants"},
                    params={"length": length, "pooling": pooling, "rc_average": rc_average, "n_boot": n_boot,
                            "seed": seed, "on_mismatch": policy.on_mismatch, "on_invalid": policy.on_invalid,
                            "on_indel": policy.on_indel, "on_duplicate": policy.on_duplicate,
                            "min_confidence": min_confidence, "device": device, "chunk": chunk,
                            "batch_size": batch_size},
                    inputs={"variants": {str(p): {"checksum": sha256_file(p)} for p in files},
                            "genome": {"path": str(genome.path)}, **({"trained": {"path": str(trained)}}
                                                                       if trained else {})})
        if task.up_to_date(force):
            return task.record_path
        columns = [c for s in scorers for c in s.columns()]
        values = {c: np.full(len(kept), np.nan) for c in columns}
        n_padded, t_score = 0, time.perf_counter()
        with tqdm(total=len(kept), desc=f"variants {set_name}/{model_id}", unit="variant", file=sys.stderr,
                  leave=False, disable=quiet) as progress:
            for ch in iter_chunks(kept, genome, length, chunk):
                n_padded += ch.n_padded
                for s in scorers:
                    for col, v in s.score(ch).items():
                        values[col][ch.rows] = v
                progress.update(len(ch))
        elapsed = time.perf_counter() - t_score
    scored = kept[["id", "chrom", "pos", "ref", "alt", "group", "effect"]].copy()
    for c in columns:
        scored[c] = values[c]
    table = correlation_table(scored, columns, kept["effect"].to_numpy(), kept["group"].to_numpy(),
                              n_boot=n_boot, seed=seed)
    metrics, ci = record_metrics(table)
    counts = {f"n_dropped_{k}": v for k, v in checked.counts.items()}
    grid = sum(getattr(s, "grid_changed", 0) for s in scorers)
    with task.writing() as tmp:
        scored.to_csv(tmp / "scores.tsv", sep="\t", index=False, float_format="%.6g")
        table.to_csv(tmp / "correlations.csv", index=False, float_format="%.6g")
        checked.dropped.to_csv(tmp / "dropped.tsv", sep="\t", index=False)
        task.record["metrics"].update({**metrics, **counts, "n_read": n_read, "n_scored": len(kept),
                                       "n_dropped_low_confidence": n_low_conf, "n_padded_windows": n_padded,
                                       "n_chrom_renamed": checked.n_renamed, "n_llr_grid_changed": grid,
                                       "variants_per_s": len(kept) / elapsed if elapsed > 0 else None})
        task.record["ci"].update(ci)
        task.record["n"] = {"read": n_read, "scored": len(kept), "groups": int(kept["group"].nunique())}
        task.record["artifacts"] = {"scores": "scores.tsv", "correlations": "correlations.csv",
                                    "dropped": "dropped.tsv"}
        task.record["params"]["score_columns"] = ";".join(columns)
        task.record["duration_s"] = time.perf_counter() - t0
    dropped = sum(checked.counts.values())
    if dropped:
        log.warning("%s: dropped %d of %d variants (%s); listed in %s", set_name, dropped, n_read,
                    ", ".join(f"{k} {v}" for k, v in checked.counts.items() if v), outdir / "dropped.tsv")
    return task.record_path


def _model(spec, trained, scores, pooling, rc_average, batch_size, device, store):
    """(cache-key blob, scorers, tags, model id) for a gLM spec or a trained folder."""
    if trained is not None:
        from glmprobe.record import read_record
        from glmprobe.variants.supervised import SupervisedScorer, model_tags

        if scores:
            raise UserError("--score chooses zero-shot scores; a --trained model gives alt - ref predictions",
                            where="--score")
        scorer = SupervisedScorer(trained, rc_average=rc_average, batch_size=max(batch_size, 64), device=device,
                                  store=store)
        tags = model_tags(scorer)
        rec = read_record(Path(trained))
        model_id = tags["model"].replace("/", "_")
        return ({"trained": rec.get("cache_key"), "rc_average": rc_average}, [scorer],
                {k: v for k, v in tags.items() if k != "model"}, model_id)
    from glmprobe.glm.adapter import get_adapter
    from glmprobe.glm.cache import weights_sha256

    adapter = get_adapter(spec, device)
    adapter.load()
    layers = adapter.resolve_layers(spec.layers)
    bad = [s for s in scores or () if s not in ZERO_SHOT]
    if bad:
        raise UserError(f"unknown score {bad[0]!r}; use {', '.join(ZERO_SHOT)}", where="--score")
    scorers = _scorers(adapter, scores, layers, pooling, batch_size, rc_average, device)
    blob = {"source": spec.source, "family": spec.family, "revision": spec.revision,
            "weights": weights_sha256(adapter.weight_files()), "adapter_version": adapter.version,
            "random_init": spec.random_init, "layers": layers, "pooling": pooling, "rc_average": rc_average,
            "scores": sorted(c for s in scorers for c in s.columns()), "max_length": spec.max_length}
    tags = {"kind": "zeroshot", "family": spec.family, "revision": spec.revision or "",
            "random_init": bool(spec.random_init), "layer": ";".join(map(str, layers))}
    return blob, scorers, tags, spec.id


# ---------------------------------------------------------------------------- command

def _spec(models: Path | None, model_id: str | None, source: str | None, family: str | None, layers: str | None):
    from glmprobe.glm.models_sheet import parse_layers, read_models_sheet, row_to_spec, select_model

    if models is None and not source:
        return None
    if models is not None:
        if source or family:
            raise UserError("give either --models (a sheet) or --source/--family, not both")
        spec = select_model(read_models_sheet(models), model_id, models)
    else:
        if not family:
            raise UserError("--source needs --family (e.g. hf-mlm, nt, hf-clm)", where="--family")
        spec = row_to_spec({"id": model_id or Path(source).name or family, "source": source, "family": family},
                           base=Path.cwd())
    if layers:
        try:
            spec = replace(spec, layers=parse_layers(layers))
        except ValueError:
            raise UserError(f"--layers {layers!r}: use all, last or ';'-separated integers") from None
    return spec


@click.command("variants")
@click.option("--variants", "variant_files", required=True, multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Variants file (repeatable; all are merged): a table (chrom, pos, ref, alt [, effect, group]), "
                   "a VCF, or a CAGI5 release/challenge TSV.")
@click.option("--format", "fmt", type=click.Choice(["auto", *READERS.names()]), default="auto", show_default=True,
              help="Input format; auto: .vcf[.gz] -> vcf, <release|challenge>_<element>.tsv or a #Chrom header "
                   "-> cagi5, else table.")
@click.option("--genome", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Reference FASTA (plain or bgzip; a .fai is written beside it if missing). CAGI5 is hg19.")
@click.option("--models", type=click.Path(dir_okay=False, path_type=Path), help="Models sheet (zero-shot scoring).")
@click.option("--model", "model_id", help="Id of the models-sheet row (default: the only row).")
@click.option("--source", help="Zero-shot quick run without a sheet: hub id or local model folder.")
@click.option("--family", help="Model family for --source (hf-mlm, nt, dnabert, hf-clm, ...).")
@click.option("--trained", type=click.Path(file_okay=False, path_type=Path),
              help="A trained baseline or probe folder (supervised scoring: alt - ref prediction).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path),
              help="Embedding store of a --trained probe, if it moved since training.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder, conventionally variants/<set>/<model>/.")
@click.option("--name", help="Variant-set name for records and the report (default: the first file's stem).")
@click.option("--effect-col", help="Effect column (table) or INFO field (VCF). Default: effect/value if present.")
@click.option("--group-col", help="Group/locus column (table) or INFO field (VCF). Default: group/locus if present.")
@click.option("--id-col", help="Variant id column of a table (default: id if present, else chrom:pos:ref>alt).")
@click.option("--min-confidence", type=float, help="Keep only variants with confidence >= this (CAGI5 files).")
@click.option("--length", type=click.IntRange(min=1),
              help=f"Window length in nt, centred on the variant. Default: a trained model's input length, "
                   f"else {MATCHED_LENGTH} (the matched context); give the model's native context to score there.")
@click.option("--layers", help="Zero-shot: layers to compare (all, last or ';'-separated ints; default: the sheet's).")
@click.option("--pooling", type=click.Choice(POOLED), default="mean", show_default=True,
              help="Zero-shot: embedding pooled before the distance (mean excludes special tokens).")
@click.option("--score", "scores", multiple=True, type=click.Choice(ZERO_SHOT),
              help="Zero-shot score (repeatable). Default: every distance, plus llr (masked LMs) or delta_ll "
                   "(causal LMs) when the model has an LM head.")
@click.option("--rc-average", is_flag=True, help="Average every score over both strands.")
@click.option("--on-mismatch", type=click.Choice(POLICIES), default="drop", show_default=True,
              help="A ref allele that differs from the genome: drop it (counted, listed in dropped.tsv) or refuse.")
@click.option("--on-invalid", type=click.Choice(POLICIES), default="error", show_default=True,
              help="Unknown chromosome, position past the end, non-ACGT allele: refuse (default) or drop.")
@click.option("--on-indel", type=click.Choice(POLICIES), default="drop", show_default=True,
              help="Indels (ref and alt of different lengths) are not scored: drop them or refuse the input.")
@click.option("--on-duplicate", type=click.Choice(POLICIES), default="drop", show_default=True,
              help="The same chrom/pos/ref/alt twice: keep the first (drop the rest) or refuse.")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the correlation CIs (0: no CI).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--chunk", type=click.IntRange(min=1), default=256, show_default=True,
              help="Variants per chunk (memory is bounded by one chunk; a site's alts share its ref window).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Sequences per gLM forward pass.")
@click.option("--device", default=DEFAULT_DEVICE, show_default=True, help="auto, cpu or cuda (cuda without a GPU is an error).")
@click.option("--force", is_flag=True, help="Rescore even if an up-to-date record.json exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def variants_command(variant_files, fmt, genome, models, model_id, source, family, trained, store, outdir, name,
                     effect_col, group_col, id_col, min_confidence, length, layers, pooling, scores, rc_average,
                     on_mismatch, on_invalid, on_indel, on_duplicate, n_boot, seed, chunk, batch_size, device,
                     force, quiet):
    """Score variants zero-shot with a gLM or with a trained model, and correlate with measured effects."""
    spec = _spec(models, model_id, source, family, layers)
    policy = vgenome.Policy(on_invalid=on_invalid, on_indel=on_indel, on_mismatch=on_mismatch,
                            on_duplicate=on_duplicate)
    path = variants_step(variant_files, genome, outdir, spec=spec, trained=trained, name=name, fmt=fmt,
                         effect_col=effect_col, group_col=group_col, id_col=id_col, min_confidence=min_confidence,
                         length=length, scores=list(scores) or None, pooling=pooling, rc_average=rc_average,
                         policy=policy, n_boot=n_boot, seed=seed, chunk=chunk, batch_size=batch_size,
                         device=device, store=store, force=force, quiet=quiet or not sys.stderr.isatty())
    click.echo(str(path))
    if not quiet:
        click.echo(summary(path.parent), err=True)


def summary(folder: Path, metric: str = "spearman") -> str:
    """A few lines for the terminal: r per group for each score (signed and |effect|)."""
    table = pd.read_csv(folder / "correlations.csv")
    t = table[table["metric"] == metric]
    if t["group"].nunique() > 6:  # many loci: the overall line only (every group is in correlations.csv)
        t = t[t["group"] == "all"]
    lines = [f"{metric} r (95% bootstrap CI), {folder / 'correlations.csv'}:"]
    for (score, target), part in t.groupby(["score", "target"], sort=False):
        cells = ", ".join(f"{g} {v:+.3f} [{lo:+.3f}, {hi:+.3f}]" for g, v, lo, hi in
                          part[["group", "value", "lo", "hi"]].itertuples(index=False))
        lines.append(f"  {score} vs {target} effect: {cells}")
    return "\n".join(lines)
