"""The report's headline metric is the fits' (train.fit.headline): a record's loss wins over its task."""

import pandas as pd

from glmprobe.report.table import COLUMNS, primary_metric, record_rows


def _record(loss=None):
    params = {"loss": loss} if loss else {}
    return {"step": "probe", "key": "k", "params": params,
            "tags": {"dataset": "d", "model": "m", "task": "regression", "head": "mlp"},
            "replicates": [], "metrics": {"test_pearson": 0.1, "test_spearman": 0.2}}


def test_splicing_records_are_scored_by_spearman_others_by_the_tasks_metric():
    spliced = pd.DataFrame(record_rows(_record("diff_kl"), {}), columns=COLUMNS)
    plain = pd.DataFrame(record_rows(_record(), {}), columns=COLUMNS)
    assert primary_metric(spliced, "d") == "spearman"
    assert primary_metric(plain, "d") == "pearson"
