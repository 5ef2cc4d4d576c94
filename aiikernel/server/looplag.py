"""LoopLagProbe: how late the server's event loop wakes a task that asked to sleep briefly.

A task sleeps ``interval`` seconds again and again; each wake-up's delay beyond that is a
lag sample — the time the loop spent on something else (a blocking call, a long callback).
Samples go to a JSON-lines file once a second (``{"t": epoch, "lags_ms": [...]}``) for
benchmarks to read; enabled by ``AimaxExtension.loop_lag_file``, off by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path


class LoopLagProbe:
    """Measures event-loop lag while running; ``start()`` on the loop, ``await stop()``."""

    def __init__(self, path: Path, interval: float = 0.005) -> None:
        self.path = Path(path)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-probe")

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
                    out.write(json.dumps({"t": time.time(), "lags_ms": lags}) + "\n")
                    out.flush()
                    lags, flushed = [], now

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
