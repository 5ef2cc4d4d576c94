"""An asyncio loop on a daemon thread, and a way to consume its async streams synchronously.

The kernel's main thread runs user code (and must, for ``run_cell``), while model
streams are async (litellm/httpx).  Streams run here; the main thread reads their
items from a queue in short waits, so a kernel interrupt (SIGINT → KeyboardInterrupt
in the main thread) is noticed within a fraction of a second and cancels the stream.
One loop per client keeps the HTTP connection pool alive between turns.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


class BackgroundLoop:
    """A lazily started event loop on its own daemon thread."""

    def __init__(self, name: str = "aiikernel-model-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def iterate(
        self, make_stream: Callable[[], AsyncIterator[T]], poll: float = 0.05
    ) -> Iterator[T]:
        """Yield the items of ``make_stream()`` (run on the loop) in the calling thread.

        Closing the returned iterator — including through KeyboardInterrupt — cancels
        the stream on the loop.
        """
        items: queue.Queue[object] = queue.Queue()

        async def pump() -> None:
            try:
                async for item in make_stream():
                    items.put(item)
            except BaseException as exc:  # handed to the consumer, raised there
                items.put(exc)
            finally:
                items.put(_END)

        future = asyncio.run_coroutine_threadsafe(pump(), self.loop)
        try:
            while True:
                try:
                    item = items.get(timeout=poll)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, asyncio.CancelledError):
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            if not future.done():
                future.cancel()
