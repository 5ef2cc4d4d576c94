"""Measure line-written → subscriber latency of the transcript pipeline (a benchmark hook).

:func:`measure_tail_latency` runs the real pipeline — file append, shared
watchfiles hub, :class:`TranscriptTailer`, :class:`EventLog`, ``aiter`` — and
returns, per line, the seconds from the writer's ``write()`` returning to an
async subscriber receiving the event. :func:`measure_watch_floor` times the
same writes against a bare ``watchfiles.awatch`` with the same settings: the
floor set by inotify + watchfiles that our pipeline adds to. Both are used by
``benchmarks/aimax_transcripts.py`` and ``benchmarks/aimax.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from pathlib import Path


def _line(i: int) -> bytes:
    entry = {"type": "user", "uuid": f"lat-{i}", "message": {"content": f"latency probe {i}"}}
    return json.dumps(entry).encode() + b"\n"


def _write_lines(
    path: Path, lines: int, interval: float, written: list[float], ready: threading.Event
) -> None:
    ready.wait(10)
    with open(path, "ab", buffering=0) as fh:
        for i in range(lines):
            written.append(time.perf_counter())
            fh.write(_line(i))
            time.sleep(interval)


async def measure_tail_latency(
    workdir: Path, lines: int = 200, interval: float = 0.01
) -> list[float]:
    """Per-line seconds from ``write()`` to an ``EventLog.aiter`` subscriber, through the real tailer."""
    from .eventlog import EventLog
    from .parse_claude import parse_claude_entry
    from .tail import TranscriptTailer
    from .watch import DirectoryWatchHub

    workdir = Path(workdir)
    (workdir / "agent").mkdir(parents=True, exist_ok=True)
    transcript = workdir / "agent" / "transcript.jsonl"
    transcript.write_bytes(b"")
    log = EventLog(workdir / "events.jsonl", session_id="latency")
    hub = DirectoryWatchHub()
    tailer = TranscriptTailer(log, parse_claude_entry, hub=hub, poll_interval=5.0)
    follow = asyncio.create_task(tailer.follow(lambda: transcript))
    received: list[float] = []
    written: list[float] = []
    ready = threading.Event()

    async def consume() -> None:
        async for event in log.aiter(from_seq=0):
            received.append(time.perf_counter())
            if event.seq == lines:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.3)  # watcher up
    ready.set()
    try:
        await asyncio.to_thread(_write_lines, transcript, lines, interval, written, ready)
        await asyncio.wait_for(consumer, 30)
    finally:
        follow.cancel()
        consumer.cancel()
        await asyncio.gather(follow, consumer, return_exceptions=True)
        await hub.aclose()
        log.close()
    return [r - w for r, w in zip(received, written, strict=True)]


async def measure_watch_floor(
    workdir: Path,
    lines: int = 200,
    interval: float = 0.01,
    debounce_ms: int = 50,
    step_ms: int = 10,
) -> list[float]:
    """Per-write seconds until a bare ``watchfiles.awatch`` reports the change (the floor)."""
    from watchfiles import awatch

    workdir = Path(workdir)
    (workdir / "floor").mkdir(parents=True, exist_ok=True)
    path = workdir / "floor" / "transcript.jsonl"
    path.write_bytes(b"")
    written: list[float] = []
    seen: list[float] = []
    ready = threading.Event()
    stop = asyncio.Event()

    async def watch() -> None:
        async for _ in awatch(
            path.parent,
            watch_filter=None,
            debounce=debounce_ms,
            step=step_ms,
            stop_event=stop,
            recursive=False,
        ):
            landed = path.read_bytes().count(b"\n")  # one wake may cover several writes
            now = time.perf_counter()  # after the read: a line it counts was written before
            seen.extend(now for _ in range(landed - len(seen)))

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.3)
    ready.set()
    try:
        await asyncio.to_thread(_write_lines, path, lines, interval, written, ready)
        deadline = time.monotonic() + 10
        while len(seen) < lines and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 10)
    return [s - w for s, w in zip(seen, written, strict=False)]


async def measure_idle_watch_cpu(workdir: Path, sessions: int = 50, seconds: float = 3.0) -> float:
    """Percent of one core this process uses while a hub watches ``sessions`` idle directories."""
    from .watch import DirectoryWatchHub

    hub = DirectoryWatchHub()
    try:
        for i in range(sessions):
            folder = Path(workdir) / "idle" / str(i)
            folder.mkdir(parents=True, exist_ok=True)
            hub.watch(folder, lambda: None)
        await asyncio.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        return 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0)
    finally:
        await hub.aclose()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no numpy needed)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]
