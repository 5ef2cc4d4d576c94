"""Single-flight, short-lived cache of session status.

Computing a session's state asks tmux about its pane (a subprocess). Fifty clients listing fifty
sessions must not start 2,500 of them: within ``ttl`` seconds every caller shares one answer, and
callers that arrive while it is being computed await the same computation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StatusCache(Generic[T]):
    """``await cache.get(key, compute)``: a fresh value, shared by concurrent callers."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[str, tuple[float, T]] = {}
        self._inflight: dict[str, asyncio.Future[T]] = {}

    async def get(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            self._values[key] = (time.monotonic(), value)
            future.set_result(value)
            return value
        finally:
            self._inflight.pop(key, None)

    def forget(self, key: str) -> None:
        """Drop ``key`` so the next ``get`` recomputes (after create, send, stop)."""
        self._values.pop(key, None)
