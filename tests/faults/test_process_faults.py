"""Faults beyond input files, each on a real `glmprobe` process (issue 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


def _hold_lock(folder: Path, command: str = "glmprobe embed", write: str = "") -> subprocess.Popen:
    """Another process holding the output folder's lock (as a running `glmprobe embed/run` does);
    it writes ``write`` into ``folder/first.txt`` first (its own output, which must stay untouched)."""
    code = ("import pathlib, sys, time\nfrom glmprobe.lock import hold\n"
            f"with hold({str(folder)!r}, {command!r}):\n"
            + (f"    pathlib.Path({str(folder)!r}).mkdir()\n"
               f"    pathlib.Path({str(folder)!r}, 'first.txt').write_text({write!r})\n" if write else "")
            + "    print('held', flush=True)\n    time.sleep(120)\n")
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


def test_second_run_on_the_same_outdir_refuses_and_leaves_the_first_runs_folder_untouched(tmp_path):
    (tmp_path / "datasets.csv").write_text("id,format,path,task,split,target_cols\nd1,table,d1.tsv,regression,"
                                           "column,y\n")
    (tmp_path / "models.csv").write_text("id,source,family,layers,pooling\nonehot,onehot,onehot,all,mean\n")
    params = tmp_path / "p.yaml"
    params.write_text("input: datasets.csv\nmodels: models.csv\nheads: linear\nbaselines: cnn\n")
    out = tmp_path / "results"
    holder = _hold_lock(out, "glmprobe run", write="the first run's output")
    try:
        proc = glmprobe("run", params, "--outdir", out, "--quiet", timeout=300)
        after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.name != "p.yaml")
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and str(out) in err and "another glmprobe process is writing this folder" in err
    assert "glmprobe run" in err and proc.stdout == ""
    # the second run wrote nothing: only the sheets, the holder's lock file and its own output are there
    assert after == [".results.lock", "datasets.csv", "models.csv", "results", "results/first.txt"]
    assert (out / "first.txt").read_text() == "the first run's output"


REDUCED_RUN = """\
synth: true
synth_small: true
datasets: synth_chip
models: models.csv
heads: linear
baselines: cnn
trials: 1
replicates: 1
max_epochs: 1
pruner: none
device: cpu
tracking_uri: http://127.0.0.1:{port}
"""


@pytest.mark.slow
def test_run_with_mlflow_down_keeps_every_record_and_track_logs_them_once(tmp_path):
    import socket

    from mlflow import MlflowClient

    with socket.socket() as s:                             # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "models.csv").write_text("id,source,family,layers,pooling\nonehot,onehot,onehot,all,mean\n")
    (tmp_path / "reduced.yaml").write_text(REDUCED_RUN.format(port=port))
    out = tmp_path / "results"
    run = glmprobe("run", tmp_path / "reduced.yaml", "--outdir", out, "--quiet", timeout=900)
    assert run.returncode == 1, run.stdout + run.stderr       # the run says tracking failed ...
    assert "unreachable" in run.stdout + run.stderr and "glmprobe track" in run.stdout + run.stderr
    records = [p for p in out.rglob("record.json") if "synth" not in p.relative_to(out).parts]
    assert len(records) >= 4 and (out / "report" / "results.csv").is_file()   # ... but every result is on disk
    uri = f"sqlite:///{out.resolve()}/mlflow.db"
    first = glmprobe("track", out, "--tracking-uri", uri, "--quiet")
    assert first.returncode == 0, first.stderr
    again = glmprobe("track", out, "--tracking-uri", uri, "--quiet")           # a replay changes nothing
    assert again.returncode == 0 and "MLflow: 0 new, 0 updated" in again.stdout, again.stdout
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=10000)
    keys = [r.data.tags.get("glmprobe.key") for r in runs if r.data.tags.get("glmprobe.kind") == "task"]
    assert len(keys) == len(set(keys)) and len(keys) >= len(records) - 1, (len(keys), len(records))


def _file_size_limit(nbytes: int):
    """preexec_fn: files may not grow past ``nbytes`` (writes fail with EFBIG, as on a full disk)."""
    def apply():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


def _one_line_full_disk(proc: subprocess.CompletedProcess, path: Path, then: str, reason: str) -> None:
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and err.startswith(f"glmprobe: error: {path}: the disk filled up while"), err
    assert f"({reason})" in err and "Free space there" in err and "rerun the same command" in err and then in err


def _same_store(a: Path, b: Path) -> None:
    """Every array of the two stores equal, and the same cache key."""
    import h5py

    with h5py.File(a / "store.h5", "r") as x, h5py.File(b / "store.h5", "r") as y:
        names = []
        x.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert len(names) >= 5 and sorted(names) == sorted(n for n in names if n in y)
        for name in names:
            np.testing.assert_array_equal(x[name][()], y[name][()], err_msg=name)
    assert json.loads((a / "manifest.json").read_text())["cache_key"] == \
        json.loads((b / "manifest.json").read_text())["cache_key"]


def _embed_args(data: Path, out: Path) -> tuple:
    return ("embed", "--dataset", data, "--source", "onehot", "--family", "onehot", "--pooling", "mean;tokens",
            "--outdir", out, "--chunk-rows", "10", "--quiet")


def test_store_past_a_file_size_limit_is_refused_in_one_line_and_the_rerun_matches(tmp_path):
    data = toy_dataset(tmp_path / "d.h5")
    ref = tmp_path / "ref" / "oh"
    assert glmprobe(*_embed_args(data, ref)).returncode == 0                    # the uninterrupted run
    size = (ref / "store.h5").stat().st_size
    out = tmp_path / "emb" / "oh"
    proc = glmprobe(*_embed_args(data, out), preexec_fn=_file_size_limit(size // 2))
    _one_line_full_disk(proc, out / "store.h5", "nothing was kept, it starts over", "the file size limit was reached")
    assert not (tmp_path / "emb").exists()          # no store, no partial folder, no lock file left behind
    again = glmprobe(*_embed_args(data, out))
    assert again.returncode == 0, again.stderr
    _same_store(out, ref)


def test_disk_full_mid_run_keeps_the_rows_done_and_the_rerun_resumes_to_the_same_store(tmp_path, monkeypatch):
    # a full disk cannot cut the store itself short (its blocks are reserved when it is created), but a
    # later small write can fail: here the progress record after 20 rows, as ENOSPC would
    import errno

    from glmprobe.errors import UserError
    from glmprobe.glm import embed
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.steps.embed import embed_step
    data = toy_dataset(tmp_path / "d.h5")
    ref = tmp_path / "ref" / "oh"
    assert glmprobe(*_embed_args(data, ref)).returncode == 0
    real = embed.write_json

    def full_after_20_rows(path, obj):
        if obj.get("rows_done", 0) > 20:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, obj)

    monkeypatch.setattr(embed, "write_json", full_after_20_rows)
    out = tmp_path / "emb" / "oh"
    with pytest.raises(UserError) as info:
        embed_step(data, ModelSpec("oh", "onehot", "onehot", pooling=["mean", "tokens"]), out, chunk_rows=10)
    monkeypatch.undo()
    msg = str(info.value)
    assert msg.startswith(f"{out / 'store.h5'}: the disk filled up while the store was written (no space left")
    assert f"it resumes at row 20 (the rows done are kept in {out.parent / '.oh.partial'})" in msg
    assert not out.exists()
    again = glmprobe(*_embed_args(data, out))                                     # a real process resumes
    assert again.returncode == 0 and f"{out}: resuming at row 20 of 40" in again.stderr, again.stderr
    _same_store(out, ref)


def test_a_full_filesystem_is_a_one_line_error_not_a_crash(tmp_path):
    """A real ENOSPC on a 64 KiB tmpfs (private mount namespace; skipped where one cannot be made).
    Before the store reserved its blocks, this died of SIGBUS in a memmap write, with no message."""
    import shlex
    import shutil

    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"]).returncode:
        pytest.skip("cannot mount a private tmpfs here (unshare -rm)")
    data, small = toy_dataset(tmp_path / "d.h5", n=400, length=60), tmp_path / "small"
    small.mkdir()
    args = " ".join(shlex.quote(str(a)) for a in _embed_args(data, small / "oh"))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {small} && "
                           f"{shlex.quote(sys.executable)} -m glmprobe.cli {args}; rc=$?; ls -A {small}; exit $rc"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    _one_line_full_disk(proc, small / "oh" / "store.h5", "nothing was kept", "no space left on the device")
    assert proc.stdout == ""                        # nothing left on the full filesystem


def test_prepare_past_a_file_size_limit_writes_nothing(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "t.tsv").write_text("id\tsequence\tsplit\ty\n" + "".join(
        f"s{i}\t{''.join(rng.choice(list('ACGT'), 200))}\t{(['train'] * 8 + ['valid', 'test'])[i % 10]}\t{i}\n"
        for i in range(200)))
    (tmp_path / "datasets.csv").write_text("id,format,path,task\nd,table,t.tsv,regression\n")
    out = tmp_path / "datasets"
    proc = glmprobe("prepare", tmp_path / "datasets.csv", "--outdir", out, "--quiet",
                    preexec_fn=_file_size_limit(16384))
    _one_line_full_disk(proc, out / "d" / "dataset.h5", "it prepares the row again", "the file size limit was reached")
    assert not (out / "d").exists() and not list(out.glob(".d*"))
