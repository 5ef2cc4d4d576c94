"""The session registry and archive: JSON files written atomically, shared by processes.

``registry.json`` holds the sessions aimax started and has not stopped; ``archive.json`` the
stopped ones (so they can still be listed and resumed). Every change is a read-modify-write
under an ``flock`` and lands with tmp file → fsync → rename (the archive skips the fsync: it
is history), so a crash leaves either the old or the new file, never a torn one, and the CLI
and the server extension can share a data dir. The archive keeps the newest ``MAX_ARCHIVED``
stopped sessions.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import SessionNotFound


class SessionRecord(BaseModel):
    """Everything needed to find, drive and resume one session (persisted)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    session_id: str
    backend: str
    cwd: str
    pane_id: str | None = None
    hub: str | None = None
    flag_root: str
    model: str | None = None
    display_name: str | None = None
    use_proxy: bool = False
    agent_session_id: str | None = None
    """Claude session uuid / Codex thread id (known after the first submit for Codex)."""
    transcript_path: str | None = None
    tail_state: dict[str, Any] | None = None
    """The transcript tailer's position (``TailState``), so a new process resumes it."""
    created_at: float
    started_at: float | None = None
    exited_at: float | None = None
    status: str = "running"
    """``running`` (process expected alive), ``exited`` (agent ended) or ``stopped`` (by us)."""
    exit_status: int | None = None
    worktree_path: str | None = None
    worktree_branch: str | None = None
    first_submit_at: float | None = None


#: Stopped sessions kept in ``archive.json`` (the oldest stopped are forgotten beyond it).
MAX_ARCHIVED = 500


def atomic_write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    """Write JSON so readers see the old or the new content, never a mix.

    ``durable`` fsyncs the file and its directory; without it the rename is still atomic
    (after a power loss the file may be one change behind, never torn)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        # A file someone else damaged: keep it aside rather than lose it silently.
        path.rename(path.with_name(f"{path.name}.corrupt-{int(time.time())}"))
        return {}
    return data if isinstance(data, dict) else {}


class Registry:
    """Live sessions (``registry.json``) and stopped ones (``archive.json``) in ``data_dir``."""

    def __init__(self, data_dir: Path, max_archived: int = MAX_ARCHIVED) -> None:
        self.data_dir = Path(data_dir)
        self.max_archived = max(1, max_archived)
        self.path = self.data_dir / "registry.json"
        self.archive_path = self.data_dir / "archive.json"
        self._lock_path = self.data_dir / "registry.lock"
        self._cache: dict[Path, tuple[tuple[int, int, int], dict[str, SessionRecord]]] = {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self, path: Path) -> dict[str, SessionRecord]:
        """Parse ``path``; reuse the last parse while the file is unchanged (pollers read it
        often; records are immutable pydantic models, the dict is copied)."""
        try:
            st = path.stat()
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return {}
        cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return dict(cached[1])
        sessions = _read_json(path).get("sessions", {})
        out = {}
        for sid, data in sessions.items():
            try:
                out[sid] = SessionRecord.model_validate(data)
            except ValueError:
                continue
        self._cache[path] = (stamp, out)
        return dict(out)

    def _save(self, path: Path, sessions: dict[str, SessionRecord]) -> None:
        # The archive is history, not state a crash must not lose: no fsync for it.
        atomic_write_json(
            path,
            {"version": 1, "sessions": {k: v.model_dump() for k, v in sessions.items()}},
            durable=path != self.archive_path,
        )

    def live(self) -> dict[str, SessionRecord]:
        """Sessions in the registry (running or exited, not stopped)."""
        return self._load(self.path)

    def archived(self) -> dict[str, SessionRecord]:
        return self._load(self.archive_path)

    def get(self, session_id: str) -> SessionRecord:
        """The live record, else the archived one; :class:`SessionNotFound` otherwise."""
        record = self.live().get(session_id) or self.archived().get(session_id)
        if record is None:
            raise SessionNotFound(
                f"unknown session {session_id!r}; `aimax list` shows the known sessions"
            )
        return record

    def find(self, session_id: str) -> SessionRecord | None:
        try:
            return self.get(session_id)
        except SessionNotFound:
            return None

    def put(self, record: SessionRecord) -> None:
        """Insert or replace a live record (and drop it from the archive)."""
        with self._locked():
            live = self.live()
            live[record.session_id] = record
            self._save(self.path, live)
            archived = self.archived()
            if archived.pop(record.session_id, None) is not None:
                self._save(self.archive_path, archived)

    def update(
        self, session_id: str, change: Callable[[SessionRecord], SessionRecord]
    ) -> SessionRecord:
        """Apply ``change`` to a live (or else archived) record atomically."""
        with self._locked():
            for path in (self.path, self.archive_path):
                sessions = self._load(path)
                if session_id in sessions:
                    changed = change(sessions[session_id])
                    if changed != sessions[session_id]:  # unchanged: nothing to rewrite
                        sessions[session_id] = changed
                        self._save(path, sessions)
                    return changed
        raise SessionNotFound(f"unknown session {session_id!r}")

    def set_tail_states(self, states: dict[str, dict[str, Any]]) -> None:
        """Save many sessions' transcript positions in one rewrite of ``registry.json``.

        Not fsync'd: a position one tick old after a power loss only makes the tailer re-read
        a few lines, which the event log's dedupe drops. Called from a worker thread by the
        monitor, once per tick for all sessions (never once per session)."""
        with self._locked():
            live = self._load(self.path)
            changed = False
            for session_id, state in states.items():
                record = live.get(session_id)
                if record is not None and record.tail_state != state:
                    live[session_id] = record.model_copy(update={"tail_state": state})
                    changed = True
            if changed:
                atomic_write_json(
                    self.path,
                    {"version": 1, "sessions": {k: v.model_dump() for k, v in live.items()}},
                    durable=False,
                )

    def archive(self, session_id: str, **changes: Any) -> SessionRecord:
        """Move a record from the registry to the archive."""
        with self._locked():
            live = self.live()
            record = live.pop(session_id, None) or self.archived().get(session_id)
            if record is None:
                raise SessionNotFound(f"unknown session {session_id!r}")
            record = record.model_copy(update=changes)
            archived = self.archived()
            archived.pop(session_id, None)
            archived[session_id] = record
            while len(archived) > self.max_archived:  # forget the oldest stopped sessions
                oldest = min(
                    archived, key=lambda k: archived[k].exited_at or archived[k].created_at
                )
                del archived[oldest]
            self._save(self.archive_path, archived)
            self._save(self.path, live)
            return record
