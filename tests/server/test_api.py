"""The /aimax REST routes and the websocket, through a real Jupyter server (pytest-jupyter),
driving the fake agent TUI in a private tmux server."""

from __future__ import annotations

import json
import logging
import os

import pytest

from .conftest import requires_tmux
from .helpers import (
    body,
    call,
    create,
    history,
    read_frames,
    replies,
    wait_history,
    wait_state,
)

pytestmark = [requires_tmux, pytest.mark.timeout(120)]


async def test_lifecycle_create_list_send_history_stop(jp_fetch, workdir, jp_serverapp):
    r = await create(jp_fetch, "life", "first [[reply:ONE]]", displayName="Life")
    assert r.code == 201, body(r)
    created = body(r)
    assert created["sessionId"] == "life" and created["backend"] == "tmux-claude-code"
    assert created["cwd"] == "work" and created["displayName"] == "Life"
    assert created["status"] == "running" and created["alive"] is True
    assert r.headers["Location"].endswith("/aimax/sessions/life")

    listed = body(await jp_fetch("aimax", "sessions"))["sessions"]
    assert [s["sessionId"] for s in listed] == ["life"]
    assert listed[0]["state"] in ("working", "idle")

    await wait_state(jp_fetch, "life")
    hist = await wait_history(jp_fetch, "life", lambda e: replies(e) == ["ONE"])
    assert [e["seq"] for e in hist["entries"]] == list(range(1, hist["total"] + 1))
    assert hist["entries"][0]["kind"] == "user" and "sessionId" in hist["entries"][0]

    r = await call(
        jp_fetch,
        "POST",
        "aimax",
        "sessions",
        "life",
        "messages",
        data={"prompt": "second [[reply:TWO]]"},
    )
    assert r.code == 202, body(r)
    sent = body(r)
    assert sent == {"sessionId": "life", "mode": "queue", "sentinel": hist["sentinel"]}
    await wait_history(jp_fetch, "life", lambda e: replies(e) == ["ONE", "TWO"])

    # Interrupt-and-send cuts a long turn.
    await call(
        jp_fetch,
        "POST",
        "aimax",
        "sessions",
        "life",
        "messages",
        data={"prompt": "slow [[think:30]] [[reply:NEVER]]"},
    )
    r = await call(
        jp_fetch,
        "POST",
        "aimax",
        "sessions",
        "life",
        "messages",
        data={"prompt": "instead [[reply:THREE]]", "mode": "interrupt"},
    )
    assert r.code == 202 and body(r)["mode"] == "interrupt"
    final = await wait_history(jp_fetch, "life", lambda e: "THREE" in replies(e))
    assert "NEVER" not in replies(final["entries"])

    # Paging: after/limit continue with no gap and no duplicate.
    seen, after = [], 0
    while True:
        page = await history(jp_fetch, "life", after=after, limit=3)
        seen += [e["seq"] for e in page["entries"]]
        after = page["sentinel"]
        if not page["truncated"]:
            break
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= final["total"]

    r = await call(jp_fetch, "DELETE", "aimax", "sessions", "life")
    assert r.code == 204 and r.body == b""
    stopped = body(await jp_fetch("aimax", "sessions", "life"))
    assert stopped["status"] == "stopped" and stopped["state"] == "exited"
    assert not stopped["alive"]
    assert (await call(jp_fetch, "DELETE", "aimax", "sessions", "life")).code == 204
    r = await call(
        jp_fetch, "POST", "aimax", "sessions", "life", "messages", data={"prompt": "hello?"}
    )
    assert r.code == 409 and "not running" in body(r)["message"]
    # History of a stopped session is still there.
    assert (await history(jp_fetch, "life"))["total"] >= final["total"]


async def test_stream_sends_history_then_live_and_resumes_at_sentinel(
    jp_fetch, jp_ws_fetch, workdir, jp_serverapp
):
    assert (await create(jp_fetch, "st", "one [[reply:A]]")).code == 201
    await wait_state(jp_fetch, "st")
    hist = await wait_history(jp_fetch, "st", lambda e: replies(e) == ["A"])
    last = hist["sentinel"]

    ws = await jp_ws_fetch("aimax", "sessions", "st", "stream", params={"from": "0"})
    frames = await read_frames(ws, lambda f: any(x["type"] == "caughtUp" for x in f))
    events = [f for f in frames if f["type"] == "event"]
    assert [f["sentinel"] for f in events] == list(range(1, last + 1))
    assert [f["event"] for f in events] == hist["entries"]
    assert frames[-1] == {"type": "caughtUp", "sentinel": last}

    await call(
        jp_fetch, "POST", "aimax", "sessions", "st", "messages", data={"prompt": "two [[reply:B]]"}
    )
    live = await read_frames(ws, lambda f: any(x["event"].get("text") == "B" for x in f))
    seqs = [f["sentinel"] for f in live]
    assert seqs == list(range(last + 1, last + 1 + len(seqs)))
    ws.close()
    await wait_state(jp_fetch, "st")
    end = (await wait_history(jp_fetch, "st", lambda e: e[-1]["kind"] == "turn_end"))["sentinel"]

    # Reconnect from a sentinel in the middle: exactly the events after it.
    resume_at = last - 1
    ws2 = await jp_ws_fetch("aimax", "sessions", "st", "stream", params={"from": str(resume_at)})
    again = await read_frames(ws2, lambda f: any(x["type"] == "caughtUp" for x in f))
    got = [f["sentinel"] for f in again if f["type"] == "event"]
    assert got == list(range(resume_at + 1, end + 1))
    ws2.close()

    # Without `from`: only new events.
    ws3 = await jp_ws_fetch("aimax", "sessions", "st", "stream")
    first = await read_frames(ws3, lambda f: len(f) >= 1)
    assert first == [{"type": "caughtUp", "sentinel": end}]
    ws3.close()


async def test_stream_subscription_ends_when_the_client_leaves(
    jp_fetch, jp_ws_fetch, workdir, jp_serverapp
):
    import asyncio

    assert (await create(jp_fetch, "gone")).code == 201
    service = jp_serverapp.web_app.settings["aimax_service"]
    log = service.manager.runtime("gone").log
    before = log.listener_count
    sockets = []
    for _ in range(5):
        ws = await jp_ws_fetch("aimax", "sessions", "gone", "stream", params={"from": "0"})
        await read_frames(ws, lambda f: any(x["type"] == "caughtUp" for x in f))
        sockets.append(ws)
    assert log.listener_count == before + 5
    for ws in sockets:
        ws.close()
    for _ in range(50):
        if log.listener_count == before:
            break
        await asyncio.sleep(0.1)
    assert log.listener_count == before


async def test_agents_keep_running_when_the_server_stops(
    jp_fetch, jp_ws_fetch, workdir, jp_serverapp
):
    assert (await create(jp_fetch, "keep")).code == 201
    service = jp_serverapp.web_app.settings["aimax_service"]
    pane = service.manager.registry.get("keep").pane_id
    ws = await jp_ws_fetch("aimax", "sessions", "keep", "stream", params={"from": "0"})
    await read_frames(ws, lambda f: any(x["type"] == "caughtUp" for x in f))
    extension = jp_serverapp.extension_manager.extension_points["aimax"].app
    await extension.stop_extension()
    assert await ws.read_message() is None  # streams are closed, telling where to resume
    assert ws.close_code == 1001 and "resume from" in ws.close_reason
    assert not service.streams
    info = await service.manager.tmux.list_panes()
    assert [p.pane_id for p in info if not p.dead] == [pane]
    assert service.manager.registry.get("keep").status == "running"


@pytest.mark.parametrize("aimax_traits", [{"stop_agents_on_shutdown": True}])
async def test_stop_agents_on_shutdown_when_configured(jp_fetch, workdir, jp_serverapp):
    assert (await create(jp_fetch, "bye")).code == 201
    extension = jp_serverapp.extension_manager.extension_points["aimax"].app
    await extension.stop_extension()
    service = extension.service
    assert service.manager.registry.get("bye").status == "stopped"


# -- errors: JSON, the right code, the field named, never a traceback ---------------------


async def _error(jp_fetch, code: int, method: str, *parts, data=None, params=None):
    r = await call(jp_fetch, method, *parts, data=data, params=params)
    payload = body(r)
    assert r.code == code, payload
    assert r.headers["Content-Type"].startswith("application/json")
    assert set(payload) == {"message", "reason", "field"} and payload["message"]
    assert "Traceback" not in r.body.decode()
    return payload


async def test_unknown_session_is_404_everywhere(jp_fetch, jp_ws_fetch, jp_serverapp):
    from tornado.httpclient import HTTPClientError

    for method, parts, data in [
        ("GET", ("nope",), None),
        ("DELETE", ("nope",), None),
        ("POST", ("nope", "messages"), {"prompt": "hi"}),
        ("GET", ("nope", "history"), None),
    ]:
        payload = await _error(jp_fetch, 404, method, "aimax", "sessions", *parts, data=data)
        assert "unknown session 'nope'" in payload["message"]
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch("aimax", "sessions", "nope", "stream")
    assert err.value.code == 404


async def test_invalid_requests_name_the_field(jp_fetch, jp_ws_fetch, workdir, jp_serverapp):
    from tornado.httpclient import HTTPClientError

    sessions = ("aimax", "sessions")
    assert (await _error(jp_fetch, 400, "POST", *sessions, data="{not json"))["field"] is None
    await _error(jp_fetch, 400, "POST", *sessions, data="[1, 2]")
    p = await _error(jp_fetch, 422, "POST", *sessions, data={})
    assert p["field"] == "backend"
    p = await _error(jp_fetch, 422, "POST", *sessions, data={"backend": "bash"})
    assert p["field"] == "backend" and "tmux-claude-code" in p["message"]
    p = await _error(
        jp_fetch, 422, "POST", *sessions, data={"backend": "tmux-codex", "argv": ["sh"]}
    )
    assert p["field"] == "argv" and "Extra inputs" in p["message"]
    p = await _error(
        jp_fetch, 422, "POST", *sessions, data={"backend": "tmux-codex", "sessionId": "../x"}
    )
    assert p["field"] == "sessionId" and "1-64 letters" in p["message"]
    for model in ("--yolo", "claude sonnet"):
        p = await _error(
            jp_fetch, 422, "POST", *sessions, data={"backend": "tmux-codex", "model": model}
        )
        # What the field allows, in words (the dialog shows this under the field), not a regex.
        assert p["field"] == "model" and "no spaces" in p["message"], p
        assert "pattern" not in p["message"] and "^[" not in p["message"], p
    p = await _error(
        jp_fetch, 422, "POST", *sessions, data={"backend": "tmux-codex", "cwd": "nowhere"}
    )
    assert p["field"] == "cwd" and "does not exist" in p["message"]
    p = await _error(jp_fetch, 422, "GET", "aimax", "sessions", "bad id!")
    assert p["field"] == "sessionId"
    # Query arguments.
    assert (await create(jp_fetch, "q")).code == 201
    for params, field in [
        ({"after": "-1"}, "after"),
        ({"after": "x"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
    ]:
        p = await _error(jp_fetch, 422, "GET", "aimax", "sessions", "q", "history", params=params)
        assert p["field"] == field
    msgs = ("aimax", "sessions", "q", "messages")
    assert (await _error(jp_fetch, 422, "POST", *msgs, data={"prompt": "  \n"}))[
        "field"
    ] == "prompt"
    assert (await _error(jp_fetch, 422, "POST", *msgs, data={}))["field"] == "prompt"
    p = await _error(jp_fetch, 422, "POST", *msgs, data={"prompt": "x", "mode": "now"})
    assert p["field"] == "mode"
    for bad in ("-1", "abc"):
        with pytest.raises(HTTPClientError) as err:
            await jp_ws_fetch("aimax", "sessions", "q", "stream", params={"from": bad})
        assert err.value.code == 422
    # Verbs a route does not have, and a plain GET on the websocket route.
    r = await call(jp_fetch, "PUT", "aimax", "sessions", "q", data={})
    assert r.code == 405 and r.headers["Allow"] == "GET, DELETE"
    assert (await call(jp_fetch, "DELETE", "aimax", "sessions")).headers["Allow"] == "GET, POST"
    p = await _error(jp_fetch, 400, "GET", "aimax", "sessions", "q", "stream")
    assert "Upgrade: websocket" in p["message"]
    # A second session on the agent conversation a running session drives.
    conversation = body(await jp_fetch("aimax", "sessions", "q"))["agentSessionId"]
    p = await _error(
        jp_fetch,
        409,
        "POST",
        *sessions,
        data={"backend": "tmux-claude-code", "cwd": "work", "agentSessionId": conversation},
    )
    assert "open in running session 'q'" in p["message"]
    # A second create under a running id.
    p = await _error(
        jp_fetch,
        409,
        "POST",
        *sessions,
        data={"backend": "tmux-claude-code", "cwd": "work", "sessionId": "q"},
    )
    assert "already running" in p["message"]


async def test_cwd_must_resolve_inside_the_root(jp_fetch, jp_root_dir, tmp_path, jp_serverapp):
    outside = tmp_path / "outside"
    outside.mkdir()
    (jp_root_dir / "escape").symlink_to(outside)
    (jp_root_dir / "inner").mkdir()
    for cwd in ("..", "../outside", str(outside), "escape", "inner/../../outside", "/"):
        p = await _error(
            jp_fetch, 403, "POST", "aimax", "sessions", data={"backend": "tmux-codex", "cwd": cwd}
        )
        assert p["field"] == "cwd" and "outside the server's root" in p["message"]
    p = await _error(
        jp_fetch,
        403,
        "POST",
        "aimax",
        "sessions",
        data={"backend": "tmux-codex", "cwd": "inner", "flagRoot": "escape"},
    )
    assert p["field"] == "flagRoot"
    assert body(await jp_fetch("aimax", "sessions")) == {"sessions": []}


@pytest.mark.parametrize("aimax_traits", [{"max_prompt_bytes": 64, "max_sessions": 1}])
async def test_limits_prompt_size_and_session_count(jp_fetch, workdir, jp_serverapp):
    big = "x" * 65
    p = await _error(
        jp_fetch,
        413,
        "POST",
        "aimax",
        "sessions",
        data={"backend": "tmux-codex", "cwd": "work", "initialPrompt": big},
    )
    assert p["field"] == "initialPrompt" and "64" in p["message"]
    assert (await create(jp_fetch, "one")).code == 201
    p = await _error(
        jp_fetch, 413, "POST", "aimax", "sessions", "one", "messages", data={"prompt": big}
    )
    assert p["field"] == "prompt"
    p = await _error(
        jp_fetch, 429, "POST", "aimax", "sessions", data={"backend": "tmux-codex", "cwd": "work"}
    )
    assert "limit" in p["message"]


@pytest.mark.parametrize("aimax_traits", [{"allowed_backends": ["tmux-codex"]}])
async def test_disabled_backend_is_refused(jp_fetch, workdir, jp_serverapp):
    p = await _error(
        jp_fetch, 403, "POST", "aimax", "sessions", data={"backend": "tmux-claude-code"}
    )
    assert "disabled" in p["message"] and "tmux-codex" in p["message"]


async def test_missing_backend_binary_is_503_with_the_preflight_message(
    jp_fetch, workdir, jp_serverapp, aimax_overrides
):
    service = jp_serverapp.web_app.settings["aimax_service"]
    import dataclasses

    service.manager.config = dataclasses.replace(service.manager.config, codex_bin="no-such-codex")
    p = await _error(
        jp_fetch, 503, "POST", "aimax", "sessions", data={"backend": "tmux-codex", "cwd": "work"}
    )
    assert "'no-such-codex' not found on PATH" in p["message"]


@pytest.mark.parametrize("aimax_traits", [{"enabled": False}])
async def test_disabled_extension_serves_nothing(jp_fetch, jp_serverapp):
    r = await call(jp_fetch, "GET", "aimax", "sessions")
    assert r.code == 404
    assert "aimax_service" not in jp_serverapp.web_app.settings


async def test_prompts_are_never_logged(jp_fetch, workdir, jp_serverapp, caplog):
    secret = "SECRET-PROMPT-4f1c"
    caplog.set_level(logging.DEBUG)
    assert (await create(jp_fetch, "quiet", f"{secret} [[reply:ok]]")).code == 201
    await call(jp_fetch, "POST", "aimax", "sessions", "quiet", "messages", data={"prompt": secret})
    await call(jp_fetch, "POST", "aimax", "sessions", "gone", "messages", data={"prompt": secret})
    await call(
        jp_fetch,
        "POST",
        "aimax",
        "sessions",
        "quiet",
        "messages",
        data={"prompt": secret, "mode": "bad"},
    )
    await call(
        jp_fetch, "POST", "aimax", "sessions", "quiet", "messages", data={"prompt": secret * 20000}
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "aimax" in logged  # the capture works
    assert secret not in logged


async def test_openapi_document_is_served_and_committed(jp_fetch, jp_serverapp):
    from pathlib import Path

    import yaml

    from aiikernel.server.openapi import openapi_document

    served = body(await jp_fetch("aimax", "openapi.json"))
    assert served["openapi"].startswith("3.1")
    assert set(served["paths"]) == {
        "/aimax/sessions",
        "/aimax/sessions/{sessionId}",
        "/aimax/sessions/{sessionId}/messages",
        "/aimax/sessions/{sessionId}/history",
        "/aimax/sessions/{sessionId}/stream",
        "/aimax/sessions/{sessionId}/permission",
        "/aimax/sessions/{sessionId}/resume",
        "/aimax/sessions/{sessionId}/screen",
        "/aimax/backends",
        "/aimax/watch",
        "/aimax/openapi.json",
    }
    create_schema = served["components"]["schemas"]["CreateSessionRequest"]
    assert "initialPrompt" in create_schema["properties"]
    assert create_schema["additionalProperties"] is False
    committed = Path(__file__).parents[2] / "aiikernel" / "server" / "rest-api.yml"
    assert yaml.safe_load(committed.read_text()) == openapi_document(), (
        "regenerate: python -m aiikernel.server.openapi --yaml > aiikernel/server/rest-api.yml"
    )


def test_docs_reference_is_current():
    from pathlib import Path

    from aiikernel.server.openapi import openapi_document
    from aiikernel.server.openapi_markdown import render_markdown

    docs = (Path(__file__).parents[2] / "docs" / "rest-api.md").read_text()
    assert render_markdown(openapi_document()) in docs, (
        "regenerate the reference part of docs/rest-api.md with "
        "python -m aiikernel.server.openapi --markdown"
    )
    assert os.path.exists(Path(__file__).parents[2] / "docs" / "rest-api.md")
    json.dumps(openapi_document())


async def test_resuming_a_conversation_that_ended_mid_turn(jp_fetch, workdir, jp_serverapp):
    """The old agent was stopped during a turn; a new session on that conversation is idle and
    takes prompts (found by schemathesis: every send to it was a 502)."""
    first = {"backend": "tmux-codex", "cwd": "work", "agentSessionId": "conv-1", "sessionId": "a"}
    assert (await call(jp_fetch, "POST", "aimax", "sessions", data=first)).code == 201
    r = await call(
        jp_fetch, "POST", "aimax", "sessions", "a", "messages", data={"prompt": "slow [[think:30]]"}
    )
    assert r.code == 202
    assert (await call(jp_fetch, "DELETE", "aimax", "sessions", "a")).code == 204
    again = {**first, "sessionId": "b"}
    assert (await call(jp_fetch, "POST", "aimax", "sessions", data=again)).code == 201
    assert (await wait_state(jp_fetch, "b", ("idle",)))["alive"]
    r = await call(
        jp_fetch, "POST", "aimax", "sessions", "b", "messages", data={"prompt": "go [[reply:B]]"}
    )
    assert r.code == 202, body(r)
    await wait_history(jp_fetch, "b", lambda e: "B" in replies(e))
