"""The real Claude Code and Codex CLIs through the REST API and the websocket, offline.

A real ``jupyter server`` subprocess runs aimax; its environment is the throwaway home prepared
by ``tests/support/agents_env.py`` (the agents inherit the server's environment), pointed at a
scripted model server on 127.0.0.1. Skipped when ``tests/support/install_agents.sh`` has not
installed the pinned CLIs.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error

import pytest

from .conftest import requires_tmux
from .server_process import ServerProcess

support = pytest.importorskip("tests.support.agents_env")
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

BINS = support.find_agent_binaries()
pytestmark = [requires_tmux, pytest.mark.real_agent, pytest.mark.timeout(300)]


def respond(request):
    """Reply with the ``[[reply:TEXT]]`` directive found in the request (newest wins)."""
    said = re.findall(r"\[\[reply:([^\]]*)\]\]", json.dumps(request.body_json))
    return Reply(said[-1] if said else "(no directive)")


def _replies(server: ServerProcess, sid: str) -> list[str]:
    entries = server.request("GET", f"/aimax/sessions/{sid}/history")["entries"]
    return [e["text"] for e in entries if e["kind"] == "assistant" and e["text"]]


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("backend", ["tmux-claude-code", "tmux-codex"])
def test_real_agent_over_rest_and_websocket(backend, tmp_path):
    import websocket

    binary = BINS.claude if backend == "tmux-claude-code" else BINS.codex
    if binary is None:
        pytest.skip(f"{backend}: CLI not installed (run tests/support/install_agents.sh)")
    with ScriptedModelServer() as model:
        model.responder = respond
        base = tmp_path / "srv"
        cwd = base / "root" / "project"
        if backend == "tmux-claude-code":
            prepared = support.claude_code_env(model, tmp_path / "home", cwd)
        else:
            prepared = support.codex_env(model, tmp_path / "codex-home", cwd)
        env = {k: v for k, v in prepared.env.items() if not k.startswith("JUPYTER")}
        server = ServerProcess(
            base,
            env=env,
            aimax_config={
                "claude_bin": str(BINS.claude),
                "codex_bin": str(BINS.codex),
                "ready_timeout": 40.0,
                "confirm_timeout": 15.0,
            },
        )
        try:
            server.start()
            created = server.request(
                "POST",
                "/aimax/sessions",
                {
                    "backend": backend,
                    "cwd": "project",
                    "sessionId": "real",
                    "initialPrompt": "Say hello [[reply:REAL-ONE]]",
                },
                timeout=90,
            )
            assert created["sessionId"] == "real" and created["alive"]
            _wait(lambda: "REAL-ONE" in _replies(server, "real"), 60, "first reply")
            _wait(
                lambda: server.request("GET", "/aimax/sessions/real")["state"] == "idle",
                30,
                "idle",
            )
            sent = server.request(
                "POST",
                "/aimax/sessions/real/messages",
                {"prompt": "And again [[reply:REAL-TWO]]"},
                timeout=60,
            )
            assert sent["mode"] == "queue"
            _wait(lambda: "REAL-TWO" in _replies(server, "real"), 60, "second reply")

            ws = websocket.create_connection(
                f"ws://127.0.0.1:{server.port}/aimax/sessions/real/stream?from=0",
                header=[f"Authorization: token {server.token}"],
                timeout=20,
            )
            frames = []
            while not frames or frames[-1]["type"] != "caughtUp":
                frames.append(json.loads(ws.recv()))
            ws.close()
            texts = [f["event"]["text"] for f in frames if f["type"] == "event"]
            assert "REAL-ONE" in texts and "REAL-TWO" in texts
            seqs = [f["sentinel"] for f in frames if f["type"] == "event"]
            assert seqs == list(range(1, len(seqs) + 1))

            try:
                server.request("DELETE", "/aimax/sessions/real", timeout=30)
            except urllib.error.HTTPError as exc:  # pragma: no cover - show the JSON error
                raise AssertionError(exc.read()) from None
            assert server.request("GET", "/aimax/sessions/real")["status"] == "stopped"
        except BaseException:
            print(server.log_tail(6000))
            raise
        finally:
            server.close()
