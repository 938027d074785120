"""`glmprobe embed` end to end: store layout, cache, shards, bad input through the CLI."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from glmprobe.glm.adapter import ModelSpec
from glmprobe.glm.store import EmbeddingStore
from glmprobe.record import read_record
from glmprobe.steps.embed import embed_step


def run_cli(*args):
    """The real `glmprobe` entry point in a subprocess: (exit code, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "glmprobe.cli", *map(str, args)], capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    return proc.returncode, proc.stderr


def assert_same_store(a, b):
    with EmbeddingStore(a) as x, EmbeddingStore(b) as y:
        assert x.manifest["cache_key"] == y.manifest["cache_key"]
        assert list(x.ids) == list(y.ids) and np.array_equal(x.split, y.split)
        for layer in x.layers:
            for pooling in x.poolings:
                if pooling == "tokens":
                    np.testing.assert_array_equal(x.tokens(layer), y.tokens(layer))
                else:
                    np.testing.assert_array_equal(x.pooled(layer, pooling), y.pooled(layer, pooling))
        if "tokens" in x.poolings:
            np.testing.assert_array_equal(x.lengths, y.lengths)
            np.testing.assert_array_equal(x.spans, y.spans)


def test_store_layout_manifest_record_and_memmaps(toy_h5, tiny_char, tmp_path):
    spec = ModelSpec("tiny", str(tiny_char), "hf-mlm", layers="all", pooling=["cls", "mean", "tokens"])
    out = embed_step(toy_h5, spec, tmp_path / "embeddings/toy/tiny", device="cpu", batch_size=7, chunk_rows=16)
    with h5py.File(out / "store.h5") as h5:
        names = []
        h5.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert all(h5[n].chunks is None for n in names if n not in ("ids",))
        assert h5["pooled/L2/mean"].dtype == np.float16
    assert set(names) >= {"ids", "split", "pooled/L1/cls", "pooled/L2/mean", "tokens/L1", "tokens/L2",
                          "tokens/lengths", "tokens/spans"}
    with EmbeddingStore(out) as st:
        m = st.manifest
        assert m["complete"] and m["layers"] == [1, 2] and m["poolings"] == ["cls", "mean", "tokens"]
        assert m["dataset"]["n"] == 40 and m["hidden_size"] == 16 and len(m["model"]["weights_sha256"]) >= 2
        assert isinstance(st.pooled(2, "mean"), np.memmap) and st.pooled(2, "mean").shape == (40, 16)
        lengths = np.asarray(st.lengths)
        assert st.tokens(1).shape == (40, lengths.max(), 16)
        from glmprobe.data.dataset import read_dataset
        ds = read_dataset(toy_h5)
        assert lengths.tolist() == [len(s) + 1 for s in ds.sequences]  # <cls> + one token per base
        assert list(st.ids) == list(ds.ids)
        assert not np.asarray(st.tokens(1)[0, lengths[0]:]).any()  # zero padding
    rec = read_record(out)
    assert rec["step"] == "embed" and rec["key"] == "embeddings/toy/tiny"
    assert rec["metrics"]["max_tokens_seen"] == 38 and rec["metrics"]["n_truncated"] == 0
    assert rec["metrics"]["seq_per_s"] > 0 and rec["params"]["pooling"] == "cls;mean;tokens"
    assert not list(tmp_path.glob("embeddings/toy/.*"))  # no work folders left behind


def test_rerun_is_up_to_date_and_changes_invalidate(toy_h5, tmp_path, capsys):
    spec = ModelSpec("oh", "onehot", "onehot", pooling=["mean"])
    out = embed_step(toy_h5, spec, tmp_path / "oh")
    mtime = (out / "store.h5").stat().st_mtime_ns
    embed_step(toy_h5, spec, out)
    assert "up to date" in capsys.readouterr().err and (out / "store.h5").stat().st_mtime_ns == mtime
    embed_step(toy_h5, ModelSpec("oh", "onehot", "onehot", pooling=["mean", "tokens"]), out)
    with EmbeddingStore(out) as st:
        assert st.poolings == ["mean", "tokens"]


def test_shards_gather_to_the_unsharded_store(toy_h5, tiny_char, tmp_path):
    spec = ModelSpec("tiny", str(tiny_char), "hf-mlm", layers=[1, -1], pooling=["mean", "tokens"])
    full = embed_step(toy_h5, spec, tmp_path / "full", batch_size=4, chunk_rows=8)
    shards = [embed_step(toy_h5, spec, tmp_path / f"s{i}", shard=f"{i}/3", batch_size=4, chunk_rows=8) for i in range(3)]
    code, err = run_cli("embed", "--gather", shards[2], "--gather", shards[0], "--gather", shards[1],
                        "--outdir", tmp_path / "gathered")
    assert code == 0, err
    assert_same_store(full, tmp_path / "gathered")
    code, err = run_cli("embed", "--gather", shards[0], "--gather", shards[2], "--outdir", tmp_path / "bad")
    assert code == 2 and "do not tile the dataset" in err and not (tmp_path / "bad").exists()
    code, err = run_cli("embed", "--gather", shards[0], "--gather", shards[1], "--outdir", tmp_path / "short")
    assert code == 2 and "do not tile the dataset" in err and not (tmp_path / "short").exists()


def test_interrupted_run_resumes_to_an_identical_store(tmp_path, tiny_char, dataset_factory):
    """SIGKILL a real `glmprobe embed` after its first chunks land, rerun, compare."""
    data = dataset_factory(tmp_path / "d.h5", n=600, lengths=(100, 100))
    args = [sys.executable, "-m", "glmprobe.cli", "embed", "--dataset", str(data), "--source", str(tiny_char),
            "--family", "hf-mlm", "--layers", "all", "--pooling", "mean;tokens", "--chunk-rows", "20",
            "--batch-size", "10", "--quiet"]
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "killed"
    progress = tmp_path / ".killed.partial" / "progress.json"
    proc = subprocess.Popen(args + ["--outdir", str(out)], env=env, stderr=subprocess.PIPE)
    import time
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if progress.exists():
            try:
                done = json.loads(progress.read_text())["rows_done"]
            except (ValueError, KeyError):
                done = 0
            if done >= 40:
                break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert 0 < done < 600 and not out.exists(), "the run must be killed mid-way"
    resumed = subprocess.run(args + ["--outdir", str(out)], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at row" in resumed.stderr
    clean = subprocess.run(args + ["--outdir", str(tmp_path / "clean")], env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert_same_store(out, tmp_path / "clean")


def _no_unk_n(tiny_char, tmp_path):
    """A copy of the tiny model whose vocabulary lacks N (N maps to <unk>)."""
    import shutil

    dest = tmp_path / "no_n"
    shutil.copytree(tiny_char, dest)
    tj = json.loads((dest / "tokenizer.json").read_text())
    del tj["model"]["vocab"]["N"]
    (dest / "tokenizer.json").write_text(json.dumps(tj))
    return dest


@pytest.mark.parametrize("case, fragment", [
    ("family", "unknown model family 'nope'"),
    ("not_a_model", "not a model folder"),
    ("layer", "layer 7 out of range"),
    ("too_long", "record 'toy_0' (36 nt) needs 37 tokens but the context holds 20"),
    ("unk", "maps to the unknown token"),
    ("cuda", "no CUDA GPU"),
])
def test_bad_input_exits_2_with_a_message_and_no_output(case, fragment, toy_h5, tiny_char, tmp_path,
                                                       dataset_factory):
    sheet = tmp_path / "models.csv"
    rows = {
        "family": "m,onehot,nope,last,",
        "not_a_model": f"m,{tmp_path},hf-mlm,last,",
        "layer": f"m,{tiny_char},hf-mlm,7,",
        "too_long": f"m,{tiny_char},hf-mlm,last,20",
        "unk": f"m,{_no_unk_n(tiny_char, tmp_path) if case == 'unk' else tiny_char},hf-mlm,last,",
        "cuda": "m,onehot,onehot,last,",
    }
    data = toy_h5
    if case == "unk":
        data = dataset_factory(tmp_path / "withn.h5", alphabet="ACGTN")
    sheet.write_text("id,source,family,layers,max_length\n" + rows[case] + "\n")
    extra = ["--device", "cuda"] if case == "cuda" else []
    out = tmp_path / "embeddings" / "toy" / "m"
    code, err = run_cli("embed", "--dataset", data, "--models", sheet, "--model", "m", "--outdir", out, *extra)
    assert code == 2, err
    assert err.startswith("glmprobe: error:") and fragment in err and "Traceback" not in err
    assert not (tmp_path / "embeddings").exists()


def test_changed_dataset_on_resume_is_refused(tmp_path, monkeypatch, dataset_factory):
    from glmprobe.glm import extract

    data = dataset_factory(tmp_path / "d.h5", n=30)
    spec = ModelSpec("oh", "onehot", "onehot", pooling=["mean"])
    calls = {"n": 0}
    real = extract.Extractor._finish

    def crash_on_second_chunk(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # like Ctrl-C mid-run
        return real(self, *a, **k)

    monkeypatch.setattr(extract.Extractor, "_finish", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        embed_step(data, spec, tmp_path / "oh", chunk_rows=10)
    monkeypatch.undo()
    assert json.loads((tmp_path / ".oh.partial" / "progress.json").read_text())["rows_done"] == 10
    dataset_factory(data, n=30, seed=1)  # the data changed under the partial store
    code, err = run_cli("embed", "--dataset", data, "--source", "onehot", "--family", "onehot",
                        "--outdir", tmp_path / "oh")
    assert code == 2 and "the dataset changed" in err and "--force" in err and not (tmp_path / "oh").exists()
    code, err = run_cli("embed", "--dataset", data, "--source", "onehot", "--family", "onehot",
                        "--outdir", tmp_path / "oh", "--force")
    assert code == 0, err


def test_cache_key_pins_the_hub_commit_actually_loaded():
    """An unpinned hub id must not be served a stale store after its repository moves."""
    from glmprobe.glm.cache import model_identity

    class Hub:
        resolved_revision = "abc123"

        def weight_files(self):
            return []

    class Local(Hub):
        resolved_revision = None

    assert model_identity(Hub()) == {"hub_commit": "abc123"}
    Hub.resolved_revision = "def456"
    assert model_identity(Hub()) == {"hub_commit": "def456"}
    assert model_identity(Local()) == {}


def test_device_and_precision_are_in_the_record_and_the_key(toy_h5, tmp_path):
    spec = ModelSpec("oh", "onehot", "onehot", pooling=["mean"])
    out = embed_step(toy_h5, spec, tmp_path / "fp32", device="cpu")
    rec = read_record(out)
    assert rec["params"]["precision"] == "fp32" and rec["params"]["device"] == "cpu"
    with EmbeddingStore(out) as st:
        assert st.manifest["key_fields"]["device"] == "cpu" and st.manifest["key_fields"]["precision"] == "fp32"
    other = embed_step(toy_h5, spec, tmp_path / "bf16", device="cpu", precision="bf16")
    assert read_record(other)["cache_key"] != rec["cache_key"]


def test_fp16_overflow_exits_2_naming_the_record(toy_h5, tiny_char, tmp_path):
    import torch
    from transformers import AutoModelForMaskedLM

    loud = tmp_path / "loud"
    m = AutoModelForMaskedLM.from_pretrained(tiny_char, local_files_only=True)
    with torch.no_grad():
        m.base_model.embeddings.word_embeddings.weight.mul_(1e9)
    m.save_pretrained(loud)
    import shutil
    for f in tiny_char.iterdir():
        if "token" in f.name or f.name.startswith("special"):
            shutil.copy(f, loud / f.name)
    out = tmp_path / "embeddings" / "toy" / "loud"
    code, err = run_cli("embed", "--dataset", toy_h5, "--source", loud, "--family", "hf-mlm", "--layers", "0",
                        "--outdir", out)
    assert code == 2 and "layer 0 mean embeddings of 'toy_" in err and "float32" in err and "Traceback" not in err
    assert not out.exists()
