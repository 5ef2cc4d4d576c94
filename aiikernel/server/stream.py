"""StreamConnection: one websocket client's view of one session's events.

Order of delivery: the history after the client's sentinel, page by page (each page awaited
on the socket, so a long history never piles up in memory), then a subscription from the last
event sent — the event log replays anything appended meanwhile and then calls us for each new
event, so there is no gap and no duplicate at the seam. A client too slow to keep up gets a
``closing`` frame naming its last sentinel and the socket is closed; it reconnects with
``from=<sentinel>`` and loses nothing. The subscription always ends with the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .models import event_dict_payload, event_payload

if TYPE_CHECKING:
    from .service import AimaxService

log = logging.getLogger(__name__)

_OVERFLOW = object()
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later"
CLOSE_GOING_AWAY = 1001


class StreamConnection:
    """Pumps events of ``session_id`` after ``from_sentinel`` into ``send``."""

    def __init__(
        self,
        service: AimaxService,
        session_id: str,
        from_sentinel: int | None,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], None],
        *,
        queue_limit: int = 10_000,
        page_size: int = 500,
    ) -> None:
        self.service = service
        self.session_id = session_id
        self.from_sentinel = from_sentinel
        self._send = send
        self._close = close
        self.queue_limit = queue_limit
        self.page_size = page_size
        self.last_sent = 0
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin sending (called once the websocket is open)."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name=f"aimax-ws-{self.session_id}")
        self.service.streams.add(self)

    def shutdown(self) -> None:
        """The server is stopping: tell the client where it was, then close."""
        self.close_soon()
        self._close(CLOSE_GOING_AWAY, f"server shutting down; resume from {self.last_sent}")

    async def _run(self) -> None:
        try:
            await self._replay_history()
            self._unsubscribe = self.service.subscribe(
                self.session_id, self._on_event, self.last_sent
            )
            await self._send_frame({"type": "caughtUp", "sentinel": self.last_sent})
            while True:
                item = await self._queue.get()
                if item is _OVERFLOW:
                    await self._send_frame(
                        {
                            "type": "closing",
                            "sentinel": self.last_sent,
                            "message": "client too slow; reconnect with from=<sentinel>",
                        }
                    )
                    self._close(CLOSE_TRY_AGAIN, "too slow, resume from the last sentinel")
                    return
                if item.seq <= self.last_sent:
                    continue
                await self._send_event(item.seq, event_payload(item))
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception as exc:
            if type(exc).__name__ != "WebSocketClosedError":
                log.exception("aimax stream of %s failed", self.session_id)
                self._close(1011, "internal error")
        finally:
            self._end_subscription()

    async def _replay_history(self) -> None:
        last = self.service.last_sentinel(self.session_id)
        cursor = last if self.from_sentinel is None else min(self.from_sentinel, last)
        self.last_sent = cursor
        if self.from_sentinel is None:
            return
        while True:  # bounded: each page advances the cursor or ends the loop
            page = self.service.history_page(self.session_id, after=cursor, limit=self.page_size)
            for entry in page["entries"]:
                await self._send_event(entry["seq"], event_dict_payload(entry))
            if not page["entries"] or not page["truncated"]:
                return
            cursor = page["sentinel"]

    def _on_event(self, event: Any) -> None:
        # Called on whichever thread appended to the log: hop onto our loop, in order.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._enqueue, event)

    def _enqueue(self, event: Any) -> None:
        if self._unsubscribe is None:
            return  # ended (overflow or close)
        if self._queue.qsize() >= self.queue_limit:
            self._end_subscription()
            self._queue.put_nowait(_OVERFLOW)
            return
        self._queue.put_nowait(event)

    async def _send_event(self, seq: int, payload: dict[str, Any]) -> None:
        await self._send_frame({"type": "event", "sentinel": seq, "event": payload})
        self.last_sent = seq

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        await self._send(json.dumps(frame))

    def _end_subscription(self) -> None:
        self.service.streams.discard(self)
        if self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            unsubscribe()

    async def aclose(self) -> None:
        """Stop sending and end the subscription (the client went away)."""
        self._end_subscription()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def close_soon(self) -> None:
        """Sync form of :meth:`aclose` for ``on_close`` callbacks."""
        self._end_subscription()
        if self._task is not None and not self._task.done():
            self._task.cancel()
