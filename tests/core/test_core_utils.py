"""One-hot, atomic writes, records and the CLI's error contract."""

import json
import subprocess
import sys

import click
import numpy as np
import pytest

from glmprobe import cli as cli_module
from glmprobe.atomic import atomic_dir, atomic_path, sha256_file
from glmprobe.data.onehot import decode, encode, reverse_complement
from glmprobe.errors import UserError
from glmprobe.record import find_records, make_record, read_record, write_record


def test_onehot_layout_and_n():
    x = encode(["ACGTN", "AC"])
    assert x.shape == (2, 4, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(x[0, :, 3], [0, 0, 0, 1])
    assert x[0, :, 4].sum() == 0 and x[1, :, 2:].sum() == 0  # N and padding are all-zero
    assert decode(x) == ["ACGTN", "ACNNN"]
    assert encode(["acgt"]).sum() == 4  # soft-masked bases count
    assert reverse_complement("AACGTN") == "NACGTT"


def test_atomic_path_and_dir(tmp_path):
    with atomic_path(tmp_path / "f.txt") as tmp:
        tmp.write_text("x")
        assert not (tmp_path / "f.txt").exists()
    assert (tmp_path / "f.txt").read_text() == "x"
    with pytest.raises(ValueError):
        with atomic_dir(tmp_path / "d") as d:
            (d / "a").write_text("1")
            raise ValueError
    assert not (tmp_path / "d").exists() and len(list(tmp_path.iterdir())) == 1
    with atomic_dir(tmp_path / "d") as d:
        (d / "a").write_text("1")
    with atomic_dir(tmp_path / "d") as d:  # replacing an existing folder
        (d / "b").write_text("2")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["b"]
    assert sha256_file(tmp_path / "d" / "b") == "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35"


def test_record_is_json_safe_and_found(tmp_path):
    rec = make_record("probe", "probes/a/b/L1/mean-linear", metrics={"test_pearson": np.float32(0.5),
                                                                     "test_r2": float("nan")})
    write_record(tmp_path / "probes" / "x", rec)
    (tmp_path / ".tmp.hidden").mkdir()
    write_record(tmp_path / ".tmp.hidden", rec)
    found = find_records(tmp_path)
    assert len(found) == 1
    back = read_record(found[0])
    assert back["metrics"] == {"test_pearson": 0.5, "test_r2": None}
    assert back["tags"]["stage"] == "probe" and "glmprobe" in back["versions"]
    json.loads(found[0].read_text())


def test_user_error_message_names_file_and_hint():
    err = UserError("bad value 'x'", path="data.csv", where="line 3", hint="Use a number.")
    assert str(err) == "data.csv (line 3): bad value 'x'. Use a number."


def test_cli_turns_user_errors_into_exit_2(monkeypatch, capsys):
    @click.command("boom")
    def boom():
        raise UserError("broken input", path="x.csv")

    monkeypatch.setitem(cli_module.COMMANDS, "boom", ("tests.core:none", "test"))
    monkeypatch.setattr(cli_module.LazyGroup, "get_command", lambda self, ctx, name: boom)
    with pytest.raises(SystemExit) as exc:
        cli_module.main(["boom"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "glmprobe: error: x.csv: broken input" and "Traceback" not in err


def test_cli_help_lists_every_step():
    out = subprocess.run([sys.executable, "-m", "glmprobe.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for name in ("prepare", "synth", "embed", "probe", "baseline", "run", "track", "report"):
        assert name in out.stdout


def test_unknown_option_exits_2():
    out = subprocess.run([sys.executable, "-m", "glmprobe.cli", "--no-such-flag"], capture_output=True, text=True)
    assert out.returncode == 2 and "no such option" in out.stderr.lower()


def test_timing_metrics_are_told_apart_from_results():
    from glmprobe.record import is_timing
    assert is_timing("seq_per_s") and is_timing("variants_per_s") and is_timing("train_seconds")
    assert not is_timing("test_pearson") and not is_timing("steps") and not is_timing("n_windows")
