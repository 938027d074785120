"""Variant readers: a plain table, VCF (through vcfpy) and the CAGI5 challenge/release TSVs.

Every reader returns the same :class:`pandas.DataFrame` layout, one row per (variant, ALT):

=========  ==================================================================
``id``     the input's id, or ``chrom:pos:ref>alt``
``chrom``  as written (matched against the genome later, ``chr`` prefix tolerated)
``pos``    1-based position of the first ref base (VCF convention)
``ref``    ``alt``  uppercase alleles
``effect`` measured effect (float, NaN when absent)
``group``  group / locus (the CAGI5 element, a table column, or the file name)
``source`` ``line``  file and line the row came from: every later message names them
=========  ==================================================================

Plus any extra columns a format carries (CAGI5 ``confidence`` and ``set``). Format problems
(a missing column, a position that is not a number, a malformed VCF line) are refused at once
with a :class:`~glmprobe.errors.UserError` naming file and line; what is wrong *biologically*
(unknown chromosome, ref mismatch, indels, duplicates) is judged later against the genome
(:mod:`glmprobe.variants.genome`), where the user chooses to drop or refuse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glmprobe.data.readers.base import check_file, guard, open_text, sniff_delimiter
from glmprobe.errors import UserError
from glmprobe.registry import Registry

COLUMNS = ("id", "chrom", "pos", "ref", "alt", "effect", "group", "source", "line")
READERS = Registry("variant format", where="--format")
# Accepted spellings of the required columns of a plain table (case-insensitive).
ALIASES = {"chrom": ("chrom", "chr", "chromosome", "#chrom", "contig", "seqnames"),
           "pos": ("pos", "position", "pos_hg19", "pos_hg38", "bp"),
           "ref": ("ref", "reference", "ref_allele"),
           "alt": ("alt", "alternate", "alt_allele")}
CAGI5_NAME = re.compile(r"^(?P<set>release|challenge)_(?P<element>[^.]+)\.tsv(\.gz)?$", re.IGNORECASE)
CAGI5_COLUMNS = ("chrom", "pos", "ref", "alt", "value", "confidence")


def _frame(rows: dict[str, list], extra: Sequence[str] = ()) -> pd.DataFrame:
    df = pd.DataFrame({c: rows[c] for c in (*COLUMNS, *extra)})
    df["pos"] = df["pos"].astype(np.int64)
    df["line"] = df["line"].astype(np.int64)
    df["effect"] = df["effect"].astype(float)
    for c in ("ref", "alt"):
        df[c] = df[c].str.upper()
    return df


def _position(text: str, path: Path, line: int) -> int:
    try:
        pos = int(str(text).strip())
    except ValueError:
        raise UserError(f"position {text!r} is not an integer", path=path, where=f"line {line}",
                        hint="Positions are 1-based integers (VCF convention)") from None
    if pos < 1:
        raise UserError(f"position {pos} is below 1 (positions are 1-based)", path=path, where=f"line {line}")
    return pos


def _number(text, path: Path, line: int, what: str) -> float:
    text = "" if text is None else str(text).strip()
    if text in ("", "NA", "NaN", "nan", "."):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{what} {text!r} is not a number", path=path, where=f"line {line}",
                        hint="Use a number, or NA / empty for a missing value") from None


def _variant_id(chrom: str, pos: int, ref: str, alt: str) -> str:
    return f"{chrom}:{pos}:{ref}>{alt}"


# ---------------------------------------------------------------------------- plain table

def _find(names: list[str], wanted: str | None, aliases: tuple[str, ...], path: Path, what: str) -> int | None:
    lower = [n.strip().lower() for n in names]
    if wanted is not None:
        if wanted.lower() not in lower:
            raise UserError(f"no column {wanted!r} ({what})", path=path, where="header",
                            hint=f"The header has: {', '.join(names)}")
        return lower.index(wanted.lower())
    for alias in aliases:
        if alias in lower:
            return lower.index(alias)
    return None


@READERS.register("table", suffixes=(".tsv", ".csv", ".txt", ".tsv.gz", ".csv.gz"))
def read_table(path: Path, *, effect_col: str | None = None, group_col: str | None = None,
               id_col: str | None = None) -> pd.DataFrame:
    """A CSV/TSV with a header: chrom, pos, ref, alt (aliases allowed), optional effect, group and id."""
    path = check_file(Path(path), "variants table")
    with open_text(path) as fh, guard(path):
        header = fh.readline()
        delim = sniff_delimiter(header)
        names = [n.strip() for n in header.rstrip("\r\n").split(delim)]
        idx = {}
        for key, aliases in ALIASES.items():
            idx[key] = _find(names, None, aliases, path, key)
            if idx[key] is None:
                raise UserError(f"no {key} column in the header", path=path, where="line 1",
                                hint=f"Name it one of {', '.join(aliases)} (the header has: {', '.join(names)})")
        eff = _find(names, effect_col, ("effect", "value", "log2fc", "score"), path, "--effect-col")
        grp = _find(names, group_col, ("group", "locus", "element", "gene"), path, "--group-col")
        vid = _find(names, id_col, ("id", "variant_id", "name"), path, "--id-col")
        rows: dict[str, list] = {c: [] for c in COLUMNS}
        for n, raw in enumerate(fh, start=2):
            text = raw.rstrip("\r\n")
            if not text.strip() or text.startswith("#"):
                continue
            f = text.split(delim)
            if len(f) != len(names):
                raise UserError(f"{len(f)} fields, the header has {len(names)}", path=path, where=f"line {n}",
                                hint=f"Every line needs the same {delim!r}-separated columns")
            chrom, ref, alt = f[idx["chrom"]].strip(), f[idx["ref"]].strip(), f[idx["alt"]].strip()
            pos = _position(f[idx["pos"]], path, n)
            rows["chrom"].append(chrom)
            rows["pos"].append(pos)
            rows["ref"].append(ref)
            rows["alt"].append(alt)
            rows["effect"].append(_number(f[eff], path, n, "effect") if eff is not None else float("nan"))
            rows["group"].append(f[grp].strip() if grp is not None else path.name.split(".")[0])
            rows["id"].append(f[vid].strip() if vid is not None else _variant_id(chrom, pos, ref, alt))
            rows["source"].append(str(path))
            rows["line"].append(n)
    return _frame(rows)


# ---------------------------------------------------------------------------- VCF

@READERS.register("vcf", suffixes=(".vcf", ".vcf.gz", ".vcf.bgz"))
def read_vcf(path: Path, *, effect_col: str | None = None, group_col: str | None = None,
             id_col: str | None = None) -> pd.DataFrame:
    """A VCF (plain or bgzip), parsed by vcfpy; every ALT allele becomes one row.

    ``effect_col`` and ``group_col`` name INFO fields (e.g. ``EFFECT``, ``LOCUS``); the VCF's own
    ID column is the id unless it is ``.``. Symbolic and breakend ALTs are refused as malformed
    for this purpose.
    """
    import vcfpy

    path = check_file(Path(path), "VCF")
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    try:
        reader = vcfpy.Reader.from_path(str(path))
    except (vcfpy.exceptions.VCFPyException, ValueError, IndexError, KeyError) as exc:
        raise UserError(f"malformed VCF header ({exc})", path=path, where="header",
                        hint="The file must start with ##fileformat=VCFv4.x and a #CHROM line") from None
    line = len(reader.header.lines) + 1     # the #CHROM line; records follow it one per line
    with reader, guard(path):
        while True:
            line += 1
            try:
                rec = next(reader)
            except StopIteration:
                break
            except (vcfpy.exceptions.VCFPyException, ValueError, IndexError, KeyError, TypeError) as exc:
                raise UserError(f"malformed VCF record ({type(exc).__name__}: {exc})", path=path,
                                where=f"line {line}", hint="Each record needs 8+ tab-separated fields "
                                "CHROM POS ID REF ALT QUAL FILTER INFO") from None
            effect = rec.INFO.get(effect_col) if effect_col else None
            if isinstance(effect, list):
                effect = effect[0] if effect else None
            group = rec.INFO.get(group_col) if group_col else None
            if isinstance(group, list):
                group = group[0] if group else None
            for alt in rec.ALT:
                value = getattr(alt, "value", None)
                if getattr(alt, "type", "") not in ("SNV", "MNV", "INS", "DEL", "INDEL") or not value:
                    raise UserError(f"ALT {alt!r} is not a sequence allele", path=path, where=f"line {line}",
                                    hint="Symbolic (<DEL>) and breakend ALTs cannot be scored; remove them")
                vid = rec.ID[0] if rec.ID else _variant_id(rec.CHROM, rec.POS, rec.REF, value)
                rows["id"].append(vid if len(rec.ALT) == 1 or not rec.ID else f"{vid}:{value}")
                rows["chrom"].append(str(rec.CHROM))
                rows["pos"].append(_position(rec.POS, path, line))
                rows["ref"].append(str(rec.REF))
                rows["alt"].append(str(value))
                rows["effect"].append(_number(effect, path, line, f"INFO/{effect_col}"))
                rows["group"].append(str(group) if group is not None else path.name.split(".")[0])
                rows["source"].append(str(path))
                rows["line"].append(line)
    return _frame(rows)


# ---------------------------------------------------------------------------- CAGI5

def is_cagi5(path: Path) -> bool:
    """A ``release_<element>.tsv`` / ``challenge_<element>.tsv`` name, or a ``#Chrom Pos Ref Alt Value`` header."""
    if CAGI5_NAME.match(path.name):
        return True
    try:
        with open_text(path) as fh:
            for _, text in zip(range(50), fh):
                if text.startswith("#") and not text.startswith("##"):
                    cols = [c.strip().lower() for c in text[1:].split("\t")]
                    return cols[:5] == list(CAGI5_COLUMNS[:5])
                if not text.startswith("#"):
                    return False
    except (UserError, OSError):
        return False
    return False


@READERS.register("cagi5", suffixes=())
def read_cagi5(path: Path, *, effect_col: str | None = None, group_col: str | None = None,
               id_col: str | None = None) -> pd.DataFrame:
    """The CAGI5 regulation-saturation TSVs (hg19): ``##`` comment lines, a ``#Chrom Pos Ref Alt Value
    Confidence`` header, then one variant per line. ``Value`` (log2 fold change) is the effect; the element
    (LDLR, SORT1, ...) comes from the file name ``<set>_<element>.tsv`` and is the group; ``set`` and
    ``confidence`` are kept as columns. ``effect_col``/``group_col`` are not used (the layout is fixed)."""
    path = check_file(Path(path), "CAGI5 file")
    named = CAGI5_NAME.match(path.name)
    element = named.group("element") if named else path.name.split(".")[0]
    release = named.group("set").lower() if named else "unknown"
    rows: dict[str, list] = {c: [] for c in (*COLUMNS, "confidence", "set")}
    with open_text(path) as fh, guard(path):
        header_seen = False
        for n, raw in enumerate(fh, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip() or text.startswith("##"):
                continue
            if text.startswith("#"):
                cols = [c.strip().lower() for c in text[1:].split("\t")]
                if cols[:5] != list(CAGI5_COLUMNS[:5]):
                    raise UserError(f"header {text!r} is not the CAGI5 layout", path=path, where=f"line {n}",
                                    hint="Expected #Chrom, Pos, Ref, Alt, Value, Confidence (tab-separated)")
                header_seen = True
                continue
            if not header_seen:
                raise UserError("data before the #Chrom header line", path=path, where=f"line {n}",
                                hint="CAGI5 files start with ## comments and a #Chrom Pos Ref Alt Value "
                                     "Confidence header; use --format table for other tables")
            f = text.split("\t")
            if len(f) < 5:
                raise UserError(f"{len(f)} fields, a CAGI5 line has 6 (Chrom Pos Ref Alt Value Confidence)",
                                path=path, where=f"line {n}")
            chrom, ref, alt = f[0].strip(), f[2].strip(), f[3].strip()
            pos = _position(f[1], path, n)
            rows["chrom"].append(chrom)
            rows["pos"].append(pos)
            rows["ref"].append(ref)
            rows["alt"].append(alt)
            rows["effect"].append(_number(f[4], path, n, "Value"))
            rows["confidence"].append(_number(f[5] if len(f) > 5 else "", path, n, "Confidence"))
            rows["set"].append(release)
            rows["group"].append(element)
            rows["id"].append(f"{element}:{_variant_id(chrom, pos, ref, alt)}")
            rows["source"].append(str(path))
            rows["line"].append(n)
    if not header_seen:
        raise UserError("no #Chrom header line: not a CAGI5 file", path=path)
    return _frame(rows, extra=("confidence", "set"))


# ---------------------------------------------------------------------------- dispatch

def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".vcf", ".vcf.gz", ".vcf.bgz")):
        return "vcf"
    if is_cagi5(path):
        return "cagi5"
    return "table"


def read_variants(paths: Sequence[str | Path], fmt: str = "auto", **options) -> pd.DataFrame:
    """Read and concatenate variant files (e.g. CAGI5 release + challenge: the study merged both)."""
    frames = []
    for p in paths:
        p = Path(p)
        check_file(p, "variants file")
        name = detect_format(p) if fmt == "auto" else fmt
        frames.append(READERS.get(name).obj(p, **options))
    if not frames:
        raise UserError("no variants file given", where="--variants")
    df = pd.concat(frames, ignore_index=True)
    if df.empty:
        raise UserError("the variants files hold no variants", path=", ".join(map(str, paths)))
    return df
