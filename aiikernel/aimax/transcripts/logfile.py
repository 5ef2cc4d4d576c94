"""The file side of an :class:`~.eventlog.EventLog`: appending its records and syncing them.

Why a writer thread: on a busy disk an ``fsync`` can take hundreds of milliseconds, and while
it runs a ``write`` to the same file may wait for it (with 50 sessions on a VM's disk, appends
were held up 200 ms, and every event behind them reached its clients that late). So in a
long-lived process the log keeps new records in memory, hands them to its listeners at once and
queues their bytes here; one writer thread, shared by every log, appends them and fsyncs each
file at most every ``fsync_interval`` seconds. Without a writer (one-shot processes, tests) the
caller writes the records before the log keeps them, so an error reaches it and nothing is
half kept.

The queue is written in order, by one drain at a time. Until it is in the file ``unwritten``
is true: the log must not read its own file back then (our bytes may be half written), and the
session manager does not save a transcript position past records not yet written. A failed
write (a full disk) keeps the bytes queued and is tried again ``retry_delay`` seconds later,
or sooner by the next append, :meth:`LogFile.flush` or :meth:`LogFile.close`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Executor
from pathlib import Path

log = logging.getLogger(__name__)


def _fsync_quietly(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        log.warning("event log fsync failed: %s", exc)


class LogFile:
    """Appends records to one event log file, now or behind on ``writer``."""

    def __init__(
        self,
        path: Path,
        lock: threading.RLock,
        *,
        writer: Executor | None,
        fsync_interval: float,
        retry_delay: float = 1.0,
    ) -> None:
        """``lock`` is the log's: it guards the queue, and ``end`` while nothing is queued."""
        self.path = path
        self.writer = writer
        self.fsync_interval = fsync_interval
        self.retry_delay = retry_delay
        self.end = 0
        """File bytes up to the last whole record, ours or one read back from another process."""
        self._lock = lock
        self._idle = threading.Condition(lock)
        self._fd: int | None = None
        self._queue: list[bytes] = []
        self._draining = False
        self._dirty = False
        self._last_fsync = 0.0
        self._failures = 0

    @property
    def unwritten(self) -> bool:
        """Records are queued or being written (not all of them are in the file yet)."""
        with self._lock:
            return self._draining or bool(self._queue)

    def append(self, data: bytes) -> None:
        """Add whole records; the caller holds the log's lock.

        Without a writer they are written (and synced when due) before this returns, and an
        ``OSError`` reaches the caller; with one they are queued for the writer thread.
        """
        if self.writer is None:
            self._write(data)
            if self._sync_due():  # the records are in the file: a failed sync must not undo them
                _fsync_quietly(self._fd)  # type: ignore[arg-type]  # _write opened it
            return
        self._queue.append(data)
        self._start_drain()

    def flush(self, *, sync: bool = True) -> None:
        """Write everything queued, and fsync unless ``sync`` is false.

        An ``OSError`` leaves the queue for the next try."""
        with self._lock:
            while self._draining:
                self._idle.wait()
            data = self._take()
            if data:
                try:
                    self._write(data)
                except OSError:
                    self._queue.insert(0, data)
                    raise
            if sync and self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._last_fsync = time.monotonic()
                self._dirty = False

    def close(self) -> None:
        """Flush and close the file (a later append reopens it)."""
        with self._lock:
            try:
                self.flush()
            except OSError as exc:
                lost = sum(len(d) for d in self._queue)
                self._queue.clear()
                log.error("event log %s: %d bytes could not be written: %s", self.path, lost, exc)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # -- on the writer thread -------------------------------------------------------------

    def _start_drain(self) -> None:
        """Have the writer write the queue (the caller holds the log's lock)."""
        if self._draining or not self._queue or self.writer is None:
            return  # a running drain takes what was queued
        self._draining = True
        try:
            self.writer.submit(self._drain)
        except RuntimeError:  # the writer was shut down: flush() or close() writes the queue
            self._draining = False
            self._idle.notify_all()

    def _retry(self) -> None:
        with self._lock:
            self._start_drain()

    def _drain(self) -> None:
        """Write the queue in order, then fsync when due; only one drain runs at a time."""
        while True:
            with self._lock:
                data = self._take()
                sync = not data and self._sync_due()
                if not data and not sync:
                    self._draining = False
                    self._idle.notify_all()
                    return
            if sync:  # the fd stays open: close() waits for this drain
                _fsync_quietly(self._fd)  # type: ignore[arg-type]
                continue
            try:
                self._write(data)
            except OSError as exc:
                with self._lock:
                    self._queue.insert(0, data)
                    self._draining = False
                    self._idle.notify_all()
                self._failures += 1
                level = logging.WARNING if self._failures == 1 else logging.DEBUG
                log.log(level, "event log %s: write failed, kept to retry: %s", self.path, exc)
                retry = threading.Timer(self.retry_delay, self._retry)
                retry.daemon = True
                retry.start()
                return

    # -- shared ---------------------------------------------------------------------------

    def _take(self) -> bytes:
        data = b"".join(self._queue)
        self._queue.clear()
        return data

    def _sync_due(self) -> bool:
        now = time.monotonic()
        if not self._dirty or now - self._last_fsync < self.fsync_interval:
            return False
        self._last_fsync = now
        self._dirty = False
        return True

    def _write(self, data: bytes) -> None:
        """Append ``data`` after the last whole record (called by one writer at a time)."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(self._fd).st_size
        if size > self.end:
            data = b"\n" + data  # a torn record (crash, failed write) must not swallow ours
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.end = size + len(data)
        self._dirty = True
