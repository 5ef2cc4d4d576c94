"""Locating transcripts: Claude's path encoding, Codex's state DB and rollout scan."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from aiikernel.aimax.transcripts.locate import (
    claude_transcript_path,
    codex_rollout_for_thread,
    encode_claude_project_dir,
    java_string_hashcode,
    newest_codex_rollout,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 97),
        ("hello", 99162322),  # known Java value
        ("polygenelubricants", -2147483648),  # Integer.MIN_VALUE
        ("é😀", (233 * 31 + 0xD83D) * 31 + 0xDE00),  # UTF-16 code units, not code points
    ],
)
def test_java_hashcode(text: str, expected: int) -> None:
    assert java_string_hashcode(text) == expected


def test_encoding_short_path() -> None:
    assert (
        encode_claude_project_dir("/home/dev/agentlab/work/proj1")
        == "-home-dev-agentlab-work-proj1"
    )
    assert encode_claude_project_dir("/tmp/a b/ü.x") == "-tmp-a-b---x"
    assert encode_claude_project_dir("/x/😀") == "-x---"  # one char, two UTF-16 units


def test_encoding_long_path_gets_hash_suffix() -> None:
    long = "/" + "/".join(["segment"] * 40)
    enc = encode_claude_project_dir(long)
    h = abs(java_string_hashcode(long))
    digits = ""
    while h:
        h, r = divmod(h, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    assert enc == long.replace("/", "-")[:200] + "-" + digits
    assert len(encode_claude_project_dir("/" + "a" * 199)) == 200  # exactly 200: no suffix


def test_claude_path_uses_realpath(tmp_path: Path) -> None:
    real = tmp_path / "real dir"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    got = claude_transcript_path(
        tmp_path / "projects", link, "9f87bf4c-8104-418e-aa8c-a471fe9e56c1"
    )
    enc = "".join(c if c.isascii() and c.isalnum() else "-" for c in os.path.realpath(real))
    assert got == tmp_path / "projects" / enc / "9f87bf4c-8104-418e-aa8c-a471fe9e56c1.jsonl"


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "", ".hidden"])
def test_claude_path_rejects_non_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="not a plain id"):
        claude_transcript_path(tmp_path, tmp_path, bad)


def _make_state_db(path: Path, rows: list[tuple[str, str]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE threads (id TEXT PRIMARY KEY, rollout_path TEXT, cwd TEXT)")
    conn.executemany("INSERT INTO threads VALUES (?, ?, '/x')", rows)
    conn.commit()
    conn.close()


def test_codex_state_db_lookup_read_only(tmp_path: Path) -> None:
    db = tmp_path / "state 5.sqlite"
    _make_state_db(db, [("t1", "/r/rollout-t1.jsonl")])
    before = db.read_bytes()
    assert codex_rollout_for_thread(db, "t1") == Path("/r/rollout-t1.jsonl")
    assert codex_rollout_for_thread(db, "missing") is None
    assert db.read_bytes() == before


def test_codex_state_db_readable_while_a_writer_holds_a_transaction(tmp_path: Path) -> None:
    db = tmp_path / "state_5.sqlite"
    _make_state_db(db, [("t1", "/r/1.jsonl")])
    writer = sqlite3.connect(db)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO threads VALUES ('t2', '/r/2.jsonl', '/x')")
        assert codex_rollout_for_thread(db, "t1") == Path("/r/1.jsonl")  # WAL: readers not blocked
        assert codex_rollout_for_thread(db, "t2") is None  # uncommitted
        writer.commit()
        assert codex_rollout_for_thread(db, "t2") == Path("/r/2.jsonl")
    finally:
        writer.close()


def test_codex_state_db_missing_locked_or_odd_is_none(tmp_path: Path) -> None:
    assert codex_rollout_for_thread(tmp_path / "nope.sqlite", "t") is None
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    assert codex_rollout_for_thread(garbage, "t") is None
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.close()
    assert codex_rollout_for_thread(other, "t") is None
    locked = tmp_path / "locked.sqlite"
    conn = sqlite3.connect(locked)
    conn.execute("CREATE TABLE threads (id TEXT, rollout_path TEXT)")
    conn.commit()
    conn.execute("BEGIN EXCLUSIVE")  # rollback journal: readers are locked out
    try:
        t0 = time.monotonic()
        assert codex_rollout_for_thread(locked, "t") is None
        assert time.monotonic() - t0 < 5
    finally:
        conn.rollback()
        conn.close()


def _rollout(sessions: Path, day: str, thread: str, cwd: Path, mtime: float) -> Path:
    folder = sessions.joinpath(*day.split("/"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-{day.replace('/', '-')}T00-00-00-{thread}.jsonl"
    meta = {
        "timestamp": "t",
        "ordinal": 0,
        "type": "session_meta",
        "payload": {"id": thread, "cwd": str(cwd)},
    }
    path.write_text(json.dumps(meta) + "\n")
    os.utime(path, (mtime, mtime))
    return path


def test_newest_codex_rollout_for_cwd(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    now = time.time()
    today = time.strftime("%Y/%m/%d", time.localtime(now))
    _rollout(sessions, "2001/01/01", "ancient", mine, now)  # old day dir: never scanned
    _rollout(sessions, today, "older", mine, now - 30)
    newest = _rollout(sessions, today, "newer", mine, now - 10)
    _rollout(sessions, today, "someone-else", other, now - 1)
    _rollout(sessions, today, "before-since", mine, now - 500)
    (sessions / today.replace("/", os.sep) / "rollout-bad.jsonl").write_text("{not json\n")
    assert newest_codex_rollout(sessions, mine, since=now - 100) == ("newer", newest)
    assert newest_codex_rollout(sessions, tmp_path / "nobody", since=now - 100) is None
    assert newest_codex_rollout(tmp_path / "no-sessions", mine, since=0) is None
