"""Test-wide setup: a private JUPYTER_PATH with an `aiipython` kernelspec for this checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

pytest_plugins = ["tests.support.fixtures", "tests.support.gateways"]

_SPEC_ROOT = Path(tempfile.mkdtemp(prefix="aiik-kernelspec-"))


def pytest_configure(config):  # noqa: ARG001 - pytest hook signature
    from tests.support.kernels import write_private_kernelspecs

    data_dir = write_private_kernelspecs(_SPEC_ROOT)
    existing = os.environ.get("JUPYTER_PATH", "")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(data_dir), existing) if p)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ["AIIPYTHON_HOME"] = str(_SPEC_ROOT / "aiipython-home")  # never the real ~/.aiipython
    from tests.support.gateways import runtime_root_for_session

    # model gateways of this session live here (never the user's), stopped at the end
    os.environ["AIIPYTHON_RUNTIME_DIR"] = runtime_root_for_session()
    os.environ.setdefault("AIIPYTHON_GATEWAY_IDLE_TIMEOUT", "60")  # finished tests' gateways leave


def pytest_unconfigure(config):  # noqa: ARG001
    import shutil

    from tests.support.gateways import stop_all_gateways

    runtime = os.environ.get("AIIPYTHON_RUNTIME_DIR", "")
    if runtime.startswith("/tmp/aiirt-"):
        stop_all_gateways(Path(runtime))
        shutil.rmtree(runtime, ignore_errors=True)

    shutil.rmtree(_SPEC_ROOT, ignore_errors=True)


import pytest  # noqa: E402


@pytest.fixture
def ai_kernel(model_server, tmp_path, lm_backend):
    """A real `aiipython` kernel process wired to the scripted model server; yields (km, kc).

    ``lm_backend`` chooses its model backend when a test parametrises it (indirectly)."""
    from tests.support.kernels import model_env, running_kernel

    env = model_env(model_server, **lm_backend)
    with running_kernel("aiipython", env=env, cwd=tmp_path) as pair:
        yield pair
