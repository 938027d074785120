"""Sequence logos with logomaker: a window of a map (attribution at the observed bases) or a motif CWM.

Each figure is written as PNG and SVG (the report embeds the PNG; the SVG is for papers).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _frame(matrix: np.ndarray, start: int = 0):
    import pandas as pd

    return pd.DataFrame(np.asarray(matrix, dtype=float).T, columns=list("ACGT"),
                        index=np.arange(start, start + matrix.shape[1]))


def save_logo(matrix: np.ndarray, path: str | os.PathLike, title: str = "", start: int = 0) -> list[Path]:
    """``matrix`` (4, w) -> ``path``.png and ``path``.svg; returns both paths."""
    import matplotlib
    matplotlib.use("Agg")
    import logomaker
    from matplotlib import pyplot as plt

    path = Path(path)
    width = max(4.0, min(16.0, matrix.shape[1] * 0.12))
    fig, ax = plt.subplots(figsize=(width, 1.8))
    logomaker.Logo(_frame(matrix, start), ax=ax, color_scheme="classic")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("position (nt)", fontsize=7)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    out = []
    for ext in ("png", "svg"):
        target = path.with_suffix(f".{ext}")
        fig.savefig(target, dpi=120 if ext == "png" else None)
        out.append(target)
    plt.close(fig)
    return out
