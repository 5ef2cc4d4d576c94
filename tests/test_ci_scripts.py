"""`.ci/lab` gives what the README promises: the example's pandas and matplotlib, and the agent CLIs.

The real script runs in a scratch copy of the repository layout. Its two slow steps are
stand-ins there: `.ci/setup` (tested by every CI run) only records that it ran, and
`install_agents.sh` writes `claude`/`codex` executables where the real one puts them
(`.agents/node_modules/.bin`). `.venv/bin/python` is this venv's Python, so the import
check is real; `.venv/bin/jupyter` prints what `jupyter lab` would have been started with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SETUP = """#!/usr/bin/env bash
echo "setup ran (browser=${AIIKERNEL_WITH_BROWSER:-1})"
"""
INSTALL_AGENTS = """#!/usr/bin/env bash
set -e
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$REPO/.agents/node_modules/.bin"
for name in claude codex; do
    printf '#!/bin/sh\\necho %s-cli\\n' "$name" >"$REPO/.agents/node_modules/.bin/$name"
    chmod +x "$REPO/.agents/node_modules/.bin/$name"
done
echo "claude $REPO/.agents/node_modules/.bin/claude"
echo "codex $REPO/.agents/node_modules/.bin/codex"
"""
JUPYTER = """#!/usr/bin/env bash
echo "jupyter $*"
echo "claude at $(command -v claude || echo MISSING)"
echo "codex at $(command -v codex || echo MISSING)"
"""


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A repository layout holding the real `.ci/lab` and stand-ins for its slow steps."""
    (tmp_path / ".ci").mkdir()
    shutil.copy2(REPO / ".ci" / "lab", tmp_path / ".ci" / "lab")
    _script(tmp_path / ".ci" / "setup", SETUP)
    _script(tmp_path / "tests" / "support" / "install_agents.sh", INSTALL_AGENTS)
    _script(tmp_path / ".venv" / "bin" / "python", f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    _script(tmp_path / ".venv" / "bin" / "jupyter", JUPYTER)
    return tmp_path


def _run_lab(scratch: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "claude").exists()
    )
    return subprocess.run(
        ["bash", str(scratch / ".ci" / "lab"), "--port", "8899"],
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lab_launches_with_the_agent_clis_on_path(scratch):
    result = _run_lab(scratch)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "setup ran (browser=0)" in out
    assert "jupyter lab --ip=127.0.0.1" in out and "--port 8899" in out
    bin_dir = scratch / ".agents" / "node_modules" / ".bin"
    assert f"claude at {bin_dir / 'claude'}" in out
    assert f"codex at {bin_dir / 'codex'}" in out


def test_lab_refuses_to_launch_without_the_readme_examples_packages(scratch, tmp_path):
    broken = tmp_path / "no-matplotlib"
    broken.mkdir()
    (broken / "matplotlib.py").write_text("raise ImportError('not installed')\n")
    result = _run_lab(scratch, PYTHONPATH=str(broken))
    assert result.returncode != 0
    assert "jupyter lab" not in result.stdout
    assert "pandas and matplotlib" in result.stderr and ".[lab]" in result.stderr


def test_setup_installs_the_lab_extra():
    """`.ci/setup` installs the lock, which is resolved with the `lab` extra."""
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {req.split(">")[0].split("=")[0].strip() for req in extras["lab"]}
    assert {"pandas", "matplotlib"} <= names
    assert "[test,mlflow,lab]" in (REPO / ".ci" / "lock").read_text()
    lock = (REPO / ".ci" / "requirements.lock").read_text().splitlines()
    assert any(line.startswith("pandas==") for line in lock)
    assert any(line.startswith("matplotlib==") for line in lock)
