"""Fixtures for gateway tests: a private gateway directory and home, every gateway stopped."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiikernel.gateway.paths import GatewayPaths
from tests.support.gateways import private_gateway_dir, stop_gateway_in

from .helpers import gateway_pids


@pytest.fixture
def gw_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayPaths]:
    """Where this test's gateway lives (a short /tmp directory) and the home it serves.

    Also the environment of this process (clients started here find the same gateway);
    at teardown every gateway process that used the directory is stopped by pid."""
    root = private_gateway_dir()
    paths = GatewayPaths(root / "gw", tmp_path / "home")
    paths.home.mkdir()
    monkeypatch.setenv("AIIPYTHON_GATEWAY_DIR", str(paths.directory))
    monkeypatch.setenv("AIIPYTHON_HOME", str(paths.home))
    monkeypatch.setenv("AIIPYTHON_MAX_RETRIES", "0")
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield paths
    finally:
        stop_gateway_in(paths.directory)
        for pid in gateway_pids(paths.directory):  # any other left (a test's fake, a loser)
            import os
            import signal

            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(root, ignore_errors=True)
