"""The wheel carries everything a fresh `pip install` needs: package, lab extension, server config, kernelspec."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    if not (REPO / "aiikernel" / "labextension" / "package.json").exists():
        pytest.skip(
            "the lab extension is not built in this checkout (run `pip install -e .` first)"
        )
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("aiikernel-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_contents(wheel):
    names = set(wheel.namelist())
    data = "aiikernel-0.1.0.data/data/"
    assert "aiikernel/__init__.py" in names
    assert "aiikernel/resources/aiipython/kernel.json" in names
    assert data + "share/jupyter/kernels/aiipython/kernel.json" in names
    assert data + "share/jupyter/labextensions/aiikernel/package.json" in names
    assert data + "share/jupyter/labextensions/aiikernel/install.json" in names
    assert any(
        n.startswith(data + "share/jupyter/labextensions/aiikernel/static/remoteEntry.")
        for n in names
    )
    config = json.loads(wheel.read(data + "etc/jupyter/jupyter_server_config.d/aiikernel.json"))
    assert config["ServerApp"]["jpserver_extensions"]["aiikernel"] is True
    spec = json.loads(wheel.read(data + "share/jupyter/kernels/aiipython/kernel.json"))
    assert spec["display_name"] == "aiipython"
    assert not any(n.startswith("aiikernel/labextension/") for n in names), (
        "extension shipped twice"
    )
    assert not any("node_modules" in n or n.endswith(".tsbuildinfo") for n in names)


def test_wheel_metadata_and_entry_points(wheel):
    dist_info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert "aimax = aiikernel.aimax.cli:main" in entry_points
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "Requires-Dist: ipykernel" in metadata and "Requires-Dist: litellm" in metadata
