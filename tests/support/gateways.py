"""Model gateways in tests: which backend a kernel uses, and never a gateway left behind.

``lm_backend`` (a fixture, parametrised indirectly with ``"litellm"`` or ``"gateway"``) is
the environment a kernel needs for that backend. ``"gateway"`` gives the test a gateway
directory of its own (short, under /tmp: a socket path has a length limit), so gateways of
different tests never mix, and stops the gateway it started by pid at teardown. Without a
parameter it adds nothing (the default backend), and any gateway started lands under the
session's ``AIIPYTHON_RUNTIME_DIR``, stopped by :func:`stop_all_gateways` at the end.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiikernel.gateway.lifecycle import read_state, stop_gateway
from aiikernel.gateway.paths import GatewayPaths


def private_gateway_dir() -> Path:
    """A fresh short directory (0700) to hold one gateway directory."""
    return Path(tempfile.mkdtemp(prefix="aiigw-", dir="/tmp"))


def stop_gateway_in(directory: Path) -> int | None:
    """Stop the gateway whose directory is ``directory`` (by the pid it recorded)."""
    if not directory.is_dir():
        return None
    return stop_gateway(GatewayPaths(directory, directory), wait=10.0)


def stop_all_gateways(root: Path) -> list[int]:
    """Stop every gateway with a directory under ``root`` (one level down)."""
    stopped = []
    if not root.is_dir():
        return stopped
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        if (
            read_state(GatewayPaths(directory, directory)) is not None
            or (directory / "gateway.sock").exists()
        ):
            pid = stop_gateway_in(directory)
            if pid:
                stopped.append(pid)
    return stopped


@contextlib.contextmanager
def gateway_backend_env() -> Iterator[dict[str, str]]:
    """Kernel environment for the gateway backend with a private gateway; stopped after."""
    root = private_gateway_dir()
    directory = root / "gw"
    try:
        yield {"AIIPYTHON_LM_BACKEND": "gateway", "AIIPYTHON_GATEWAY_DIR": str(directory)}
    finally:
        stop_gateway_in(directory)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lm_backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Extra kernel environment selecting a model backend (see the module docstring)."""
    backend = getattr(request, "param", None)
    if backend is None:
        yield {}
    elif backend == "gateway":
        with gateway_backend_env() as env:
            yield env
    else:
        yield {"AIIPYTHON_LM_BACKEND": backend}


#: ``pytestmark = BOTH_BACKENDS`` runs every test of a module against litellm and the gateway.
BOTH_BACKENDS = pytest.mark.parametrize("lm_backend", ["litellm", "gateway"], indirect=True)


def runtime_root_for_session() -> str:
    """A short per-session AIIPYTHON_RUNTIME_DIR (gateways of the default backend go there)."""
    return tempfile.mkdtemp(prefix="aiirt-", dir="/tmp")


__all__ = [
    "BOTH_BACKENDS",
    "gateway_backend_env",
    "lm_backend",
    "private_gateway_dir",
    "runtime_root_for_session",
    "stop_all_gateways",
    "stop_gateway_in",
]
