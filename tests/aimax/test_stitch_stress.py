"""The stitching proof: history + live stream meet at the sentinel with no gaps and no duplicates.

A writer thread appends thousands of transcript lines to a real file — split at
random byte positions into several writes, with corrupt lines and U+2028 in
content, a compaction (the file rewritten under a new inode) and a switch to a
new transcript file midway — while a real TranscriptTailer (watchfiles) feeds an EventLog. Dozens
of clients fetch history at random sentinels (with random page limits), stream
from the sentinel, drop the stream at random points and resume from the last
seq they saw; thread subscribers do the same through ``subscribe``. Every client
must end with exactly the contiguous seq range after its first sentinel, and
each seq must carry the text of the matching line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from pathlib import Path

import pytest

from aiikernel.aimax.transcripts.eventlog import EventLog
from aiikernel.aimax.transcripts.parse_claude import parse_claude_entry
from aiikernel.aimax.transcripts.tail import TranscriptTailer
from aiikernel.aimax.transcripts.watch import DirectoryWatchHub

N_LINES = 3000
ROTATE_AT = 1200
SWITCH_AT = 2100
TOTAL = N_LINES + 1  # every line, plus the transcript_switch note
N_ASYNC_CLIENTS = 24
N_THREAD_CLIENTS = 6
WRITER_DONE = threading.Event()
LIVE_COUNT = [0]


def _text(i: int) -> str:
    return f"line {i}" + ("\u2028sep\u2029" if i % 7 == 0 else "")


def _expected_text(seq: int) -> str | None:
    """Text of event ``seq``: the lines in order, with the transcript-switch note in between."""
    if seq <= SWITCH_AT:
        return _text(seq - 1)
    return None if seq == SWITCH_AT + 1 else _text(seq - 2)


def _writer(first: Path, second: Path, current: dict, seed: int) -> int:
    """Write N_LINES good lines (plus corrupt ones) in random pieces; returns corrupt count.

    Midway the transcript is compacted (rewritten whole under a new inode, junk dropped),
    later the agent switches to a second file (Claude ``/clear``).
    """
    rng = random.Random(seed)
    corrupt = 0
    good: list[bytes] = []
    fh = open(first, "ab", buffering=0)  # noqa: SIM115 - reopened on rotation and switch
    try:
        for i in range(N_LINES):
            if i == ROTATE_AT:
                fh.close()
                tmp = first.with_name("compacting.tmp")
                tmp.write_bytes(b"".join(good))
                os.replace(tmp, first)
                fh = open(first, "ab", buffering=0)  # noqa: SIM115
            if i == SWITCH_AT:
                fh.close()
                current["path"] = second
                fh = open(second, "ab", buffering=0)  # noqa: SIM115
            entry = {"type": "user", "uuid": f"uuid-{i}", "message": {"content": _text(i)}}
            line = json.dumps(entry, ensure_ascii=False).encode() + b"\n"
            good.append(line)
            data = line
            if rng.random() < 0.02:
                data = b'{"type": "user", "uuid": broken\n' + data
                corrupt += 1
            while data:  # random partial-line writes
                cut = rng.randint(1, len(data)) if rng.random() < 0.3 else len(data)
                fh.write(data[:cut])
                data = data[cut:]
                if rng.random() < 0.05:
                    time.sleep(0.0005)
            if i % 10 == 0:
                time.sleep(0.003)  # spread the writes over ~1-2 s so clients meet them live
    finally:
        fh.close()
    return corrupt


async def _async_client(log: EventLog, rng: random.Random) -> tuple[int, list[int], list[str]]:
    await asyncio.sleep(rng.uniform(0, 1.0))
    after = rng.randint(0, log.last_seq)
    page = log.history(after=after, limit=rng.choice([None, 0, 1, 7, 100]))
    seqs = [e["seq"] for e in page["entries"]]
    texts = [e["text"] for e in page["entries"]]
    sentinel = page["sentinel"]
    while sentinel < TOTAL:
        budget = rng.randint(1, 400)
        async with contextlib.aclosing(log.aiter(from_seq=sentinel)) as stream:
            async for event in stream:
                seqs.append(event.seq)
                texts.append(event.text)
                sentinel = event.seq
                if not WRITER_DONE.is_set():
                    LIVE_COUNT[0] += 1
                budget -= 1
                if budget == 0 or sentinel == TOTAL:
                    break  # drop the stream; resume later from `sentinel`
        await asyncio.sleep(rng.uniform(0, 0.05))
        if rng.random() < 0.3:  # sometimes resume through history paging instead
            page = log.history(after=sentinel, limit=rng.randint(1, 50))
            seqs += [e["seq"] for e in page["entries"]]
            texts += [e["text"] for e in page["entries"]]
            sentinel = page["sentinel"]
    return after, seqs, texts


def _thread_client(log: EventLog, seed: int, out: list) -> None:
    rng = random.Random(seed)
    time.sleep(rng.uniform(0, 0.5))
    start = rng.randint(0, log.last_seq)
    got: list[int] = []
    lock = threading.Lock()

    def on_event(event) -> None:
        with lock:
            got.append(event.seq)

    resume_from = start
    while True:
        unsubscribe = log.subscribe(on_event, from_seq=resume_from)
        time.sleep(rng.uniform(0.01, 0.2))
        unsubscribe()
        with lock:
            resume_from = got[-1] if got else resume_from
        if resume_from >= TOTAL:
            break
    out.append((start, got))


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_history_and_live_stitch_under_load(tmp_path: Path) -> None:
    transcript = tmp_path / "agent" / "session.jsonl"
    transcript.parent.mkdir()
    second = tmp_path / "agent" / "after-clear.jsonl"
    current = {"path": transcript}
    log = EventLog(tmp_path / "ours" / "events.jsonl", session_id="stress")
    hub = DirectoryWatchHub()
    tailer = TranscriptTailer(log, parse_claude_entry, hub=hub, poll_interval=0.5)
    follow = asyncio.create_task(tailer.follow(lambda: current["path"]))
    rng = random.Random(1234)
    clients = [
        asyncio.create_task(_async_client(log, random.Random(rng.random())))
        for _ in range(N_ASYNC_CLIENTS)
    ]
    thread_results: list = []
    threads = [
        threading.Thread(target=_thread_client, args=(log, k, thread_results))
        for k in range(N_THREAD_CLIENTS)
    ]
    for t in threads:
        t.start()
    try:
        WRITER_DONE.clear()
        LIVE_COUNT[0] = 0
        t0 = time.monotonic()
        corrupt = await asyncio.to_thread(_writer, transcript, second, current, 99)
        write_seconds = time.monotonic() - t0
        WRITER_DONE.set()
        deadline = time.monotonic() + 30
        while log.last_seq < TOTAL:
            assert time.monotonic() < deadline, f"tailer stuck at {log.last_seq}"
            await asyncio.sleep(0.01)
        results = await asyncio.wait_for(asyncio.gather(*clients), 60)
        await asyncio.to_thread(lambda: [t.join(30) for t in threads])
    finally:
        follow.cancel()
        for c in clients:
            c.cancel()
        await asyncio.gather(follow, *clients, return_exceptions=True)
        await hub.aclose()

    assert log.last_seq == TOTAL
    assert tailer.restarts >= 1  # the compaction was noticed and deduplicated
    # the clients really met the stream live, not only as finished history
    assert LIVE_COUNT[0] > N_LINES, (LIVE_COUNT[0], write_seconds)
    print(f"live events {LIVE_COUNT[0]}, writer {write_seconds:.2f} s")
    assert 0 < tailer.corrupt_lines <= corrupt  # junk compacted away unread is never seen
    assert [e.text for e in log.events()] == [_expected_text(s) for s in range(1, TOTAL + 1)]
    assert log.events()[SWITCH_AT].subtype == "transcript_switch"
    for after, seqs, texts in results:
        assert seqs == list(range(after + 1, TOTAL + 1)), f"client from {after}: gap or duplicate"
        assert texts == [_expected_text(s) for s in seqs]
    assert len(thread_results) == N_THREAD_CLIENTS
    for start, got in thread_results:
        assert got == list(range(start + 1, TOTAL + 1)), f"thread client from {start}"
    assert log.listener_count == 0
    log.close()
    reopened = EventLog(tmp_path / "ours" / "events.jsonl")
    assert reopened.last_seq == TOTAL and reopened.corrupt_records == 0
