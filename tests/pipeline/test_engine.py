"""The pipeline on the real Nextflow engine (tools/nextflow: the release pinned in pom.xml,
resolved from Maven Central by `make nextflow`) and the strict parser (nf-lang).

CI has no Nextflow plugin registry, so these runs use main_ci.nf with `--nf_schema false`:
the same workflow, modules and configs as main.nf, with an initialisation that validates
params and sheets through `glmprobe plan` instead of the nf-schema plugin (README, "Nextflow").
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from glmprobe.record import is_timing

ROOT = Path(__file__).resolve().parents[2]
NXF = ROOT / "tools" / "nextflow" / "nextflow"
NXF_LIB = ROOT / "tools" / "nextflow" / "lib"
LINT_LIB = ROOT / "tools" / "nextflow" / "lint" / "lib"
PINNED = re.search(r"<nextflow.version>([^<]+)<", (ROOT / "tools/nextflow/pom.xml").read_text()).group(1)
PROCESSES = ["SYNTH", "PREPARE", "PRETRAIN", "EMBED", "EMBED_GATHER", "PROBE", "BASELINE", "ATTRIBUTE", "VARIANTS", "TRACK",
             "REPORT"]
REL_TOL = 1e-4          # metrics of the two runners (same seeds; BLAS summation order may differ)


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"   # glmprobe for the CI init
    env["NXF_ANSI_LOG"] = "false"
    env.pop("NXF_HOME", None)
    return env


def nextflow(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(NXF), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def run_args(outdir: Path, *extra: str) -> list[str]:
    return ["run", str(ROOT / "main_ci.nf"), "-profile", "test", "--nf_schema", "false",
            "--outdir", str(outdir), *extra]


@pytest.fixture(scope="session", autouse=True)
def engine():
    if not list(NXF_LIB.glob("nextflow-*.jar")) or not list(LINT_LIB.glob("nf-lang-*.jar")):
        pytest.fail("the Nextflow engine is not set up: run `make nextflow` (Maven resolves it from Maven Central)")


def _tasks_submitted(log: str) -> int:
    return len(re.findall(r"Submitted process >", log))


# --------------------------------------------------------------------------- engine and strict parser

def test_engine_is_the_pinned_release(tmp_path):
    out = nextflow(["-version"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"version {PINNED}" in out.stdout


def _lint(*paths) -> subprocess.CompletedProcess:
    java = next((p for p in ("/usr/lib/jvm/java-17-openjdk-amd64/bin/java",) if Path(p).exists()), "java")
    return subprocess.run([java, "-cp", f"{LINT_LIB}/*", str(ROOT / "tools/nextflow/lint/NfLint.java"),
                           *map(str, paths)], capture_output=True, text=True, timeout=300)


def test_strict_parser_accepts_every_pipeline_file():
    files = [ROOT / "main.nf", ROOT / "main_ci.nf", ROOT / "nextflow.config",
             ROOT / "workflows", ROOT / "subworkflows", ROOT / "modules", ROOT / "conf"]
    out = _lint(*files)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert out.returncode == 0 and not errors, "\n".join(errors) or out.stderr
    n = int(re.search(r"nf-lint: (\d+) file", out.stdout).group(1))
    assert n >= 20, out.stdout


def test_strict_parser_rejects_what_the_engine_will_reject(tmp_path):
    bad = tmp_path / "bad.config"
    bad.write_text("def onlyTop = { it }\nprocess {\n    cpus = 1\n}\n")
    script = tmp_path / "bad.nf"
    script.write_text("workflow {\n    main:\n    undefined_thing.view()\n}\n")
    out = _lint(bad, script)
    assert out.returncode == 1
    assert "Variable declarations cannot be mixed with config statements" in out.stdout
    assert "`undefined_thing` is not defined" in out.stdout


def test_main_ci_differs_from_main_only_in_the_initialisation():
    main = (ROOT / "main.nf").read_text().splitlines()
    ci = (ROOT / "main_ci.nf").read_text().splitlines()
    diff = [(a, b) for a, b in zip(main, ci) if a != b]
    assert len(main) == len(ci)
    assert all("utils_nfcore_glmprobe_pipeline" in a and "utils_glmprobe_ci" in b or a.lstrip().startswith("*")
               for a, b in diff), diff
    users = (ROOT / "subworkflows/local/utils_nfcore_glmprobe_pipeline/main.nf").read_text()
    assert "plugin/nf-schema" in users
    for path in [*ROOT.glob("workflows/*.nf"), *ROOT.glob("modules/local/*/main.nf"),
                 ROOT / "subworkflows/local/utils_glmprobe/main.nf", ROOT / "subworkflows/local/utils_glmprobe_ci/main.nf"]:
        assert "plugin/" not in path.read_text(), f"{path}: only the users' initialisation may use a plugin"


# --------------------------------------------------------------------------- params rejected before any task

def _bad_sheet(tmp: Path) -> Path:
    sheet = tmp / "datasets.csv"
    sheet.write_text("id,format,path,task\nmine,table,no_such_file.tsv,regression\n")
    return sheet


def _no_variants(tmp: Path) -> Path:
    params = tmp / "no_variants.json"
    params.write_text('{"variants": null}')
    return params


BAD = {
    "unknown_param": (lambda tmp: ["--bogus_param", "1"], "unknown param(s) bogus_param"),
    "wrong_type": (lambda tmp: ["--trials", "many"], "trials"),
    "missing_sheet": (lambda tmp: ["--synth", "false", "--input", str(tmp / "missing.csv")], "missing.csv"),
    # the test profile scores the synthetic variant set, which needs synth: a user sheet turns it off too
    "row_missing_file": (lambda tmp: ["--synth", "false", "--input", str(_bad_sheet(tmp)), "-params-file", str(_no_variants(tmp))],
                         "dataset 'mine': path file not found"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_params_stop_before_any_task(tmp_path, case):
    extra, expected = BAD[case]
    out = nextflow(run_args(tmp_path / "results", *extra(tmp_path)), tmp_path, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert expected in log, log
    assert _tasks_submitted(log) == 0, log
    assert not list((tmp_path / "work").glob("??/*")), "a task ran"
    # one clear line: the message once, short, and no Java stack trace
    lines = [line for line in log.splitlines() if expected in line]
    assert len(lines) == 1 and len(lines[0]) < 500, lines
    assert "Exception" not in log and "\tat " not in log, log


# --------------------------------------------------------------------------- stub run

@pytest.mark.slow
def test_stub_run_instantiates_every_process(tmp_path):
    out = nextflow(run_args(tmp_path / "results", "-stub-run", "--embed_shards", "2"), tmp_path)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    seen = set(re.findall(r"Submitted process > GLMPROBE:GLMPROBE_(\w+)", log))
    assert seen == set(PROCESSES), sorted(set(PROCESSES) - seen)
    assert (tmp_path / "results" / "mlflow.db").exists() and (tmp_path / "results" / "report").is_dir()


# --------------------------------------------------------------------------- the test profile, end to end

def _profile_params() -> dict:
    """The params -profile test sets (those that differ from the defaults), from the engine itself."""
    def flat(*profile):
        out = nextflow(["config", str(ROOT), *profile, "-flat"], ROOT, timeout=300)
        assert out.returncode == 0, out.stderr
        values = {}
        for line in out.stdout.splitlines():
            m = re.match(r"^params\.(\w+) = (.*)$", line)
            if m:
                values[m.group(1)] = yaml.safe_load(m.group(2).replace("null", "~"))
        return values
    base, test = flat(), flat("-profile", "test")
    return {k: v for k, v in test.items() if base.get(k) != v and k != "trace_report_suffix"}


def _records(results: Path) -> dict[str, dict]:
    out = {}
    for path in results.rglob("record.json"):
        rel = path.relative_to(results)
        if rel.parts[0] in ("mlartifacts", "pipeline_info", "report"):
            continue
        rec = json.loads(path.read_text())
        out[rec.get("key") or str(rel.parent)] = rec
    return out


def _wait_for(predicate, proc, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if predicate():
            return True
        time.sleep(2)
    return predicate()


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """Nextflow: start, SIGKILL mid-run, -resume to the end, -resume again; then glmprobe run."""
    tmp = tmp_path_factory.mktemp("e2e")
    params = _profile_params()
    params_file = tmp / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=True))
    launch, nf_out, py_out = tmp / "launch", tmp / "nf_results", tmp / "py_results"
    launch.mkdir()
    args = ["run", str(ROOT / "main_ci.nf"), "-profile", "test", "--nf_schema", "false",
            "-params-file", str(params_file), "--outdir", str(nf_out)]
    timings = {}

    # 1. killed in the middle: SIGKILL of the Nextflow JVM (and its task processes) after the first store
    t0 = time.monotonic()
    with open(tmp / "killed.log", "w") as log:
        proc = subprocess.Popen([str(NXF), *args], cwd=launch, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        stored = _wait_for(lambda: any(nf_out.glob("embeddings/*/*/store.h5")), proc, 1500)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)           # the JVM (the launcher execs java)
            time.sleep(1)
            try:
                os.killpg(proc.pid, signal.SIGKILL)     # and the tasks it had started
            except ProcessLookupError:
                pass
        proc.wait()
    timings["killed_after_s"] = time.monotonic() - t0

    # 2. -resume to the end, 3. -resume again
    t0 = time.monotonic()
    resumed = nextflow([*args, "-resume"], launch, timeout=7200)   # >1 h at load 12-17 on 2 cores
    timings["resume_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    again = nextflow([*args, "-resume"], launch, timeout=900)
    timings["resume_again_s"] = time.monotonic() - t0

    # the same params file with the single-machine runner
    t0 = time.monotonic()
    py = subprocess.run([str(Path(sys.executable).parent / "glmprobe"), "run", str(params_file), "--outdir", str(py_out)],
                        cwd=tmp, env=_env(), capture_output=True, text=True, timeout=7200)
    timings["glmprobe_run_s"] = time.monotonic() - t0
    (tmp / "timings.json").write_text(json.dumps(timings, indent=2))
    print(f"\nengine end-to-end timings: {timings}")
    return dict(params=params, nf=nf_out, py=py_out, stored=stored, killed=killed,
                resumed=resumed, again=again, py_run=py, tmp=tmp)


@pytest.mark.slow
def test_killed_run_resumes_to_completion(e2e):
    assert e2e["stored"] and e2e["killed"], (e2e["tmp"] / "killed.log").read_text()[-3000:]
    r = e2e["resumed"]
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert "Cached process" in log or re.search(r"\[\w\w/\w+\] Cached", log), "nothing was reused after the kill"
    assert (e2e["nf"] / "report" / "index.html").is_file()


@pytest.mark.slow
def test_resume_right_after_reruns_no_task(e2e):
    r = e2e["again"]
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert _tasks_submitted(log) == 0, [line for line in log.splitlines() if "Submitted" in line]


@pytest.mark.slow
def test_results_match_glmprobe_run(e2e):
    py = e2e["py_run"]
    assert py.returncode == 0, (py.stdout + py.stderr)[-4000:]
    nf, gp = _records(e2e["nf"]), _records(e2e["py"])
    assert set(nf) == set(gp), f"only Nextflow: {sorted(set(nf) - set(gp))}; only glmprobe run: {sorted(set(gp) - set(nf))}"
    for step in ("probes/", "baselines/", "attribution/", "variants/"):   # the test profile runs every step
        assert any(k.startswith(step) for k in nf), step
    # the attribute and variants tasks are the ones glmprobe.plan expands for these params
    planned = subprocess.run([str(Path(sys.executable).parent / "glmprobe"), "plan", str(e2e["tmp"] / "params.yaml"),
                              "--outdir", str(e2e["py"]), "--format", "json"], env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert planned.returncode == 0, planned.stderr
    wanted = {t["id"] for t in json.loads(planned.stdout) if t["step"] in ("attribute", "variants")}
    assert wanted and wanted == {k for k in nf if k.split("/")[0] in ("attribution", "variants")}
    # synth's truth.json is staged beside motif_sites.tsv, so the attribution ceiling is scored in both runners
    synth_maps = [k for k in nf if k.startswith("attribution/synth")]
    assert synth_maps and all("gt_ceiling_auroc" in (nf[k].get("metrics") or {}) for k in synth_maps)
    for key in sorted(nf):
        a, b = nf[key].get("metrics") or {}, gp[key].get("metrics") or {}
        assert set(a) == set(b), key
        for name in (n for n in a if not is_timing(n)):
            x, y = a[name], b[name]
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=REL_TOL, abs_tol=1e-6), \
                    f"{key} {name}: nextflow {x} vs glmprobe run {y}"
    assert (e2e["nf"] / "report" / "results.csv").read_text().count("\n") == \
        (e2e["py"] / "report" / "results.csv").read_text().count("\n")


def _runs(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT r.run_uuid, r.artifact_uri, r.lifecycle_stage, "
            "(SELECT value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'glmprobe.kind'), "
            "(SELECT value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'glmprobe.key') "
            "FROM runs r WHERE r.lifecycle_stage = 'active'").fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_mlflow_experiment_matches_and_is_published(e2e):
    nf_db, py_db = e2e["nf"] / "mlflow.db", e2e["py"] / "mlflow.db"
    assert nf_db.is_file() and py_db.is_file()
    nf_runs, py_runs = _runs(nf_db), _runs(py_db)
    count = lambda runs, kind: sum(1 for r in runs if r[3] == kind)   # noqa: E731
    for kind in ("pipeline", "task", "trial"):
        assert count(nf_runs, kind) == count(py_runs, kind), kind
    task_keys = [r[4] for r in nf_runs if r[3] == "task"]
    assert len(task_keys) == len(set(task_keys)), "duplicate MLflow task runs after kill + resume"
    # the DB points at the published artifacts (never a work dir) and they are there
    root = (e2e["nf"] / "mlartifacts").resolve().as_uri()
    assert all(r[1].startswith(root) for r in nf_runs), {r[1] for r in nf_runs if not r[1].startswith(root)}
    assert all(Path(r[1][len("file://"):]).is_dir() for r in nf_runs if r[3] == "task")
    # data files are referenced, never copied
    for results in (e2e["nf"], e2e["py"]):
        copied = [p for p in (results / "mlartifacts").rglob("*") if p.suffix in (".h5", ".hdf5")]
        assert not copied, copied[:5]
        refs = list((results / "mlartifacts").rglob("references.json"))
        assert refs and any("datasets/" in p.read_text() for p in refs)
