"""LoopLagProbe: how late the server's event loop wakes a task that asked to sleep briefly.

A task sleeps ``interval`` seconds again and again; each wake-up's delay beyond that is a
lag sample — the time the loop spent on something else (a blocking call, a long callback).
The garbage collector's pauses are recorded beside them (a full collection of a big heap stops
every thread, and looks like lag with no code to blame). Samples go to a JSON-lines file once a
second (``{"t": epoch, "lags_ms": [...], "gc_ms": [[generation, ms], ...]}``) for benchmarks to
read; enabled by ``AimaxExtension.loop_lag_file``, off by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from pathlib import Path


class LoopLagProbe:
    """Measures event-loop lag while running; ``start()`` on the loop, ``await stop()``."""

    def __init__(self, path: Path, interval: float = 0.005) -> None:
        self.path = Path(path)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._gc_started = 0.0
        self._gc_pauses: list[list[float]] = []

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-probe")

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause = (time.perf_counter() - self._gc_started) * 1e3
            self._gc_pauses.append([info.get("generation", -1), round(pause, 2)])

    async def _run(self) -> None:
        lags: list[float] = []
        flushed = time.monotonic()
        with self.path.open("a", encoding="utf-8") as out:
            while True:
                asked = time.monotonic()
                await asyncio.sleep(self.interval)
                now = time.monotonic()
                lags.append(round((now - asked - self.interval) * 1e3, 2))
                if now - flushed >= 1.0:
                    pauses, self._gc_pauses = self._gc_pauses, []
                    row = {"t": time.time(), "lags_ms": lags, "gc_ms": pauses}
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    lags, flushed = [], now

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
