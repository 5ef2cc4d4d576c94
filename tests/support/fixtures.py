"""Shared pytest fixtures, loaded by ``tests/conftest.py`` via ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.model_server import ScriptedModelServer


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    """A running `ScriptedModelServer` on an ephemeral 127.0.0.1 port, stopped after the test."""
    with ScriptedModelServer() as server:
        yield server
