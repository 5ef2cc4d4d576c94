"""AimaxManager: the one object that owns aimax's state in a process.

It holds the config, the private tmux server, the registry, the prompt recorder, the backends
and the per-session runtime (lock, event log, transcript tail, state-file reader). The CLI builds
one per invocation; the jupyter-server extension holds one for its lifetime. No module globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import AimaxConfig
from .errors import UnknownBackend
from .recorder import PromptRecorder
from .registry import Registry, SessionRecord
from .runtime import SessionRuntime
from .tmux import PaneInfo, TmuxServer

if TYPE_CHECKING:
    from .backend_base import TmuxAgentBackend
    from .host import TranscriptSource
    from .transcripts.eventlog import EventLog

log = logging.getLogger(__name__)

TAIL_POLL_WAITING = 0.2
"""Seconds between transcript checks while the transcript does not exist yet."""
TAIL_POLL_IDLE = 5.0
"""Safety-net poll once inotify watches the transcript's directory."""


class AimaxManager:
    """Owns config, tmux server, registry, backends and per-session runtime."""

    def __init__(self, config: AimaxConfig | None = None) -> None:
        self.config = config or AimaxConfig.from_env()
        self.tmux = TmuxServer(
            self.config.tmux_socket, self.config.tmux_bin, self.config.window_size
        )
        self.registry = Registry(self.config.data_dir)
        self.recorder = PromptRecorder()
        self._backends: dict[str, TmuxAgentBackend] = {}
        self._runtimes: dict[str, SessionRuntime] = {}
        self._watch_hub: Any = None
        self._monitor: asyncio.Task | None = None
        self._panes: dict[str, PaneInfo] = {}
        self._panes_at = 0.0
        self._log_writer: Any = None

    async def panes(self, max_age: float = 0.0) -> dict[str, PaneInfo]:
        """Every pane of the server by id: one ``list-panes -a``, reused for ``max_age`` s.

        Status calls pass a small ``max_age`` so that many clients polling many sessions
        share the monitor's one tmux call per tick instead of each spawning tmux.
        """
        if max_age <= 0 or time.monotonic() - self._panes_at > max_age:
            self._panes = {p.pane_id: p for p in await self.tmux.list_panes()}
            self._panes_at = time.monotonic()
        return self._panes

    async def pane_info(
        self, pane_id: str | None, max_age: float = 0.0, *, tag: str | None = None
    ) -> PaneInfo | None:
        """The pane's row; with ``tag``, only while the pane is that session's (else None).

        A cached row that is missing or shows another tag is checked against a fresh list
        before it counts: the pane may be newer than the list, or listed in the instant
        between its creation and its tagging (which once marked a new session exited).
        """
        if not pane_id:
            return None
        info = (await self.panes(max_age)).get(pane_id)
        if max_age > 0 and (info is None or (tag is not None and info.tag != tag)):
            info = (await self.panes()).get(pane_id)
        if info is not None and tag is not None and info.tag != tag:
            return None  # the tmux server was restarted and reused the pane id
        return info

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    def set_recorder(self, recorder) -> None:
        """The seed's prompt-paste analytics hook (see :mod:`.recorder`)."""
        self.recorder.set_recorder(recorder)

    # -- backends ---------------------------------------------------------------------
    def backend(self, name: str) -> TmuxAgentBackend:
        """The backend called ``name`` (one instance per manager)."""
        from .backends import backend_class

        if name not in self._backends:
            cls = backend_class(name)
            if cls is None:
                from .backends import available_backends

                raise UnknownBackend(
                    f"unknown backend {name!r}; choose one of {', '.join(available_backends())}"
                )
            self._backends[name] = cls(self)
        return self._backends[name]

    def backend_for(self, session_id: str) -> TmuxAgentBackend:
        """The backend that owns a known session."""
        return self.backend(self.registry.get(session_id).backend)

    # -- per-session state --------------------------------------------------------------
    def session_dir(self, session_id: str) -> Path:
        return self.data_dir / "sessions" / session_id

    def runtime(self, session_id: str) -> SessionRuntime:
        if session_id not in self._runtimes:
            if self._log_writer is None:
                from concurrent.futures import ThreadPoolExecutor

                # One thread writes and fsyncs every event log: a slow disk holds up that
                # thread, never the threads that read transcripts nor the delivery of events.
                self._log_writer = ThreadPoolExecutor(1, thread_name_prefix="aimax-logs")
            self._runtimes[session_id] = SessionRuntime(
                self.session_dir(session_id), log_writer=self._log_writer
            )
        return self._runtimes[session_id]

    def mark_exited(self, record: SessionRecord, info: PaneInfo | None) -> SessionRecord:
        """Record that a session's agent has exited (pane dead or gone)."""
        if record.status != "running":
            return record

        def change(current: SessionRecord) -> SessionRecord:
            if current.status != "running" or current.pane_id != record.pane_id:
                return current  # restarted (new pane) since ``record`` was read: not ours to end
            return current.model_copy(
                update={
                    "status": "exited",
                    "exited_at": time.time(),
                    "exit_status": info.exit_status if info else None,
                }
            )

        return self.registry.update(record.session_id, change)

    # -- events -------------------------------------------------------------------------
    def _tailer(self, backend: TranscriptSource, record: SessionRecord, log: EventLog):
        from .transcripts.tail import TailState, TranscriptTailer

        state = TailState.model_validate(record.tail_state) if record.tail_state else None
        return TranscriptTailer(
            log, backend.parser, state=state, hub=self._watch_hub, poll_interval=TAIL_POLL_WAITING
        )

    @staticmethod
    def _tail_to_save(rt: SessionRuntime) -> dict[str, Any] | None:
        """The tailer's position if it moved and every event read up to it is in the log file.

        A position saved ahead of the file would lose those events for good if the process
        ended before its log writer caught up (a full disk): wait for the next tick instead.
        The position is taken before looking at the log, so events the tailer appends in
        between are caught by the check."""
        if rt.tailer is None:
            return None
        state = rt.tailer.state.model_dump()
        if state == rt.persisted_tail or (rt.log is not None and rt.log.unwritten):
            return None
        return state

    def _persist_tail(self, rt: SessionRuntime, session_id: str) -> None:
        state = self._tail_to_save(rt)
        if state is not None:
            rt.persisted_tail = state
            with contextlib.suppress(Exception):
                self.registry.update(
                    session_id, lambda r: r.model_copy(update={"tail_state": state})
                )

    def catch_up(self, backend: TranscriptSource, record: SessionRecord) -> EventLog:
        """Make the session's event log current with its transcript, once (one-shot callers)."""
        rt = self.runtime(record.session_id)
        log = rt.event_log(record)
        if rt.tail_task is not None and not rt.tail_task.done():
            if rt.tailer is None:  # we are a reader: another process feeds the log
                log.refresh()
            return log
        from .ingest import feeder_lock

        with feeder_lock(rt.session_dir / "ingest.lock", blocking=False) as owner:
            if not owner:
                log.refresh()  # another process feeds this log: take in what it wrote
                return log
            record = self.registry.find(record.session_id) or record  # newest tail position
            tailer = self._tailer(backend, record, log)
            path = backend.flavor_transcript_path(record)
            if path is not None and tailer.path != path:
                tailer.switch_to(path)
            tailer.read_available()
            # In the file before the feeder lock is released (another process may feed next).
            log.flush(sync=False)
            rt.tailer = tailer
            self._persist_tail(rt, record.session_id)
            rt.tailer = None
            return log

    def ensure_tail(self, backend: TranscriptSource, record: SessionRecord) -> EventLog:
        """Keep the session's event log live (needs a running event loop).

        The process holding the feeder lock tails the transcript into the log; any other
        process follows the log file itself, and takes over feeding when the lock frees up.
        """
        rt = self.runtime(record.session_id)
        log = self.catch_up(backend, record)
        if rt.tail_task is not None and not rt.tail_task.done():
            return log
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return log  # no loop: history only
        if self._watch_hub is None:
            from .transcripts.watch import DirectoryWatchHub

            self._watch_hub = DirectoryWatchHub()
        rt.tail_task = loop.create_task(
            self._follow(backend, record.session_id, rt, log),
            name=f"aimax-follow-{record.session_id}",
        )
        return log

    def _try_feeder_lock(self, rt: SessionRuntime) -> Any:
        rt.session_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_file = open(rt.session_dir / "ingest.lock", "a")  # noqa: SIM115 - held while feeding
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return None
        return lock_file

    async def _follow(
        self, backend: TranscriptSource, session_id: str, rt: SessionRuntime, log: EventLog
    ) -> None:
        def provider() -> Path | None:
            current = self.registry.find(session_id)
            path = backend.flavor_transcript_path(current) if current else None
            if rt.tailer is not None:
                # inotify wakes us for a file in a directory that exists (Claude's is made up
                # front). Poll briskly only while a submitted prompt's transcript is unknown
                # (Codex names it after its thread, learned by whoever submitted).
                waiting = (path is None or not path.parent.is_dir()) and bool(
                    current and current.first_submit_at
                )
                rt.tailer.poll_interval = TAIL_POLL_WAITING if waiting else TAIL_POLL_IDLE
            return path

        while True:
            lock_file = self._try_feeder_lock(rt)
            if lock_file is not None:
                rt.tail_lock_file = lock_file
                record = self.registry.find(session_id)
                if record is None:
                    return
                rt.tailer = self._tailer(backend, record, log)
                await rt.tailer.follow(provider)  # until cancelled
                return
            reader = asyncio.ensure_future(log.follow_file(self._watch_hub))
            try:
                while True:
                    await asyncio.sleep(max(1.0, self.config.poll_interval * 2))
                    lock_file = self._try_feeder_lock(rt)
                    if lock_file is not None:
                        lock_file.close()  # re-taken at the top of the loop
                        break
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def transcript_changed(self, backend: TranscriptSource, record: SessionRecord) -> None:
        """We learned where the transcript is (Codex's first submit): follow it at once."""
        rt = self._runtimes.get(record.session_id)
        if rt is None or rt.tail_task is None or rt.tail_task.done():
            return
        await self.stop_tail(record.session_id)
        self.ensure_tail(backend, self.registry.get(record.session_id))

    async def stop_tail(self, session_id: str) -> None:
        rt = self._runtimes.get(session_id)
        if rt is None or rt.tail_task is None:
            return
        rt.tail_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await rt.tail_task
        self._persist_tail(rt, session_id)
        rt.tail_task, rt.tailer = None, None
        if rt.tail_lock_file is not None:
            rt.tail_lock_file.close()
            rt.tail_lock_file = None

    # -- reconcile / monitor --------------------------------------------------------------
    async def reconcile(self) -> dict[str, str]:
        """Match the registry with tmux: dead or missing panes become ``exited``.

        Returns ``{session_id: "live" | "exited"}`` for the registry's running sessions.
        """
        # Registry first: a session registered after our pane listing would look gone.
        records = self.registry.live()
        panes = await self.panes()
        result = {}
        for record in records.values():
            if record.status != "running":
                continue
            info = panes.get(record.pane_id or "")
            if info is not None and not info.dead and info.tag == record.session_id:
                result[record.session_id] = "live"
            else:
                self.mark_exited(record, info)
                result[record.session_id] = "exited"
        return result

    async def poll_once(self) -> None:
        """One monitor tick: one ``list-panes -a`` for every session, tail positions saved."""
        records = self.registry.live()  # before listing panes: see reconcile()
        panes = await self.panes()
        for record in records.values():
            if record.status == "running":
                info = panes.get(record.pane_id or "")
                if info is None or info.dead:
                    self.mark_exited(record, info)
        await self.persist_tails(records)

    async def persist_tails(self, records: dict[str, SessionRecord] | None = None) -> None:
        """Save every moved transcript position in one registry write, off the event loop.

        Writing each session's position separately (an fsync'd rewrite of the whole registry
        per session per tick, on the loop) delayed events by tens of ms with 50 sessions."""
        records = self.registry.live() if records is None else records
        changes: dict[str, dict[str, Any]] = {}
        for session_id, rt in list(self._runtimes.items()):
            state = self._tail_to_save(rt) if session_id in records else None
            if state is not None:
                changes[session_id] = state
        if not changes:
            return
        try:
            await asyncio.to_thread(self.registry.set_tail_states, changes)
        except Exception:
            log.exception("aimax: saving transcript positions failed; retrying next tick")
            return
        for session_id, state in changes.items():
            rt = self._runtimes.get(session_id)
            if rt is not None:
                rt.persisted_tail = state

    def start_monitor(self) -> None:
        """Start the background poller (long-lived processes such as the server extension)."""
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(self._run_monitor())

    async def _run_monitor(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("aimax monitor tick failed")
            await asyncio.sleep(self.config.poll_interval)

    async def close(self) -> None:
        """Stop tails and the monitor; agents keep running in tmux."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        for session_id in list(self._runtimes):
            await self.stop_tail(session_id)
            rt = self._runtimes[session_id]
            if rt.log is not None:
                rt.log.close()
        if self._watch_hub is not None:
            await self._watch_hub.aclose()
            self._watch_hub = None
        if self._log_writer is not None:
            writer, self._log_writer = self._log_writer, None
            await asyncio.to_thread(writer.shutdown, wait=True)

    async def kill_server(self) -> None:
        """Kill aimax's private tmux server (all sessions). Tests and `aimax stop --all` use it."""
        await self.tmux.kill()

    def tmux_available(self) -> bool:
        return shutil.which(self.config.tmux_bin) is not None
