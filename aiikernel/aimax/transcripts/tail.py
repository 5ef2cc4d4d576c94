"""Follow one agent transcript by byte offset and feed its entries to an :class:`EventLog`.

Rules (each one learned from a real failure):

* split on ``b"\\n"`` only — ``str.splitlines`` also splits on U+2028, which
  appears inside JSON string content;
* a last line without its newline is held back (the writer is mid-line); the
  offset only ever points just after a newline;
* a line that is not a JSON object is skipped and counted (logged once);
* the file being replaced (other inode), shortened below the offset, or
  rewritten under us (the bytes just before the offset changed) means the
  transcript was rotated/compacted: re-read from 0 — the log's dedupe drops
  everything already seen;
* the path comes from a provider that is asked again on every wake-up, so a
  transcript switch (Claude ``/clear``, resume into a new file) is followed:
  the old file is drained first, a ``system`` event (subtype ``transcript_switch``)
  is logged, then the new one is read from its start.

Wake-ups come from a shared inotify watcher (:class:`~.watch.DirectoryWatchHub`)
plus a slow poll, so a missed notification only delays lines.
:class:`TailState` is what the session registry persists to resume without
duplicates in a new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from .eventlog import EventLog
from .events import KIND_SYSTEM, AgentEvent, ParsedEvent, TranscriptParser
from .watch import DirectoryWatchHub, wait_for_event

log = logging.getLogger(__name__)

PathProvider = Callable[[], Path | None]
_FINGERPRINT = 32


class TailState(BaseModel):
    """A tailer's position, persisted by the registry (JSON) to resume in another process."""

    path: str | None = None
    offset: int = 0
    device: int | None = None
    inode: int | None = None
    fingerprint: str | None = None
    """Hex of the bytes just before ``offset``: tells a rewritten file from an appended one."""
    corrupt_lines: int = 0


class TranscriptTailer:
    """Reads complete new lines of the current transcript into an event log."""

    def __init__(
        self,
        log: EventLog,
        parser: TranscriptParser,
        offset: int = 0,
        *,
        path: Path | None = None,
        state: TailState | None = None,
        hub: DirectoryWatchHub | None = None,
        poll_interval: float = 1.0,
        read_chunk: int = 1 << 20,
    ) -> None:
        self.log = log
        self.parser = parser
        self.poll_interval = poll_interval
        self.read_chunk = read_chunk
        self.hub = hub
        self.path: Path | None = Path(path) if path is not None else None
        self.offset = offset
        self.corrupt_lines = 0
        self.restarts = 0
        """How often the file was found rotated/truncated/rewritten and re-read from 0."""
        self._ident: tuple[int, int] | None = None
        self._fingerprint: bytes | None = None
        self._known: dict[Path, TailState] = {}
        if state is not None:
            self.path = Path(state.path) if state.path else None
            self.offset = state.offset
            self.corrupt_lines = state.corrupt_lines
            if state.device is not None and state.inode is not None:
                self._ident = (state.device, state.inode)
            if state.fingerprint:
                self._fingerprint = bytes.fromhex(state.fingerprint)

    @property
    def state(self) -> TailState:
        """The position to persist (always at a line boundary)."""
        return TailState(
            path=os.fspath(self.path) if self.path is not None else None,
            offset=self.offset,
            device=self._ident[0] if self._ident else None,
            inode=self._ident[1] if self._ident else None,
            fingerprint=self._fingerprint.hex() if self._fingerprint else None,
            corrupt_lines=self.corrupt_lines,
        )

    # -- reading (blocking; run on a worker thread by follow()) ------------------------

    def switch_to(self, path: Path | None) -> list[AgentEvent]:
        """Drain the current file, then make ``path`` current (resuming where we left it, if known)."""
        new: list[AgentEvent] = []
        if self.path is not None:
            new = self.read_available()
            self._known[self.path] = self.state
        previous = self._known.get(path) if path is not None else None
        log.info("transcript tail: %s -> %s", self.path, path)
        if self.path is not None and path is not None:
            # Tell consumers (Claude /clear, resume into a new file); raw carries both paths.
            note = {"type": "aimax:transcript_switch", "from": str(self.path), "to": str(path)}
            new += self.log.append_events(
                [ParsedEvent(kind=KIND_SYSTEM, subtype="transcript_switch", raw=note)]
            )
        self.path = path
        self.offset = previous.offset if previous else 0
        self._ident = (previous.device, previous.inode) if previous and previous.inode else None
        self._fingerprint = (
            bytes.fromhex(previous.fingerprint) if previous and previous.fingerprint else None
        )
        return new

    def read_available(self) -> list[AgentEvent]:
        """Append every complete new line of the current file to the log; returns new events."""
        if self.path is None:
            return []
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below, offset logic needs the fd
        except (FileNotFoundError, NotADirectoryError):
            return []  # not created yet, or deleted: our log still has everything
        except OSError as exc:
            log.warning("cannot open transcript %s: %s", self.path, exc)
            return []
        with fh:
            st = os.fstat(fh.fileno())
            if self._needs_restart(fh, st):
                self.restarts += 1
                log.info(
                    "transcript %s was replaced or rewritten; re-reading from the start", self.path
                )
                self.offset = 0
                self._fingerprint = None
            self._ident = (st.st_dev, st.st_ino)
            return self._read_lines(fh)

    def _needs_restart(self, fh, st: os.stat_result) -> bool:
        if self._ident is not None and self._ident != (st.st_dev, st.st_ino):
            return True
        if st.st_size < self.offset:
            return True
        if self.offset and self._fingerprint is not None:
            start = self.offset - len(self._fingerprint)
            if os.pread(fh.fileno(), len(self._fingerprint), start) != self._fingerprint:
                return True
        return False

    def _read_lines(self, fh) -> list[AgentEvent]:
        new: list[AgentEvent] = []
        fh.seek(self.offset)
        pending = b""
        while True:
            chunk = fh.read(self.read_chunk)
            if not chunk:
                break
            data = pending + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data  # a line longer than the chunk, or still being written
                continue
            complete, pending = data[: cut + 1], data[cut + 1 :]
            entries = self._decode(complete)
            if entries:
                new.extend(self.log.append_entries(entries, self.parser))
            # Only after the log has the events: a failed append re-reads these lines.
            self.offset += len(complete)
            self._fingerprint = complete[-_FINGERPRINT:]
        return new

    def _decode(self, block: bytes) -> list[dict]:
        entries = []
        for line in block.split(b"\n"):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                self.corrupt_lines += 1
                level = logging.WARNING if self.corrupt_lines == 1 else logging.DEBUG
                log.log(
                    level,
                    "skipping corrupt transcript line in %s (%d so far)",
                    self.path,
                    self.corrupt_lines,
                )
                continue
            entries.append(entry)
        return entries

    # -- following -------------------------------------------------------------------

    async def _in_thread(self, fn, *args):
        """Run blocking file work on a thread; on cancellation wait for it, so state stays whole."""
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await future
            raise

    async def follow(self, path_provider: PathProvider | Path) -> None:
        """Tail until cancelled, asking ``path_provider`` for the current transcript on each wake-up."""
        provider = (
            (lambda p=Path(path_provider): p)
            if isinstance(path_provider, (str, Path))
            else path_provider
        )
        hub = self.hub or DirectoryWatchHub()
        own_hub = self.hub is None
        wake = asyncio.Event()
        watched: Path | None = None
        unwatch: Callable[[], None] | None = None
        try:
            while True:
                wake.clear()  # before reading: a write during the read wakes us again
                try:
                    path = provider()
                except Exception:
                    log.exception("transcript path provider failed; keeping %s", self.path)
                    path = self.path
                path = Path(path) if path is not None else None
                if path != self.path:
                    await self._in_thread(self.switch_to, path)
                folder = path.parent if path is not None and path.parent.is_dir() else None
                if folder != watched:
                    if unwatch is not None:
                        unwatch()
                    unwatch = hub.watch(folder, wake.set) if folder is not None else None
                    watched = folder
                if self.path is not None:
                    try:
                        await self._in_thread(self.read_available)
                    except OSError as exc:  # e.g. our log's disk is full: retry next wake-up
                        log.warning("transcript tail of %s paused: %s", self.path, exc)
                await wait_for_event(wake, self.poll_interval)
        finally:
            if unwatch is not None:
                unwatch()
            if own_hub:
                await hub.aclose()
