"""report: the tidy table (shape, CI columns, values vs scipy), selection on valid, figures, HTML."""

from __future__ import annotations

import base64
import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from glmprobe_fakes import DATASETS, MODELS, SEEDS, make_results
from scipy import stats

from glmprobe.cli import cli
from glmprobe.record import read_record, write_record
from glmprobe.report import table as T
from glmprobe.report.build import build_report, format_summary


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("res"))


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    truth = tmp_path_factory.mktemp("truth") / "truth.json"
    truth.write_text(json.dumps({"datasets": {"ds_reg": {"oracle": {"metric": "pearson", "mean": 0.8},
                                                         "pwm_ceiling": {"metric": "pearson", "mean": 0.7}},
                                              "ds_bin": {"oracle": {"metric": "auroc", "mean": 0.9}}}}))
    return build_report(results, truth=truth)


def test_results_csv_is_tidy_with_seed_and_mean_rows(report):
    df = pd.read_csv(report.results_csv, dtype={"seed": str})
    assert list(df.columns[:14]) == ["dataset", "target", "model", "revision", "layer", "pooling", "head", "seed",
                                     "split", "metric", "value", "n", "ci_low", "ci_high"]
    n_probe = sum(len(layers) * 3 for _, _, layers in MODELS.values()) * len(DATASETS)
    n_records = n_probe + 2 * len(DATASETS)
    assert df["key"].nunique() == n_records
    # per record: (replicates + mean) x 2 splits x (mean over targets + each target)
    per_ds = {ds: 2 * (1 + len(targets)) * (len(SEEDS) + 1) for ds, (_, targets, _) in DATASETS.items()}
    counts = df.groupby("key").size()
    for key, n in counts.items():
        ds = key.split("/")[1]
        assert n == per_ds[ds], key
    assert set(df.seed) == {"0", "1", "2", "mean"}
    assert df.loc[df.seed != "mean", ["ci_low", "ci_high"]].isna().all().all()
    assert df.loc[df.seed == "mean", ["ci_low", "ci_high"]].notna().all().all()
    assert (df.loc[df.seed == "mean", "ci_low"] <= df.loc[df.seed == "mean", "value"]).all()
    assert set(df.n.dropna()) == {20}


def test_mean_row_matches_replicates_and_t_interval(results, report):
    df = pd.read_csv(report.results_csv, dtype={"seed": str})
    key = "probe/ds_reg/tiny/L2/mean-mlp"
    sel = df[(df.key == key) & (df.split == "test") & (df.metric == "pearson") & (df.target == "all")]
    reps = sel[sel.seed != "mean"]["value"].to_numpy()
    mean = sel[sel.seed == "mean"].iloc[0]
    assert mean["value"] == pytest.approx(reps.mean())
    lo, hi = stats.t.interval(0.95, len(reps) - 1, loc=reps.mean(), scale=stats.sem(reps))
    assert (mean["ci_low"], mean["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))


def test_record_ci_is_used_when_present(results, tmp_path):
    rec = read_record(results / "baselines/ds_reg/cnn")
    rec["ci"] = {"test_pearson": [0.1, 0.9]}
    rows = pd.DataFrame(T.record_rows(rec, {}))
    row = rows[(rows.seed == "mean") & (rows.split == "test") & (rows.target == "all")].iloc[0]
    assert (row.ci_low, row.ci_high) == (0.1, 0.9)
    assert row.model == "cnn" and row.family == "onehot" and row.stage == "baseline"


def test_best_configuration_is_chosen_on_valid_not_test(results, tmp_path):
    root = make_results(tmp_path / "r", models={"m": ("hf-mlm", False, [1, 2])},
                        datasets={"d": ("regression", ["a"], "pearson")}, baselines=())
    # L1 wins on test but loses on valid: the summary must pick L2 (valid), reported on test
    for layer, valid, test in ((1, 0.1, 0.95), (2, 0.9, 0.5)):
        for head in ("linear", "mlp", "token_cnn"):
            pooling = "tokens" if head == "token_cnn" else "mean"
            folder = root / f"probes/d/m/L{layer}/{pooling}-{head}"
            rec = read_record(folder)
            for rep in rec["replicates"]:
                rep["metrics"]["valid_pearson"], rep["metrics"]["test_pearson"] = valid, test
            rec["metrics"]["valid_pearson"], rec["metrics"]["test_pearson"] = valid, test
            write_record(folder, rec)
    summary = T.summary(T.results_table(root))
    assert set(summary.best_layer) == {2}
    assert set(summary["mean"]) == {0.5}
    assert set(summary.selected_on) == {"valid"}


def test_verdict_states_each_comparison_as_a_paired_test(report):
    v = report.verdicts["ds_reg"]
    assert v.startswith("ds_reg (test pearson; configurations chosen on valid; intervals: 95% paired-bootstrap CI")
    assert "best gLM probe vs best one-hot model: tiny L" in v and "vs resnet " in v
    assert "best gLM probe vs best random-init control: tiny L" in v and "tiny-random L" in v
    assert re.search(r"difference [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\], paired bootstrap p = ", v)
    assert "(Holm " in v and "oracle ceiling 0.800; PWM ceiling 0.700." in v
    assert report.verdicts["ds_bin"].endswith("oracle ceiling 0.900.")
    cmp = pd.read_csv(report.results_csv.parent / "comparisons.csv")
    assert set(cmp.dataset) == set(DATASETS) and len(cmp) == 2 * len(DATASETS)
    assert (cmp.p_holm >= cmp.p - 1e-12).all() and cmp.p.between(0, 1).all()


def test_figures_png_and_svg_and_html_is_self_contained(report):
    names = {p.name for p in report.figures}
    for ds in DATASETS:
        for fig in ("compare", "layers", "heads", "random_init"):
            assert f"{ds}_{fig}.png" in names and f"{ds}_{fig}.svg" in names
    for p in report.figures:
        assert p.stat().st_size > 1000
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = report.index_html.read_text()
    imgs = re.findall(r"<img [^>]*src='data:image/png;base64,([^']+)'", html)
    assert len(imgs) == len(names) // 2
    assert base64.b64decode(imgs[0])[:4] == b"\x89PNG"
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)     # no external URLs
    assert "Paired comparisons" in html and "Holm-adjusted" in html
    assert " better" in html or "no significant difference" in html


def test_report_cli_prints_summary(results, tmp_path):
    out = tmp_path / "rep"
    result = CliRunner().invoke(cli, ["report", str(results), "--outdir", str(out)])
    assert result.exit_code == 0, result.output
    assert "ds_reg (test_pearson" in result.output and "verdict:" in result.output
    assert (out / "results.csv").is_file() and (out / "index.html").is_file()


def test_empty_results_give_an_empty_but_valid_report(tmp_path):
    rep = build_report(tmp_path)
    assert pd.read_csv(rep.results_csv).empty
    assert "No probe or baseline records" in rep.index_html.read_text()
    assert format_summary(rep.summary) == "(no probe or baseline results)"


def test_missing_results_dir_is_a_user_error(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "missing")], standalone_mode=False)
    assert "results folder does not exist" in str(result.exception)


def test_figures_draw_the_oracle_dashed_and_the_pwm_ceiling_dotted():
    import matplotlib.pyplot as plt

    from glmprobe.report.figures import _ceilings

    fig, ax = plt.subplots()
    _ceilings(ax, {"oracle": 0.8, "PWM ceiling": 0.7})
    lines = {ln.get_label(): (ln.get_linestyle(), ln.get_ydata()[0]) for ln in ax.get_lines()}
    assert lines == {"oracle 0.800": ("--", 0.8), "PWM ceiling 0.700": (":", 0.7)}
    plt.close(fig)
