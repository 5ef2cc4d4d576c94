"""Two clients creating, prompting and stopping sessions at once against a real server
subprocess: every request succeeds and no agent is ended by somebody else's stop or by the
monitor (the hub's window set empties and refills while creates are in flight)."""

from __future__ import annotations

import json
import os
import threading
import urllib.error

import pytest

from .conftest import requires_tmux
from .server_process import ServerProcess

pytestmark = [requires_tmux, pytest.mark.timeout(300)]
ROUNDS = int(os.environ.get("AIIK_CONCURRENCY_ROUNDS", "6"))


def test_parallel_create_send_stop(tmp_path):
    problems: list = []
    done = [0]
    with ServerProcess(tmp_path / "srv", traits={"max_sessions": 3}) as server:
        (server.root / "w").mkdir()

        def client(k: int) -> None:
            for i in range(ROUNDS):
                step = "create"
                try:
                    sid = server.request(
                        "POST", "/aimax/sessions", {"backend": "tmux-codex", "cwd": "w"}, timeout=60
                    )["sessionId"]
                    step = "send"
                    server.request(
                        "POST", f"/aimax/sessions/{sid}/messages", {"prompt": f"{k}.{i}"}
                    )
                    step = "stop"
                    server.request("DELETE", f"/aimax/sessions/{sid}")
                    done[0] += 1
                except urllib.error.HTTPError as exc:
                    problems.append((step, exc.code, json.loads(exc.read())["message"][:200]))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
    assert problems == []
    assert done[0] == 2 * ROUNDS
