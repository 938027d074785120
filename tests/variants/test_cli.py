"""``glmprobe variants`` end to end: zero-shot and supervised on the synthetic variants, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from variant_inputs import CHR1, other

from glmprobe.cli import main


def run(args, capsys):
    """(exit code, stdout, stderr) of the CLI; 0 when main returns normally."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def tiny_char(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("vmodel") / "tiny", "char", hidden=16, max_tokens=256)


@pytest.fixture(scope="module")
def few_variants(synth_dir, tmp_path_factory):
    """Two loci of the synthetic set (keeps the test fast)."""
    v = pd.read_csv(synth_dir / "variants.tsv", sep="\t")
    keep = v[v.group.isin(sorted(v.group.unique())[:2])]
    path = tmp_path_factory.mktemp("vin") / "synth_variants.tsv"
    keep.to_csv(path, sep="\t", index=False)
    return path


def test_zero_shot_cli(synth_dir, few_variants, tiny_char, tmp_path, capsys):
    out = tmp_path / "variants" / "synth" / "tiny"
    code, stdout, err = run(["variants", "--variants", str(few_variants), "--genome",
                             str(synth_dir / "variants_genome.fa"), "--source", str(tiny_char), "--family", "hf-mlm",
                             "--layers", "all", "--n-boot", "50", "--length", "100", "--outdir", str(out)], capsys)
    assert code in (0, None), err
    rec = json.loads((out / "record.json").read_text())
    scores = pd.read_csv(out / "scores.tsv", sep="\t")
    assert len(scores) == rec["n"]["scored"] == len(pd.read_csv(few_variants, sep="\t"))
    assert {"cosine_L2", "l2_L1", "llr"} <= set(scores.columns) and scores["llr"].notna().all()
    assert "abs_spearman/llr/all" in rec["metrics"] and len(rec["ci"]["abs_spearman/llr/all"]) == 2
    assert rec["tags"]["kind"] == "zeroshot" and rec["params"]["length"] == 100
    corr = pd.read_csv(out / "correlations.csv")
    assert set(corr.target) == {"signed", "abs"} and set(corr.metric) == {"pearson", "spearman"}
    again = run(["variants", "--variants", str(few_variants), "--genome", str(synth_dir / "variants_genome.fa"),
                 "--source", str(tiny_char), "--family", "hf-mlm", "--layers", "all", "--n-boot", "50",
                 "--length", "100", "--outdir", str(out), "--quiet"], capsys)
    assert json.loads((out / "record.json").read_text())["started"] == rec["started"]   # up to date: skipped
    assert again[0] in (0, None)


@pytest.mark.parametrize("row, option, message", [
    ("chrX\t5\tA\tC", None, "chromosome 'chrX' is not in the genome"),
    ("chr1\t9999\tA\tC", None, "beyond the end of chr1"),
    (f"chr1\t10\t{other(CHR1[9])}\tA", "--on-mismatch=error", "but the genome has"),
    (f"chr1\t10\t{CHR1[9]}\tACG", "--on-indel=error", "is an indel"),
    (f"chr1\t10\t{CHR1[9]}\t{other(CHR1[9])}", "--on-duplicate=error", "already read"),
    ("chr1\tten\tA\tC", None, "not an integer"),
])
def test_bad_input_one_line_exit_2_nothing_written(genome, tmp_path, capsys, tiny_char, row, option, message):
    good = f"chr1\t10\t{CHR1[9]}\t{other(CHR1[9])}"
    path = tmp_path / "in.tsv"
    path.write_text("chrom\tpos\tref\talt\n" + good + "\n" + row + "\n")
    out = tmp_path / "out"
    code, _, err = run(["variants", "--variants", str(path), "--genome", str(genome), "--source", str(tiny_char),
                        "--family", "hf-mlm", "--outdir", str(out), "--length", "20", "--quiet",
                        *([option] if option else [])], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "in.tsv (line 3)" in lines[0], err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_dropped_variants_are_listed(genome, tmp_path, capsys, tiny_char):
    rows = [f"chr1\t{p}\t{CHR1[p - 1]}\t{other(CHR1[p - 1])}\t{p / 10}" for p in range(20, 30)]
    rows += [f"chr1\t31\t{other(CHR1[30])}\tA\t1", f"chr1\t32\t{CHR1[31]}\tAC\t1", rows[0]]
    path = tmp_path / "in.tsv"
    path.write_text("chrom\tpos\tref\talt\teffect\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, _, err = run(["variants", "--variants", str(path), "--genome", str(genome), "--source", str(tiny_char),
                        "--family", "hf-mlm", "--outdir", str(out), "--length", "20", "--quiet", "--score", "l2"],
                       capsys)
    assert code in (0, None), err
    rec = json.loads((out / "record.json").read_text())
    assert (rec["metrics"]["n_dropped_ref_mismatch"], rec["metrics"]["n_dropped_indel"],
            rec["metrics"]["n_dropped_duplicate"], rec["n"]["scored"]) == (1, 1, 1, 10)
    dropped = pd.read_csv(out / "dropped.tsv", sep="\t")
    assert dropped["line"].tolist() == [12, 13, 14]


@pytest.mark.slow
def test_supervised_baseline_cli(prepared_synth, synth_dir, few_variants, tmp_path, capsys):
    """A one-hot baseline's alt - ref scores, checked against its own predictions on the windows."""
    from glmprobe.train.tune import TuneOptions
    from glmprobe.variants.supervised import SupervisedScorer

    try:
        from glmprobe.steps.baseline import baseline_step
    except ImportError:
        from glmprobe.steps.baseline import baseline_step
    opts = TuneOptions(trials=1, replicates=1, max_epochs=1, fixed={"width": 0.25}, device="cpu")
    folder = baseline_step(prepared_synth["synth_mpra"], "cnn", tmp_path / "res", opts).parent
    out = tmp_path / "variants" / "synth" / "cnn"
    code, _, err = run(["variants", "--variants", str(few_variants), "--genome", str(synth_dir / "variants_genome.fa"),
                        "--trained", str(folder), "--rc-average", "--n-boot", "50", "--outdir", str(out), "--quiet"],
                       capsys)
    assert code in (0, None), err
    rec = json.loads((out / "record.json").read_text())
    assert rec["params"]["length"] == 230 and rec["tags"]["kind"] == "baseline"
    scores = pd.read_csv(out / "scores.tsv", sep="\t")
    assert {"pred_cellA", "pred_cellB", "pred_cellC"} <= set(scores.columns)
    # recompute one variant by hand
    from glmprobe.data.onehot import reverse_complement
    from glmprobe.variants.genome import Genome
    s = SupervisedScorer(folder)
    r = scores.iloc[0]
    with Genome(synth_dir / "variants_genome.fa") as g:
        ref = g.fetch(r.chrom, r.pos - 1 - 114, r.pos - 1 - 114 + 230)
    alt = ref[:114] + r.alt + ref[115:]
    p = s.predict([ref, alt, reverse_complement(ref), reverse_complement(alt)])
    want = ((p[1] - p[0]) + (p[3] - p[2])) / 2
    assert np.allclose(scores.loc[0, ["pred_cellA", "pred_cellB", "pred_cellC"]].to_numpy(float), want, atol=1e-4)
