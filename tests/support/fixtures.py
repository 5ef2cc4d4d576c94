"""Shared pytest fixtures, loaded by ``tests/conftest.py`` via ``pytest_plugins``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.model_server import ScriptedModelServer


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    """A running `ScriptedModelServer` on an ephemeral 127.0.0.1 port, stopped after the test.

    A responder that raised fails the test at teardown (the client only saw a 500)."""
    with ScriptedModelServer() as server:
        yield server
    if server.responder_errors:
        errors = ", ".join(repr(error) for error in server.responder_errors)
        pytest.fail(f"the model_server responder raised: {errors}")
