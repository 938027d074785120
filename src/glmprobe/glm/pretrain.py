"""Pre-training a small masked-LM gLM offline (ESM architecture, NT v1 style); the work behind ``glmprobe pretrain``.

Sequences come from a FASTA file or from a ``dataset.h5``'s TRAIN split only (never valid
or test: the probes are later scored there, so pre-training on them would leak). 5 % of
those sequences (seeded) are held out to report the masked-LM loss and accuracy. Masking
is BERT's: 15 % of sequence tokens, of which 80 % become <mask>, 10 % a random base token
and 10 % stay. Everything is seeded, so a CPU run is deterministic (unless --max-minutes
cuts it short). The output is a Hugging Face folder (``AutoTokenizer`` /
``AutoModelForMaskedLM`` reload it) plus a README model card and ``record.json``
(:mod:`glmprobe.steps.pretrain` wraps this in the step skeleton).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glmprobe.atomic import sha256_file
from glmprobe.errors import UserError
from glmprobe.glm.tiny import TOKEN_KINDS
from glmprobe.progress import bar

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

    enc = tok(seqs, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    special = enc["special_tokens_mask"].bool() | (enc["attention_mask"] == 0)
    return enc["input_ids"], enc["attention_mask"], special


def evaluate(model, tok, seqs, batch_size, seed):
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


def model_card(folder: Path, record: dict, family: str) -> str:
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


@dataclass(frozen=True)
class PretrainOptions:
    """Everything that determines the pre-trained model (all of it enters the cache key)."""

    tokens: str = "char"                 # char (family hf-mlm) or kmer6 (family nt)
    layers: int = 2
    hidden: int = 32
    heads: int = 2
    steps: int | None = 150              # optimizer steps (or ``epochs``)
    epochs: float | None = None
    batch_size: int = 16
    lr: float = 3e-3
    seed: int = 0
    max_minutes: float | None = 10.0     # wall-time cap; the record says when it stopped early
    max_tokens: int = 1024

    def check(self) -> None:
        if self.tokens not in TOKEN_KINDS:
            raise UserError(f"unknown token kind {self.tokens!r}; use one of {', '.join(TOKEN_KINDS)}")
        if self.hidden % self.heads:
            raise UserError(f"--hidden {self.hidden} must be divisible by --heads {self.heads}")


def split_heldout(seqs: list[str], seed: int) -> tuple[list[str], list[str]]:
    """(train, held out): a seeded 5 % held out for the masked-LM score."""
    order = np.random.default_rng(seed).permutation(len(seqs))
    n_held = max(1, int(round(HELDOUT_FRACTION * len(seqs)))) if len(seqs) > 1 else 0
    held = [seqs[i] for i in order[:n_held]]
    return [seqs[i] for i in order[n_held:]] or held, held


def n_steps(opts: PretrainOptions, n_train: int) -> int:
    steps = max(1, math.ceil(opts.epochs * n_train / opts.batch_size)) if opts.epochs is not None else opts.steps
    if not steps:
        raise UserError("give --steps or --epochs")
    return steps


@dataclass
class Training:
    """What the training loop reports."""

    steps_done: int
    losses: list[float]
    seconds: float


def train_mlm(model, tok, train: list[str], opts: PretrainOptions, steps: int, deadline: float,
              quiet: bool) -> Training:
    """AdamW with warm-up then linear decay, BERT masking, seeded batches; stops at ``deadline``."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    gen = torch.Generator().manual_seed(opts.seed)
    perm, pos, done, losses = torch.randperm(len(train), generator=gen), 0, 0, []
    t_train = time.perf_counter()
    with bar(steps, "pretrain", quiet, unit="step") as b:
        for step in range(steps):
            if time.perf_counter() > deadline:
                break
            if pos + opts.batch_size > len(perm):  # new epoch, reshuffled (seeded)
                perm, pos = torch.randperm(len(train), generator=gen), 0
            batch = [train[int(i)] for i in perm[pos:pos + opts.batch_size]]
            pos += opts.batch_size
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
            b.update(1)
            b.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return Training(done, losses, time.perf_counter() - t_train)
