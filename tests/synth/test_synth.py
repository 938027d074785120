"""The synthetic benchmark: files, determinism, ground truth consistency, learnability, CLI."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import roc_auc_score

from glmprobe.cli import main
from glmprobe.data import motifs as jaspar
from glmprobe.data.synth import FILES, make_synth


def _read(d, name):
    return pd.read_csv(d / name, sep="\t", keep_default_na=False, na_values=["NA"])


def _signal(sites: pd.DataFrame, ids, target: str, intercept: float) -> np.ndarray:
    """Rebuild the noiseless signal from motif_sites.tsv: intercept + sum of effects."""
    eff = sites[sites.target == target].groupby("id").effect.sum()
    return intercept + eff.reindex(ids).fillna(0.0).to_numpy()


def test_files_and_tables(synth_dir):
    assert all((synth_dir / f).exists() for f in FILES + ("record.json",))
    for name, n, length, targets in (("mpra.tsv", 600, 230, ["cellA", "cellB", "cellC"]),
                                     ("chip.tsv", 400, 200, ["CTCF"])):
        df = _read(synth_dir, name)
        assert list(df.columns) == ["id", "sequence", "split", *targets]
        assert len(df) == n and df.id.is_unique
        assert (df.sequence.str.len() == length).all()
        assert df.sequence.str.fullmatch("[ACGT]+").all()
        assert df.split.value_counts().to_dict() == {"train": 0.8 * n, "valid": 0.1 * n, "test": 0.1 * n}
        assert not df[targets].isna().any().any()
    chip = _read(synth_dir, "chip.tsv")
    assert set(chip.CTCF.unique()) == {0, 1} and 0.35 < chip.CTCF.mean() < 0.65


def test_datasets_sheet(synth_dir):
    sheet = pd.read_csv(synth_dir / "datasets.csv")
    assert list(sheet.columns) == ["id", "format", "path", "task", "split", "target_cols", "description"]
    assert sheet.id.tolist() == ["synth_mpra", "synth_chip"]
    assert sheet.format.eq("table").all() and sheet.split.eq("column").all()
    assert sheet.task.tolist() == ["regression", "binary"]
    assert sheet.target_cols.tolist() == ["cellA;cellB;cellC", "CTCF"]
    for p in sheet.path:
        assert not os.path.isabs(p) and (synth_dir / p).exists()


def test_same_seed_same_bytes_other_seed_differs(synth_dir, tmp_path):
    make_synth(tmp_path / "again", seed=0, small=True)
    make_synth(tmp_path / "other", seed=1, small=True)
    for f in FILES:  # record.json holds timestamps, everything else must be identical
        assert (tmp_path / "again" / f).read_bytes() == (synth_dir / f).read_bytes(), f
    for f in ("mpra.tsv", "chip.tsv", "motif_sites.tsv", "truth.json"):
        assert (tmp_path / "other" / f).read_bytes() != (synth_dir / f).read_bytes(), f


def test_planted_sites_are_in_the_sequences(synth_dir):
    sites = _read(synth_dir, "motif_sites.tsv")
    seqs = pd.concat([_read(synth_dir, "mpra.tsv"), _read(synth_dir, "chip.tsv")]).set_index("id").sequence
    truth = json.loads((synth_dir / "truth.json").read_text())
    bg = list(truth["background"]["base_freq"].values())
    planted = sites[sites.strand != "."].drop_duplicates(["id", "motif_id", "start"])
    assert len(planted) > 1000
    for row in planted.itertuples():
        site = seqs[row.id][row.start:row.end]
        if row.strand == "-":
            site = jaspar.reverse_complement(site)
        motif = jaspar.fetch_motif(row.motif_id)
        codes = np.array(["ACGT".index(b) for b in site])[None]
        assert jaspar.site_scores(codes, motif.log_odds(bg))[0] == pytest.approx(row.score, abs=1e-4)


def test_signal_rebuilt_from_sites_gives_the_oracle(synth_dir):
    """motif_sites.tsv is complete: intercept + sum(effects) reproduces the oracle scores in truth.json."""
    truth = json.loads((synth_dir / "truth.json").read_text())
    sites = _read(synth_dir, "motif_sites.tsv")
    mpra, chip = _read(synth_dir, "mpra.tsv"), _read(synth_dir, "chip.tsv")
    d = truth["datasets"]["synth_mpra"]
    test = mpra.split == "test"
    for cell in ("cellA", "cellB", "cellC"):
        signal = _signal(sites, mpra.id, cell, d["params"]["intercept"])
        oracle = d["oracle"]["per_target"][cell]
        assert pearsonr(signal[test], mpra[cell][test])[0] == pytest.approx(oracle, abs=1e-3)
        assert 0.6 < oracle < 0.97  # noise keeps the ceiling below 1
        # The residual is the Gaussian noise of the documented size.
        assert np.std(mpra[cell] - signal) == pytest.approx(d["params"]["noise_sd"], rel=0.1)
    c = truth["datasets"]["synth_chip"]
    logit = _signal(sites, chip.id, "CTCF", c["params"]["intercept"])
    auc = roc_auc_score(chip.CTCF[chip.split == "test"], logit[chip.split == "test"])
    assert auc == pytest.approx(c["oracle"]["per_target"]["CTCF"], abs=1e-9)
    assert 0.75 < auc < 0.99


def test_grammar_is_cell_specific_with_one_interaction(synth_dir):
    sites = _read(synth_dir, "motif_sites.tsv")
    mpra_sites = sites[sites.dataset == "synth_mpra"]
    by = mpra_sites.groupby(["name", "target"]).effect.apply(lambda e: (e != 0).mean()).unstack()
    assert by.loc["HNF4A", "cellA"] == 1 and by.loc["HNF4A", ["cellB", "cellC"]].eq(0).all()
    assert by.loc["GATA1", "cellB"] == 1 and by.loc["GATA1", ["cellA", "cellC"]].eq(0).all()
    assert by.loc["NFYA"].eq(1).all()
    assert (mpra_sites[mpra_sites.name == "REST"].effect < 0).all()
    pairs = mpra_sites[(mpra_sites.strand == ".") & (mpra_sites.target == "cellB")]
    assert 0.15 < len(pairs) / 600 < 0.5 and (pairs.effect == 1.0).all()
    # ETS on the minus strand acts at half strength (orientation effect).
    ets = mpra_sites[(mpra_sites.name == "GABPA") & (mpra_sites.target == "cellA")]
    ratio = (ets.effect / ets.score).groupby(ets.strand).mean()
    assert ratio["-"] / ratio["+"] == pytest.approx(0.5, abs=0.1)
    # ChIP decoys carry no effect; partial matches score lower than full sites.
    chip_sites = sites[sites.dataset == "synth_chip"]
    assert (chip_sites[chip_sites.name.str.endswith("(decoy)")].effect == 0).all()
    full = chip_sites[chip_sites.name == "CTCF"].score.mean()
    assert chip_sites[chip_sites.name == "CTCF (partial)"].score.mean() < full - 0.1


def test_background_is_cpg_depleted(synth_dir):
    seqs = "".join(_read(synth_dir, "mpra.tsv").sequence)
    gc = (seqs.count("G") + seqs.count("C")) / len(seqs)
    cpg_oe = seqs.count("CG") / (seqs.count("C") * seqs.count("G") / len(seqs))
    assert 0.38 < gc < 0.5 and cpg_oe < 0.6


def test_motifs_meme_round_trip(synth_dir):
    from memelite.io import read_meme

    pwms = read_meme(str(synth_dir / "motifs.meme"))
    truth = json.loads((synth_dir / "truth.json").read_text())
    used = {m["motif_id"] for m in truth["datasets"]["synth_mpra"]["params"]["motifs"]}
    used |= {truth["datasets"]["synth_chip"]["params"]["motif"], *truth["datasets"]["synth_chip"]["params"]["decoys"]}
    assert {k.split()[0] for k in pwms} == used
    ctcf = pwms["MA0139.2 CTCF"]
    assert ctcf.shape == (4, 15) and np.allclose(ctcf.sum(0), 1, atol=1e-4)
    assert np.allclose(ctcf, jaspar.fetch_motif("MA0139.2").ppm(), atol=1e-6)


def _kmer_counts(seqs, k: int) -> np.ndarray:
    codes = np.array([[ "ACGT".index(b) for b in s] for s in seqs])
    idx = sum(codes[:, i:codes.shape[1] - k + 1 + i] * 4 ** (k - 1 - i) for i in range(k))
    rows = np.repeat(np.arange(len(seqs)), idx.shape[1])
    return np.bincount(rows * 4 ** k + idx.ravel(), minlength=len(seqs) * 4 ** k).reshape(len(seqs), -1)


@pytest.mark.slow  # ~3 s alone, up to ~20 s on the shared 2-core box
def test_signal_is_learnable_but_below_the_oracle(tmp_path):
    """A k-mer ridge/logistic model scores clearly above chance and clearly below the oracle (default size)."""
    make_synth(tmp_path, seed=0)
    truth = json.loads((tmp_path / "truth.json").read_text())["datasets"]
    mpra = _read(tmp_path, "mpra.tsv")
    X = _kmer_counts(mpra.sequence, 4)
    tr, te = (mpra.split == "train").to_numpy(), (mpra.split == "test").to_numpy()
    for cell in ("cellA", "cellB", "cellC"):
        model = RidgeCV(alphas=np.logspace(0, 4, 9)).fit(X[tr], mpra[cell][tr])
        r = pearsonr(model.predict(X[te]), mpra[cell][te])[0]
        assert 0.2 < r < truth["synth_mpra"]["oracle"]["per_target"][cell] - 0.2, (cell, r)
    chip = _read(tmp_path, "chip.tsv")
    X = _kmer_counts(chip.sequence, 4)
    tr, te = (chip.split == "train").to_numpy(), (chip.split == "test").to_numpy()
    model = LogisticRegression(C=0.01, max_iter=3000).fit(X[tr], chip.CTCF[tr])
    auc = roc_auc_score(chip.CTCF[te], model.decision_function(X[te]))
    assert 0.6 < auc < truth["synth_chip"]["oracle"]["per_target"]["CTCF"] - 0.05, auc


def test_cache_skip_and_force(tmp_path):
    out = tmp_path / "s"
    make_synth(out, seed=3, small=True)
    stamp = (out / "record.json").stat().st_mtime_ns, (out / "mpra.tsv").stat().st_mtime_ns
    make_synth(out, seed=3, small=True)  # same cache key: nothing rewritten
    assert ((out / "record.json").stat().st_mtime_ns, (out / "mpra.tsv").stat().st_mtime_ns) == stamp
    make_synth(out, seed=3, small=True, force=True)
    assert (out / "record.json").stat().st_mtime_ns != stamp[0]
    make_synth(out, seed=4, small=True)  # another seed replaces the folder
    assert json.loads((out / "truth.json").read_text())["seed"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_cli_summary(tmp_path, capsys):
    main(["synth", "--outdir", str(tmp_path / "s"), "--small", "--seed", "2"])  # returns normally on success
    out = capsys.readouterr().out
    assert "datasets.csv" in out and "synth_mpra" in out and "oracle test pearson" in out
    assert "480/60/60" in out and "320/40/40" in out


def test_cli_refuses_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--outdir", str(tmp_path), "--small"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("glmprobe: error: ") and str(tmp_path) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "keep.txt").read_text() == "precious" and not (tmp_path / "mpra.tsv").exists()


def test_motif_helpers():
    motif = jaspar.fetch_motif("MA0139.2")
    assert motif.name == "CTCF" and motif.counts.shape == (4, 15)
    lo = motif.log_odds()
    consensus = lo.argmax(0)[None]
    assert jaspar.site_scores(consensus, lo)[0] == pytest.approx(1.0)
    assert jaspar.site_scores(lo.argmin(0)[None], lo)[0] == pytest.approx(0.0)
    sites = jaspar.sample_sites(motif.ppm(), 20000, np.random.default_rng(0))
    freq = np.stack([(sites == b).mean(0) for b in range(4)])
    assert np.abs(freq - motif.ppm()).max() < 0.02  # draws follow the PPM column by column
    assert jaspar.reverse_complement("AACGTN") == "NACGTT"
    with pytest.raises(jaspar.UserError, match="MA9999.9"):
        jaspar.fetch_motif("MA9999.9")


def test_all_kmers_helper_matches_naive():
    seqs = ["ACGTAC", "TTTTGA"]
    X = _kmer_counts(seqs, 2)
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=2)]
    naive = np.array([[sum(s[i:i + 2] == k for i in range(len(s) - 1)) for k in kmers] for s in seqs])
    assert (naive == X).all()


def test_prepare_reads_the_sheet(synth_dir, tmp_path):
    """The sheet is ready for `glmprobe prepare` (skipped while that step is absent)."""
    from glmprobe.data.dataset import read_dataset
    from glmprobe.steps import prepare

    paths = prepare.prepare_rows(synth_dir / "datasets.csv", tmp_path)
    got = {p.parent.name: read_dataset(p) for p in paths}
    assert got["synth_mpra"].task == "regression" and got["synth_mpra"].target_names == ["cellA", "cellB", "cellC"]
    assert got["synth_chip"].task == "binary" and got["synth_chip"].target_names == ["CTCF"]
    mpra = _read(synth_dir, "mpra.tsv").set_index("id")
    d = got["synth_mpra"]
    assert len(d) == 600 and len(d.indices("test")) == 60
    np.testing.assert_allclose(d.targets[:, 0], mpra.loc[list(d.ids), "cellA"].to_numpy(), rtol=1e-5)
    assert list(np.asarray(d.split)) == mpra.loc[list(d.ids), "split"].tolist()
