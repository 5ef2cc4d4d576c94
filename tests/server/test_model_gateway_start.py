"""The server extension starts the user's model gateway in the background at server start
(a real ``jupyter server``), and not when told not to."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiikernel.gateway.lifecycle import probe, read_state
from aiikernel.gateway.paths import GatewayPaths
from tests.gateway.helpers import wait_for
from tests.support.gateways import private_gateway_dir, stop_gateway_in

from .server_process import ServerProcess


@contextmanager
def gateway_directory() -> Iterator[Path]:
    root = private_gateway_dir()
    try:
        yield root / "gw"
    finally:
        stop_gateway_in(root / "gw")
        shutil.rmtree(root, ignore_errors=True)


def answering(directory: Path):
    paths = GatewayPaths(directory, directory)
    return probe(paths) if read_state(paths) else None


def test_server_start_starts_the_model_gateway_in_the_background(tmp_path):
    home = tmp_path / "home"
    with gateway_directory() as directory:
        env = {"AIIPYTHON_GATEWAY_DIR": str(directory), "AIIPYTHON_HOME": str(home)}
        with ServerProcess(tmp_path / "srv", env=env) as server:
            hello = wait_for(lambda: answering(directory), 120, "the gateway to answer")
            assert hello.home == str(home)
            wait_for(lambda: "model gateway ready" in server.log_tail(20000), 60, "the log line")
        # it outlives the server (the next server's kernels use it) until it idles out
        assert answering(directory) is not None
        assert os.stat(directory / "gateway.sock").st_mode & 0o777 == 0o600


def test_no_gateway_when_switched_off_or_when_models_run_in_kernels(tmp_path):
    cases = [({"start_model_gateway": False}, {}), ({}, {"AIIPYTHON_LM_BACKEND": "litellm"})]
    for number, (traits, extra) in enumerate(cases):
        with gateway_directory() as directory:
            env = {"AIIPYTHON_GATEWAY_DIR": str(directory), **extra}
            with ServerProcess(tmp_path / f"srv{number}", traits=traits, env=env) as server:
                wait_for(
                    lambda server=server: "not started with the server" in server.log_tail(20000),
                    60,
                    "the extension to decide",
                )
                assert not (directory / "gateway.sock").exists()
