"""The rows, targets and loss a dataset gives every probe and baseline (one place for both steps).

Most datasets: every row of each split, the task's loss. Two dataset kinds change that:

* targets with offsets (``dataset.h5 /target_offsets``: the splicing layout): every fit trains
  with ``diff_KL`` (:mod:`glmprobe.train.losses`) and the test split is the study's filtered test
  set (:func:`glmprobe.data.delta_logit.study_test_rows`); the test size before and after the
  filter goes into the record and the log (the study never logged it). Valid is not filtered
  (neither was it in the study): early stopping sees every validation exon;
* segments (``dataset.h5`` attr ``segments``): inputs are per segment, read through
  :mod:`glmprobe.data.segments` (two-tower heads; pooled vectors concatenated).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from glmprobe.data.dataset import SPLITS
from glmprobe.data.delta_logit import MIN_DELTA_PSI, MIN_OBSERVED, study_test_rows
from glmprobe.errors import UserError
from glmprobe.train.data import Arrays
from glmprobe.train.fit import headline
from glmprobe.train.losses import loss_for

log = logging.getLogger(__name__)
TEST_FILTER = f">= {MIN_OBSERVED} observed targets and max |PSI - PSI(mean logit)| >= {MIN_DELTA_PSI}"


@dataclass
class DatasetRows:
    rows: dict[str, np.ndarray]              # dataset row indices per split (test filtered when it applies)
    y: dict[str, np.ndarray]
    ids: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray] | None    # per split, when the targets carry offsets
    loss: str | None                         # None: the task's own loss
    segments: list[int] | None
    metric: str                              # the headline metric (splicing: spearman)
    params: dict = field(default_factory=dict)   # what the record states about all this

    def arrays(self, split: str, X) -> Arrays:
        """``X`` (rows of ``split`` in order) with this split's targets, ids and offsets."""
        return Arrays(X, self.y[split], self.ids[split], None if self.offsets is None else self.offsets[split])


def dataset_rows(ds) -> DatasetRows:
    """Rows per split of a :class:`~glmprobe.data.dataset.DatasetFile` and how to fit them."""
    split, targets, ids = ds.split, ds.targets, ds.ids
    offsets = ds.target_offsets
    rows = {s: np.flatnonzero(split == s) for s in SPLITS}
    params: dict = {}
    loss = loss_for(offsets)
    if offsets is not None:
        test = rows["test"]
        keep = study_test_rows(targets[test], offsets[test])
        params.update(loss=loss, test_filter=TEST_FILTER, n_test_before_filter=int(len(test)),
                      n_test_filtered=int(keep.sum()))
        log.info("%s: the study's test filter (%s) keeps %d of %d test rows", ds.name, TEST_FILTER,
                 int(keep.sum()), len(test))
        if keep.sum() < 2:
            raise UserError(f"only {int(keep.sum())} of {len(test)} test rows pass the study's splicing test filter "
                            f"({TEST_FILTER}), too few to score", path=ds.path, where="split=test",
                            hint="Put more exons with enough observed, variable tissues into the test split.")
        rows["test"] = test[keep]
    segments = list(ds.segments) if ds.segments else None
    if segments:
        params["segments"] = ";".join(map(str, segments))
    return DatasetRows(rows, {s: targets[r] for s, r in rows.items()}, {s: ids[r] for s, r in rows.items()},
                       None if offsets is None else {s: offsets[r] for s, r in rows.items()}, loss, segments,
                       headline(ds.task, loss), params)
