"""glmprobe's best one-hot baseline vs a plain PyTorch CNN, under the same wall budget, on `glmprobe synth`.

For each synthetic task (MPRA-like regression, ChIP-like binary) both models train in this one
run, one after the other, each until the same wall-clock budget is spent (whole epochs; the
best-validation epoch is kept), then score the test split:

* glmprobe: ``dilres`` through glmprobe's fit loop with its default settings (``dilres.study``:
  what ``glmprobe baseline --arch dilres --fixed study --refit-timeout B`` refits; ``--hp`` overrides
  single keys), plus the ``kmer`` control (k-mer counts + ridge or logistic, k and penalty chosen on
  valid) for scale;
* reference: the plain CNN below (Conv-ReLU-MaxPool x 2, Dense, Adam 1e-3), the usual
  textbook loop with best-on-validation epoch selection.

Printed per task: test score of each, the ratio glmprobe / reference, each one's fraction of the
two ceilings in ``truth.json``, the load average before and after each fit, and whether the bars
hold (glmprobe >= 1.0x reference; >= 0.90 of the ceiling on MPRA, >= 0.97 on ChIP). The ceilings:

* ``oracle``: the noiseless signal scored against the noisy target (MPRA: Pearson r, mean over
  cell types; ChIP: AUROC of the true binding probability). It knows which sites were planted,
  which no model can know from the sequence, so it is not reachable;
* ``pwm_ceiling`` (the bars' reference): what the generator's true PWMs and rules score from the
  sequence alone (:mod:`glmprobe.data.ceiling`; ChIP: the true-PWM scan AUROC).

``--clock wall`` (default) is the bar's budget: wall seconds on an idle machine. On a shared,
loaded machine use ``--clock cpu --threads 1``: the budget is then this process's CPU seconds,
which the load does not shrink, so the comparison stays fair and the figures close to an idle run.

    python benchmarks/bench_baselines.py --budget 240            # idle 2-core machine: ~17 min
    python benchmarks/bench_baselines.py --clock cpu --threads 1 --budget 60  # shared machine: 60 CPU-s
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from glmprobe.data.onehot import encode
from glmprobe.data.synth import make_synth
from glmprobe.heads import dilres, kmer
from glmprobe.heads.baseline import load_arch
from glmprobe.train.data import Arrays
from glmprobe.train.fit import predict
from glmprobe.train.metrics import compute_metrics
from glmprobe.train.tune import TuneOptions, fit_hp, with_study

CLOCKS = {"wall": time.monotonic, "cpu": time.process_time}

TASKS = {"mpra": ("synth_mpra", "mpra.tsv", "regression", "pearson", 0.90),
         "chip": ("synth_chip", "chip.tsv", "binary", "auroc", 0.97)}
# The glmprobe setting benchmarked: dilres' own defaults (``dilres.study``, its trial 0 and what
# ``--fixed study`` trains: AdamW 3e-3, batch 64, cosine to the budget); ``--hp`` overrides keys.
GLMPROBE_HP: dict = {}


class PlainCNN(nn.Module):
    """The plain reference: what a practitioner writes in 30 lines of PyTorch."""

    def __init__(self, length: int, n_targets: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(4, 64, 11, padding=5), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(64, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(4), nn.Flatten(),
            nn.Linear(64 * (length // 16), 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, n_targets))

    def forward(self, x):
        return self.net(x)


def train_plain(data: dict, task: str, budget: float, seed: int = 0, clock=time.monotonic) -> np.ndarray:
    """Adam 1e-3, batch 64, MSE or BCE-with-logits; epochs until the budget; best-valid weights."""
    torch.manual_seed(seed)
    model = PlainCNN(data["train"].X.shape[2], data["train"].y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.MSELoss() if task == "regression" else nn.BCEWithLogitsLoss()
    X, y = torch.from_numpy(data["train"].X), torch.from_numpy(data["train"].y)
    Xv, yv = torch.from_numpy(data["valid"].X), torch.from_numpy(data["valid"].y)
    deadline, best, state, last, epochs = clock() + budget, float("inf"), None, 0.0, 0
    while epochs == 0 or clock() + last < deadline:
        t0, epochs = clock(), epochs + 1
        model.train()
        for idx in torch.randperm(len(X)).split(64):
            opt.zero_grad()
            lossf(model(X[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(lossf(model(Xv), yv))
        if val < best:
            best, state = val, {k: v.clone() for k, v in model.state_dict().items()}
        last = clock() - t0
    model.load_state_dict(state)
    with torch.no_grad():
        return model.eval()(torch.from_numpy(data["test"].X)).numpy(), epochs


def load(folder: Path, file: str, targets: list[str]) -> dict[str, Arrays]:
    df = pd.read_csv(folder / file, sep="\t")
    X = encode(list(df.sequence), int(df.sequence.str.len().max()))
    y = df[targets].to_numpy(np.float32)
    return {s: Arrays(X[(df.split == s).to_numpy()], y[(df.split == s).to_numpy()],
                      df.id[(df.split == s).to_numpy()].to_numpy()) for s in ("train", "valid", "test")}


def score(data, pred, task, names, metric) -> float:
    return compute_metrics(data["test"].y, pred, task, names, prefix="test")[f"test_{metric}"]


def load_str() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def train_glmprobe(data: dict, task: str, names: list[str], budget: float, seed: int, hp: dict, clock):
    """dilres refitted as a replicate is (``fit_hp`` on the fixed settings; an ensemble when they say so), on ``clock``."""
    opts = with_study(TuneOptions(fixed=dict(hp), replicates=1, seed=seed, max_epochs=10_000), dilres.study(task))
    print(f"  dilres settings: {json.dumps(opts.fixed)}")
    arch = load_arch("dilres")   # built as `glmprobe baseline` builds it (augmentation wrappers included)
    res = fit_hp(lambda h: arch.build(data["train"].X.shape[2], len(names), h), opts.fixed, data["train"],
                 data["valid"], task, opts, seed, "cpu", deadline=clock() + budget, clock=clock)
    return predict(res.model, data["test"].X), res


def run_task(folder: Path, truth: dict, name: str, budget: float, seed: int, hp: dict, clock_name: str) -> dict:
    dataset, file, task, metric, bar = TASKS[name]
    info = truth["datasets"][dataset]
    names, oracle, ceiling = info["targets"], info["oracle"]["mean"], info["pwm_ceiling"]["mean"]
    data = load(folder, file, names)
    out = {"task": name, "oracle": oracle, "pwm_ceiling": ceiling, "n_train": len(data["train"]), "bar": bar}
    print(f"\n== {dataset}: {len(data['train'])}/{len(data['valid'])}/{len(data['test'])} train/valid/test, "
          f"test {metric}: oracle {oracle:.4f}, PWM ceiling {ceiling:.4f} (= {ceiling / oracle:.3f} of the oracle); "
          f"budget {budget:.0f} s per model")

    def frac(x: float) -> str:
        return f"{x / ceiling:.3f} of the PWM ceiling, {x / oracle:.3f} of the oracle"

    clock = CLOCKS[clock_name]
    t0, c0, l0 = time.monotonic(), clock(), load_str()
    pred, res = train_glmprobe(data, task, names, budget, seed, hp, clock)
    out["glmprobe"] = score(data, pred, task, names, metric)
    out["glmprobe_wall_s"], out["glmprobe_clock_s"] = time.monotonic() - t0, clock() - c0
    out["glmprobe_epochs"] = len(res.history)
    print(f"glmprobe dilres   : test {metric} {out['glmprobe']:.4f} = {frac(out['glmprobe'])} "
          f"({len({h.get('member', 0) for h in res.history})} members, {out['glmprobe_epochs']} epochs in all, mean best "
          f"epoch {res.best_epoch}; {out['glmprobe_clock_s']:.0f} s {clock_name}, "
          f"{out['glmprobe_wall_s']:.0f} s wall; load {l0} -> {load_str()})")
    curves: dict[int, list[str]] = {}
    for h in res.history:
        curves.setdefault(h.get("member", 0), []).append(f"{h[f'val_{metric}']:.3f}")
    out["glmprobe_members"] = len(curves)
    for member, curve in curves.items():
        print(f"  dilres member {member} valid {metric} per epoch: {' '.join(curve)}")

    t0, c0, l0 = time.monotonic(), clock(), load_str()
    pred, epochs = train_plain(data, task, budget, seed, clock)
    out["reference"] = score(data, pred, task, names, metric)
    out["reference_wall_s"], out["reference_clock_s"], out["reference_epochs"] = time.monotonic() - t0, clock() - c0, epochs
    print(f"plain reference   : test {metric} {out['reference']:.4f} = {frac(out['reference'])} "
          f"({epochs} epochs; {out['reference_clock_s']:.0f} s {clock_name}, {out['reference_wall_s']:.0f} s wall; "
          f"load {l0} -> {load_str()})")

    t0 = time.monotonic()
    km = kmer.Kmer.tune(data, task, TuneOptions(seed=seed), target_names=names)
    out["kmer"] = km.replicates[0].metrics[f"test_{metric}"]
    print(f"kmer control      : test {metric} {out['kmer']:.4f} = {frac(out['kmer'])} "
          f"(k = {km.best_params['k']}, {time.monotonic() - t0:.0f} s)")
    out["ratio"] = out["glmprobe"] / out["reference"]
    out["pass"] = bool(out["ratio"] >= 1.0 and out["glmprobe"] / ceiling >= bar)
    print(f"ratio glmprobe / reference {out['ratio']:.3f} (bar >= 1.0); glmprobe fraction of the PWM ceiling "
          f"{out['glmprobe'] / ceiling:.3f} (bar >= {bar:.2f}): {'PASS' if out['pass'] else 'FAIL'}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synth", type=Path, help="an existing `glmprobe synth` folder (default: write one, seed 0)")
    ap.add_argument("--budget", type=float, default=240.0, help="wall seconds per model per task (default 240)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2; use 1 on a shared machine)")
    ap.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["mpra", "chip"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="what the budget counts: wall seconds (default; the bar) or this process's CPU seconds")
    ap.add_argument("--hp", type=json.loads, default={}, help="JSON overriding the glmprobe settings benchmarked")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.synth or Path(tmp) / "synth"
        if args.synth is None:
            make_synth(folder, seed=0)
        truth = json.loads((folder / "truth.json").read_text())
        hp = {**GLMPROBE_HP, **args.hp}
        print(f"bench_baselines: budget {args.budget:.0f} s ({args.clock}) per model per task, {args.threads} "
              f"thread(s), {os.cpu_count()} CPUs, load {load_str()}; dilres defaults overridden by {json.dumps(hp)}")
        results = [run_task(folder, truth, name, args.budget, args.seed, hp, args.clock) for name in args.tasks]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print("\nall bars met" if all(r["pass"] for r in results) else "\nsome bars NOT met")


if __name__ == "__main__":
    main()
