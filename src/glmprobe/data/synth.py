"""The synthetic benchmark: planted JASPAR motifs with known effects, so every score has a ceiling.

Two datasets, in the shapes of the study's tasks:

* ``synth_mpra`` (regression, 230 nt, targets cellA/cellB/cellC): an MPRA-like activity per
  cell type. Each planted site adds ``coefficient[cell] x match strength x position weight
  x orientation factor``; a GABPA(ETS)-NFYA pair closer than ``max_gap`` bp adds a
  super-additive boost in cellB; Gaussian noise of known sd is added on top.
* ``synth_chip`` (binary, 200 nt, target CTCF): a ChIP-like label drawn with probability
  ``sigmoid(intercept + slope x CTCF match strength)``. Partial CTCF matches and GC-rich
  decoy motifs (CTCFL, SP1, KLF4, ZNF263) make it not trivially separable.

Background DNA is a first-order Markov chain with human-like GC content and CpG depletion.
Every sequence's planted sites and their per-target effects are written to
``motif_sites.tsv`` (0-based, half-open [start, end)), so
``signal = intercept + sum(effects)`` exactly. ``truth.json`` holds the generator
parameters and the oracle score on the test split: the Pearson r of the noiseless
signal with the noisy target (MPRA) or the AUROC of the true probability (ChIP).

A third output is a synthetic **variant set** (``variants.tsv`` on the genome
``variants_genome.fa``): every single-base change inside the planted sites of some test-split
MPRA sequences, plus as many changes outside any site, with the exact effect on the noise-free
activity per cell type (0 outside sites), so variant scorers have a known answer
(:func:`_synth_variants`). It comes from its own random stream: the other files do not change.

The same seed gives byte-identical files; the JASPAR release is pinned.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from glmprobe.data import ceiling
from glmprobe.data import motifs as jaspar
from glmprobe.data.dataset import SPLITS
from glmprobe.errors import UserError
from glmprobe.record import read_record, software_versions

GENERATOR_VERSION = 2  # 2: truth.json gains the PWM ceiling (the data are unchanged)
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, valid, test
# Human-like composition (GC ~ 41 %) and CpG depletion (observed/expected ~ 0.25).
BASE_FREQ = (0.295, 0.205, 0.205, 0.295)
CPG_FACTOR = 0.25
SIZES = {False: {"synth_mpra": 6000, "synth_chip": 4000}, True: {"synth_mpra": 600, "synth_chip": 400}}
FILES = ("mpra.tsv", "chip.tsv", "datasets.csv", "motif_sites.tsv", "motifs.meme", "truth.json")
VARIANT_FILES = ("variants.tsv", "variants_genome.fa", "variants_genome.fa.fai")
VARIANT_LOCI = {False: 40, True: 8}   # test sequences turned into saturation-mutagenesis loci
VARIANT_FLANK = 400                   # background bp either side of each locus: windows up to ~1 kb fit


@dataclass(frozen=True)
class MotifRule:
    """A motif planted in the MPRA task and its activity coefficient per cell type."""

    matrix_id: str
    name: str
    effect: dict[str, float]
    reverse_factor: float = 1.0  # effect multiplier for a site on the minus strand


MPRA_CELLS = ("cellA", "cellB", "cellC")  # HepG2-like, K562-like, WTC11-like
MPRA_RULES = (
    MotifRule("MA0114.5", "HNF4A", {"cellA": 1.2, "cellB": 0.0, "cellC": 0.0}),
    MotifRule("MA0046.3", "HNF1A", {"cellA": 1.0, "cellB": 0.0, "cellC": 0.0}),
    MotifRule("MA0035.5", "GATA1", {"cellA": 0.0, "cellB": 1.0, "cellC": 0.0}),
    MotifRule("MA0140.3", "GATA1::TAL1", {"cellA": 0.0, "cellB": 1.2, "cellC": 0.0}),
    MotifRule("MA0142.1", "Pou5f1::Sox2", {"cellA": 0.0, "cellB": 0.0, "cellC": 1.2}),
    MotifRule("MA0062.4", "GABPA", {"cellA": 0.6, "cellB": 0.6, "cellC": 0.6}, reverse_factor=0.5),
    MotifRule("MA0060.4", "NFYA", {"cellA": 0.6, "cellB": 0.6, "cellC": 0.6}),
    MotifRule("MA0079.5", "SP1", {"cellA": 0.4, "cellB": 0.4, "cellC": 0.8}),
    MotifRule("MA0138.3", "REST", {"cellA": -0.8, "cellB": -0.8, "cellC": -0.8}),
)


@dataclass(frozen=True)
class MpraParams:
    length: int = 230
    sites_mean: float = 2.5          # Poisson mean of random sites per sequence (capped)
    sites_max: int = 6
    pair_rate: float = 0.2           # fraction of sequences with an ETS-NFY pair planted on purpose
    pair: tuple[str, str] = ("MA0062.4", "MA0060.4")
    max_gap: int = 20                # bp between the two sites for the interaction to fire
    pair_boost: dict[str, float] = field(default_factory=lambda: {"cellA": 0.0, "cellB": 1.0, "cellC": 0.0})
    edge_weight: float = 0.6         # position weight at the ends (1.0 at the centre, linear between)
    intercept: float = 0.0
    noise_sd: float = 0.45


@dataclass(frozen=True)
class ChipParams:
    length: int = 200
    target: str = "CTCF"
    motif: str = "MA0139.2"
    decoys: tuple[str, ...] = ("MA1102.3", "MA0079.5", "MA0039.5", "MA0528.3")  # CTCFL, SP1, KLF4, ZNF263
    full_rate: float = 0.4           # sequences with a full CTCF site
    partial_rate: float = 0.25       # ... with a partial one (a block of the site replaced by background)
    partial_block: tuple[int, int] = (5, 8)
    decoys_mean: float = 1.0
    intercept: float = -2.5          # label logit = intercept + slope x strength
    slope: float = 5.0


# ---------------------------------------------------------------- generation helpers

def _background(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """(n, length) base codes from a first-order Markov chain with CpG depletion."""
    trans = np.tile(np.asarray(BASE_FREQ), (4, 1))
    trans[1, 2] *= CPG_FACTOR  # C -> G
    trans /= trans.sum(axis=1, keepdims=True)
    cdf = np.cumsum(trans, axis=1)
    out = np.empty((n, length), dtype=np.int8)
    out[:, 0] = np.searchsorted(np.cumsum(BASE_FREQ), rng.random(n))
    for i in range(1, length):
        out[:, i] = (rng.random(n)[:, None] > cdf[out[:, i - 1]]).sum(axis=1)
    return np.minimum(out, 3)


def _free_start(occupied: np.ndarray, width: int, rng: np.random.Generator, tries: int = 50) -> int | None:
    """A random start where ``width`` bases (plus 1 bp margin) are free, or None."""
    length = len(occupied)
    for _ in range(tries):
        s = int(rng.integers(0, length - width + 1))
        if not occupied[max(s - 1, 0):s + width + 1].any():
            return s
    return None


@dataclass
class _Site:
    motif: int        # index into the task's motif list
    start: int
    strand: str
    score: float


def _plant(seq: np.ndarray, occupied: np.ndarray, codes: np.ndarray, start: int, strand: str) -> None:
    """Write site codes (motif strand) into ``seq``; reverse-complement for the minus strand."""
    site = codes if strand == "+" else 3 - codes[::-1]
    seq[start:start + len(site)] = site
    occupied[start:start + len(site)] = True


class _Sampler:
    """Site sampling and scoring for a list of motifs against the generator background."""

    def __init__(self, motif_list: list[jaspar.Motif], rng: np.random.Generator):
        self.motifs = motif_list
        self.ppms = [m.ppm() for m in motif_list]
        self.log_odds = [m.log_odds(BASE_FREQ) for m in motif_list]
        self.rng = rng

    def draw(self, k: int) -> tuple[np.ndarray, float]:
        codes = jaspar.sample_sites(self.ppms[k], 1, self.rng)[0]
        return codes, self.score(k, codes)

    def score(self, k: int, codes: np.ndarray) -> float:
        return float(jaspar.site_scores(codes[None], self.log_odds[k])[0])


def _splits(n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded ~80/10/10 split names, exact counts."""
    n_valid, n_test = round(n * SPLIT_FRACTIONS[1]), round(n * SPLIT_FRACTIONS[2])
    names = np.array(["train"] * (n - n_valid - n_test) + ["valid"] * n_valid + ["test"] * n_test)
    return names[rng.permutation(n)]


# ---------------------------------------------------------------- the two tasks

@dataclass
class _Task:
    """A generated dataset before writing."""

    name: str
    task: str
    ids: list[str]
    sequences: list[str]
    split: np.ndarray
    targets: dict[str, np.ndarray]       # observed (noisy) targets
    truth: dict[str, np.ndarray]         # noiseless signal (MPRA) or true probability (ChIP)
    sites: list[tuple]                   # rows for motif_sites.tsv
    params: dict


def _mpra(n: int, rng: np.random.Generator, p: MpraParams, progress: bool) -> _Task:
    sampler = _Sampler(jaspar.fetch_motifs(r.matrix_id for r in MPRA_RULES), rng)
    index = {r.matrix_id: k for k, r in enumerate(MPRA_RULES)}
    ets, nfy = index[p.pair[0]], index[p.pair[1]]
    seqs = _background(n, p.length, rng)
    signal = {c: np.full(n, p.intercept) for c in MPRA_CELLS}
    rows, ids = [], [f"mpra_{i:06d}" for i in range(n)]
    half = (p.length - 1) / 2
    for i in tqdm(range(n), desc="synth_mpra", disable=not progress, file=sys.stderr):
        occupied = np.zeros(p.length, dtype=bool)
        sites: list[_Site] = []
        wanted = []
        if rng.random() < p.pair_rate:  # an ETS-NFY pair at a gap <= max_gap, either order
            a, b = (ets, nfy) if rng.random() < 0.5 else (nfy, ets)
            wa, wb, gap = sampler.motifs[a].length, sampler.motifs[b].length, int(rng.integers(1, p.max_gap + 1))
            start = int(rng.integers(0, p.length - (wa + gap + wb) + 1))
            wanted += [(a, start), (b, start + wa + gap)]
        wanted += [(int(k), None) for k in rng.integers(0, len(MPRA_RULES), min(rng.poisson(p.sites_mean), p.sites_max))]
        for k, start in wanted:
            codes, score = sampler.draw(k)
            strand = "+" if rng.random() < 0.5 else "-"
            if start is None:
                start = _free_start(occupied, len(codes), rng)
                if start is None:  # sequence full: skip the site rather than overlap
                    continue
            _plant(seqs[i], occupied, codes, start, strand)
            sites.append(_Site(k, start, strand, score))
        for s in sites:
            rule, width = MPRA_RULES[s.motif], sampler.motifs[s.motif].length
            weight = _position_weight(s.start, width, half, p.edge_weight)
            orient = 1.0 if s.strand == "+" else rule.reverse_factor
            for c in MPRA_CELLS:
                effect = rule.effect[c] * s.score * weight * orient
                signal[c][i] += effect
                rows.append(("synth_mpra", ids[i], c, rule.matrix_id, rule.name, s.start, s.start + width,
                             s.strand, s.score, effect))
        pair = _closest_pair(sites, ets, nfy, sampler)
        if pair is not None and pair[2] <= p.max_gap:
            start, end = pair[0], pair[1]
            for c in MPRA_CELLS:
                signal[c][i] += p.pair_boost[c]
                rows.append(("synth_mpra", ids[i], c, "+".join(p.pair), "GABPA+NFYA", start, end, ".",
                             float("nan"), p.pair_boost[c]))
    targets = {c: signal[c] + rng.normal(0.0, p.noise_sd, n) for c in MPRA_CELLS}
    params = {"length": p.length, "sites_mean": p.sites_mean, "sites_max": p.sites_max,
              "pair_rate": p.pair_rate, "edge_weight": p.edge_weight, "intercept": p.intercept,
              "noise_sd": p.noise_sd,
              "motifs": [{"motif_id": r.matrix_id, "name": r.name, "effect": r.effect,
                          "reverse_strand_factor": r.reverse_factor} for r in MPRA_RULES],
              "interaction": {"motifs": list(p.pair), "max_gap_bp": p.max_gap, "boost": p.pair_boost,
                              "rule": "once per sequence when any GABPA and NFYA site are <= max_gap bp apart"},
              "site_effect": "coefficient[cell] * score * position_weight * (reverse_strand_factor if strand '-')",
              "position_weight": f"1 - {1 - p.edge_weight:g} * |site centre - sequence centre| / half length"}
    return _Task("synth_mpra", "regression", ids, jaspar.decode(seqs), _splits(n, rng), targets, signal,
                 rows, params)


def _position_weight(start: int, width: int, half: float, edge_weight: float) -> float:
    """1 at the sequence centre, ``edge_weight`` at the ends, linear between (by the site centre)."""
    centre = start + (width - 1) / 2
    return 1 - (1 - edge_weight) * abs(centre - half) / half


def _synth_variants(t: _Task, n_loci: int, rng: np.random.Generator, p: MpraParams = MpraParams()
                    ) -> tuple[list[str], list[tuple[str, str]]]:
    """Variant-table lines and (chrom, sequence) genome records for ``n_loci`` test sequences.

    A locus is a test-split MPRA sequence with at least one site that acts in cellA (the
    HepG2-like cell, as the study scored LDLR/SORT1/F9 with HepG2 models), embedded between
    random background flanks as its own chromosome. Inside every planted site each base is
    changed to each other base: the site's score is recomputed and the exact activity change is
    ``coefficient[cell] x (new score - old score) x position weight x orientation factor`` (the
    ETS-NFY boost depends on positions only, so it never changes). As many positions outside
    every site get one random change each: effect exactly 0 under the generator.
    """
    log_odds = {r.matrix_id: m.log_odds(BASE_FREQ)
                for r, m in zip(MPRA_RULES, jaspar.fetch_motifs(r.matrix_id for r in MPRA_RULES))}
    rules = {r.matrix_id: r for r in MPRA_RULES}
    by_id: dict[str, list[tuple]] = {}
    for row in t.sites:  # one row per (site, cell): keep the site once, from its cellA row
        if row[2] == MPRA_CELLS[0] and row[3] in rules:
            by_id.setdefault(row[1], []).append(row)
    half = (p.length - 1) / 2
    lines = ["\t".join(("chrom", "pos", "ref", "alt", "effect", *[f"effect_{c}" for c in MPRA_CELLS],
                        "group", "in_site", "motif"))]
    genome = []
    loci = [i for i, id_ in enumerate(t.ids) if t.split[i] == "test"
            and any(rules[r[3]].effect[MPRA_CELLS[0]] != 0 for r in by_id.get(id_, []))][:n_loci]
    flanks = _background(2 * len(loci), VARIANT_FLANK, rng)
    for k, i in enumerate(loci):
        id_, seq = t.ids[i], t.sequences[i]
        codes = np.frombuffer(seq.encode(), dtype=np.uint8)
        codes = np.searchsorted(np.frombuffer(b"ACGT", dtype=np.uint8), codes).astype(np.int8)
        inside = np.zeros(len(seq), dtype=bool)
        for _, _, _, mid, name, start, end, strand, score, _ in by_id.get(id_, []):
            rule, inside[start:end] = rules[mid], True
            segment = codes[start:end]
            site = segment if strand == "+" else 3 - segment[::-1]
            weight = _position_weight(start, end - start, half, p.edge_weight)
            orient = 1.0 if strand == "+" else rule.reverse_factor
            for pos in range(start, end):
                j = pos - start if strand == "+" else end - 1 - pos
                for alt in range(4):
                    if alt == codes[pos]:
                        continue
                    mutant = site.copy()
                    mutant[j] = alt if strand == "+" else 3 - alt
                    delta = float(jaspar.site_scores(mutant[None], log_odds[mid])[0]) - score
                    effects = [rule.effect[c] * delta * weight * orient for c in MPRA_CELLS]
                    lines.append(_variant_line(id_, pos, seq[pos], "ACGT"[alt], effects, 1, name))
        outside = np.flatnonzero(~inside)
        n_out = min(len(outside), int(inside.sum()))
        for pos in np.sort(rng.choice(outside, n_out, replace=False)):
            alt = "ACGT"[(int(codes[pos]) + int(rng.integers(1, 4))) % 4]
            lines.append(_variant_line(id_, int(pos), seq[pos], alt, [0.0] * len(MPRA_CELLS), 0, "."))
        left, right = jaspar.decode(flanks[2 * k:2 * k + 2])
        genome.append((id_, left + seq + right))
    return lines, genome


def _variant_line(chrom: str, pos: int, ref: str, alt: str, effects: list[float], in_site: int, motif: str) -> str:
    """One variants.tsv line; ``pos`` is 0-based on the locus sequence, written 1-based on its chromosome."""
    values = [f"{e + 0.0:.6g}" for e in effects]  # + 0.0: no "-0"
    return "\t".join((chrom, str(VARIANT_FLANK + pos + 1), ref, alt, values[0], *values, chrom, str(in_site), motif))


def _write_genome(path: Path, records: list[tuple[str, str]], width: int = 60) -> None:
    """FASTA with fixed-width lines, plus its .fai (so read-only staged copies need no index build)."""
    import pyfaidx

    with open(path, "w") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            fh.writelines(seq[a:a + width] + "\n" for a in range(0, len(seq), width))
    pyfaidx.Fasta(str(path), build_index=True).close()


def _closest_pair(sites: list[_Site], a: int, b: int, sampler: _Sampler) -> tuple[int, int, int] | None:
    """(span start, span end, gap in bp) of the closest a-b site pair, or None."""
    best = None
    for s in sites:
        for t in sites:
            if s.motif == a and t.motif == b:
                s_end, t_end = s.start + sampler.motifs[a].length, t.start + sampler.motifs[b].length
                gap = max(s.start, t.start) - min(s_end, t_end)
                if best is None or gap < best[2]:
                    best = (min(s.start, t.start), max(s_end, t_end), gap)
    return best


def _chip(n: int, rng: np.random.Generator, p: ChipParams, progress: bool) -> _Task:
    motif_list = jaspar.fetch_motifs((p.motif,) + p.decoys)
    sampler = _Sampler(motif_list, rng)
    seqs = _background(n, p.length, rng)
    prob = np.empty(n)
    rows, ids = [], [f"chip_{i:06d}" for i in range(n)]
    for i in tqdm(range(n), desc="synth_chip", disable=not progress, file=sys.stderr):
        occupied = np.zeros(p.length, dtype=bool)
        kind = rng.random()
        logit = p.intercept
        if kind < p.full_rate + p.partial_rate:
            codes, score = sampler.draw(0)
            name = motif_list[0].name
            if kind >= p.full_rate:  # partial match: a block of the site replaced by background
                block = int(rng.integers(p.partial_block[0], p.partial_block[1] + 1))
                b0 = int(rng.integers(0, len(codes) - block + 1))
                codes = codes.copy()
                codes[b0:b0 + block] = rng.choice(4, block, p=BASE_FREQ)
                score, name = sampler.score(0, codes), f"{name} (partial)"
            strand = "+" if rng.random() < 0.5 else "-"
            start = _free_start(occupied, len(codes), rng)
            _plant(seqs[i], occupied, codes, start, strand)
            effect = p.slope * score
            logit += effect
            rows.append(("synth_chip", ids[i], p.target, p.motif, name, start, start + len(codes), strand,
                         score, effect))
        for k in rng.integers(1, len(motif_list), rng.poisson(p.decoys_mean)):
            codes, score = sampler.draw(int(k))
            strand = "+" if rng.random() < 0.5 else "-"
            start = _free_start(occupied, len(codes), rng)
            if start is None:
                continue
            _plant(seqs[i], occupied, codes, start, strand)
            m = motif_list[k]
            rows.append(("synth_chip", ids[i], p.target, m.matrix_id, f"{m.name} (decoy)", start,
                         start + len(codes), strand, score, 0.0))
        prob[i] = 1 / (1 + np.exp(-logit))
    labels = (rng.random(n) < prob).astype(float)
    params = {"length": p.length, "motif": p.motif, "decoys": list(p.decoys), "full_rate": p.full_rate,
              "partial_rate": p.partial_rate, "partial_block_bp": list(p.partial_block),
              "decoys_mean": p.decoys_mean, "intercept": p.intercept, "slope": p.slope,
              "label": "Bernoulli(sigmoid(intercept + slope * CTCF site score)); no site -> sigmoid(intercept)"}
    return _Task("synth_chip", "binary", ids, jaspar.decode(seqs), _splits(n, rng), {p.target: labels},
                 {p.target: prob}, rows, params)


# ---------------------------------------------------------------- oracle and writing

def _oracle(t: _Task) -> dict:
    test = t.split == "test"
    per_target = {}
    for name, y in t.targets.items():
        if t.task == "regression":
            per_target[name] = float(pearsonr(t.truth[name][test], y[test])[0])
        else:
            per_target[name] = float(roc_auc_score(y[test], t.truth[name][test]))
    return {"metric": "pearson" if t.task == "regression" else "auroc", "split": "test",
            "per_target": per_target, "mean": float(np.mean(list(per_target.values())))}


def _pwm_ceiling(t: _Task) -> dict:
    """The test-split score of the true PWMs read from the sequence alone (:mod:`glmprobe.data.ceiling`)."""
    test = np.flatnonzero(t.split == "test")
    seqs = [t.sequences[i] for i in test]
    if t.name == "synth_mpra":
        motif_list = jaspar.fetch_motifs(r.matrix_id for r in MPRA_RULES)
        pred = ceiling.mpra_prediction(seqs, MPRA_RULES, motif_list, MpraParams(), BASE_FREQ, MPRA_CELLS)
        per_target = {c: float(pearsonr(pred[c], t.targets[c][test])[0]) for c in MPRA_CELLS}
        method = ("posterior-weighted scan of every motif window with the generator's coefficients, position "
                  "weights and ETS-NFY rule; knows the motifs, not which sites were planted")
    else:
        p = ChipParams()
        pred = ceiling.chip_prediction(seqs, jaspar.fetch_motif(p.motif), BASE_FREQ)
        per_target = {p.target: float(roc_auc_score(t.targets[p.target][test], pred))}
        method = f"best true {p.motif} PWM match on either strand (true-PWM scan)"
    return {"metric": "pearson" if t.task == "regression" else "auroc", "split": "test", "method": method,
            "per_target": per_target, "mean": float(np.mean(list(per_target.values())))}


def _fmt(x: float) -> str:
    return "NA" if x != x else f"{x:.5g}"


def _write_table(path: Path, t: _Task) -> None:
    names = list(t.targets)
    as_int = t.task != "regression"
    lines = ["\t".join(["id", "sequence", "split", *names])]
    for i, (id_, seq) in enumerate(zip(t.ids, t.sequences)):
        vals = [str(int(t.targets[c][i])) if as_int else f"{t.targets[c][i]:.5f}" for c in names]
        lines.append("\t".join([id_, seq, t.split[i], *vals]))
    path.write_text("\n".join(lines) + "\n")


_DESCRIPTIONS = {
    "synth_mpra": "Synthetic MPRA-like activity (230 nt) in three cell types with planted JASPAR motifs, "
                  "an ETS-NFY interaction and Gaussian noise; see truth.json",
    "synth_chip": "Synthetic ChIP-like CTCF binding (200 nt) with partial matches and GC-rich decoys; "
                  "see truth.json",
}


def _cache_blob(seed: int, small: bool) -> dict:
    return {"generator_version": GENERATOR_VERSION, "seed": seed, "small": small,
            "jaspar_release": jaspar.JASPAR_RELEASE}


def _check_outdir(outdir: Path) -> None:
    """Refuse to replace a folder that holds something other than a previous synth output."""
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise UserError("exists and is not a folder", path=outdir, hint="Pass a folder path to --outdir")
    entries = [e for e in outdir.iterdir() if not e.name.startswith(".")]
    if not entries:
        return
    try:
        ours = read_record(outdir).get("step") == "synth"
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise UserError("folder is not empty and was not written by 'glmprobe synth'", path=outdir,
                        hint="Choose a new or empty folder: synth replaces the whole folder")


def make_synth(outdir: str | os.PathLike, seed: int = 0, small: bool = False, *, force: bool = False,
               progress: bool = False) -> Path:
    """Write the synthetic benchmark into ``outdir``; return the datasets sheet path.

    Skipped when ``outdir/record.json`` already has the same cache key (unless ``force``).
    """
    from glmprobe.steps.skeleton import Task, key_of

    outdir = Path(outdir)
    sheet = outdir / "datasets.csv"
    _check_outdir(outdir)
    task = Task("synth", "synth", outdir, cache_key=key_of(_cache_blob(seed, small), versioned=False),
                outputs=("datasets.csv", *FILES, *VARIANT_FILES),
                params={"seed": seed, "small": bool(small), "jaspar_release": jaspar.JASPAR_RELEASE,
                        "generator_version": GENERATOR_VERSION},
                versions=software_versions(("pyjaspar",)),
                artifacts={**{f.split(".")[0]: f for f in FILES}, "variants": "variants.tsv",
                           "variants_genome": "variants_genome.fa"})
    if task.up_to_date(force):
        return sheet
    # Independent streams per dataset, so one task's size never changes the other's data.
    root = np.random.SeedSequence(seed)
    rng_mpra, rng_chip = (np.random.default_rng(s) for s in root.spawn(2))
    sizes = SIZES[bool(small)]
    tasks = [_mpra(sizes["synth_mpra"], rng_mpra, MpraParams(), progress),
             _chip(sizes["synth_chip"], rng_chip, ChipParams(), progress)]
    rng_variants = np.random.default_rng(root.spawn(1)[0])  # a third stream: the first two are unchanged
    variant_lines, variant_genome = _synth_variants(tasks[0], VARIANT_LOCI[bool(small)], rng_variants)
    truth = {"generator": "glmprobe.data.synth", "generator_version": GENERATOR_VERSION, "seed": seed,
             "small": bool(small), "jaspar_release": jaspar.JASPAR_RELEASE,
             "background": {"model": "first-order Markov", "base_freq": dict(zip("ACGT", BASE_FREQ)),
                            "cpg_factor": CPG_FACTOR},
             "coordinates": "0-based, half-open [start, end) on the sequence as written",
             "datasets": {}}
    for t in tasks:
        truth["datasets"][t.name] = {
            "task": t.task, "file": "mpra.tsv" if t.name == "synth_mpra" else "chip.tsv",
            "targets": list(t.targets), "n": {s: int((t.split == s).sum()) for s in SPLITS},
            "params": t.params, "oracle": _oracle(t), "pwm_ceiling": _pwm_ceiling(t)}
    with task.writing() as tmp:
        _write_table(tmp / "mpra.tsv", tasks[0])
        _write_table(tmp / "chip.tsv", tasks[1])
        sheet_lines = ["id,format,path,task,split,target_cols,description"]
        for t in tasks:
            file = truth["datasets"][t.name]["file"]
            sheet_lines.append(f'{t.name},table,{file},{t.task},column,{";".join(t.targets)},"{_DESCRIPTIONS[t.name]}"')
        (tmp / "datasets.csv").write_text("\n".join(sheet_lines) + "\n")
        site_lines = ["\t".join(("dataset", "id", "target", "motif_id", "name", "start", "end", "strand",
                                 "score", "effect"))]
        for t in tasks:
            for r in t.sites:
                site_lines.append("\t".join([*map(str, r[:8]), _fmt(r[8]), _fmt(r[9])]))
        (tmp / "motif_sites.tsv").write_text("\n".join(site_lines) + "\n")
        used = dict.fromkeys([r.matrix_id for r in MPRA_RULES] + [ChipParams().motif, *ChipParams().decoys])
        jaspar.write_meme(tmp / "motifs.meme", jaspar.fetch_motifs(used), BASE_FREQ)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
        (tmp / "variants.tsv").write_text("\n".join(variant_lines) + "\n")
        _write_genome(tmp / "variants_genome.fa", variant_genome)
        task.record["n"] = {t.name: len(t.ids) for t in tasks}
        _readable(tmp)
    return sheet


def _readable(folder: Path) -> None:
    """Temp folders/files are created private (0700/0600); published outputs must be world-readable
    (containers in the pipeline may run as another user)."""
    folder.chmod(0o755)
    for f in folder.iterdir():
        f.chmod(0o644)


def summary(outdir: str | os.PathLike) -> str:
    """A few lines for the user: files, sizes, oracle scores."""
    outdir = Path(outdir)
    truth = json.loads((outdir / "truth.json").read_text())
    lines = [f"synthetic benchmark (seed {truth['seed']}, {truth['jaspar_release']}) in {outdir}",
             f"  datasets sheet: {outdir / 'datasets.csv'}"]
    for name, d in truth["datasets"].items():
        n = d["n"]
        oracle = ", ".join(f"{k} {v:.3f}" for k, v in d["oracle"]["per_target"].items())
        lines.append(f"  {name}: {outdir / d['file']} ({n['train']}/{n['valid']}/{n['test']} train/valid/test), "
                     f"oracle test {d['oracle']['metric']}: {oracle}")
        if "pwm_ceiling" in d:
            ceil = ", ".join(f"{k} {v:.3f}" for k, v in d["pwm_ceiling"]["per_target"].items())
            lines.append(f"    PWM ceiling (reachable from the sequence): {ceil}")
    lines.append(f"  ground truth: {outdir / 'motif_sites.tsv'}, {outdir / 'motifs.meme'}, {outdir / 'truth.json'}")
    lines.append(f"  variants: {outdir / 'variants.tsv'} on {outdir / 'variants_genome.fa'} (exact effects)")
    return "\n".join(lines)


@click.command("synth")
@click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("synth"),
              show_default=True, help="Folder to write (created; replaced if it holds an earlier synth output).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; the same seed gives identical files.")
@click.option("--small", is_flag=True, help="Small sizes for tests (600 MPRA / 400 ChIP sequences).")
@click.option("--force", is_flag=True, help="Regenerate even if the folder already holds this seed and size.")
@click.option("--quiet", is_flag=True, help="No progress bars and no summary.")
def synth_command(outdir: Path, seed: int, small: bool, force: bool, quiet: bool) -> None:
    """Write the synthetic benchmark with planted JASPAR motifs and known oracle scores."""
    make_synth(outdir, seed=seed, small=small, force=force, progress=not quiet and sys.stderr.isatty())
    if not quiet:
        click.echo(summary(outdir))
