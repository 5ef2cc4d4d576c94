"""The routes the Agents view adds: backends, permission answers, resume, the screen, and the
``/aimax/watch`` websocket — through a real Jupyter server driving the fake agent in tmux."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from .conftest import requires_tmux
from .helpers import body, call, create, read_frames, replies, wait_history, wait_state

pytestmark = [requires_tmux, pytest.mark.timeout(120)]


def _sessions(frames: list[dict]) -> dict[str, dict]:
    return {s["sessionId"]: s for s in frames[-1]["sessions"]} if frames else {}


@pytest.fixture
def extra_backend(tmp_path: Path, monkeypatch):
    """An installed distribution registering backend ``tmux-extra`` by entry point."""
    site = tmp_path / "site"
    dist = site / "extra_backend-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[aiikernel.aimax.backends]\ntmux-extra = aiikernel.aimax.claude_code:ClaudeCodeBackend\n"
    )
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    return "tmux-extra"


async def test_backends_lists_builtin_and_entry_point_backends(
    extra_backend, jp_fetch, jp_serverapp
):
    listed = body(await jp_fetch("aimax", "backends"))["backends"]
    by_name = {b["name"]: b for b in listed}
    assert by_name["tmux-claude-code"] == {
        "name": "tmux-claude-code",
        "label": "Claude Code",
        "allowed": True,
        "builtin": True,
    }
    assert by_name["tmux-codex"]["label"] == "Codex"
    assert by_name[extra_backend] == {
        "name": extra_backend,
        "label": extra_backend,
        "allowed": False,  # installed, but not in AimaxExtension.allowed_backends
        "builtin": False,
    }
    r = await create(jp_fetch, "x1", backend=extra_backend)
    assert r.code == 403 and "disabled" in body(r)["message"]
    r = await create(jp_fetch, "x2", backend="tmux-nonesuch")
    assert r.code == 422 and body(r)["field"] == "backend"


async def test_permission_is_answered_and_a_second_answer_is_409(jp_fetch, workdir, jp_serverapp):
    assert (await create(jp_fetch, "perm", "go [[permission]] [[reply:DONE]]")).code == 201
    asking = await wait_state(jp_fetch, "perm", ("waiting_permission",))
    assert asking["detail"]
    r = await call(
        jp_fetch, "POST", "aimax", "sessions", "perm", "permission", data={"approve": True}
    )
    assert r.code == 200, body(r)
    answered = body(r)
    assert answered["approved"] is True and "proceed" in answered["question"]
    await wait_history(jp_fetch, "perm", lambda e: replies(e) == ["DONE"])
    await wait_state(jp_fetch, "perm")
    r = await call(
        jp_fetch, "POST", "aimax", "sessions", "perm", "permission", data={"approve": False}
    )
    assert r.code == 409 and "not asking" in body(r)["message"]
    r = await call(jp_fetch, "POST", "aimax", "sessions", "perm", "permission", data={"yes": 1})
    assert r.code == 422 and body(r)["field"] in ("approve", "yes")


async def test_a_stopped_session_resumes_on_its_conversation(jp_fetch, workdir, jp_serverapp):
    assert (await create(jp_fetch, "res", "first [[reply:ONE]]")).code == 201
    await wait_history(jp_fetch, "res", lambda e: replies(e) == ["ONE"])
    before = body(await jp_fetch("aimax", "sessions", "res"))
    assert (await call(jp_fetch, "DELETE", "aimax", "sessions", "res")).code == 204
    r = await call(jp_fetch, "POST", "aimax", "sessions", "res", "resume")
    assert r.code == 200, body(r)
    resumed = body(r)
    assert resumed["status"] == "running" and resumed["alive"] is True
    assert resumed["agentSessionId"] == before["agentSessionId"]
    r = await call(
        jp_fetch, "POST", "aimax", "sessions", "res", "messages", data={"prompt": "[[reply:TWO]]"}
    )
    assert r.code == 202, body(r)
    await wait_history(jp_fetch, "res", lambda e: replies(e) == ["ONE", "TWO"])
    r = await call(jp_fetch, "POST", "aimax", "sessions", "res", "resume")
    assert r.code == 409 and "still running" in body(r)["message"]


async def test_screen_is_text_and_waits_for_a_change(jp_fetch, workdir, jp_serverapp):
    assert (await create(jp_fetch, "scr")).code == 201
    first = body(await jp_fetch("aimax", "sessions", "scr", "screen"))
    assert first["alive"] is True and "Fake Claude Code" in first["text"]
    assert "\x1b" not in first["text"]
    waiting = asyncio.ensure_future(
        jp_fetch(
            "aimax",
            "sessions",
            "scr",
            "screen",
            params={"after": str(first["activity"]), "wait": "20"},
            request_timeout=60,
        )
    )
    await asyncio.sleep(0)
    r = await call(
        jp_fetch,
        "POST",
        "aimax",
        "sessions",
        "scr",
        "messages",
        data={"prompt": "hello [[reply:SEEN-ON-SCREEN]]"},
    )
    assert r.code == 202
    await wait_state(jp_fetch, "scr")
    changed = body(await waiting)
    assert changed["activity"] != first["activity"] or changed["text"] != first["text"]
    r = await call(jp_fetch, "GET", "aimax", "sessions", "scr", "screen", params={"wait": "99"})
    assert r.code == 422 and body(r)["field"] == "wait"
    assert (await call(jp_fetch, "DELETE", "aimax", "sessions", "scr")).code == 204
    gone = body(await jp_fetch("aimax", "sessions", "scr", "screen"))
    assert gone == {"sessionId": "scr", "text": "", "activity": 0, "alive": False}


async def test_watch_sends_the_list_on_every_change_with_usage(
    jp_fetch, jp_ws_fetch, workdir, jp_serverapp
):
    ws = await jp_ws_fetch("aimax", "watch")
    frames = await read_frames(ws, lambda f: len(f) >= 1)
    assert frames[0] == {"type": "sessions", "sessions": []}
    assert (await create(jp_fetch, "w1", "hi [[think:1]] [[reply:WATCHED]]")).code == 201

    def w1(frames: list[dict]) -> dict:
        return _sessions(frames).get("w1", {})

    frames = await read_frames(ws, lambda f: w1(f).get("state") == "working")
    frames = await read_frames(ws, lambda f: w1(f).get("state") == "idle")
    final = w1(frames)
    assert final["outputTokens"] and final["inputTokens"] == 100
    assert final["lastActivity"] >= final["createdAt"]
    assert (await call(jp_fetch, "DELETE", "aimax", "sessions", "w1")).code == 204
    await read_frames(ws, lambda f: w1(f).get("status") == "stopped")
    ws.close()
    service = jp_serverapp.web_app.settings["aimax_service"]
    for _ in range(100):  # the watch task ends once nobody watches
        if service.watch._task is None or service.watch._task.done():
            break
        await asyncio.sleep(0.05)
    assert service.watch._task.done()
