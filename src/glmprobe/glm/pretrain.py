"""``glmprobe pretrain``: train a small masked-LM gLM offline (ESM architecture, NT v1 style).

Sequences come from a FASTA file or from a ``dataset.h5``'s TRAIN split only (never valid
or test: the probes are later scored there, so pre-training on them would leak). 5 % of
those sequences (seeded) are held out to report the masked-LM loss and accuracy. Masking
is BERT's: 15 % of sequence tokens, of which 80 % become <mask>, 10 % a random base token
and 10 % stay. Everything is seeded, so a CPU run is deterministic (unless --max-minutes
cuts it short). The output is a Hugging Face folder (``AutoTokenizer`` /
``AutoModelForMaskedLM`` reload it) plus a README model card and ``record.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import click
import numpy as np

from glmprobe.atomic import atomic_dir, sha256_file
from glmprobe.errors import UserError
from glmprobe.glm.tiny import TOKEN_KINDS, build_model, build_tokenizer
from glmprobe.record import make_record, now, read_record, write_record

MASK_RATE = 0.15
HELDOUT_FRACTION = 0.05
_VALID = frozenset("ACGTN")


def read_sequences(source: str | os.PathLike) -> tuple[list[str], str, dict]:
    """(sequences, checksum, description) from a dataset.h5 (train split) or a FASTA file."""
    path = Path(source)
    if not path.exists():
        raise UserError("sequence source not found", path=path, hint="Give a dataset.h5 or a FASTA file")
    if path.suffix == ".h5":
        from glmprobe.data.dataset import DatasetFile

        with DatasetFile(path) as ds:
            train = np.flatnonzero(ds._h5["split"][:] == 0)  # 0 = train; valid/test never seen
            if len(train) == 0:
                raise UserError("the dataset has no train-split sequences to pre-train on", path=path)
            seqs = list(ds.sequences(train))
            info = {"kind": "dataset", "name": ds.name, "split": "train", "dataset_checksum": ds.checksum}
            return seqs, ds.checksum, info
    from glmprobe.data.readers.fasta import iter_fasta

    seqs = []
    for name, seq, line in iter_fasta(path):
        seq = seq.upper()
        bad = set(seq) - _VALID
        if bad:
            raise UserError(f"record '{name}' holds characters {''.join(sorted(bad))!r}", path=path,
                            where=f"line {line}", hint="Use A, C, G, T and N only")
        if seq:
            seqs.append(seq)
    if not seqs:
        raise UserError("no sequences in the FASTA file", path=path)
    return seqs, sha256_file(path), {"kind": "fasta", "path": str(path)}


def _mask(ids, special, tok, gen):
    """BERT masking -> (inputs, labels with -100 where not predicted)."""
    import torch

    labels = ids.clone()
    pick = (torch.rand(ids.shape, generator=gen) < MASK_RATE) & ~special
    labels[~pick] = -100
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=gen)
    inputs[pick & (roll < 0.8)] = tok.mask_token_id
    randomize = pick & (roll >= 0.8) & (roll < 0.9)
    base_ids = torch.tensor(tok.convert_tokens_to_ids(list("ACGT")))
    inputs[randomize] = base_ids[torch.randint(0, 4, (int(randomize.sum()),), generator=gen)]
    return inputs, labels


def _encode(tok, seqs):
    import torch

    enc = tok(seqs, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    special = enc["special_tokens_mask"].bool() | (enc["attention_mask"] == 0)
    return enc["input_ids"], enc["attention_mask"], special


def _evaluate(model, tok, seqs, batch_size, seed):
    """Held-out masked-LM loss (mean over masked tokens) and accuracy, with fixed masks."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    loss_sum, correct, count = 0.0, 0, 0
    model.eval()
    with torch.inference_mode():
        for a in range(0, len(seqs), batch_size):
            ids, attn, special = _encode(tok, seqs[a:a + batch_size])
            inputs, labels = _mask(ids, special, tok, gen)
            logits = model(input_ids=inputs, attention_mask=attn).logits
            sel = labels != -100
            loss_sum += float(torch.nn.functional.cross_entropy(logits[sel], labels[sel], reduction="sum"))
            correct += int((logits[sel].argmax(-1) == labels[sel]).sum())
            count += int(sel.sum())
    model.train()
    return {"mlm_loss": loss_sum / max(count, 1), "mlm_accuracy": correct / max(count, 1), "masked_tokens": count}


def _model_card(folder: Path, record: dict, family: str) -> str:
    p, m = record["params"], record["metrics"]
    return f"""# {folder.name}: a tiny DNA masked language model (glmprobe pretrain)

An ESM-architecture masked LM (Nucleotide Transformer v1 style) trained by `glmprobe pretrain`
for offline demos and tests. It is small and trained briefly: use it to exercise the pipeline,
not as a biological model.

* Tokens: **{p['tokens']}** ({'single bases' if p['tokens'] == 'char' else 'non-overlapping 6-mers, leftovers and N as single bases'}), `<cls>` first
* Architecture: {p['layers']} layers, hidden size {p['hidden']}, {p['heads']} heads, context {p['max_tokens']} tokens
* Trained on: {json.dumps(record['inputs']['sequences'])}, {p['n_train']} sequences ({p['n_heldout']} held out)
* Training: {m['steps']} steps of batch {p['batch_size']}, AdamW lr {p['lr']}, seed {p['seed']}, {m['train_seconds']:.0f} s
* Held-out masked-LM loss **{m['heldout_mlm_loss']:.4f}**, accuracy **{m['heldout_mlm_accuracy']:.4f}**
  (chance {m['chance_accuracy']:.4f})

## Use it in a models sheet

```csv
id,source,family,layers,pooling
{folder.name},{folder},{family},all,mean;cls
```

```python
from transformers import AutoModelForMaskedLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained("{folder}", local_files_only=True)
model = AutoModelForMaskedLM.from_pretrained("{folder}", local_files_only=True)
```
"""


def pretrain_step(sequences_source: str | os.PathLike, outdir: str | os.PathLike, *, tokens: str = "char",
                  layers: int = 2, hidden: int = 32, heads: int = 2, steps: int | None = 150,
                  epochs: float | None = None, batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
                  max_minutes: float | None = 10.0, max_tokens: int = 1024, force: bool = False,
                  quiet: bool = True) -> Path:
    """Train and save a tiny masked-LM gLM; returns the model folder."""
    import torch

    started, t_start = now(), time.perf_counter()
    if tokens not in TOKEN_KINDS:
        raise UserError(f"unknown token kind {tokens!r}; use one of {', '.join(TOKEN_KINDS)}")
    if hidden % heads:
        raise UserError(f"--hidden {hidden} must be divisible by --heads {heads}")
    outdir = Path(outdir)
    seqs, checksum, info = read_sequences(sequences_source)
    params = {"tokens": tokens, "layers": layers, "hidden": hidden, "heads": heads, "steps": steps,
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "max_tokens": max_tokens,
              "max_minutes": max_minutes}
    key = hashlib.sha256(json.dumps([checksum, params], sort_keys=True).encode()).hexdigest()
    if not force and (outdir / "record.json").exists() and read_record(outdir).get("cache_key") == key:
        click.echo(f"{outdir}: up to date", err=True)
        return outdir

    if quiet or not sys.stderr.isatty():
        from glmprobe.progress import quiet_hf

        quiet_hf()
    tok = build_tokenizer(tokens)
    longest = max(len(s) for s in seqs) + 1  # + <cls>; an upper bound for both token kinds
    if longest > max_tokens:
        raise UserError(f"the longest sequence needs up to {longest} tokens but --max-tokens is {max_tokens}",
                        path=sequences_source, hint="Raise --max-tokens or pre-train on shorter sequences")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(seqs))
    n_held = max(1, int(round(HELDOUT_FRACTION * len(seqs)))) if len(seqs) > 1 else 0
    held = [seqs[i] for i in order[:n_held]]
    train = [seqs[i] for i in order[n_held:]] or held
    if epochs is not None:
        steps = max(1, math.ceil(epochs * len(train) / batch_size))
    if not steps:
        raise UserError("give --steps or --epochs")

    torch.manual_seed(seed)
    model = build_model(tok, hidden=hidden, layers=layers, heads=heads, max_tokens=max_tokens, seed=seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    gen = torch.Generator().manual_seed(seed)
    deadline = t_start + 60 * max_minutes if max_minutes else math.inf
    from tqdm import tqdm

    bar = tqdm(total=steps, desc="pretrain", unit="step", file=sys.stderr, leave=False,
               disable=quiet or not sys.stderr.isatty())
    perm, pos, done, losses = torch.randperm(len(train), generator=gen), 0, 0, []
    t_train = time.perf_counter()
    for step in range(steps):
        if time.perf_counter() > deadline:
            break
        if pos + batch_size > len(perm):  # new epoch, reshuffled (seeded)
            perm, pos = torch.randperm(len(train), generator=gen), 0
        batch = [train[int(i)] for i in perm[pos:pos + batch_size]]
        pos += batch_size
        ids, attn, special = _encode(tok, batch)
        inputs, labels = _mask(ids, special, tok, gen)
        loss = model(input_ids=inputs, attention_mask=attn, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        done = step + 1
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    bar.close()
    train_seconds = time.perf_counter() - t_train
    heldout = _evaluate(model, tok, held, 64, seed) if held else {}
    family = TOKEN_KINDS[tokens]
    record = make_record(
        "pretrain", f"pretrain/{outdir.name}", cache_key=key, started=started,
        tags={"model": outdir.name, "family": family, "stage": "pretrain"},
        params={**params, "n_train": len(train), "n_heldout": len(held), "family": family},
        metrics={"heldout_mlm_loss": heldout.get("mlm_loss"), "heldout_mlm_accuracy": heldout.get("mlm_accuracy"),
                 "chance_accuracy": 0.25 if tokens == "char" else 1 / 4096,
                 "train_loss_last": float(np.mean(losses[-20:])) if losses else None,
                 "steps": done, "stopped_early": done < steps, "train_seconds": train_seconds},
        n={"train": len(train), "heldout": len(held), "heldout_masked_tokens": heldout.get("masked_tokens", 0)},
        artifacts={"model": "model.safetensors", "config": "config.json", "readme": "README.md"},
        inputs={"sequences": {**info, "checksum": checksum}},
        duration_s=time.perf_counter() - t_start)
    with atomic_dir(outdir) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "README.md").write_text(_model_card(outdir.resolve(), record, family))
        write_record(tmp, record)
    return outdir


@click.command("pretrain")
@click.argument("sequences", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the Hugging Face model (created atomically).")
@click.option("--tokens", type=click.Choice(list(TOKEN_KINDS)), default="char", show_default=True,
              help="char: one token per base (family hf-mlm); kmer6: NT-like 6-mers (family nt).")
@click.option("--layers", default=2, show_default=True, type=click.IntRange(1, 24), help="Transformer blocks.")
@click.option("--hidden", default=32, show_default=True, type=click.IntRange(8, 4096), help="Hidden size.")
@click.option("--heads", default=2, show_default=True, type=click.IntRange(1, 64), help="Attention heads.")
@click.option("--steps", default=150, show_default=True, type=click.IntRange(min=1), help="Optimizer steps.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="Train for this many epochs instead of --steps.")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1), help="Sequences per step.")
@click.option("--lr", default=3e-3, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Peak learning rate (AdamW, warm-up then linear decay).")
@click.option("--seed", default=0, show_default=True, help="Seed for init, masking, data order and the held-out split.")
@click.option("--max-minutes", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Stop training after this many minutes (the record says so).")
@click.option("--max-tokens", default=1024, show_default=True, type=click.IntRange(min=8), help="Model context in tokens.")
@click.option("--force", is_flag=True, help="Retrain even if an up-to-date model exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def pretrain_command(sequences, outdir, tokens, layers, hidden, heads, steps, epochs, batch_size, lr, seed,
                     max_minutes, max_tokens, force, quiet):
    """Pre-train a small masked-LM gLM on SEQUENCES (a FASTA file, or a dataset.h5's train split)."""
    path = pretrain_step(sequences, outdir, tokens=tokens, layers=layers, hidden=hidden, heads=heads, steps=steps,
                         epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, max_minutes=max_minutes,
                         max_tokens=max_tokens, force=force, quiet=quiet)
    rec = read_record(path)
    click.echo(f"{path}: held-out MLM accuracy {rec['metrics']['heldout_mlm_accuracy']:.3f} "
               f"(chance {rec['metrics']['chance_accuracy']:.3f}), loss {rec['metrics']['heldout_mlm_loss']:.3f}")
