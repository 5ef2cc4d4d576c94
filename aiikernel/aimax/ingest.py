"""Copy new transcript lines into a session's event log, once (for one-shot processes).

The long-lived path is :class:`~aiikernel.aimax.transcripts.tail.TranscriptTailer` (inotify).
A CLI call such as ``aimax history`` cannot wait for inotify: it reads what the transcript
holds right now from the saved byte offset. Only one process may feed a session's event log
at a time (the log numbers events in memory), so feeding takes an exclusive ``flock`` on
``ingest.lock``; a process that cannot get it reads the log the owner keeps current.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CatchUp:
    """Result of one pass: the new byte offset and what was skipped."""

    offset: int
    entries: list[dict[str, Any]]
    corrupt_lines: int = 0


def read_new_entries(path: Path, offset: int) -> CatchUp:
    """Whole lines of ``path`` after ``offset``, decoded; a partial last line waits.

    Splits on ``\\n`` only (``str.splitlines`` would also split inside U+2028). A file
    shorter than ``offset`` was replaced or truncated: read it again from the start
    (the event log drops what it already has).
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return CatchUp(offset, [])
    if size < offset:
        offset = 0
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size - offset)
    end = data.rfind(b"\n")
    if end < 0:
        return CatchUp(offset, [])
    result = CatchUp(offset + end + 1, [])
    for line in data[: end + 1].split(b"\n"):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            result.corrupt_lines += 1
            continue
        if isinstance(entry, dict):
            result.entries.append(entry)
        else:
            result.corrupt_lines += 1
    return result


@contextlib.contextmanager
def feeder_lock(path: Path, blocking: bool) -> Iterator[bool]:
    """Hold the right to feed one event log; yields False if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
