"""The server's policy layer without HTTP: AimaxService, path resolution, the status cache and
the websocket's StreamConnection, on a real AimaxManager (fake agent, private tmux)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from aiikernel.aimax.config import AimaxConfig
from aiikernel.aimax.manager import AimaxManager
from aiikernel.aimax.transcripts.events import ParsedEvent
from aiikernel.server.errors import InvalidField, PathOutsideRoot, status_for
from aiikernel.server.models import CreateSessionRequest, EventModel, event_payload
from aiikernel.server.paths import api_path, resolve_inside
from aiikernel.server.service import AimaxService, ServerPolicy
from aiikernel.server.status_cache import StatusCache
from aiikernel.server.stream import StreamConnection

from .conftest import FAKE_SCRIPT, requires_tmux

pytestmark = [pytest.mark.timeout(60)]


def test_resolve_inside_follows_symlinks_and_stays_in_root(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (root / "link-out").symlink_to(tmp_path / "out")
    (root / "link-in").symlink_to(root / "a")
    (root / "file").write_text("x")
    assert resolve_inside(root, None, "cwd") == root.resolve()
    assert resolve_inside(root, "a/b", "cwd") == (root / "a" / "b").resolve()
    assert resolve_inside(root, str(root / "a"), "cwd") == (root / "a").resolve()
    assert resolve_inside(root, "link-in/b", "cwd") == (root / "a" / "b").resolve()
    for bad in ("..", "link-out", "a/../../out", str(tmp_path), "/etc"):
        with pytest.raises(PathOutsideRoot) as err:
            resolve_inside(root, bad, "cwd")
        assert err.value.field == "cwd"
    for bad, text in (("missing", "does not exist"), ("file", "not a directory")):
        with pytest.raises(InvalidField, match=text):
            resolve_inside(root, bad, "flagRoot")
    with pytest.raises(InvalidField, match="cannot be used"):
        resolve_inside(root, "x" * 300, "cwd")
    assert api_path(root, root.resolve() / "a") == "a"
    assert api_path(root, "/elsewhere") == "/elsewhere"


def test_every_domain_error_has_a_client_status():
    from aiikernel.aimax import errors as e

    assert status_for(e.SessionNotFound("x")) == 404
    assert status_for(e.PreflightError("x")) == 503
    assert status_for(e.SessionExists("x")) == 409
    assert status_for(InvalidField("f", "m")) == 422
    assert status_for(PathOutsideRoot("f", "m")) == 403
    assert status_for(ValueError("bug")) is None  # unexpected: 500, logged with its traceback


def test_event_payload_matches_the_documented_model():
    event = ParsedEvent(kind="tool_call", raw={"a": 1}, text="ls", tool_name="Bash").to_event(
        7, "s1"
    )
    payload = event_payload(event)
    assert EventModel.model_validate(payload).wire() == payload
    assert payload["toolName"] == "Bash" and payload["sessionId"] == "s1"


def test_create_request_forbids_argv_and_odd_values():
    from pydantic import ValidationError

    for bad in (
        {"backend": "tmux-codex", "argv": ["sh"]},
        {"backend": "tmux-codex", "env": {"A": "1"}},
        {"backend": "tmux-codex", "model": "-c evil"},
        {"backend": "tmux-codex", "displayName": "a\x1b[2J"},
        {"backend": "tmux-codex", "sessionId": "a/b"},
        {"backend": "/bin/sh"},
        {"backend": "tmux-codex", "initialPrompt": "x\x1b[201~\rrm -rf ~\r"},
        {"backend": "tmux-codex", "initialPrompt": " \n "},
    ):
        with pytest.raises(ValidationError):
            CreateSessionRequest.model_validate(bad)


def test_prompts_keep_line_breaks_but_not_terminal_controls():
    from pydantic import ValidationError

    from aiikernel.server.models import SendMessageRequest

    assert SendMessageRequest(prompt="a\r\nb\tc ✓").prompt == "a\r\nb\tc ✓"
    for bad in ("\x1b[2J", "a\x03", "\x00", "x\x9b1m", "\x7f"):
        with pytest.raises(ValidationError, match="control characters"):
            SendMessageRequest(prompt=bad)


async def test_status_cache_shares_one_computation():
    cache: StatusCache[int] = StatusCache(ttl=10)
    calls = 0

    async def compute():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    assert await asyncio.gather(*(cache.get("k", compute) for _ in range(50))) == [1] * 50
    assert await cache.get("k", compute) == 1 and calls == 1
    cache.forget("k")
    assert await cache.get("k", compute) == 2

    async def broken():
        raise RuntimeError("tmux went away")

    results = await asyncio.gather(
        *(cache.get("b", broken) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)


# -- service and stream on a real manager ------------------------------------------------


@pytest.fixture
def service(tmp_path, tmux_socket, fake_bins, jp_asyncio_loop):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "AIMAX_FAKE_SCRIPT": FAKE_SCRIPT,
        "TERM": "xterm-256color",
    }
    config = AimaxConfig.from_env(
        env,
        tmux_socket=tmux_socket,
        data_dir=tmp_path / "data",
        ready_timeout=10.0,
        **fake_bins,
    )
    root = tmp_path / "root"
    (root / "w").mkdir(parents=True)
    policy = ServerPolicy(root_dir=root, allowed_backends=("tmux-claude-code",), max_sessions=2)
    svc = AimaxService(AimaxManager(config), policy)
    old = dict(os.environ)
    os.environ.update(env)  # the agents inherit the server's environment
    yield svc
    os.environ.clear()
    os.environ.update(old)
    jp_asyncio_loop.run_until_complete(svc.shutdown(stop_agents=True))


def _append(service: AimaxService, session_id: str, count: int) -> None:
    log = service.manager.runtime(session_id).log
    log.append_events([ParsedEvent(kind="assistant", raw={}, text=f"e{i}") for i in range(count)])


@requires_tmux
async def test_stream_connection_pages_history_then_goes_live(service):
    await service.ready()
    await service.create_session(
        CreateSessionRequest(backend="tmux-claude-code", cwd="w", session_id="p")
    )
    _append(service, "p", 1234)
    sent: list[dict] = []
    closed: list = []

    async def send(text: str) -> None:
        sent.append(json.loads(text))

    conn = StreamConnection(service, "p", 0, send, lambda c, r: closed.append(c), page_size=100)
    conn.start()
    for _ in range(100):
        if any(f["type"] == "caughtUp" for f in sent):
            break
        await asyncio.sleep(0.05)
    _append(service, "p", 10)
    await asyncio.sleep(0.2)
    seqs = [f["sentinel"] for f in sent if f["type"] == "event"]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 1244
    log = service.manager.runtime("p").log
    assert log.listener_count >= 1
    await conn.aclose()
    assert log.listener_count == 0 and not closed


@requires_tmux
async def test_slow_client_is_told_its_sentinel_and_closed(service):
    await service.ready()
    await service.create_session(
        CreateSessionRequest(backend="tmux-claude-code", cwd="w", session_id="slow")
    )
    gate = asyncio.Event()
    sent: list[dict] = []
    closed: list = []

    async def send(text: str) -> None:
        frame = json.loads(text)
        sent.append(frame)
        if frame["type"] == "event":
            await gate.wait()  # a client that stops reading

    conn = StreamConnection(
        service, "slow", None, send, lambda c, r: closed.append(c), queue_limit=50
    )
    conn.start()
    await asyncio.sleep(0.1)
    _append(service, "slow", 200)
    await asyncio.sleep(0.1)
    gate.set()
    for _ in range(100):
        if closed:
            break
        await asyncio.sleep(0.02)
    assert closed == [1013]
    assert sent[-1]["type"] == "closing"
    events = [f["sentinel"] for f in sent if f["type"] == "event"]
    assert sent[-1]["sentinel"] == events[-1]
    assert events == list(range(events[0], events[0] + len(events)))
    assert service.manager.runtime("slow").log.listener_count == 0
    await conn.aclose()


@requires_tmux
async def test_service_limits_and_reconcile_after_restart(service, tmp_path):
    from aiikernel.server.errors import BackendDisabled, SessionLimitReached

    await service.ready()
    with pytest.raises(BackendDisabled):
        await service.create_session(CreateSessionRequest(backend="tmux-codex"))
    for sid in ("r1", "r2"):
        await service.create_session(
            CreateSessionRequest(backend="tmux-claude-code", cwd="w", session_id=sid)
        )
    with pytest.raises(SessionLimitReached):
        await service.create_session(CreateSessionRequest(backend="tmux-claude-code", cwd="w"))
    await service.shutdown(stop_agents=False)  # the server goes away; agents keep running

    again = AimaxService(AimaxManager(service.manager.config), service.policy)
    try:
        assert await again.ready() == {"r1": "live", "r2": "live"}
        listed = await again.list_sessions()
        assert [(s.session_id, s.alive) for s in listed] == [("r1", True), ("r2", True)]
    finally:
        await again.shutdown(stop_agents=False)
