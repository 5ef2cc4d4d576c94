"""EventLog: numbering, dedupe, history/sentinel, subscriptions, reopen, crash tolerance."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
from pathlib import Path

import pytest

from aiikernel.aimax.transcripts.eventlog import EventLog
from aiikernel.aimax.transcripts.events import AgentEvent
from aiikernel.aimax.transcripts.parse_claude import parse_claude_entry

FIXTURES = Path(__file__).parent / "fixtures"


def _claude_entries() -> list[dict]:
    data = (FIXTURES / "claude-session-text-interrupt-tool.jsonl").read_bytes()
    return [json.loads(line) for line in data.split(b"\n") if line.strip()]


def _user(i: int) -> dict:
    return {"type": "user", "uuid": f"u{i}", "message": {"content": f"msg {i}"}}


def test_seq_starts_at_one_and_dedupes(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s1.jsonl")
    first = log.append_entries(_claude_entries(), parse_claude_entry)
    assert [e.seq for e in first] == list(range(1, len(first) + 1))
    assert all(e.session_id == "s1" for e in first)
    assert log.append_entries(_claude_entries(), parse_claude_entry) == []  # re-read: nothing new
    assert log.last_seq == len(first) == 20
    log.close()


def test_multi_block_entries_keep_each_block(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")
    entry = {
        "type": "assistant",
        "uuid": "a1",
        "message": {
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "tool_use", "id": "t", "name": "Bash", "input": {}},
            ]
        },
    }
    assert [e.kind for e in log.append_entries([entry, entry], parse_claude_entry)] == [
        "assistant",
        "tool_call",
    ]
    log.close()


def test_history_paging_and_sentinel(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")
    log.append_entries([_user(i) for i in range(10)], parse_claude_entry)
    full = log.history()
    assert (full["total"], full["truncated"], full["sentinel"]) == (10, False, 10)
    assert [e["seq"] for e in full["entries"]] == list(range(1, 11))
    json.dumps(full)  # JSON-ready
    page = log.history(after=3, limit=4)
    assert [e["seq"] for e in page["entries"]] == [4, 5, 6, 7]
    assert (page["truncated"], page["sentinel"]) == (True, 7)
    rest = log.history(after=page["sentinel"])
    assert [e["seq"] for e in rest["entries"]] == [8, 9, 10]
    assert log.history(after=10)["sentinel"] == 10
    assert log.history(after=99)["sentinel"] == 10  # beyond the log: pulled back
    assert EventLog(tmp_path / "empty.jsonl").history() == {
        "entries": [],
        "total": 0,
        "truncated": False,
        "sentinel": 0,
    }
    with pytest.raises(ValueError):
        log.history(after=-1)
    log.close()


def test_reopen_continues_seq_and_dedupe(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    log = EventLog(path)
    log.append_entries([_user(i) for i in range(5)], parse_claude_entry)
    log.close()
    again = EventLog(path)
    assert again.last_seq == 5
    assert again.append_entries([_user(i) for i in range(7)], parse_claude_entry)[0].seq == 6
    assert [e.text for e in again.events(after=5)] == ["msg 5", "msg 6"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again.close()


def test_torn_and_corrupt_records_are_skipped_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    log = EventLog(path)
    log.append_entries([_user(i) for i in range(3)], parse_claude_entry)
    log.close()
    with open(path, "ab") as fh:
        fh.write(b'garbage line\n{"key": "x", "event": {"seq": 4, "sess')  # crash mid-record
    again = EventLog(path)
    assert (again.last_seq, again.corrupt_records) == (3, 1)  # garbage; torn tail held back
    again.append_entries([_user(3)], parse_claude_entry)
    again.close()
    third = EventLog(path)
    assert [e.text for e in third.events()] == ["msg 0", "msg 1", "msg 2", "msg 3"]
    assert third.corrupt_records == 2
    third.close()


def test_subscribe_replays_then_live_and_unsubscribes(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")
    log.append_entries([_user(i) for i in range(4)], parse_claude_entry)
    seen: list[int] = []
    unsubscribe = log.subscribe(lambda e: seen.append(e.seq), from_seq=2)
    log.append_entries([_user(i) for i in range(4, 6)], parse_claude_entry)
    assert seen == [3, 4, 5, 6]
    unsubscribe()
    unsubscribe()  # idempotent
    log.append_entries([_user(9)], parse_claude_entry)
    assert seen == [3, 4, 5, 6]
    assert log.listener_count == 0
    live: list[int] = []
    log.subscribe(live.append, from_seq=None)
    log.append_entries([_user(10)], parse_claude_entry)
    assert [e.seq for e in live] == [8]
    log.close()


def test_failing_listener_is_removed_others_continue(tmp_path: Path, caplog) -> None:
    log = EventLog(tmp_path / "s.jsonl")
    good: list[int] = []

    def bad(event: AgentEvent) -> None:
        raise RuntimeError("boom")

    log.subscribe(bad)
    log.subscribe(lambda e: good.append(e.seq))
    log.append_entries([_user(1), _user(2)], parse_claude_entry)
    assert good == [1, 2]
    assert log.listener_count == 1
    assert "removing it" in caplog.text
    log.close()


def test_parser_that_raises_keeps_entry_as_raw(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")

    def broken(raw: dict):
        raise KeyError("drift")

    (event,) = log.append_entries([{"uuid": "z", "type": "x"}], broken)
    assert (event.kind, event.raw) == ("raw", {"uuid": "z", "type": "x"})
    log.close()


@pytest.mark.asyncio
async def test_aiter_history_then_live_with_stop(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")
    log.append_entries([_user(i) for i in range(3)], parse_claude_entry)
    stop = asyncio.Event()
    got: list[int] = []

    async def consume() -> None:
        async for event in log.aiter(from_seq=1, stop=stop):
            got.append(event.seq)
            if event.seq == 5:
                stop.set()

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    writer = threading.Thread(
        target=log.append_entries, args=([_user(i) for i in range(3, 8)], parse_claude_entry)
    )
    writer.start()
    writer.join()
    await asyncio.wait_for(task, 5)
    assert got == [2, 3, 4, 5]
    assert log.listener_count == 0
    log.close()


@pytest.mark.asyncio
async def test_aiter_cancel_unsubscribes(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")

    async def consume() -> None:
        async for _ in log.aiter():
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    assert log.listener_count == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.listener_count == 0
    log.close()


def test_concurrent_appenders_and_subscribers_see_contiguous_seq(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "s.jsonl")
    seen: dict[int, list[int]] = {}
    stop = threading.Event()

    def appender(base: int) -> None:
        for i in range(200):
            log.append_entries([_user(base + i)], parse_claude_entry)

    def subscriber(n: int) -> None:
        got: list[int] = []
        start = min(n * 37, log.last_seq)
        seen[n] = got
        unsubscribe = log.subscribe(lambda e: got.append(e.seq), from_seq=start)
        seen[n] = (start, got)
        stop.wait()
        unsubscribe()

    subs = [threading.Thread(target=subscriber, args=(n,)) for n in range(8)]
    writers = [threading.Thread(target=appender, args=(k * 1000,)) for k in range(3)]
    for t in writers + subs:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in subs:
        t.join()
    assert log.last_seq == 600
    for start, got in seen.values():
        assert got == list(range(start + 1, 601))
    log.close()


def test_second_process_sees_appends_and_can_take_over(tmp_path: Path) -> None:
    """A reader (another process's EventLog on the same file) follows; a later feeder continues seq."""
    path = tmp_path / "s.jsonl"
    feeder = EventLog(path)
    reader = EventLog(path)
    feeder.append_entries([_user(0), _user(1)], parse_claude_entry)
    seen: list[int] = []
    reader.subscribe(lambda e: seen.append(e.seq), from_seq=0)
    assert seen == [1, 2]  # subscribe refreshes first
    feeder.append_entries([_user(2)], parse_claude_entry)
    assert reader.refresh()[0].seq == 3
    assert seen == [1, 2, 3]
    assert reader.history(after=2)["sentinel"] == 3
    feeder.close()
    # hand-over: the reader becomes the feeder (the manager's flock decides who) — no seq reuse
    assert [e.seq for e in reader.append_entries([_user(2), _user(3)], parse_claude_entry)] == [4]
    assert [e.text for e in EventLog(path).events()] == ["msg 0", "msg 1", "msg 2", "msg 3"]
    reader.close()


@pytest.mark.asyncio
async def test_follow_file_streams_another_process_appends(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    feeder = EventLog(path)
    reader = EventLog(path)
    follower = asyncio.create_task(reader.follow_file(poll_interval=30))
    got: list[int] = []

    async def consume() -> None:
        async for event in reader.aiter(from_seq=0):
            got.append(event.seq)
            if event.seq == 3:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    for i in range(3):
        await asyncio.to_thread(feeder.append_entries, [_user(i)], parse_claude_entry)
    await asyncio.wait_for(consumer, 10)  # 30 s poll: delivered by inotify
    assert got == [1, 2, 3]
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    feeder.close()
    reader.close()
