"""Fixtures for the server extension: a real in-process Jupyter server (pytest-jupyter) whose
aimax drives the fake agent in a private tmux server, killed by its socket at teardown.

pytest-jupyter's fixtures and its async-test runner are imported here rather than through a
root ``pytest_plugins`` so they apply to this directory only. Its runner executes the
(unmarked) ``async def`` tests on the server's own loop; pytest-asyncio stays in strict mode
and leaves them alone. Do not mark these tests ``@pytest.mark.asyncio``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures and the async runner

REPO = Path(__file__).resolve().parents[2]
requires_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
FAKE_SCRIPT = '{"startup_delay": 0.2, "think": 0.3}'


def write_fake_bin(bin_dir: Path, name: str, flavor: str) -> Path:
    """An executable named like the real CLI that runs aimax's fake agent TUI."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m aiikernel.aimax.fake_agent --flavor {flavor} "$@"\n'
    )
    path.chmod(0o755)
    return path


def kill_tmux(socket: str) -> None:
    """Kill one private tmux server by its socket name (never by process name)."""
    if shutil.which("tmux"):
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux_socket():
    name = f"aimax-srv-{uuid.uuid4().hex[:10]}"
    yield name
    kill_tmux(name)


@pytest.fixture
def fake_bins(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    return {
        "claude_bin": str(write_fake_bin(bin_dir, "claude", "claude")),
        "codex_bin": str(write_fake_bin(bin_dir, "codex", "codex")),
    }


@pytest.fixture
def aimax_overrides(tmp_path: Path, tmux_socket: str, fake_bins: dict[str, str]) -> dict:
    """``AimaxExtension.aimax_config`` for a test: private socket, data dir and fake agents."""
    return {
        "tmux_socket": tmux_socket,
        "data_dir": str(tmp_path / "aimax-data"),
        "ready_timeout": 10.0,
        "confirm_timeout": 8.0,
        "poll_interval": 0.2,
        **fake_bins,
    }


@pytest.fixture
def aimax_traits() -> dict:
    """Extra ``AimaxExtension`` traits a test module may override."""
    return {}


@pytest.fixture
def jp_server_config(aimax_overrides, aimax_traits):
    return {
        "ServerApp": {"jpserver_extensions": {"aiikernel": True}},
        # In-process servers: the test process is not a long-lived server, and a gc.freeze()
        # would keep its start-up garbage for every later test (test_server_freeze.py checks it).
        "AimaxExtension": {
            "aimax_config": aimax_overrides,
            "freeze_startup_objects": False,
            **aimax_traits,
        },
    }


@pytest.fixture(autouse=True)
def agent_environ(jp_environ, monkeypatch):
    """What the fake agents inherit from the server process (after jp_environ set HOME)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("AIMAX_FAKE_SCRIPT", FAKE_SCRIPT)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("CODEX_HOME", os.path.join(os.environ["HOME"], ".codex"))


@pytest.fixture
def workdir(jp_root_dir: Path) -> Path:
    path = jp_root_dir / "work"
    path.mkdir(exist_ok=True)
    return path


def body(response) -> dict:
    return json.loads(response.body.decode() or "null")
