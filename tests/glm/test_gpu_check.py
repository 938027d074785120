"""benchmarks/gpu_check.sh: runs end to end without a GPU (--dry-run); the real check needs CUDA."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args, timeout=600):
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_gpu_check_dry_run_reaches_every_measurement_without_a_gpu():
    proc = run_check("--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for line in ("machine:", "parameters", "embed_step:", "seq/s", "bare forward:", "GPU busy fraction",
                 "ratio to the bare forward pass:", "gLM ISM, batched vs one edited sequence per pass:", "total"):
        assert line in out, out


@pytest.mark.gpu
def test_gpu_check_on_cuda():
    """The real check: ~100M-parameter gLM, 20k x 230 nt, every layer, under 5 minutes, >= 0.90 of bare."""
    proc = run_check("--no-install")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "GPU busy fraction during embed_step: n/a" not in proc.stdout
