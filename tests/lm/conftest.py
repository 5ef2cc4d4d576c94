"""Fixtures for model/credential tests: a private HOME, and real kernels wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import LmKernel, start_lm_kernel

PROVIDER_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_BASE",
    "GEMINI_API_BASE",
    "AIIPYTHON_MODEL",
    "TABMINION_URL",
    "AIIPYTHON_MLFLOW",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $HOME (and no AIIPYTHON_HOME) with every provider variable cleared."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AIIPYTHON_HOME", raising=False)
    for var in PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def lm_kernel(model_server, tmp_path: Path, lm_backend) -> Iterator[LmKernel]:
    """A real aiipython kernel with a private HOME/IPYTHONDIR, its stdout/stderr in files
    (on the model backend a test chooses by parametrising ``lm_backend``)."""
    kernel = start_lm_kernel(tmp_path, model_server, **lm_backend)
    try:
        yield kernel
    finally:
        kernel.stop()
