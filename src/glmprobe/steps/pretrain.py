"""``glmprobe pretrain``: train a small masked-LM gLM offline and save it as a Hugging Face folder.

Parse the options (:class:`~glmprobe.glm.pretrain.PretrainOptions`), key the task on the
sequences' checksum and the options, train (:func:`~glmprobe.glm.pretrain.train_mlm`),
score the held-out sequences and hand model, tokenizer and model card to the skeleton.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import click
import numpy as np

from glmprobe.errors import UserError
from glmprobe.glm.pretrain import (
    PretrainOptions,
    evaluate,
    model_card,
    n_steps,
    read_sequences,
    split_heldout,
    train_mlm,
)
from glmprobe.glm.tiny import TOKEN_KINDS, build_model, build_tokenizer
from glmprobe.record import read_record
from glmprobe.steps.skeleton import Task, key_of


def _metrics(opts: PretrainOptions, run, steps: int, heldout: dict) -> dict:
    return {"heldout_mlm_loss": heldout.get("mlm_loss"), "heldout_mlm_accuracy": heldout.get("mlm_accuracy"),
            "chance_accuracy": 0.25 if opts.tokens == "char" else 1 / 4096,
            "train_loss_last": float(np.mean(run.losses[-20:])) if run.losses else None,
            "steps": run.steps_done, "stopped_early": run.steps_done < steps, "train_seconds": run.seconds}


def pretrain_step(sequences_source: str | os.PathLike, outdir: str | os.PathLike,
                  opts: PretrainOptions = PretrainOptions(), *, force: bool = False, quiet: bool = True,
                  **overrides) -> Path:
    """Train and save a tiny masked-LM gLM.

    Parameters
    ----------
    sequences_source
        A FASTA file, or a ``dataset.h5`` whose train split is used (never valid/test).
    outdir
        The model folder (Hugging Face layout + README + record.json).
    opts
        Model size, tokens, training budget and seed.
    force
        Retrain even when an up-to-date model exists.
    quiet
        No progress bar.
    **overrides
        Fields of :class:`PretrainOptions` to change (``steps=40``, ``hidden=16``, ...).

    Returns
    -------
    Path
        ``outdir``.
    """
    import torch

    t0 = time.perf_counter()
    opts = replace(opts, **overrides)
    opts.check()
    outdir = Path(outdir)
    seqs, checksum, info = read_sequences(sequences_source)
    family = TOKEN_KINDS[opts.tokens]
    task = Task("pretrain", f"pretrain/{outdir.name}", outdir,
                cache_key=key_of({"sequences": checksum, "options": asdict(opts)}, versioned=False),
                outputs=("model.safetensors",), t0=t0, tags={"model": outdir.name, "family": family},
                artifacts={"model": "model.safetensors", "config": "config.json", "readme": "README.md"},
                inputs={"sequences": {**info, "checksum": checksum}})
    if task.up_to_date(force):
        click.echo(f"{outdir}: up to date", err=True)
        return outdir
    quiet = quiet or not sys.stderr.isatty()
    if quiet:
        from glmprobe.progress import quiet_hf

        quiet_hf()
    tok = build_tokenizer(opts.tokens)
    longest = max(len(s) for s in seqs) + 1  # + <cls>; an upper bound for both token kinds
    if longest > opts.max_tokens:
        raise UserError(f"the longest sequence needs up to {longest} tokens but --max-tokens is {opts.max_tokens}",
                        path=sequences_source, hint="Raise --max-tokens or pre-train on shorter sequences")
    train, held = split_heldout(seqs, opts.seed)
    steps = n_steps(opts, len(train))
    torch.manual_seed(opts.seed)
    model = build_model(tok, hidden=opts.hidden, layers=opts.layers, heads=opts.heads, max_tokens=opts.max_tokens,
                        seed=opts.seed)
    model.train()
    deadline = t0 + 60 * opts.max_minutes if opts.max_minutes else math.inf
    run = train_mlm(model, tok, train, opts, steps, deadline, quiet)
    heldout = evaluate(model, tok, held, 64, opts.seed) if held else {}
    task.record.update(
        params={**asdict(opts), "n_train": len(train), "n_heldout": len(held), "family": family},
        metrics=_metrics(opts, run, steps, heldout),
        n={"train": len(train), "heldout": len(held), "heldout_masked_tokens": heldout.get("masked_tokens", 0)})
    with task.writing() as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "README.md").write_text(model_card(outdir.resolve(), task.record, family))
    return outdir


_D = PretrainOptions()


@click.command("pretrain")
@click.argument("sequences", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the Hugging Face model (created atomically).")
@click.option("--tokens", type=click.Choice(list(TOKEN_KINDS)), default=_D.tokens, show_default=True,
              help="char: one token per base (family hf-mlm); kmer6: NT-like 6-mers (family nt).")
@click.option("--layers", default=_D.layers, show_default=True, type=click.IntRange(1, 24), help="Transformer blocks.")
@click.option("--hidden", default=_D.hidden, show_default=True, type=click.IntRange(8, 4096), help="Hidden size.")
@click.option("--heads", default=_D.heads, show_default=True, type=click.IntRange(1, 64), help="Attention heads.")
@click.option("--steps", default=_D.steps, show_default=True, type=click.IntRange(min=1), help="Optimizer steps.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True),
              help="Train for this many epochs instead of --steps.")
@click.option("--batch-size", default=_D.batch_size, show_default=True, type=click.IntRange(min=1),
              help="Sequences per step.")
@click.option("--lr", default=_D.lr, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate (AdamW, warm-up then linear decay).")
@click.option("--seed", default=_D.seed, show_default=True,
              help="Seed for init, masking, data order and the held-out split.")
@click.option("--max-minutes", default=_D.max_minutes, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Stop training after this many minutes (the record says so).")
@click.option("--max-tokens", default=_D.max_tokens, show_default=True, type=click.IntRange(min=8),
              help="Model context in tokens.")
@click.option("--force", is_flag=True, help="Retrain even if an up-to-date model exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def pretrain_command(sequences, outdir, force, quiet, **options):
    """Pre-train a small masked-LM gLM on SEQUENCES (a FASTA file, or a dataset.h5's train split)."""
    path = pretrain_step(sequences, outdir, PretrainOptions(**options), force=force, quiet=quiet)
    m = read_record(path)["metrics"]
    click.echo(f"{path}: held-out MLM accuracy {m['heldout_mlm_accuracy']:.3f} "
               f"(chance {m['chance_accuracy']:.3f}), loss {m['heldout_mlm_loss']:.3f}")
