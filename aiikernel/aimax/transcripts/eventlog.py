"""Our own append-only copy of every event of one agent session.

Why keep a copy: agents delete transcripts (Claude after 30 days), rewrite them
(compaction) or switch to new files (``/clear``, resume). The log numbers events
itself (``seq`` = the sentinel), so history and live streams stitch at a number
that stays meaningful whatever happens to the transcript.

Storage: one JSONL file, one record per line ``{"key": <dedupe key>, "event":
<AgentEvent>}``, mode 0600 (transcripts may hold secrets). With a ``writer`` thread
(long-lived processes) new records are kept in memory and given to listeners at
once, and the writer appends them to the file and fsyncs it at most every
``fsync_interval`` seconds, so a slow disk never delays delivery (see
:mod:`.logfile`); without one they are written before they are kept. Both fsync on
:meth:`flush`/:meth:`close`. A record torn by a crash is skipped on reopen and the
log continues after the last whole record.

Concurrency: every method is thread safe (one re-entrant lock). Listeners are
called on the appending thread *while the lock is held*, in ``seq`` order — that
is what makes history + live stitching gap- and duplicate-free — so listeners
must be quick (hand work to a queue, as :meth:`aiter` does). A listener that
raises is logged and removed; the log and the other listeners carry on.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import KIND_RAW, AgentEvent, ParsedEvent, TranscriptParser, entry_dedupe_key
from .logfile import LogFile

if TYPE_CHECKING:
    from .watch import DirectoryWatchHub

log = logging.getLogger(__name__)

Listener = Callable[[AgentEvent], None]
_STOP = object()


class EventLog:
    """Append-only, deduplicated, numbered event store of one session, with subscriptions."""

    def __init__(
        self,
        path: Path,
        session_id: str | None = None,
        *,
        fsync_interval: float = 0.5,
        writer: Executor | None = None,
    ) -> None:
        """``writer``: the thread that writes and fsyncs the file (a long-lived process passes
        one for all its logs); None: records are written by the appending thread."""
        self.path = Path(path)
        self.session_id = session_id or self.path.stem
        self.corrupt_records = 0
        self._lock = threading.RLock()
        self._file = LogFile(self.path, self._lock, writer=writer, fsync_interval=fsync_interval)
        self._events: list[AgentEvent] = []
        self._keys: set[str] = set()
        self._listeners: dict[int, Listener] = {}
        self._next_token = 0
        self._load()

    # -- reading back ---------------------------------------------------------------

    def _load(self) -> None:
        self._refresh_locked(dispatch=False)
        if self.corrupt_records:
            log.warning(
                "event log %s: skipped %d unreadable records", self.path, self.corrupt_records
            )

    def _refresh_locked(self, dispatch: bool = True) -> list[AgentEvent]:
        """Take in whole records another process appended since we last looked (cheap: one stat).

        Not while records of ours are on their way to the file: we are then the one process
        feeding this log, and what grows the file is us."""
        if self._file.unwritten:
            return []
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return []
        end = self._file.end
        if size <= end:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(end)
            data = fh.read(size - end)
        cut = data.rfind(b"\n")
        if cut < 0:
            return []  # a record still being written (or torn by a crash)
        self._file.end = end + cut + 1
        new: list[AgentEvent] = []
        for line in data[: cut + 1].split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                event = AgentEvent.model_validate(record["event"])
                key = record["key"]
            except (ValueError, KeyError, TypeError):
                self.corrupt_records += 1
                continue
            if self._events and event.seq <= self._events[-1].seq:
                continue  # never go backwards
            self._events.append(event)
            new.append(event)
            if isinstance(key, str):
                self._keys.add(key)
        if dispatch:
            for event in new:
                self._dispatch(event)
        return new

    def refresh(self) -> list[AgentEvent]:
        """Pick up events another process appended to this log (and notify listeners)."""
        with self._lock:
            return self._refresh_locked()

    async def follow_file(
        self, hub: DirectoryWatchHub | None = None, poll_interval: float = 1.0
    ) -> None:
        """Until cancelled, keep this log current with appends by another process (a reader's loop).

        Only one process may append to a log at a time (the session manager's feeder
        lock); others read it with this, and see new events through their listeners.
        """
        from .watch import DirectoryWatchHub, wait_for_event

        own = hub is None
        hub = hub or DirectoryWatchHub()
        wake = asyncio.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        unwatch = hub.watch(self.path.parent, wake.set)
        try:
            while True:
                wake.clear()
                await asyncio.to_thread(self.refresh)
                await wait_for_event(wake, poll_interval)
        finally:
            unwatch()
            if own:
                await hub.aclose()

    @property
    def last_seq(self) -> int:
        """The newest ``seq`` (0 when empty): a sentinel from which a stream starts live."""
        with self._lock:
            return self._events[-1].seq if self._events else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def _index_after(self, seq: int) -> int:
        return bisect.bisect_right(self._events, seq, key=lambda e: e.seq)

    def events(self, after: int = 0, limit: int | None = None) -> list[AgentEvent]:
        """Events with ``seq > after``, oldest first, at most ``limit``."""
        with self._lock:
            self._refresh_locked()
            start = self._index_after(after)
            end = len(self._events) if limit is None else min(len(self._events), start + limit)
            return self._events[start:end]

    def history(self, after: int = 0, limit: int | None = None) -> dict[str, Any]:
        """``{entries, total, truncated, sentinel}`` for events after ``after``.

        ``entries`` are JSON-ready event dicts; ``total`` counts the whole log;
        ``truncated`` says more events follow (``limit`` hit); ``sentinel`` is the
        ``seq`` of the last entry returned — pass it to ``subscribe``/``aiter``/
        another ``history`` call to continue with no gap and no duplicate. With no
        entries it is ``min(after, last_seq)`` (a sentinel beyond the log is pulled back).
        """
        if after < 0 or (limit is not None and limit < 0):
            raise ValueError("after and limit must be >= 0")
        with self._lock:
            chosen = self.events(after, limit)
            last = self._events[-1].seq if self._events else 0
            sentinel = chosen[-1].seq if chosen else min(after, last)
            return {
                "entries": [e.model_dump(mode="json") for e in chosen],
                "total": len(self._events),
                "truncated": sentinel < last,
                "sentinel": sentinel,
            }

    # -- appending --------------------------------------------------------------------

    def append_entries(
        self, raw_entries: Iterable[dict[str, Any]], parser: TranscriptParser
    ) -> list[AgentEvent]:
        """Parse transcript entries and append the events not seen before; returns the new ones.

        Dedupe is by the entry's identity (:func:`entry_dedupe_key`) plus the event's
        index within the entry, so re-reading a transcript (truncation, restart,
        switching back to an older file) adds nothing twice.
        """
        drafts: list[ParsedEvent] = []
        keys: list[str] = []
        for raw in raw_entries:
            base = entry_dedupe_key(raw)
            try:
                parsed = parser(raw) or [ParsedEvent(kind=KIND_RAW, raw=raw)]
            except Exception:
                log.exception("transcript parser failed; keeping the entry as a raw event")
                parsed = [ParsedEvent(kind=KIND_RAW, raw=raw)]
            for i, draft in enumerate(parsed):
                drafts.append(draft)
                keys.append(f"{base}#{i}")
        return self.append_events(drafts, keys)

    def append_events(
        self, drafts: Iterable[ParsedEvent], keys: Iterable[str | None] | None = None
    ) -> list[AgentEvent]:
        """Append event drafts (e.g. synthetic ones from the session manager); None key = no dedupe."""
        drafts = list(drafts)
        key_list = list(keys) if keys is not None else [None] * len(drafts)
        if len(key_list) != len(drafts):
            raise ValueError("keys must match drafts one to one")
        with self._lock:
            self._refresh_locked()  # a previous feeder process may have appended
            seq = self._events[-1].seq if self._events else 0
            new: list[AgentEvent] = []
            new_keys: list[str] = []
            chunks: list[str] = []
            batch_keys: set[str] = set()
            for draft, key in zip(drafts, key_list, strict=True):
                if key is not None and (key in self._keys or key in batch_keys):
                    continue
                seq += 1
                event = draft.to_event(seq, self.session_id)
                new.append(event)
                if key is not None:
                    batch_keys.add(key)
                    new_keys.append(key)
                chunks.append(f'{{"key":{json.dumps(key)},"event":{event.model_dump_json()}}}\n')
            if not new:
                return []
            # Before keeping them: without a writer thread a failed write keeps nothing.
            self._file.append("".join(chunks).encode("utf-8"))
            self._events.extend(new)
            self._keys.update(new_keys)
            for event in new:
                self._dispatch(event)
        return new

    @property
    def unwritten(self) -> bool:
        """Some events are kept and delivered but not yet in the file (a writer has them)."""
        return self._file.unwritten

    def flush(self, *, sync: bool = True) -> None:
        """Write every kept event to the file and, unless ``sync`` is false, fsync it.

        ``OSError`` if the disk refuses (the events stay kept, to write on the next try)."""
        self._file.flush(sync=sync)

    def close(self) -> None:
        """Flush and close the file; listeners stay registered, a later append reopens it."""
        self._file.close()

    # -- subscriptions ------------------------------------------------------------------

    def _dispatch(self, event: AgentEvent) -> None:
        for token, listener in list(self._listeners.items()):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed at seq %d; removing it", event.seq)
                self._listeners.pop(token, None)

    def subscribe(self, listener: Listener, from_seq: int | None = None) -> Callable[[], None]:
        """Call ``listener`` for every event with ``seq > from_seq``, then for each new one.

        ``from_seq=None`` means live only. Replay and registration happen under the
        log's lock, so no event is missed or delivered twice in between. Returns an
        idempotent unsubscribe function.
        """
        with self._lock:
            self._refresh_locked()
            if from_seq is not None:
                for event in self.events(after=from_seq):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("event listener failed during replay; not subscribing it")
                        return lambda: None
            token = self._next_token
            self._next_token += 1
            self._listeners[token] = listener

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.pop(token, None)

        return unsubscribe

    @property
    def listener_count(self) -> int:
        """How many listeners are subscribed (to check that subscriptions end)."""
        with self._lock:
            return len(self._listeners)

    async def aiter(
        self, from_seq: int = 0, stop: asyncio.Event | None = None
    ) -> AsyncIterator[AgentEvent]:
        """Yield events with ``seq > from_seq`` (history, then live) until ``stop`` is set or cancelled."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def listener(event: AgentEvent) -> None:
            # Always via the loop's FIFO, even on the loop thread, so order is kept
            # when appends come from several threads.
            loop.call_soon_threadsafe(queue.put_nowait, event)

        unsubscribe = self.subscribe(listener, from_seq=from_seq)
        stopper: asyncio.Task | None = None
        if stop is not None:

            async def _wait_stop() -> None:
                await stop.wait()
                queue.put_nowait(_STOP)

            stopper = asyncio.create_task(_wait_stop())
        last = from_seq
        try:
            while True:
                item = await queue.get()
                if item is _STOP or (stop is not None and stop.is_set()):
                    return
                if item.seq <= last:
                    continue
                last = item.seq
                yield item
        finally:
            unsubscribe()
            if stopper is not None:
                stopper.cancel()
