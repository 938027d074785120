#!/usr/bin/env python3
"""GPU check of the embedding engine (run through benchmarks/gpu_check.sh).

Builds a ~100M-parameter ESM gLM from config (hidden 1024, 12 layers; random weights: speed
does not depend on them), embeds N sequences of L nt with every layer (mean pooling, fp16
store) through ``embed_step``, and prints

* seq/s of ``embed_step`` end to end (model load, token count, store, everything);
* the GPU-busy fraction while it ran (``nvidia-smi`` utilisation sampled every 100 ms);
* the ratio to the bare forward pass: ``encoder(ids, mask, output_hidden_states=True)``
  under the same autocast on the same padded batches, the ids already on the GPU.

then the gLM ISM check of issue 12 (``bench_attribution.py --only ism`` on the GPU): a probe on the
tiny gLM, ISM of 4 x 230 nt batched with the reference pass shared vs one edited sequence per forward
pass (bar >= 10x; 4.1-7.3x on 2 CPU cores), maps checked equal.

``--dry-run`` runs the same code on the CPU with a tiny model (the CI test).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_attribution import RESULTS, bench_glm_ism  # noqa: E402
from bench_embed import make_data  # noqa: E402

LIMIT_S = 300


class GpuSampler:
    """``nvidia-smi`` utilisation.gpu samples (percent of time a kernel ran) in a thread."""

    def __init__(self):
        self.samples: list[float] = []
        self.proc = None
        if shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                          "-lms", "100", "-i", "0"], stdout=subprocess.PIPE, text=True)
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.samples.append(float(line.strip()))
            except ValueError:
                pass

    def stop(self) -> str:
        if self.proc is None:
            return "n/a (no nvidia-smi)"
        self.proc.terminate()
        self.proc.wait()
        if not self.samples:
            return "n/a (no samples)"
        return f"{np.mean(self.samples) / 100:.2f} ({len(self.samples)} samples)"


def bare_forward(model_dir: Path, data: Path, batch_size: int, device: str, precision: str) -> float:
    """Seconds for the model's forward pass alone over the engine's batches (ids on the device)."""
    import torch

    from glmprobe.data.dataset import read_dataset
    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.glm.extract import Extractor

    spec = ModelSpec("m", str(model_dir), "hf-mlm", layers="all", batch_size=batch_size)
    adapter = get_adapter(spec, device)
    adapter.load()
    seqs = list(read_dataset(data).sequences)
    ex = Extractor(adapter, adapter.resolve_layers("all"), ["mean"], batch_size=batch_size, device=device,
                   precision=precision)
    batches = [adapter.tokenize(seqs[a:a + batch_size]) for a in range(0, len(seqs), batch_size)]
    on_device = [(b.input_ids.to(device), b.attention_mask.to(device)) for b in batches]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with torch.inference_mode(), ex._autocast():
        adapter.encoder(input_ids=on_device[0][0], attention_mask=on_device[0][1], output_hidden_states=True)
        sync()
        t = time.perf_counter()
        for ids, mask in on_device:
            adapter.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        sync()
        return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny model, few sequences (no GPU needed)")
    ap.add_argument("--n", type=int, default=None, help="sequences (default 20000; dry run 64)")
    ap.add_argument("--length", type=int, default=230, help="nt per sequence")
    ap.add_argument("--hidden", type=int, default=None, help="hidden size (default 1024; dry run 32)")
    ap.add_argument("--layers", type=int, default=None, help="blocks (default 12; dry run 2)")
    ap.add_argument("--batch-size", type=int, default=None, help="sequences per forward pass (default 256)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    import torch

    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.glm.extract import resolve_precision
    from glmprobe.glm.tiny import save_tiny_model
    from glmprobe.steps.embed import embed_step

    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible (torch.cuda.is_available() is False); use --dry-run on CPU",
              file=sys.stderr)
        return 2
    device = "cpu" if dry else "cuda"
    n = args.n or (64 if dry else 20_000)
    hidden, layers = args.hidden or (32 if dry else 1024), args.layers or (2 if dry else 12)
    batch = args.batch_size or (16 if dry else 256)
    precision = resolve_precision(device)
    name = torch.cuda.get_device_name(0) if not dry else platform.processor() or platform.machine()
    print(f"machine: {name}; torch {torch.__version__}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = save_tiny_model(tmp / "model", "char", hidden=hidden, layers=layers, heads=max(2, hidden // 64),
                                max_tokens=max(512, args.length + 2))
        from transformers import AutoModelForMaskedLM
        params = sum(p.numel() for p in AutoModelForMaskedLM.from_pretrained(model).base_model.parameters())
        data = make_data(tmp / "data.h5", n, args.length)
        print(f"model: ESM {layers} x {hidden} from config, {params / 1e6:.2f}M parameters; {n:,} x {args.length} nt; "
              f"batch {batch}; precision {precision}")
        spec = ModelSpec("m", str(model), "hf-mlm", layers="all", pooling=["mean"], batch_size=batch)
        warm = make_data(tmp / "warm.h5", min(n, 4 * batch), args.length, seed=1)
        embed_step(warm, spec, tmp / "warm", device=device)  # CUDA context, kernels, allocator
        sampler = None if dry else GpuSampler()
        t = time.perf_counter()
        embed_step(data, spec, tmp / "store", device=device)
        t_engine = time.perf_counter() - t
        busy = sampler.stop() if sampler else "n/a (dry run)"
        t_bare = bare_forward(model, data, batch, device, precision)
    ratio = t_bare / t_engine
    print(f"embed_step: {n / t_engine:,.0f} seq/s ({t_engine:.1f} s for {n:,}, every layer, end to end)")
    print(f"bare forward: {n / t_bare:,.0f} seq/s ({t_bare:.1f} s)")
    print(f"GPU busy fraction during embed_step: {busy}")
    print(f"ratio to the bare forward pass: {ratio:.2f} (bar >= 0.90)")
    bench_glm_ism(40 if dry else 230, 1 if dry else 4, device)
    ism = RESULTS["glm_ism_speedup"]
    print(f"gLM ISM, batched vs one edited sequence per pass: {ism:.1f}x (bar >= 10)")
    total = time.perf_counter() - t_start
    print(f"total {total:.0f} s (limit {LIMIT_S} s); load {os.getloadavg()[0]:.1f}")
    return 0 if dry or (ratio >= 0.90 and ism >= 10 and total < LIMIT_S) else 1


if __name__ == "__main__":
    sys.exit(main())
