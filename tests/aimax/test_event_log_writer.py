"""EventLog with a writer thread: a slow or full disk neither delays delivery nor loses events.

The disk is the real one; ``os.write`` is wrapped for the one log file under test so a write to
it can be held (an fsync in progress on a busy disk) or refused (a full disk).
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aiikernel.aimax.manager import AimaxManager
from aiikernel.aimax.runtime import SessionRuntime
from aiikernel.aimax.transcripts.eventlog import EventLog
from aiikernel.aimax.transcripts.parse_claude import parse_claude_entry
from aiikernel.aimax.transcripts.tail import TranscriptTailer


def _user(i: int) -> dict:
    return {"type": "user", "uuid": f"u{i}", "message": {"content": f"msg {i}"}}


def _wait(check: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class DiskGate:
    """Holds writes to one file until ``release()``, or refuses the next ``refuse`` of them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path, *, held: bool) -> None:
        self.path = os.path.realpath(path)
        self.opened = threading.Event()
        if not held:
            self.opened.set()
        self.waiting = threading.Event()
        self.refuse = 0
        self.refused = 0
        real_write = os.write

        def write(fd: int, data: Any) -> int:
            if self._ours(fd):
                if self.refuse:
                    self.refuse -= 1
                    self.refused += 1
                    raise OSError(errno.ENOSPC, "No space left on device")
                self.waiting.set()
                if not self.opened.wait(30):
                    raise TimeoutError("the test never released the disk")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", write)

    def _ours(self, fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}") == self.path
        except OSError:
            return False

    def release(self) -> None:
        self.opened.set()


def _seqs_in_file(path: Path) -> list[int]:
    reopened = EventLog(path)
    try:
        return [e.seq for e in reopened.events()]
    finally:
        reopened.close()


def test_a_held_write_does_not_hold_up_delivery(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "s.jsonl"
    gate = DiskGate(monkeypatch, path, held=True)
    with ThreadPoolExecutor(1) as writer:
        log = EventLog(path, writer=writer)
        delivered: list[int] = []
        log.subscribe(lambda e: delivered.append(e.seq))
        appender = threading.Thread(
            target=log.append_entries, args=([_user(1), _user(2)], parse_claude_entry), daemon=True
        )
        appender.start()
        _wait(lambda: delivered == [1, 2], "delivery while the disk holds the write")
        assert gate.waiting.wait(20), "the writer thread never wrote"
        appender.join(20)
        assert not appender.is_alive(), "the appending thread waited for the disk"
        assert log.unwritten
        assert [e["seq"] for e in log.history()["entries"]] == [1, 2]  # served from memory
        assert _seqs_in_file(path) == []

        gate.release()
        _wait(lambda: not log.unwritten, "the writer to catch up")
        assert _seqs_in_file(path) == [1, 2]
        log.append_entries([_user(3)], parse_claude_entry)
        log.close()
    assert _seqs_in_file(path) == [1, 2, 3]
    assert delivered == [1, 2, 3]


def test_a_refused_write_is_kept_and_written_later_in_order(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "s.jsonl"
    gate = DiskGate(monkeypatch, path, held=False)
    gate.refuse = 2
    with ThreadPoolExecutor(1) as writer:
        log = EventLog(path, writer=writer)
        log._file.retry_delay = 0.05
        delivered: list[int] = []
        log.subscribe(lambda e: delivered.append(e.seq))
        log.append_entries([_user(1)], parse_claude_entry)
        log.append_entries([_user(2)], parse_claude_entry)
        assert delivered == [1, 2]  # at once, whatever the disk says
        _wait(lambda: gate.refused == 2 and not log.unwritten, "the retried writes")
        log.close()
    assert _seqs_in_file(path) == [1, 2]
    texts = [json.loads(line)["event"]["text"] for line in path.read_text().splitlines()]
    assert texts == ["msg 1", "msg 2"]


def test_close_writes_what_a_stopped_writer_left(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    writer = ThreadPoolExecutor(1)
    writer.shutdown()
    log = EventLog(path, writer=writer)
    log.append_entries([_user(1)], parse_claude_entry)
    assert log.unwritten and log.last_seq == 1
    log.close()
    assert not log.unwritten
    assert _seqs_in_file(path) == [1]


def test_without_a_writer_a_refused_write_keeps_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "s.jsonl"
    gate = DiskGate(monkeypatch, path, held=False)
    log = EventLog(path)
    log.append_entries([_user(1)], parse_claude_entry)
    gate.refuse = 1
    with pytest.raises(OSError):
        log.append_entries([_user(2)], parse_claude_entry)
    assert log.last_seq == 1  # the caller (a tailer) reads the line again later
    assert [e.seq for e in log.append_entries([_user(2)], parse_claude_entry)] == [2]
    log.close()
    assert _seqs_in_file(path) == [1, 2]


def test_a_transcript_position_is_saved_only_once_its_events_are_written(
    tmp_path: Path, monkeypatch
) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("".join(json.dumps(_user(i)) + "\n" for i in range(3)))
    path = tmp_path / "session" / "events.jsonl"
    gate = DiskGate(monkeypatch, path, held=True)
    with ThreadPoolExecutor(1) as writer:
        rt = SessionRuntime(tmp_path / "session", log_writer=writer)
        rt.log = EventLog(path, writer=writer)
        rt.tailer = TranscriptTailer(rt.log, parse_claude_entry, path=transcript)
        assert len(rt.tailer.read_available()) == 3
        assert gate.waiting.wait(20)
        assert AimaxManager._tail_to_save(rt) is None  # the log file has none of them yet

        gate.release()
        _wait(lambda: not rt.log.unwritten, "the writer to catch up")
        saved = AimaxManager._tail_to_save(rt)
        assert saved is not None and saved["offset"] == transcript.stat().st_size
        rt.log.close()
