"""SessionsWatch: the session list for every ``/aimax/watch`` client, computed once.

The list is computed by one task per server (not per client), at most once per aimax monitor
tick and at once after a create, send, answer, resume or stop; it is sent only when it differs
from the last one. A slow client never piles frames up: it gets the newest list when it can
take it (older, unsent lists are dropped, each list being complete).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)


class SessionsWatch:
    """Computes the session list for every watcher; runs only while someone watches."""

    def __init__(
        self,
        list_sessions: Callable[[], Awaitable[Sequence[Any]]],
        changed: asyncio.Event,
        interval: float,
    ) -> None:
        """``list_sessions`` returns wire models; ``changed`` is set to look again at once."""
        self.list_sessions = list_sessions
        self.changed = changed
        self.interval = max(0.05, interval)
        self.latest: str | None = None
        self._subscribers: set[Callable[[str], None]] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, push: Callable[[str], None]) -> Callable[[], None]:
        """``push(frame_json)`` now (if a list is known) and on every change."""
        self._subscribers.add(push)
        if self.latest is not None:
            push(self.latest)
        self.changed.set()  # a fresh look for the newcomer
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="aimax-watch")

        def unsubscribe() -> None:
            self._subscribers.discard(push)

        return unsubscribe

    async def _run(self) -> None:
        while self._subscribers:
            self.changed.clear()
            try:
                sessions = await self.list_sessions()
                frame = json.dumps({"type": "sessions", "sessions": [s.wire() for s in sessions]})
            except Exception:
                log.exception("aimax: listing sessions for watchers failed")
                frame = None
            if frame is not None and frame != self.latest:
                self.latest = frame
                for push in list(self._subscribers):
                    push(frame)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), self.interval)
        self.latest = None  # nobody watches: the next watcher starts from a fresh list

    async def aclose(self) -> None:
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
