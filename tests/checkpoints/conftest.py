"""Fixtures for the checkpoint tests: a notebook-like namespace and a private store."""

from __future__ import annotations

import sys
import types
import uuid

import pytest

from aiikernel.checkpoints import CheckpointStore


@pytest.fixture
def nb():
    """A namespace that behaves like IPython's user_ns: the __dict__ of a registered module.

    Code run in it with ``exec`` defines functions and classes whose ``__module__``
    is the namespace's own ``__name__``, exactly like cells in a kernel.
    """
    name = f"nb_{uuid.uuid4().hex[:10]}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    yield module.__dict__
    sys.modules.pop(name, None)


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / ".aiipython_checkpoints"


@pytest.fixture
def store(store_dir):
    """A store with small chunks, so even test-sized arrays span several chunks."""
    return CheckpointStore(directory=str(store_dir), chunk_size=64 * 1024, session_name="test")


def run(ns: dict, code: str) -> None:
    """Run ``code`` in the notebook namespace (what a cell does)."""
    exec(compile(code, "<cell>", "exec"), ns)
