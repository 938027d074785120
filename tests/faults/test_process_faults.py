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


def _hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding the output folder's lock (as a running `glmprobe embed/run` does)."""
    code = ("import sys, time\nfrom glmprobe.lock import hold\n"
            f"with hold({str(folder)!r}, 'glmprobe embed'):\n    print('held', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_embed_on_the_same_store_refuses_and_the_lock_dies_with_its_holder(tmp_path):
    sheet = tmp_path / "models.csv"
    sheet.write_text("id,source,family,layers\noh,onehot,onehot,last\n")
    data, out = toy_dataset(tmp_path / "d.h5"), tmp_path / "emb" / "oh"
    args = ("embed", "--dataset", data, "--models", sheet, "--model", "oh", "--outdir", out, "--quiet")
    holder = _hold_lock(out)
    try:
        proc = glmprobe(*args)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and str(out) in err and "another glmprobe process is writing this folder" in err
    assert not out.exists() and sorted(p.name for p in out.parent.iterdir()) == [".oh.lock"]
    ok = glmprobe(*args)                                   # the killed holder left no stale lock
    assert ok.returncode == 0, ok.stderr
    assert (out / "record.json").exists()
