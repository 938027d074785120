"""Shared fixtures. Everything runs offline on CPU; hub/GPU tests skip cleanly."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import pytest


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_net = pytest.mark.skip(reason="needs hub access; set GLMPROBE_NETWORK=1 to run")
    skip_browser = pytest.mark.skip(reason="needs chromium (apt-get install chromium)")
    has_gpu = None
    for item in items:
        if "gpu" in item.keywords:
            has_gpu = _cuda() if has_gpu is None else has_gpu
            if not has_gpu:
                item.add_marker(skip_gpu)
        if "network" in item.keywords and os.environ.get("GLMPROBE_NETWORK") != "1":
            item.add_marker(skip_net)
        if "browser" in item.keywords and not (shutil.which("chromium") or shutil.which("chromium-browser")):
            item.add_marker(skip_browser)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    """The synthetic benchmark, small: raw files + datasets sheet + ground truth."""
    from glmprobe.data.synth import make_synth

    out = tmp_path_factory.mktemp("synth")
    make_synth(out, seed=0, small=True)
    return out


@pytest.fixture(scope="session")
def prepared_synth(synth_dir, tmp_path_factory):
    """{dataset id: path to dataset.h5} for the small synthetic benchmark."""
    from glmprobe.steps.prepare import prepare_rows

    out = tmp_path_factory.mktemp("datasets")
    paths = prepare_rows(synth_dir / "datasets.csv", out)
    return {p.parent.name: p for p in paths}
