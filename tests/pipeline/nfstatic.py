"""Small static readers for the Nextflow sources (Nextflow itself cannot run on CI hosts).

reftrace parses the .nf files but does not expose script blocks, outputs or config params;
these helpers read just those pieces with plain text rules that match how our files are written.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "modules" / "local").glob("*/main.nf"))
NF_FILES = [ROOT / "main.nf", *sorted((ROOT / "workflows").glob("*.nf")),
            *sorted((ROOT / "subworkflows").rglob("*.nf")), *MODULES]
CONFIGS = [ROOT / "nextflow.config", *sorted((ROOT / "conf").glob("*.config"))]

_BLOCK_END = re.compile(r"^\s*(stub:|\}\s*$)", re.M)


def block(text: str, name: str) -> str:
    """The body of a process section (`script:`, `output:` ...) up to the next section."""
    m = re.search(rf"^\s*{name}:\s*$", text, re.M)
    if not m:
        return ""
    rest = text[m.end():]
    nxt = re.search(r"^\s*(input|output|when|script|stub|exec):\s*$|^\}\s*$", rest, re.M)
    return rest[: nxt.start()] if nxt else rest


def glmprobe_calls(script: str) -> list[tuple[str, set[str]]]:
    """Each `glmprobe <command> ...` line (continuations joined): the command and its --options."""
    joined = re.sub(r"\\\\\s*\n", " ", script)
    calls = []
    for line in joined.splitlines():
        m = re.search(r"\bglmprobe\s+([a-z_]+)\b(.*)", line)
        if m:
            calls.append((m.group(1), set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", m.group(2)))))
    return calls


def emits(output: str) -> list[str]:
    return re.findall(r"emit:\s*(\w+)", output)


def process_name(text: str) -> str:
    return re.search(r"^process\s+(\w+)\s*\{", text, re.M).group(1)


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", text)


def config_params(path: Path) -> dict[str, str]:
    """`name = value` pairs of the top-level `params { }` block (values as raw Groovy text)."""
    text = _strip_comments(path.read_text())
    m = re.search(r"^params\s*\{(.*?)^\}", text, re.M | re.S)
    if not m:
        return {}
    return dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", m.group(1), re.M))


def groovy_value(raw: str, project_dir: Path = ROOT):
    """A literal Groovy config value as Python (null/true/false/numbers/strings); None if dynamic."""
    if raw == "null":
        return None
    if raw in ("true", "false"):
        return raw == "true"
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"-?\d+\.\d*", raw):
        return float(raw)
    m = re.fullmatch(r"'([^']*)'|\"([^\"]*)\"", raw)
    if m:
        return (m.group(1) if m.group(1) is not None else m.group(2)).replace("${projectDir}", str(project_dir))
    return _DYNAMIC


class _Dynamic:
    def __repr__(self):
        return "<dynamic>"


_DYNAMIC = _Dynamic()
DYNAMIC = _DYNAMIC


def params_used(text: str) -> set[str]:
    # params.x, not a method call on the params map (params.findAll { ... }) nor a file name (params.json)
    return set(re.findall(r"(?<![\w/-])params\.(\w+)\b(?!\s*[({])(?!\.json)", _strip_comments(text))) - {"json"}


def ext_args_flags(config_text: str) -> dict[str, set[str]]:
    """`withName: 'X' { ... }` -> every --flag in that block (ext.args and friends)."""
    text = _strip_comments(config_text)
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"withName:\s*'([\w|]+)'\s*\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i]
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", body))
        # shared closures referenced by name (def tuningArgs = { ... })
        for ref in re.findall(r"ext\.args\s*=\s*(\w+)\s*$", body, re.M):
            d = re.search(rf"def\s+{ref}\s*=\s*\{{(.*?)^\}}", text, re.M | re.S)
            if d:
                flags |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", d.group(1)))
        for name in m.group(1).split("|"):   # withName: 'A|B' selects both
            out.setdefault(name, set()).update(flags)
    return out
