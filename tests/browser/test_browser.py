"""Headless Chromium: the MLflow UI lists the experiment and its runs; the report's figures render.

Screenshots go to the pytest tmp dir and are copied to tests/browser/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from glmprobe_fakes import make_results

from glmprobe.report.build import build_report
from glmprobe.tracking.mlflow_writer import default_tracking_uri, track

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
SMALL = dict(models={"tiny": ("hf-mlm", False, [1, 2]), "tiny-random": ("hf-mlm", True, [1, 2])},
             datasets={"ds_reg": ("regression", ["a"], "pearson")}, baselines=("cnn",))


def chromium(*args: str, profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=timeout)


def screenshot(url: str, out: Path, profile: Path, size: str = "1280,2400", budget: int = 15000) -> np.ndarray:
    chromium(f"--screenshot={out}", f"--window-size={size}", f"--virtual-time-budget={budget}", url, profile=profile)
    assert out.is_file(), f"chromium wrote no screenshot of {url}"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(out, ARTIFACTS / out.name)
    import matplotlib.image

    return matplotlib.image.imread(out)[..., :3]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    root = make_results(tmp_path_factory.mktemp("results"), **SMALL)
    build_report(root)
    track(root, tracking_uri=default_tracking_uri(root), run_name_="browser-demo")
    return root


@pytest.fixture(scope="module")
def server(demo_store, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
         default_tracking_uri(demo_store), "--artifacts-destination", str(demo_store / "mlartifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLFLOW_ENABLE_TELEMETRY": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=5).status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)    # the server's own process group (uvicorn children)
        proc.wait(timeout=30)


def _api(url: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def test_mlflow_ui_lists_experiment_and_runs(server, demo_store, tmp_path):
    exp = _api(server, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=glmprobe")["experiment"]
    runs = _api(server, "/api/2.0/mlflow/runs/search",
                {"experiment_ids": [exp["experiment_id"]], "max_results": 1000})["runs"]
    n_records = len([p for p in demo_store.rglob("record.json") if "mlartifacts" not in p.parts])
    kinds = [next(t["value"] for t in r["data"]["tags"] if t["key"] == "glmprobe.kind") for r in runs]
    assert kinds.count("pipeline") == 1 and kinds.count("task") == n_records

    page = f"{server}/#/experiments/{exp['experiment_id']}/runs"      # the "Model training" runs table
    dom = chromium("--virtual-time-budget=20000", "--dump-dom", page, profile=tmp_path / "p1").stdout
    assert "glmprobe" in dom                      # experiment name rendered by the JS app
    assert "browser-demo" in dom                  # the parent (pipeline) run is listed
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", dom, flags=re.S)))
    assert re.search(r"\d+ matching runs", text), text[:2000]   # the runs table itself rendered
    img = screenshot(page, tmp_path / "mlflow_ui.png", tmp_path / "p2", size="1400,900", budget=20000)
    assert img.std() > 0.02                       # not a blank page


def test_report_figures_render(demo_store, tmp_path):
    index = demo_store / "report" / "index.html"
    dom = chromium("--dump-dom", index.as_uri(), profile=tmp_path / "p1").stdout
    n_img = dom.count("<img ")
    assert n_img == len(list((demo_store / "report" / "figures").glob("*.png"))) == 4
    img = screenshot(index.as_uri(), tmp_path / "report.png", tmp_path / "p2", size="1200,4000")
    assert img.std() > 0.05
    # matplotlib's default blue (#1f77b4, the gLM bars) is on screen: the PNGs were decoded and drawn
    blue = np.abs(img - np.array([0x1f, 0x77, 0xb4]) / 255).max(axis=-1) < 0.06
    assert blue.sum() > 500
