"""Fixtures for aimax tests: a throwaway HOME, fake agent binaries, a private tmux server.

Every test gets its own tmux socket; the server is killed by that socket at teardown (never
by process name).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from aiikernel.aimax.config import AimaxConfig
from aiikernel.aimax.manager import AimaxManager

REPO = Path(__file__).resolve().parents[2]

requires_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def write_fake_bin(bin_dir: Path, name: str, flavor: str) -> Path:
    """An executable named like the real CLI that runs the fake agent."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m aiikernel.aimax.fake_agent --flavor {flavor} "$@"\n'
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def agent_env(tmp_path: Path) -> dict[str, str]:
    """The environment a caller would have: throwaway HOME/CODEX_HOME, fake agents on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    write_fake_bin(bin_dir, "claude", "claude")
    write_fake_bin(bin_dir, "codex", "codex")
    env = {
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(REPO),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "AIMAX_FAKE_SCRIPT": '{"startup_delay": 0.2, "think": 0.3}',
    }
    return env


@pytest.fixture
def config(agent_env: dict[str, str], tmp_path: Path) -> AimaxConfig:
    return AimaxConfig.from_env(
        agent_env,
        tmux_socket=f"aimax-test-{uuid.uuid4().hex[:10]}",
        claude_bin=str(tmp_path / "bin" / "claude"),
        codex_bin=str(tmp_path / "bin" / "codex"),
        ready_timeout=10.0,
        confirm_timeout=8.0,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest_asyncio.fixture
async def manager(config: AimaxConfig):
    mgr = AimaxManager(config)
    try:
        yield mgr
    finally:
        await mgr.close()
        await mgr.kill_server()


@pytest_asyncio.fixture
async def make_manager(config: AimaxConfig):
    """Build managers with config overrides; all are closed and their servers killed after."""
    import dataclasses

    made: list[AimaxManager] = []

    def make(**overrides) -> AimaxManager:
        mgr = AimaxManager(dataclasses.replace(config, **overrides))
        made.append(mgr)
        return mgr

    try:
        yield make
    finally:
        for mgr in made:
            await mgr.close()
            await mgr.kill_server()
