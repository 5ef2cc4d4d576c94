"""Fixtures for real-CLI tests: the pinned binaries and a private tmux server per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.aimax_e2e.private_tmux import PrivateTmux
from tests.support.agents_env import AgentBinaries, find_agent_binaries

INSTALL_HINT = "run tests/support/install_agents.sh"


@pytest.fixture(scope="session")
def agent_binaries() -> AgentBinaries:
    return find_agent_binaries()


@pytest.fixture
def claude_bin(agent_binaries: AgentBinaries) -> str:
    if agent_binaries.claude is None:
        pytest.skip(f"Claude Code is not installed ({INSTALL_HINT})")
    return str(agent_binaries.claude)


@pytest.fixture
def codex_bin(agent_binaries: AgentBinaries) -> str:
    if agent_binaries.codex is None:
        pytest.skip(f"Codex is not installed ({INSTALL_HINT})")
    return str(agent_binaries.codex)


@pytest.fixture
def private_tmux() -> Iterator[PrivateTmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    server = PrivateTmux()
    try:
        yield server
    finally:
        server.kill()
