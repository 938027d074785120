"""Training throughput of the glmprobe fit loop vs a plain PyTorch reference loop.

Both train the one-hot ResNet (study §4) for the same epochs on the same data,
same batch size, same optimiser. The reference is the textbook loop:
``DataLoader(TensorDataset(X, y), shuffle=True)`` + Adam + MSE, nothing else.
The fit loop additionally does masked loss, gradient clipping, a validation
pass, LR plateau and best-weight copies, and reads batches by sorted fancy
indexing instead of per-sample collation. Also timed: the data path alone
(batches/s with no model), and the fit loop reading a fp16 memmap.

    python benchmarks/bench_train.py             # small: < 1 min on one CPU core
    python benchmarks/bench_train.py --full      # 20k sequences, width 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from glmprobe.heads import resnet
from glmprobe.train.data import Arrays, Feeder
from glmprobe.train.fit import FitConfig, fit
from glmprobe.train.seeding import seed_everything


def data(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()
    y = (X[:, 0, :].mean(1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return X, y


def reference_epochs(model, X, y, epochs: int, batch: int, device: str) -> float:
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=batch, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - t0


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def fit_epochs(model, X, y, epochs: int, batch: int, n_valid: int, device: str) -> float:
    ids = np.arange(len(y)).astype(str)
    train, valid = Arrays(X, y, ids), Arrays(X[:n_valid], y[:n_valid], ids[:n_valid])
    cfg = FitConfig(lr=1e-3, batch_size=batch, max_epochs=epochs, patience=epochs + 1, device=device)
    t0 = time.perf_counter()
    fit(model, train, valid, "regression", cfg)
    _sync(device)
    return time.perf_counter() - t0


def data_path(X, y, batch: int, reps: int = 3) -> tuple[float, float]:
    """Seconds per full pass over the data: DataLoader collation vs Feeder fancy indexing."""
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=batch, shuffle=True)
    feeder = Feeder(Arrays(X, y, np.arange(len(y))))
    order = np.random.default_rng(0).permutation(len(y))
    t0 = time.perf_counter()
    for _ in range(reps):
        for _ in loader:
            pass
    t_ref = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(reps):
        for _ in feeder.batches(batch, order):
            pass
    return t_ref, (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="20k sequences, width 1, 2 epochs (minutes on CPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (both loops train there)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n, width, epochs = (20000, 1.0, 2) if args.full else (512, 0.25, 2)
    length, batch, n_valid = 230, 128, 128
    X, y = data(n, length)
    print(f"one-hot ResNet (width {width}), {n} x 4 x {length}, batch {batch}, {epochs} epochs, "
          f"{args.threads} thread(s), {args.device}")

    t_ref_data, t_fit_data = data_path(X, y, batch)
    print(f"data path only   : DataLoader {n / t_ref_data:10.0f} samples/s | Feeder {n / t_fit_data:10.0f} samples/s"
          f" | ratio {t_ref_data / t_fit_data:.1f}x")

    def model():
        seed_everything(0)
        return resnet.build(4, length, 1, {"width": width}).to(args.device)

    dev = args.device
    fit_epochs(model(), X[:256], y[:256], 1, batch, 64, dev)  # warm-up (allocator, kernels)
    t_ref = reference_epochs(model(), X, y, epochs, batch, dev)
    t_fit = fit_epochs(model(), X, y, epochs, batch, n_valid, dev)
    with tempfile.TemporaryDirectory() as tmp:
        mm = np.lib.format.open_memmap(Path(tmp) / "x.npy", mode="w+", dtype=np.float16, shape=X.shape)
        mm[:] = X
        mm.flush()
        t_mm = fit_epochs(model(), np.load(Path(tmp) / "x.npy", mmap_mode="r"), y, epochs, batch, n_valid, dev)
    s = n * epochs
    print(f"reference loop   : {s / t_ref:8.1f} samples/s ({t_ref:.1f} s)")
    print(f"glmprobe fit     : {s / t_fit:8.1f} samples/s ({t_fit:.1f} s, incl. {n_valid}-row validation per epoch)"
          f" | ratio fit/reference {t_ref / t_fit:.2f}x")
    print(f"fit, fp16 memmap : {s / t_mm:8.1f} samples/s ({t_mm:.1f} s) | ratio {t_ref / t_mm:.2f}x")


if __name__ == "__main__":
    main()
