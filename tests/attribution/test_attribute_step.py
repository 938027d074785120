"""`glmprobe attribute` end to end on the small synthetic ChIP set, and every bad input -> one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from glmprobe.cli import main


def _run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.err


def test_attribute_writes_maps_scores_logos_and_a_record(chip_baseline, prepared_synth, synth_dir, tmp_path, capsys):
    out = tmp_path / "attr"
    args = ["attribute", "--model", str(chip_baseline), "--dataset", str(prepared_synth["synth_chip"]),
            "--outdir", str(out), "--method", "gxi", "--method", "deeplift", "-k", "8", "--n-shuffles", "2",
            "--sites", str(synth_dir / "motif_sites.tsv"), "--motifs", str(synth_dir / "motifs.meme"),
            "--no-modisco", "--gia-motif", "CCGCGAGGGGGCAG", "--gia-n", "20", "--logos", "1", "--quiet"]
    main(args)
    rec = json.loads((out / "record.json").read_text())
    assert rec["step"] == "attribute" and rec["tags"]["target"] == "CTCF"
    for m in ("gxi", "deeplift"):
        assert (out / f"maps_{m}.h5").exists() and (out / "logos" / f"top1_{m}.png").exists()
        assert (out / "logos" / f"top1_{m}.svg").exists()
        assert 0 <= rec["metrics"][f"gt_auroc/{m}"] <= 1
    assert rec["metrics"]["convergence_delta_max/deeplift"] < 1e-2
    gt = pd.read_csv(out / "ground_truth.csv")
    assert {"strong"} <= set(gt["class"]) and {"auroc_lo", "auroc_hi"} <= set(gt.columns)
    # synth's answer key: the PWM predictor's map of the same sequences is scored beside them, as a reference
    from glmprobe.attribution.ceiling_maps import ceiling_scores
    from glmprobe.attribution.evaluate import ground_truth, read_sites, site_classes, site_effects
    from glmprobe.data.dataset import DatasetFile

    sel = pd.read_csv(out / "selection.csv")
    with DatasetFile(prepared_synth["synth_chip"]) as ds:
        seqs = list(ds.sequences(sel["row"].to_numpy()))
    masks = site_classes(sel["id"].tolist(), seqs, site_effects(read_sites(synth_dir / "motif_sites.tsv",
                                                                           "synth_chip"), "CTCF"))
    expect = ground_truth(ceiling_scores("synth_chip", seqs, ["CTCF"])["CTCF"], masks)["strong"]["auroc"]
    assert rec["metrics"]["gt_ceiling_auroc"] == pytest.approx(expect)
    assert gt.loc[(gt["method"] == "pwm_ceiling") & (gt["class"] == "strong"), "auroc"].item() == pytest.approx(expect)
    assert "gt_auroc/pwm_ceiling" not in rec["metrics"]   # a reference, not one of the model's methods
    assert rec["metrics"]["gt_auroc_of_ceiling/gxi"] == pytest.approx(rec["metrics"]["gt_auroc/gxi"] / expect)
    agree = pd.read_csv(out / "agreement.csv")
    assert list(agree[["method_a", "method_b"]].iloc[0]) == ["gxi", "deeplift"]
    assert len(sel) == 8 and sel["prediction"].is_monotonic_decreasing
    assert pd.read_csv(out / "gia.csv")["n"].iloc[0] == 20
    before = (out / "record.json").stat().st_mtime_ns
    main(args)   # same inputs and options: up to date, nothing redone
    assert (out / "record.json").stat().st_mtime_ns == before
    capsys.readouterr()


def test_sites_not_written_by_synth_get_no_ceiling(chip_baseline, prepared_synth, synth_dir, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "motif_sites.tsv").write_bytes((synth_dir / "motif_sites.tsv").read_bytes())   # no truth.json beside it
    main_args = ["attribute", "--model", str(chip_baseline), "--dataset", str(prepared_synth["synth_chip"]),
                 "--outdir", str(tmp_path / "attr"), "--method", "gxi", "-k", "4", "--sites", str(own / "motif_sites.tsv"),
                 "--logos", "0", "--quiet"]
    main(main_args)
    rec = json.loads((tmp_path / "attr" / "record.json").read_text())
    assert "gt_auroc/gxi" in rec["metrics"] and "gt_ceiling_auroc" not in rec["metrics"]


@pytest.fixture
def bad(chip_baseline, prepared_synth, tmp_path):
    def make(*extra, model=None, dataset="synth_chip"):
        return ["attribute", "--model", str(model or chip_baseline), "--dataset", str(prepared_synth[dataset]),
                "--outdir", str(tmp_path / "never"), "--method", "gxi", "-k", "4", "--quiet", *extra]
    return make


def _fake_record(folder, step, **fields):
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({"step": step, "tags": {}, "params": {}, "artifacts": {},
                                                    **fields}))
    return folder


@pytest.mark.parametrize("case, message", [
    ("empty_folder", "not a trained model folder"),
    ("untrained", "no trained weights"),
    ("other_dataset", "trained on another dataset"),
    ("unknown_ids", "'nope_1' is not in the dataset"),
    ("tokenizer_deeplift", "gradient methods cannot pass through a tokenizer"),
    ("unknown_target", "target 'GATA9' is not one of"),
    ("bad_gia_motif", "GIA motif"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, message, bad, tmp_path, capsys):
    args = {
        "empty_folder": lambda: bad(model=(tmp_path / "empty").mkdir() or tmp_path / "empty"),
        "untrained": lambda: bad(model=_fake_record(tmp_path / "m", "baseline")),
        "other_dataset": lambda: bad(dataset="synth_mpra"),
        "unknown_ids": lambda: bad("--select", "ids", "--ids", str(_ids(tmp_path))),
        "tokenizer_deeplift": lambda: [*bad(model=_fake_record(tmp_path / "p", "probe")), "--method", "deeplift"],
        "unknown_target": lambda: bad("--target", "GATA9"),
        "bad_gia_motif": lambda: bad("--gia-motif", "GATNNG"),
    }[case]()
    code, err = _run(args, capsys)
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "never").exists()
    assert not list(tmp_path.glob(".never.*"))


def _ids(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("chip_000001\nnope_1\n")
    return path


def test_sequences_of_the_wrong_length_are_refused():
    from glmprobe.attribution.loader import Trained, check_lengths
    from glmprobe.errors import UserError

    trained = Trained("onehot", None, {}, "cnn", 200, "")
    check_lengths(trained, ["A" * 200], ["ok"])
    with pytest.raises(UserError, match="record 'short' is 150 nt but the model takes 200 nt"):
        check_lengths(trained, ["A" * 200, "C" * 150], ["ok", "short"])


@pytest.mark.slow
def test_modisco_and_tomtom_recover_a_planted_motif_from_ideal_contributions():
    """Glue check: contributions that are exactly the planted CTCF sites give a CTCF pattern at q < 0.05."""
    from glmprobe.attribution.motifs import name_patterns, read_meme, recovered, run_modisco
    from glmprobe.data import motifs as jaspar
    from glmprobe.data.onehot import encode

    rng = np.random.default_rng(0)
    ctcf = jaspar.fetch_motif("MA0139.2")
    sites = jaspar.sample_sites(ctcf.ppm(), 400, rng)
    seqs, hyp_mask = [], np.zeros((400, 4, 120), np.float32)
    for i, site in enumerate(sites):
        s = list(rng.choice(list("ACGT"), 120))
        a = int(rng.integers(10, 120 - 30))
        s[a:a + len(site)] = ["ACGT"[c] for c in site]
        seqs.append("".join(s))
        hyp_mask[i, :, a:a + len(site)] = 1.0
    X = encode(seqs)
    hyp = X * hyp_mask + rng.normal(0, 0.01, X.shape).astype(np.float32)
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        meme = jaspar.write_meme(Path(d) / "m.meme", jaspar.fetch_motifs(["MA0139.2", "MA0079.5", "MA0035.5"]))
        table = name_patterns(run_modisco(X, hyp, max_seqlets=1000), read_meme(meme))
    assert "MA0139.2" in recovered(table)


def test_attribute_and_probe_declare_their_paths_with_the_shared_options():
    import click

    from glmprobe.steps.attribute import attribute_command
    from glmprobe.steps.probe import probe_command

    for command, folders in ((attribute_command, ("model", "outdir")), (probe_command, ("store", "outdir"))):
        params = {p.name: p for p in command.params}
        assert params["dataset"].required and isinstance(params["dataset"].type, click.Path)
        assert not params["dataset"].type.dir_okay and params["dataset"].type.file_okay
        for name in folders:
            assert params[name].required and not params[name].type.file_okay, name
    from click.testing import CliRunner

    result = CliRunner().invoke(attribute_command, ["--model", "m", "--outdir", "o", "--method", "gxi"])
    assert result.exit_code == 2 and "--dataset" in result.output


def test_the_step_feeds_modisco_the_stored_hypothetical_maps_and_counts_planted_motifs_apart(
        chip_baseline, prepared_synth, synth_dir, tmp_path, monkeypatch, capsys):
    from glmprobe.attribution import motifs
    from glmprobe.attribution.mapstore import MapFile

    seen = {}

    def fake_modisco(onehot, hypothetical, **kwargs):
        seen["onehot"], seen["hyp"] = onehot, hypothetical
        return [{"pattern": f"pos_patterns.pattern_{k}", "sign": "pos", "n_seqlets": 30,
                 "ppm": np.full((4, 8), 0.25), "cwm": np.ones((4, 8)), "hcwm": np.ones((4, 8))} for k in range(2)]

    def fake_names(patterns, db):
        assert {"MA0139.2", "MA0039.5"} <= set(db)          # synth's motifs.meme was read
        return pd.DataFrame({"pattern": [p["pattern"] for p in patterns], "sign": "pos", "n_seqlets": 30,
                             "match_id": ["MA0139.2", "MA0039.5"], "match_name": ["CTCF", "KLF4"],
                             "p_value": 1e-9, "q_value": 1e-8, "width": 8})

    monkeypatch.setattr(motifs, "run_modisco", fake_modisco)
    monkeypatch.setattr(motifs, "name_patterns", fake_names)
    out = tmp_path / "attr"
    main(["attribute", "--model", str(chip_baseline), "--dataset", str(prepared_synth["synth_chip"]),
          "--outdir", str(out), "--method", "gxi", "-k", "6", "--sites", str(synth_dir / "motif_sites.tsv"),
          "--motifs", str(synth_dir / "motifs.meme"), "--logos", "0", "--quiet"])
    capsys.readouterr()
    with MapFile(out / "maps_gxi.h5") as mf:
        np.testing.assert_array_equal(seen["hyp"], mf.array("hypothetical"))
        proj = mf.array("projected")
    assert seen["hyp"].shape == seen["onehot"].shape == (6, 4, 200)
    np.testing.assert_allclose(seen["hyp"] * seen["onehot"], proj, atol=1e-6)   # per-base, projected by one-hot
    rec = json.loads((out / "record.json").read_text())
    m = rec["metrics"]
    assert m["motifs_recovered/gxi"] == 2
    assert m["motifs_recovered_planted/gxi"] == 1 and m["motifs_recovered_other/gxi"] == 1   # KLF4 is a decoy
    assert rec["params"]["motifs_recovered_other/gxi"] == "MA0039.5" and m["motifs_planted"] == 1


def test_a_sum_over_targets_also_finds_motifs_target_by_target(prepared_synth, synth_dir, tmp_path, monkeypatch,
                                                              capsys):
    """Explaining the sum over the MPRA cells, each cell is also mapped on its own (stored beside the sum's
    maps; grad x input is linear in the output, so the cells' maps add up to the sum's): scored against its
    own sites and ceiling, and run through modisco; a motif named in any run counts once;
    --no-per-target keeps the sum alone."""
    from glmprobe.attribution import motifs
    from glmprobe.steps.baseline import baseline_step
    from glmprobe.train.tune import TuneOptions

    model = baseline_step(prepared_synth["synth_mpra"], "chip_cnn", tmp_path / "res",
                          TuneOptions(trials=1, replicates=1, max_epochs=1, fixed={"width": 0.25})).parent
    seen = []
    calls = iter(["MA0062.4", "MA0114.5", "MA0035.5", "MA0062.4", "MA0062.4"])

    def fake_modisco(onehot, hypothetical, **kwargs):
        seen.append(hypothetical)
        return [{"pattern": "pos_patterns.pattern_0", "sign": "pos", "n_seqlets": 30,
                 "ppm": np.full((4, 8), 0.25), "cwm": np.ones((4, 8)), "hcwm": np.ones((4, 8))}]

    def fake_names(patterns, db):
        return pd.DataFrame({"pattern": ["pos_patterns.pattern_0"], "sign": "pos", "n_seqlets": 30,
                             "match_id": [next(calls)], "match_name": "x", "p_value": 1e-9, "q_value": 1e-8, "width": 8})

    monkeypatch.setattr(motifs, "run_modisco", fake_modisco)
    monkeypatch.setattr(motifs, "name_patterns", fake_names)
    args = ["attribute", "--model", str(model), "--dataset", str(prepared_synth["synth_mpra"]), "--method", "gxi",
            "-k", "5", "--sites", str(synth_dir / "motif_sites.tsv"), "--motifs", str(synth_dir / "motifs.meme"),
            "--logos", "0", "--quiet"]
    main([*args, "--outdir", str(tmp_path / "each")])
    capsys.readouterr()
    assert len(seen) == 4                                   # the sum, then cellA, cellB, cellC
    np.testing.assert_allclose(seen[0], seen[1] + seen[2] + seen[3], atol=1e-4)
    rec = json.loads((tmp_path / "each" / "record.json").read_text())
    assert rec["metrics"]["motifs_recovered/gxi"] == 3       # GABPA, HNF4A, GATA1: GABPA counted once
    assert rec["params"]["motifs_recovered/gxi"] == "MA0035.5,MA0062.4,MA0114.5"
    assert rec["metrics"]["motifs_recovered_in/gxi:cellA"] == 1
    table = pd.read_csv(tmp_path / "each" / "motifs_gxi.csv")
    assert list(table.target) == ["sum", "cellA", "cellB", "cellC"]
    # each cell's own map is stored and scored against that cell's own sites, beside its own ceiling
    from glmprobe.attribution.ceiling_maps import ceiling_scores
    from glmprobe.attribution.evaluate import ground_truth, read_sites, site_classes, site_effects
    from glmprobe.attribution.loader import load_trained
    from glmprobe.attribution.mapstore import MapFile
    from glmprobe.attribution.onehot_maps import onehot_maps
    from glmprobe.data.dataset import DatasetFile
    from glmprobe.data.onehot import encode

    sel = pd.read_csv(tmp_path / "each" / "selection.csv")
    with DatasetFile(prepared_synth["synth_mpra"]) as ds:
        seqs = list(ds.sequences(sel["row"].to_numpy()))
    with MapFile(tmp_path / "each" / "maps_gxi.h5") as mf:
        assert mf.targets == ["cellA", "cellB", "cellC"]
        np.testing.assert_allclose(mf.scores(), sum(mf.scores(t) for t in mf.targets), atol=1e-4)
        cell_b = mf.scores("cellB")
    trained = load_trained(model, 3)
    np.testing.assert_allclose(cell_b, onehot_maps(trained.module, encode(seqs, 230), "gxi", target=1).scores,
                               atol=1e-5)
    sites = read_sites(synth_dir / "motif_sites.tsv", "synth_mpra")
    masks = site_classes(sel["id"].tolist(), seqs, site_effects(sites, "cellB"))
    m = rec["metrics"]
    assert m["gt_auroc/gxi:cellB"] == pytest.approx(ground_truth(cell_b, masks)["strong"]["auroc"])
    ceiling_b = ground_truth(ceiling_scores("synth_mpra", seqs, ["cellB"])["cellB"], masks)["strong"]["auroc"]
    assert m["gt_ceiling_auroc/cellB"] == pytest.approx(ceiling_b)
    assert m["gt_auroc_of_ceiling/gxi:cellB"] == pytest.approx(m["gt_auroc/gxi:cellB"] / ceiling_b)
    assert m["gt_auroc_of_ceiling/gxi"] == pytest.approx(m["gt_auroc/gxi"] / m["gt_ceiling_auroc"])
    gt = pd.read_csv(tmp_path / "each" / "ground_truth.csv")
    assert set(gt["target"]) == {"sum", "cellA", "cellB", "cellC"} and set(gt["method"]) == {"gxi", "pwm_ceiling"}
    seen.clear()
    main([*args, "--outdir", str(tmp_path / "sum"), "--no-per-target"])
    capsys.readouterr()
    assert len(seen) == 1 and "target" not in pd.read_csv(tmp_path / "sum" / "motifs_gxi.csv").columns
    assert set(pd.read_csv(tmp_path / "sum" / "ground_truth.csv")["target"]) == {"sum"}
    with MapFile(tmp_path / "sum" / "maps_gxi.h5") as mf:
        assert mf.targets == []
