"""kill -9 the Jupyter server in the middle of a stream, start it again, resume from the last
sentinel: every event arrives exactly once and in order (0 duplicates, 0 gaps), over at least
``AIIK_RESTART_EVENTS`` (default 1200) events. The agent keeps producing output while the
server is dead; the restarted server reconciles with tmux and catches up from the transcript.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import websocket  # websocket-client

from .agent_output import TranscriptWriter, parse_mark
from .conftest import requires_tmux
from .server_process import ServerProcess

pytestmark = [requires_tmux, pytest.mark.timeout(300)]

EVENTS = int(os.environ.get("AIIK_RESTART_EVENTS", "1200"))


def _connect(server: ServerProcess, session_id: str, sentinel: int) -> websocket.WebSocket:
    url = f"ws://127.0.0.1:{server.port}/aimax/sessions/{session_id}/stream?from={sentinel}"
    return websocket.create_connection(
        url, header=[f"Authorization: token {server.token}"], timeout=20
    )


def _read(ws, frames: list[dict], until, deadline: float) -> None:
    while not until() and time.monotonic() < deadline:
        frames.append(json.loads(ws.recv()))


def test_kill_9_mid_stream_then_resume_from_sentinel(tmp_path):
    server = ServerProcess(tmp_path / "srv")
    try:
        server.start()
        (server.root / "w").mkdir()
        created = server.request(
            "POST",
            "/aimax/sessions",
            {"backend": "tmux-claude-code", "cwd": "w", "sessionId": "rs"},
        )
        writer = TranscriptWriter(
            str(server.local_path(created["jsonlPath"])),
            str(server.root / "w"),
            created["agentSessionId"],
        )
        thread = writer.run_in_thread(EVENTS, interval=0.004)

        frames: list[dict] = []
        marks = lambda: [parse_mark(f["event"]["text"]) for f in frames if f["type"] == "event"]  # noqa: E731
        ws = _connect(server, "rs", 0)
        _read(
            ws, frames, lambda: len([m for m in marks() if m]) >= EVENTS // 4, time.monotonic() + 60
        )
        server.kill()  # SIGKILL by pid, mid-stream
        written_at_kill = writer.written
        with pytest.raises((websocket.WebSocketException, OSError)):
            for _ in range(EVENTS * 2):  # drain what was in flight; the socket then fails
                frames.append(json.loads(ws.recv()))
        ws.close()
        killed_at = len([m for m in marks() if m])
        assert killed_at < EVENTS, "the writer finished before the kill; raise AIIK_RESTART_EVENTS"

        time.sleep(0.5)  # the agent keeps writing while no server watches
        server.start()
        written_while_down = writer.written - written_at_kill
        listed = server.request("GET", "/aimax/sessions")["sessions"]
        assert [(s["sessionId"], s["status"], s["alive"]) for s in listed] == [
            ("rs", "running", True)
        ]
        last = max(f["sentinel"] for f in frames if f["type"] == "event")
        ws = _connect(server, "rs", last)
        thread.join(timeout=120)
        _read(ws, frames, lambda: len([m for m in marks() if m]) >= EVENTS, time.monotonic() + 120)
        ws.close()
    finally:
        server.close()

    sentinels = [f["sentinel"] for f in frames if f["type"] == "event"]
    assert sentinels == list(range(sentinels[0], sentinels[0] + len(sentinels))), "gap or repeat"
    assert sentinels[0] == 1
    indices = [m[0] for m in marks() if m]
    assert indices == list(range(EVENTS)), "an agent event was lost or repeated"
    assert 0 < killed_at < EVENTS
    assert written_while_down > 0, "no event was produced while the server was down"
