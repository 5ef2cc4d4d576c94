"""A real ``jupyter server`` with the extension moves its start-up objects out of the garbage
collector's sight once started (full collections then skip them), unless told not to."""

from __future__ import annotations

import re

from tests.gateway.helpers import wait_for

from .server_process import ServerProcess

FROZE = re.compile(r"aimax: (\d+) start-up objects moved out of the garbage collector's sight")


def test_start_up_objects_are_frozen_once_the_server_has_started(tmp_path):
    with ServerProcess(tmp_path / "srv") as server:
        found = wait_for(lambda: FROZE.search(server.log_tail(50000)), 60, "the freeze")
        assert int(found.group(1)) > 50_000  # the server's heap, not a handful


def test_no_freeze_when_switched_off(tmp_path):
    traits = {"freeze_startup_objects": False}
    with ServerProcess(tmp_path / "srv", traits=traits) as server:
        left = "start-up objects left in the garbage collector's sight"
        wait_for(lambda: left in server.log_tail(50000), 60, "the extension's start")
        assert not FROZE.search(server.log_tail(50000))
