"""Small helpers shared by the aimax tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if isinstance(last, Awaitable):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}; last value {last!r}")


def events(backend, session_id: str) -> list[dict[str, Any]]:
    return backend.get_history(session_id)["entries"]


def kinds_and_texts(
    backend, session_id: str, kinds=("user", "assistant", "turn_end", "interrupted")
):
    return [(e["kind"], e["text"]) for e in events(backend, session_id) if e["kind"] in kinds]


def user_texts(backend, session_id: str) -> list[str]:
    return [e["text"] for e in events(backend, session_id) if e["kind"] == "user"]


def replies(backend, session_id: str) -> list[str]:
    return [e["text"] for e in events(backend, session_id) if e["kind"] == "assistant"]


async def wait_idle(backend, session_id: str, timeout: float = 10.0):
    async def idle():
        status = await backend.status(session_id)
        return status if status.state == "idle" else None

    return await wait_until(idle, timeout, f"{session_id} idle")
