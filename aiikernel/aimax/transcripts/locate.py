"""Find the JSONL transcript an agent session writes.

Claude Code: we choose the session uuid (``--session-id``), so the path is
computed: ``<projects_dir>/<enc>/<uuid>.jsonl`` where ``<enc>`` is the realpath
of the cwd with every UTF-16 code unit outside ``[A-Za-z0-9]`` replaced by
``-``; longer than 200 characters it is cut to 200 and ``-`` +
base36(abs(Java ``String.hashCode`` of the realpath)) is appended.

Codex: the thread id is only known after the first submit. The state DB
(``state_5.sqlite``, table ``threads``) maps thread id → rollout path; it is
opened read-only (``mode=ro``, WAL-safe) and any locked/missing/odd DB just
means "not found yet". Failing that, the newest rollout under
``sessions/YYYY/MM/DD/`` whose ``session_meta`` names our cwd is used.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

CLAUDE_ENC_MAX = 200
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_META_LINE_CAP = 4 * 1024 * 1024


def java_string_hashcode(text: str) -> int:
    """Java's ``String.hashCode``: ``h = 31*h + c`` over UTF-16 code units, signed 32-bit."""
    data = text.encode("utf-16-le", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] | (data[i + 1] << 8))) & 0xFFFFFFFF
    return h - 0x1_0000_0000 if h & 0x8000_0000 else h


def _base36(n: int) -> str:
    if n == 0:
        return "0"
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(_BASE36[r])
    return "".join(reversed(digits))


def encode_claude_project_dir(real_cwd: str) -> str:
    """The directory name Claude Code uses under ``projects/`` for an (already resolved) cwd."""
    units = real_cwd.encode("utf-16-le", "surrogatepass")
    out = []
    for i in range(0, len(units), 2):
        code = units[i] | (units[i + 1] << 8)
        alnum = 48 <= code <= 57 or 65 <= code <= 90 or 97 <= code <= 122
        out.append(chr(code) if alnum else "-")
    encoded = "".join(out)
    if len(encoded) <= CLAUDE_ENC_MAX:
        return encoded
    return encoded[:CLAUDE_ENC_MAX] + "-" + _base36(abs(java_string_hashcode(real_cwd)))


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a plain id (letters, digits, '.', '_', '-')")
    return value


def claude_transcript_path(projects_dir: Path, cwd: Path, session_uuid: str) -> Path:
    """Where Claude Code writes the transcript of session ``session_uuid`` started in ``cwd``."""
    _check_id(session_uuid, "Claude session id")
    real = os.path.realpath(os.fspath(cwd))
    return Path(projects_dir) / encode_claude_project_dir(real) / f"{session_uuid}.jsonl"


def codex_rollout_for_thread(state_db: Path, thread_id: str) -> Path | None:
    """The rollout file of a Codex thread according to its state DB, or None if not (yet) known.

    Opened read-only so we can never corrupt Codex's state; a missing, locked or
    differently shaped DB is not an error, just "unknown".
    """
    state_db = Path(state_db)
    if not state_db.is_file():
        return None
    uri = "file:" + quote(os.fspath(state_db.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=0.25)
        try:
            row = conn.execute(
                "SELECT rollout_path FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.debug("codex state db %s not readable: %s", state_db, exc)
        return None
    if not row or not row[0]:
        return None
    return Path(row[0])


def read_codex_session_meta(rollout: Path) -> dict | None:
    """The ``payload`` of a rollout's first line when it is a ``session_meta`` entry."""
    try:
        with open(rollout, "rb") as fh:
            first = fh.readline(_META_LINE_CAP)
    except OSError:
        return None
    try:
        entry = json.loads(first)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("type") != "session_meta":
        return None
    payload = entry.get("payload")
    return payload if isinstance(payload, dict) else None


def _day_dirs(sessions_dir: Path, since: float):
    """Day directories (``YYYY/MM/DD``) that may hold rollouts started at or after ``since``."""
    earliest = _dt.date.fromtimestamp(since) - _dt.timedelta(days=1) if since > 0 else None
    try:
        years = sorted(p for p in sessions_dir.iterdir() if p.is_dir() and p.name.isdigit())
    except OSError:
        return
    for year in years:
        for month in sorted(p for p in year.iterdir() if p.is_dir() and p.name.isdigit()):
            for day in sorted(p for p in month.iterdir() if p.is_dir() and p.name.isdigit()):
                if earliest is not None:
                    try:
                        date = _dt.date(int(year.name), int(month.name), int(day.name))
                    except ValueError:
                        continue
                    if date < earliest:
                        continue
                yield day


def newest_codex_rollout(sessions_dir: Path, cwd: Path, since: float) -> tuple[str, Path] | None:
    """``(thread_id, path)`` of the newest rollout for ``cwd`` modified at or after ``since``."""
    want = os.path.realpath(os.fspath(cwd))
    best: tuple[float, str, Path] | None = None
    for day in _day_dirs(Path(sessions_dir), since):
        for path in day.glob("rollout-*.jsonl"):
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime < since or (best is not None and mtime <= best[0]):
                continue
            meta = read_codex_session_meta(path)
            if not meta or not isinstance(meta.get("cwd"), str):
                continue
            if os.path.realpath(meta["cwd"]) != want:
                continue
            thread_id = meta.get("id") or meta.get("session_id")
            if isinstance(thread_id, str):
                best = (mtime, thread_id, path)
    return None if best is None else (best[1], best[2])
