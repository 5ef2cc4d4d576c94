"""One inotify watcher (watchfiles) shared by every transcript tailer of a process.

Why shared: each ``watchfiles.awatch`` parks a worker thread inside Rust, taken
from anyio's default thread limiter (40 tokens). Fifty sessions with one watcher
each would starve it. The hub runs a single ``awatch`` over the set of watched
directories (non-recursive) and restarts it when that set changes; callbacks are
plain functions called on the event loop thread with nothing but a "something
changed in your directory" nudge. Tailers also poll slowly, so a missed
notification (or the short restart gap) delays a line, never loses it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

Callback = Callable[[], None]


async def wait_for_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` seconds passed.

    Not ``asyncio.wait_for(event.wait(), timeout)``: on Python 3.10/3.11 that returns normally
    when the task is cancelled in the same loop step as the event fires, swallowing the
    cancellation — a tail loop then never ends and whoever awaits it hangs.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


class DirectoryWatchHub:
    """Watch directories for file changes and nudge the callbacks registered for each."""

    def __init__(self, *, debounce_ms: int = 50, step_ms: int = 10, retry_delay: float = 0.5):
        # step: how long the Rust side waits for a quiet period before yielding (latency);
        # debounce: the longest it groups a continuous burst of writes.
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.retry_delay = retry_delay
        self._callbacks: dict[str, dict[int, Callback]] = {}
        self._next_token = 0
        self._task: asyncio.Task | None = None
        self._current_stop: asyncio.Event | None = None
        self._reconfigure: asyncio.Event | None = None
        self._closed = False

    @property
    def directories(self) -> list[str]:
        """Directories currently watched."""
        return sorted(self._callbacks)

    def watch(self, directory: Path, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` (on the loop thread) whenever something in ``directory`` changes.

        Must be called from a running event loop. Returns an idempotent unwatch function.
        """
        if self._closed:
            raise RuntimeError("DirectoryWatchHub is closed")
        key = os.path.realpath(os.fspath(directory))
        token = self._next_token
        self._next_token += 1
        is_new = key not in self._callbacks
        self._callbacks.setdefault(key, {})[token] = callback
        if is_new:
            self._restart()

        def unwatch() -> None:
            callbacks = self._callbacks.get(key)
            if callbacks is None or callbacks.pop(token, None) is None:
                return
            if not callbacks:
                del self._callbacks[key]
                self._restart()

        return unwatch

    def _restart(self) -> None:
        if self._task is None or self._task.done():
            self._reconfigure = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        assert self._reconfigure is not None
        self._reconfigure.set()
        if self._current_stop is not None:
            self._current_stop.set()

    def _nudge(self, paths: set[str] | None) -> None:
        if paths is None:
            targets = [cb for cbs in self._callbacks.values() for cb in cbs.values()]
        else:
            dirs = {os.path.dirname(p) for p in paths}
            targets = [cb for d in dirs for cb in self._callbacks.get(d, {}).values()]
            if not targets and paths:  # a path spelled differently (symlinks): nudge all
                targets = [cb for cbs in self._callbacks.values() for cb in cbs.values()]
        for callback in targets:
            try:
                callback()
            except Exception:
                log.exception("watch callback failed")

    async def _run(self) -> None:
        from watchfiles import awatch  # heavy-ish: only when something is watched

        assert self._reconfigure is not None
        while not self._closed:
            self._reconfigure.clear()
            dirs = [d for d in self._callbacks if os.path.isdir(d)]
            if not dirs:
                if not self._callbacks:
                    return
                # watched dirs do not exist yet: tailers poll; retry later
                await wait_for_event(self._reconfigure, self.retry_delay)
                continue
            stop = self._current_stop = asyncio.Event()
            # Changes made while no watcher was running (the restart gap): look again soon.
            asyncio.get_running_loop().call_later(0.05, self._nudge, None)
            try:
                async for changes in awatch(
                    *dirs,
                    watch_filter=None,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                    stop_event=stop,
                    recursive=False,
                    rust_timeout=60_000,
                ):
                    self._nudge({path for _, path in changes})
            except (OSError, RuntimeError) as exc:  # a watched dir vanished, inotify limits …
                log.debug("directory watcher restarting after: %s", exc)
                await wait_for_event(self._reconfigure, self.retry_delay)
            finally:
                self._current_stop = None

    async def aclose(self) -> None:
        """Stop watching; the hub cannot be reused."""
        self._closed = True
        self._callbacks.clear()
        if self._current_stop is not None:
            self._current_stop.set()
        if self._reconfigure is not None:
            self._reconfigure.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except TimeoutError:
                self._task.cancel()
            except Exception:
                log.exception("directory watcher ended with an error")
