"""A self-contained ``index.html``: inline CSS, figures as base64 PNG, no external URLs."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{background:#f7f9fc;border-left:4px solid #1f77b4;padding:.6em 1em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
.meta{color:#666;font-size:.85em}
"""


@dataclass
class Section:
    dataset: str
    verdict: str
    table: pd.DataFrame
    figures: list[tuple[str, bytes]] = field(default_factory=list)   # (caption, PNG bytes)
    comparisons: pd.DataFrame | None = None                            # the paired tests stated
    comparisons_title: str = "Paired comparisons"


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p>No results.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            if isinstance(v, float):
                cells.append(f'<td class="num">{"" if pd.isna(v) else f"{v:.3f}"}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render(title: str, sections: list[Section], meta: dict[str, str], notes: list[str] = ()) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             '<p class="meta">' + " · ".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in meta.items())
             + "</p>",
             "<p>Each value is the test-set metric averaged over replicate seeds with its 95% paired-bootstrap "
             "interval: resamples of the shared test sequences, with one replicate seed drawn per contestant "
             "per resample, so every contestant (deterministic linear probe or multi-seed network) carries the "
             "same kind of interval. Layers, poolings and heads are chosen on the validation split, never on "
             "test.</p>"]
    parts += [f"<p>{html.escape(n)}</p>" for n in notes]
    if not sections:
        parts.append("<p>No probe or baseline records were found.</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.dataset)}</h2><p class='verdict'>{html.escape(s.verdict)}</p>")
        parts.append(_table(s.table))
        if s.comparisons is not None and not s.comparisons.empty:
            parts.append(f"<h3>{html.escape(s.comparisons_title)}</h3>" + _table(s.comparisons))
        for caption, png in s.figures:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
