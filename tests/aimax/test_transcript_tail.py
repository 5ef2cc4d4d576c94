"""TranscriptTailer on real files: partial lines, U+2028, corrupt lines, switches, truncation, resume."""

from __future__ import annotations

import asyncio
import json
import os
import random
from pathlib import Path

import pytest

from aiikernel.aimax.transcripts.eventlog import EventLog
from aiikernel.aimax.transcripts.parse_claude import parse_claude_entry
from aiikernel.aimax.transcripts.parse_codex import parse_codex_entry
from aiikernel.aimax.transcripts.tail import TailState, TranscriptTailer
from aiikernel.aimax.transcripts.watch import DirectoryWatchHub

FIXTURES = Path(__file__).parent / "fixtures"


def _line(i: int, text: str | None = None) -> bytes:
    entry = {"type": "user", "uuid": f"u{i}", "message": {"content": text or f"msg {i}"}}
    return json.dumps(entry, ensure_ascii=False).encode() + b"\n"


def _texts(log: EventLog) -> list[str | None]:
    return [e.text for e in log.events()]


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def test_partial_line_is_held_back(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    line = _line(1)
    path.write_bytes(_line(0) + line[:10])
    tailer = TranscriptTailer(EventLog(tmp_path / "log.jsonl"), parse_claude_entry, path=path)
    assert [e.text for e in tailer.read_available()] == ["msg 0"]
    assert tailer.offset == len(_line(0))
    assert tailer.read_available() == []
    _append(path, line[10:])
    assert [e.text for e in tailer.read_available()] == ["msg 1"]
    assert tailer.offset == path.stat().st_size


def test_u2028_and_crlf_inside_content(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    tricky = "para\u2028graph\u2029 next\u0085 nel \r\n crlf"
    raw = json.dumps(
        {"type": "user", "uuid": "x", "message": {"content": tricky}}, ensure_ascii=False
    )
    path.write_bytes(raw.encode() + b"\r\n" + _line(2))
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    assert _texts(log) == [tricky, "msg 2"]
    assert tailer.corrupt_lines == 0


def test_corrupt_lines_are_skipped_and_counted(tmp_path: Path, caplog) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(0) + b"{not json\n" + b"[1, 2]\n" + b"\xff\xfe\n" + b"\n  \n" + _line(1))
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    assert _texts(log) == ["msg 0", "msg 1"]
    assert tailer.corrupt_lines == 3
    assert caplog.text.count("skipping corrupt transcript line") == 1  # logged once


def test_long_line_over_chunk_size(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    big = "x" * 50_000
    path.write_bytes(_line(0, big) + _line(1))
    log = EventLog(tmp_path / "log.jsonl")
    TranscriptTailer(log, parse_claude_entry, path=path, read_chunk=4096).read_available()
    assert _texts(log) == [big, "msg 1"]


def test_fixture_streamed_in_random_pieces_equals_whole_parse(tmp_path: Path) -> None:
    for name, parser in [
        ("claude-session-text-interrupt-tool.jsonl", parse_claude_entry),
        ("codex-rollout-text-interrupt-tool-resume.jsonl", parse_codex_entry),
    ]:
        data = (FIXTURES / name).read_bytes()
        expected = [
            (e.kind, e.text) for line in data.split(b"\n") if line for e in parser(json.loads(line))
        ]
        path = tmp_path / name
        path.write_bytes(b"")
        log = EventLog(tmp_path / f"{name}.log")
        tailer = TranscriptTailer(log, parser, path=path)
        rng = random.Random(5)
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 3000)
            _append(path, data[pos : pos + step])
            pos += step
            tailer.read_available()
        assert [(e.kind, e.text) for e in log.events()] == expected
        assert [e.seq for e in log.events()] == list(range(1, len(expected) + 1))


def test_truncation_rereads_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(_line(i) for i in range(5)))
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    path.write_bytes(_line(3) + _line(4) + _line(5))  # compacted: shorter, keeps the tail
    tailer.read_available()
    assert _texts(log) == [f"msg {i}" for i in range(6)]
    assert tailer.restarts == 1


def test_rewrite_to_larger_file_is_detected_by_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(0) + _line(1))
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    with open(path, "r+b") as fh:  # same inode, rewritten in place, now longer
        fh.write(_line(7, "rewritten head") + _line(1) + _line(2))
    tailer.read_available()
    assert _texts(log) == ["msg 0", "msg 1", "rewritten head", "msg 2"]
    assert tailer.restarts == 1


def test_rotation_to_a_new_inode(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(0) + _line(1))
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_bytes(_line(1) + _line(2) + _line(3))  # longer than before, different inode
    os.replace(fresh, path)
    tailer.read_available()
    assert _texts(log) == ["msg 0", "msg 1", "msg 2", "msg 3"]


def test_resume_from_saved_state_in_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(0) + _line(1) + _line(2)[:7])
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    saved = tailer.state.model_dump_json()
    log.close()
    _append(path, _line(2)[7:] + _line(3))
    # "new process": reopen the log, rebuild the tailer from the persisted JSON
    log2 = EventLog(tmp_path / "log.jsonl")
    tailer2 = TranscriptTailer(log2, parse_claude_entry, state=TailState.model_validate_json(saved))
    assert [e.seq for e in tailer2.read_available()] == [3, 4]
    assert _texts(log2) == ["msg 0", "msg 1", "msg 2", "msg 3"]
    assert tailer2.restarts == 0


def test_deleted_transcript_keeps_history(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(0))
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, path=path)
    tailer.read_available()
    path.unlink()
    assert tailer.read_available() == []
    assert [e["text"] for e in log.history()["entries"]] == ["msg 0"]


@pytest.mark.asyncio
async def test_follow_wakes_on_inotify_not_poll(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, poll_interval=60)
    task = asyncio.create_task(tailer.follow(path))
    try:
        await asyncio.sleep(0.3)  # watcher running; file does not exist yet (dir does)
        _append(path, _line(0))
        await _until(lambda: len(log) == 1, timeout=5)  # 60 s poll: only inotify can do this
        _append(path, _line(1)[:5])
        await asyncio.sleep(0.2)
        assert len(log) == 1
        _append(path, _line(1)[5:])
        await _until(lambda: len(log) == 2, timeout=5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


class _DeafHub(DirectoryWatchHub):
    """A watcher that never notifies: only the poll fallback can deliver."""

    def watch(self, directory, callback):
        return lambda: None


@pytest.mark.asyncio
async def test_follow_poll_fallback_when_notifications_are_missed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    log = EventLog(tmp_path / "log.jsonl")
    tailer = TranscriptTailer(log, parse_claude_entry, hub=_DeafHub(), poll_interval=0.05)
    task = asyncio.create_task(tailer.follow(lambda: path))
    try:
        _append(path, _line(0))
        await _until(lambda: len(log) == 1, timeout=5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.asyncio
async def test_follow_switches_transcripts_and_drains_the_old_one(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "one.jsonl", tmp_path / "b" / "two.jsonl"
    first.parent.mkdir()
    current = {"path": first}
    log = EventLog(tmp_path / "log.jsonl")
    hub = DirectoryWatchHub()
    tailer = TranscriptTailer(log, parse_claude_entry, hub=hub, poll_interval=0.2)
    task = asyncio.create_task(tailer.follow(lambda: current["path"]))
    try:
        _append(first, _line(0))
        await _until(lambda: len(log) == 1)
        second.parent.mkdir()
        _append(first, _line(1))  # written just before the switch: must not be lost
        _append(second, _line(2))
        current["path"] = second
        await _until(lambda: len(log) == 4)
        assert _texts(log) == ["msg 0", "msg 1", None, "msg 2"]
        switch = log.events()[2]
        assert (switch.kind, switch.subtype) == ("system", "transcript_switch")
        assert (switch.raw["from"], switch.raw["to"]) == (str(first), str(second))
        assert tailer.path == second
        _append(second, _line(3))
        _append(first, _line(99))  # the old file is no longer followed
        await _until(lambda: len(log) == 5)
        await asyncio.sleep(0.3)
        assert _texts(log) == ["msg 0", "msg 1", None, "msg 2", "msg 3"]
        current["path"] = first  # switching back resumes where we left it: no dupes
        await _until(lambda: len(log) == 7)
        assert _texts(log)[-2:] == [None, "msg 99"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await hub.aclose()
    assert hub.directories == []
