"""One DirectoryWatchHub serves many tailers with a single watcher (no thread per session)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from aiikernel.aimax.transcripts.eventlog import EventLog
from aiikernel.aimax.transcripts.parse_claude import parse_claude_entry
from aiikernel.aimax.transcripts.tail import TranscriptTailer
from aiikernel.aimax.transcripts.watch import DirectoryWatchHub, wait_for_event

SESSIONS = 50  # more than anyio's 40 default worker threads: one watcher each would starve


def _line(i: int) -> bytes:
    return (
        json.dumps({"type": "user", "uuid": f"u{i}", "message": {"content": f"m{i}"}}).encode()
        + b"\n"
    )


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_many_sessions_share_one_watcher(tmp_path: Path) -> None:
    hub = DirectoryWatchHub()
    logs, tasks, paths = [], [], []
    threads_before = threading.active_count()
    for i in range(SESSIONS):
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        path = folder / "t.jsonl"
        log = EventLog(tmp_path / "logs" / f"s{i}.jsonl")
        tailer = TranscriptTailer(log, parse_claude_entry, hub=hub, poll_interval=60)
        logs.append(log)
        paths.append(path)
        tasks.append(asyncio.create_task(tailer.follow(lambda p=path: p)))
    try:
        await asyncio.sleep(0.5)
        assert len(hub.directories) == SESSIONS
        for i, path in enumerate(paths):
            path.write_bytes(_line(i))
        for _ in range(1000):  # 60 s poll: only notifications can deliver within the test
            if all(len(log) == 1 for log in logs):
                break
            await asyncio.sleep(0.01)
        assert [len(log) for log in logs] == [1] * SESSIONS
        assert threading.active_count() - threads_before < 10  # not one thread per session
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert hub.directories == []
        await hub.aclose()


@pytest.mark.asyncio
async def test_unwatch_is_idempotent_and_missing_dirs_are_tolerated(tmp_path: Path) -> None:
    hub = DirectoryWatchHub(retry_delay=0.05)
    nudged = asyncio.Event()
    later = tmp_path / "later"
    unwatch = hub.watch(later, nudged.set)  # does not exist yet
    await asyncio.sleep(0.1)
    later.mkdir()
    unwatch2 = hub.watch(tmp_path, lambda: None)  # reconfigure: now `later` exists
    await asyncio.sleep(0.3)
    nudged.clear()
    (later / "f").write_text("x")
    await asyncio.wait_for(nudged.wait(), 5)
    unwatch()
    unwatch()
    unwatch2()
    await hub.aclose()
    with pytest.raises(RuntimeError):
        hub.watch(tmp_path, lambda: None)


@pytest.mark.asyncio
@pytest.mark.timeout(30)
async def test_a_tail_cancelled_as_its_wake_up_fires_still_ends() -> None:
    """`aimax stream --until-idle` hung at exit: the tail's cancellation arrived in the same
    loop step as a watcher nudge, and asyncio.wait_for (3.10/3.11) swallowed it."""
    wake = asyncio.Event()
    rounds = 0

    async def loop_like_a_tail() -> None:
        nonlocal rounds
        while True:
            wake.clear()
            rounds += 1
            await wait_for_event(wake, 60)

    task = asyncio.ensure_future(loop_like_a_tail())
    while rounds == 0:
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # the tail now waits for its event
    wake.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 10)
