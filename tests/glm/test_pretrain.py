"""`glmprobe pretrain`: train split only, HF round trip, determinism, learning above chance."""

import subprocess
import sys

import numpy as np
import torch

from glmprobe.data.dataset import Dataset, write_dataset
from glmprobe.record import read_record
from glmprobe.steps.pretrain import pretrain_step


def periodic_dataset(path, n=120, length=48, seed=0):
    """A-rich sequences (85 % A): a model that learns anything beats the 0.25 chance level."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), length, p=[0.85, 0.05, 0.05, 0.05])) for _ in range(n)]
    split = np.array(["train"] * (n - 20) + ["valid"] * 10 + ["test"] * 10, dtype=object)
    seqs[-1] = "T" * length  # a test row: must never be trained on
    write_dataset(path, Dataset("periodic", np.array([f"p{i}" for i in range(n)], dtype=object),
                                np.array(seqs, dtype=object), np.zeros((n, 1), "f4"), ["y"], "regression", split))
    return path


def test_pretrain_learns_and_reloads_with_auto_classes(tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    data = periodic_dataset(tmp_path / "p.h5")
    out = pretrain_step(data, tmp_path / "model", hidden=16, heads=2, layers=1, steps=40, batch_size=16, lr=1e-2)
    rec = read_record(out)
    assert rec["step"] == "pretrain" and rec["n"]["train"] + rec["n"]["heldout"] == 100  # train split only
    assert rec["inputs"]["sequences"]["split"] == "train"
    assert rec["metrics"]["heldout_mlm_accuracy"] > 0.6 > rec["metrics"]["chance_accuracy"]
    assert "Held-out masked-LM loss" in (out / "README.md").read_text()
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(out, local_files_only=True)
    ids = tok(["ACGT"])["input_ids"][0]
    assert ids[0] == tok.cls_token_id and len(ids) == 5
    hs = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    assert len(hs) == 2 and hs[0].shape == (1, 5, 16)


def test_pretrain_is_deterministic_and_cached(tmp_path, capsys):
    from safetensors.numpy import load_file

    data = periodic_dataset(tmp_path / "p.h5")
    kw = dict(tokens="kmer6", hidden=16, heads=2, layers=1, steps=5, batch_size=8)
    a = pretrain_step(data, tmp_path / "a", **kw)
    b = pretrain_step(data, tmp_path / "b", **kw)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert read_record(a)["params"]["family"] == "nt"
    pretrain_step(data, a, **kw)
    assert "up to date" in capsys.readouterr().err


def test_pretrain_cli_on_fasta_and_bad_input(tmp_path):
    fa = tmp_path / "s.fa"
    fa.write_text("".join(f">s{i}\nACGTTGCAACGTTGCA\n" for i in range(20)))
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "glmprobe.cli", "pretrain", str(fa), "--outdir", str(tmp_path / "m"),
                         "--hidden", "8", "--heads", "2", "--layers", "1", "--steps", "2", "--quiet"],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "held-out MLM accuracy" in ok.stdout and (tmp_path / "m" / "config.json").exists()
    fa.write_text(">a\nACGT\n>b\nACXT\n")
    bad = subprocess.run([sys.executable, "-m", "glmprobe.cli", "pretrain", str(fa), "--outdir", str(tmp_path / "n")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "record 'b' holds characters 'X'" in bad.stderr and "line 3" in bad.stderr
    assert not (tmp_path / "n").exists()
