"""Faults beyond input files, each on a real `glmprobe` process (issue 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from glmprobe.data.dataset import Dataset, write_dataset


def glmprobe(*args, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glmprobe.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}, **kw)


def toy_dataset(path: Path, n: int = 40, length: int = 30) -> Path:
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    split = np.array((["train"] * 8 + ["valid", "test"]) * (n // 10 + 1), dtype=object)[:n]
    write_dataset(path, Dataset("toy", np.array([f"toy_{i}" for i in range(n)], dtype=object),
                                np.array(seqs, dtype=object), rng.normal(size=(n, 1)).astype("f4"), ["y"],
                                "regression", split))
    return path


def test_custom_code_without_trust_is_refused_before_it_runs(tmp_path):
    from glmprobe.glm.tiny import save_tiny_model

    folder = save_tiny_model(tmp_path / "custom", "char", hidden=16, layers=1, heads=2, max_tokens=64)
    sentinel = tmp_path / "custom_code_ran"
    (folder / "modeling_custom.py").write_text(f"open({str(sentinel)!r}, 'w').write('ran')\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_custom.CustomModel",
                          "AutoModelForMaskedLM": "modeling_custom.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    sheet = tmp_path / "models.csv"
    sheet.write_text(f"id,source,family,layers\nm,{folder},hf-mlm,last\n")
    out = tmp_path / "emb"
    proc = glmprobe("embed", "--dataset", toy_dataset(tmp_path / "d.h5"), "--models", sheet, "--model", "m",
                    "--outdir", out)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and err.startswith("glmprobe: error:") and "config.json" in err
    assert "model 'm' carries custom code" in err and "trust_remote_code=true" in err
    assert not sentinel.exists() and not out.exists()
