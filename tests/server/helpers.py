"""Small async helpers for the server tests (HTTP through pytest-jupyter's client)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tornado.httpclient import HTTPClientError


def body(response) -> Any:
    return json.loads(response.body.decode() or "null")


async def call(jp_fetch, method: str, *parts: str, data: Any = None, **kwargs):
    """``jp_fetch`` that returns the response for 4xx/5xx too (no exception)."""
    if data is not None:
        kwargs["body"] = data if isinstance(data, str | bytes) else json.dumps(data)
    elif method in ("POST", "PUT"):
        kwargs.setdefault("body", "")
    try:
        return await jp_fetch(*parts, method=method, **kwargs)
    except HTTPClientError as exc:
        if exc.response is None:
            raise
        return exc.response


async def wait_state(jp_fetch, session_id: str, states=("idle",), timeout: float = 15.0):
    """Poll the status route until the session is in one of ``states``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = body(await jp_fetch("aimax", "sessions", session_id))
        if last["state"] in states:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{session_id} never reached {states}; last {last}")


async def history(jp_fetch, session_id: str, **params) -> dict:
    params = {k: str(v) for k, v in params.items()}
    return body(await jp_fetch("aimax", "sessions", session_id, "history", params=params))


async def wait_history(jp_fetch, session_id: str, check, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await history(jp_fetch, session_id)
        if check(last["entries"]):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"history of {session_id} never matched; last {last}")


async def create(jp_fetch, session_id: str, prompt: str | None = None, **extra):
    data = {"backend": "tmux-claude-code", "cwd": "work", "sessionId": session_id, **extra}
    if prompt is not None:
        data["initialPrompt"] = prompt
    return await call(jp_fetch, "POST", "aimax", "sessions", data=data)


async def read_frames(ws, until, timeout: float = 15.0) -> list[dict]:
    """Read websocket frames until ``until(frames)`` holds."""
    frames: list[dict] = []
    deadline = time.monotonic() + timeout
    while not until(frames):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"stream stalled; got {frames[-5:]}")
        message = await asyncio.wait_for(ws.read_message(), remaining)
        if message is None:
            break
        frames.append(json.loads(message))
    return frames


def replies(entries) -> list[str]:
    return [e["text"] for e in entries if e["kind"] == "assistant"]
