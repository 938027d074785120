"""Which heads and one-hot architectures read a segmented dataset (splicing halves), and how.

On a dataset with segments (``dataset.h5`` attr ``segments``) every input is per segment:

* pooled embeddings (``cls``/``mean``): ``linear`` and ``mlp`` read the segments' vectors
  concatenated (S·D features), the simplest two-embedding input;
* token embeddings: ``two_tower`` (one tower per segment), the study's ``mtsplice_embed_model``;
* one-hot: ``mtsplice``, the study's ``mtsplice_model`` on (S, 4, L) inputs.

Heads that read one sequence's tokens (``token_cnn``, ``chip_cnn``) and one-hot architectures
that read one sequence would silently read across the junction, so they are refused; the
segment heads are refused on unsegmented datasets.
"""

from __future__ import annotations

import numpy as np

from glmprobe.data.segments import SegmentRows, onehot_segments
from glmprobe.errors import UserError

POOLED_HEADS = ("linear", "mlp")      # concatenate the segments' pooled vectors
SEGMENT_HEADS = ("two_tower",)        # one input per segment
SEGMENT_ARCHS = ("mtsplice",)


def check_head(head: str, segments: list[int] | None, path=None) -> None:
    """UserError when ``head`` cannot read a dataset with (or without) ``segments``."""
    if segments and head not in POOLED_HEADS + SEGMENT_HEADS:
        raise UserError(f"head {head!r} reads one sequence, but this dataset has {len(segments)} segments "
                        f"({'+'.join(map(str, segments))} nt, e.g. the splicing halves)", path=path, where="--head",
                        hint=f"Use {' or '.join(SEGMENT_HEADS)} on tokens, or {'/'.join(POOLED_HEADS)} on pooled "
                             "embeddings (the segments' vectors concatenated).")
    if not segments and head in SEGMENT_HEADS:
        raise UserError(f"head {head!r} needs a segmented dataset (e.g. format splicing_h5)", path=path,
                        where="--head", hint="Use token_cnn or chip_cnn on tokens of a single sequence.")


def check_arch(arch: str, segments: list[int] | None, path=None) -> None:
    """UserError when the one-hot ``arch`` cannot read a dataset with (or without) ``segments``."""
    if segments and arch not in SEGMENT_ARCHS:
        raise UserError(f"arch {arch!r} reads one sequence, but this dataset has {len(segments)} segments "
                        f"({'+'.join(map(str, segments))} nt)", path=path, where="--arch",
                        hint=f"Use --arch {' or '.join(SEGMENT_ARCHS)}, one tower per segment.")
    if not segments and arch in SEGMENT_ARCHS:
        raise UserError(f"arch {arch!r} needs a segmented dataset (e.g. format splicing_h5)", path=path,
                        where="--arch", hint="Choose a single-sequence architecture (resnet, cnn, ...).")


def store_inputs(array, rows: np.ndarray, segments: list[int], tokens: bool, reader) -> SegmentRows:
    """Dataset rows of a segmented store: (k, S·D) pooled, or (k, S, D, T) tokens."""
    return SegmentRows(array, rows, len(segments), reader, flat=not tokens)


def build_probe(module, input_shape: tuple[int, ...], n_targets: int, segments: list[int], options: dict):
    """hp -> fresh probe for a segmented input: two_tower on (S, D, T), pooled heads on (S·D,)."""
    if len(input_shape) == 3:
        n_seg, channels, length = input_shape
        return lambda hp: module.build(channels, length, n_targets, hp, segments=n_seg, **options)
    (features,) = input_shape
    return lambda hp: module.build(features, n_targets, hp, **options)


def onehot_inputs(sequences, segments: list[int]) -> tuple[np.ndarray, int]:
    """(N, S, 4, L_max) one-hot, each segment alone, and L_max (the architectures' ``length``)."""
    return onehot_segments(list(sequences), segments), max(segments)
