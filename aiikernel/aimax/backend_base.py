"""The tmux flow both agents share: the seed's ``AgentBackend`` contract implemented once.

:class:`TmuxAgentBackend` implements :class:`~.contract.AgentBackend` (whose method
docstrings say who calls them) for agents that run as TUIs in aimax's tmux server;
:mod:`.claude_code` and :mod:`.codex` fill in what differs (argv, trust, transcript location,
screen markers) through the ``flavor_*`` hooks.
"""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contract import AgentBackend
from .delivery import PromptDelivery
from .errors import (
    AgentBlocked,
    DeliveryError,
    InvalidOptions,
    SessionExists,
    SessionNotRunning,
)
from .flags import JobFlags
from .options import CreateOptions, SendOptions, StreamOptions, parse_options
from .registry import SessionRecord
from .screen import ScreenMarkers, ScreenReading, dead_status_shown, read_screen
from .spawn import FLAG_DIR_ENV, SESSION_ENV, launch_argv, proxied, write_env_file
from .state import SessionStatus, Signal, decide
from .tmux import Pane

if TYPE_CHECKING:
    from .host import BackendHost
    from .runtime import SessionRuntime
    from .transcripts.events import TranscriptParser


def _iso_to_epoch(ts: str | None) -> float:
    if not ts:
        return 0.0
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class TmuxAgentBackend(AgentBackend):
    """The shared flow: window per session, paste + Enter with confirmation, state, events."""

    name = "tmux-agent"
    agent_label = "agent"
    markers: ScreenMarkers

    def __init__(self, manager: BackendHost) -> None:
        self.manager = manager
        self.config = manager.config
        self._preflight_done = False

    # -- flavor hooks -----------------------------------------------------------------
    @property
    @abc.abstractmethod
    def hub(self) -> str:
        """tmux session holding this backend's windows."""

    @abc.abstractmethod
    def flavor_argv(self, record: SessionRecord, *, resume: bool) -> list[str]:
        """The agent's argv (no shell)."""

    def flavor_prepare(self, record: SessionRecord, env: dict[str, str]) -> None:
        """Pre-accept trust screens, write settings files; may edit ``env``."""

    @abc.abstractmethod
    def flavor_transcript_path(self, record: SessionRecord) -> Path | None:
        """Where the agent's transcript is (None while unknown)."""

    def flavor_new_transcript(
        self, record: SessionRecord, since: float, text: str | None = None
    ) -> Path | None:
        """A transcript the agent created for our first prompt (Codex), if it exists yet."""
        return None

    async def flavor_after_submit(
        self, record: SessionRecord, transcript: Path | None = None, text: str | None = None
    ) -> SessionRecord:
        """Learn ids known only after the first submit (Codex thread id)."""
        return record

    @abc.abstractmethod
    def flavor_preflight(self) -> str:
        """Check the agent binary; return its version."""

    @property
    def parser(self) -> TranscriptParser:
        from .transcripts import parser_for

        return parser_for(self.name)

    # -- helpers ----------------------------------------------------------------------
    def preflight(self) -> None:
        if self._preflight_done or not self.config.run_preflight:
            return
        from . import preflight

        preflight.check_tmux(self.config.tmux_bin)
        preflight.check_data_dir(self.config.data_dir)
        self.flavor_preflight()
        self._preflight_done = True

    def _pane(self, record: SessionRecord) -> Pane:
        if not record.pane_id:
            raise SessionNotRunning(f"session {record.session_id!r} has no window")
        return Pane(self.manager.tmux, record.pane_id)

    def _record(self, session_id: str) -> SessionRecord:
        record = self.manager.registry.get(session_id)
        if record.backend != self.name:
            raise InvalidOptions(
                f"session {session_id!r} belongs to backend {record.backend!r}, not {self.name!r}"
            )
        return record

    async def screen(self, pane: Pane) -> ScreenReading:
        """Read the pane's screen with this agent's markers."""
        return read_screen(await pane.capture(escapes=True), self.markers)

    async def _wait_ready(self, record: SessionRecord, pane: Pane) -> ScreenReading:
        """Wait for the agent's prompt; raise on exit or on a screen it cannot leave."""
        deadline = time.monotonic() + self.config.ready_timeout
        reading: ScreenReading | None = None
        while True:
            info = await pane.info()
            if info is None or info.dead:
                text = full = ""
                if info is not None:
                    last = await self.screen(pane)
                    text, full = last.excerpt, last.text
                status = info.dead_status if info else None
                if status is None:  # listed in the instant before tmux recorded it
                    status = dead_status_shown(full)
                hint = ""
                if status == 127 or "aimax: cannot start" in full:
                    argv0 = self.flavor_argv(record, resume=False)[0]
                    hint = f"; {argv0!r} could not be executed (check the path or PATH)"
                raise SessionNotRunning(
                    f"the {self.agent_label} exited while starting"
                    + (f" (status {status})" if status else "")
                    + hint
                    + (f". Its last screen:\n{text}" if text else "")
                )
            reading = await self.screen(pane)
            if reading.ready and reading.input_text is not None:
                # A freshly started agent runs no turn: older signals (a turn cut off when
                # the session was stopped) must not read as "working" after a resume.
                self.manager.runtime(record.session_id).state_file.note("launch")
                return reading
            if time.monotonic() > deadline:
                raise AgentBlocked(
                    f"the {self.agent_label} did not show its prompt within "
                    f"{self.config.ready_timeout:.0f}s; it shows a screen that needs a human "
                    f"(attach with `tmux -L {self.config.tmux_socket} attach -t "
                    f"{record.pane_id}`):\n{reading.excerpt}",
                    screen=reading.excerpt,
                )
            await asyncio.sleep(0.1)

    def _agent_env(self, record: SessionRecord, base: dict[str, str] | None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env[SESSION_ENV] = record.session_id
        env[FLAG_DIR_ENV] = str(JobFlags(Path(record.flag_root), record.session_id).dir)
        return env

    async def _launch(self, record: SessionRecord, env: dict[str, str], *, resume: bool) -> Pane:
        JobFlags(Path(record.flag_root), record.session_id).prepare()
        self.manager.runtime(record.session_id).state_file.ensure()
        self.flavor_prepare(record, env)
        argv = self.flavor_argv(record, resume=resume)
        if record.use_proxy:
            from .spawn import read_env_file

            env.update(read_env_file(self.config.proxy_envs_bash))
            argv = proxied(argv, self.config.proxychains_bin, self.config.proxy_chains_conf)
        env_file = write_env_file(self.manager.session_dir(record.session_id), env)
        try:
            return await self.manager.tmux.new_window(
                self.hub, launch_argv(env_file, argv), cwd=record.cwd, tag=record.session_id
            )
        except BaseException:
            env_file.unlink(missing_ok=True)
            raise

    # -- create / resume --------------------------------------------------------------
    async def create_new_session(self, opts: CreateOptions | dict) -> dict[str, Any]:
        o: CreateOptions = parse_options(CreateOptions, opts)
        cwd = Path(o.cwd).expanduser()
        if not cwd.is_dir():
            raise InvalidOptions(
                f"cwd {str(cwd)!r} does not exist or is not a directory; create it first"
            )
        cwd = cwd.resolve()
        self.preflight()
        rt = self.manager.runtime(o.session_id)
        async with rt.lock:
            existing = self.manager.registry.find(o.session_id)
            if existing is not None and existing.status == "running":
                if await self._pane_alive(existing):
                    raise SessionExists(
                        f"session {o.session_id!r} is already running; send to it, or stop it first"
                    )
            if existing is not None:
                await self._remove_dead_window(existing)
            worktree_path = worktree_branch = None
            if o.worktree:
                from .worktree import create_worktree

                wt = await create_worktree(
                    cwd, self.manager.data_dir / "worktrees", o.session_id, within=o.worktree_within
                )
                worktree_path, worktree_branch, cwd = str(wt.root), wt.branch, wt.path
            record = SessionRecord(
                session_id=o.session_id,
                backend=self.name,
                cwd=str(cwd),
                hub=self.hub,
                flag_root=str(Path(o.flag_root).expanduser().resolve() if o.flag_root else cwd),
                model=o.model,
                display_name=o.display_name,
                use_proxy=self.config.use_proxy if o.use_proxy is None else o.use_proxy,
                agent_session_id=o.agent_session_id or self.new_agent_session_id(),
                created_at=time.time(),
                worktree_path=worktree_path,
                worktree_branch=worktree_branch,
            )
            rt.reset_state_file()
            record = record.model_copy(
                update={"transcript_path": self._str_path(self.flavor_transcript_path(record))}
            )
            env = self._agent_env(record, o.env)
            try:
                pane = await self._launch(record, env, resume=o.agent_session_id is not None)
            except BaseException:
                if worktree_path:  # nobody will ever stop this session: take its checkout back
                    from .worktree import remove_worktree

                    await remove_worktree(Path(worktree_path))
                raise
            record = record.model_copy(update={"pane_id": pane.pane_id})
            self.manager.registry.put(record)
            await self._wait_ready(record, pane)
            record = self.manager.registry.update(
                record.session_id, lambda r: r.model_copy(update={"started_at": time.time()})
            )
            if o.initial_prompt:
                delivery = PromptDelivery(self, rt.state_file, record, pane)
                rt.last_delivery = await delivery.submit(o.initial_prompt)
                record = self.manager.registry.get(record.session_id)
        return self._handle(record)

    def new_agent_session_id(self) -> str | None:
        """An id chosen up front (Claude); None when the agent picks it (Codex)."""
        return None

    async def resume_session(
        self, session_id: str, env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Restart an exited (or stopped) session on the same agent conversation."""
        self.preflight()
        rt = self.manager.runtime(session_id)
        async with rt.lock:
            record = self._record(session_id)
            if await self._pane_alive(record):
                raise SessionExists(f"session {session_id!r} is still running")
            if not record.agent_session_id:
                raise InvalidOptions(
                    f"session {session_id!r} never got an agent conversation id; create a new one"
                )
            await self._remove_dead_window(record)
            pane = await self._launch(record, self._agent_env(record, env), resume=True)
            record = record.model_copy(
                update={
                    "pane_id": pane.pane_id,
                    "status": "running",
                    "exited_at": None,
                    "exit_status": None,
                }
            )
            self.manager.registry.put(record)
            await self._wait_ready(record, pane)
        return self._handle(record)

    @staticmethod
    def _str_path(path: Path | None) -> str | None:
        return None if path is None else str(path)

    def _handle(self, record: SessionRecord) -> dict[str, Any]:
        return {
            "sessionId": record.session_id,
            "agentSessionId": record.agent_session_id,
            "jsonlPath": record.transcript_path,
            "startedAt": record.started_at or record.created_at,
            "paneId": record.pane_id,
            "cwd": record.cwd,
        }

    async def _remove_dead_window(self, record: SessionRecord) -> None:
        """Close the window an exited agent left (remain-on-exit), if it is still ours."""
        if not record.pane_id:
            return
        pane = Pane(self.manager.tmux, record.pane_id)
        info = await pane.info()
        if info is not None and info.tag == record.session_id and info.dead:
            await pane.kill()

    async def _pane_alive(self, record: SessionRecord) -> bool:
        if not record.pane_id:
            return False
        info = await Pane(self.manager.tmux, record.pane_id).info()
        return info is not None and not info.dead and info.tag == record.session_id

    # -- sending ----------------------------------------------------------------------
    async def no_pause_current_and_queue_query_at_session(self, opts: SendOptions | dict) -> None:
        o: SendOptions = parse_options(SendOptions, opts)
        rt = self.manager.runtime(o.session_id)
        async with rt.lock:
            record = self._record(o.session_id)
            pane = await self._live_pane(record)
            delivery = PromptDelivery(self, rt.state_file, record, pane)
            rt.last_delivery = await delivery.submit(o.prompt)

    async def pause_current_and_resume_from_session(self, opts: SendOptions | dict) -> None:
        o: SendOptions = parse_options(SendOptions, opts)
        rt = self.manager.runtime(o.session_id)
        async with rt.lock:
            record = self._record(o.session_id)
            pane = await self._live_pane(record)
            delivery = PromptDelivery(self, rt.state_file, record, pane)
            await delivery.interrupt()
            rt.last_delivery = await delivery.submit(o.prompt)

    async def interrupt(self, session_id: str) -> bool:
        """Interrupt the running turn only (``aimax pause``); False if nothing was running."""
        rt = self.manager.runtime(session_id)
        async with rt.lock:
            record = self._record(session_id)
            pane = await self._live_pane(record)
            return await PromptDelivery(self, rt.state_file, record, pane).interrupt()

    async def answer_permission(self, session_id: str, approve: bool) -> str:
        """Answer the agent's permission question: Enter approves, Escape denies.

        Raises :class:`InvalidOptions` when the agent is not asking; returns the question.
        """
        rt = self.manager.runtime(session_id)
        async with rt.lock:
            record = self._record(session_id)
            pane = await self._live_pane(record)
            reading = await self.screen(pane)
            if not reading.permission:
                raise InvalidOptions(f"session {session_id!r} is not asking for permission")
            await pane.send_keys("Enter" if approve else "Escape")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                if not (await self.screen(pane)).permission:
                    return reading.permission
            raise DeliveryError(f"the {self.agent_label} still asks after our answer")

    async def _live_pane(self, record: SessionRecord) -> Pane:
        if record.status != "running" or not await self._pane_alive(record):
            raise SessionNotRunning(
                f"session {record.session_id!r} is not running ({await self._why_not_running(record)}); "
                f"`aimax create -b {self.name} -s {record.session_id} --resume` restarts it"
            )
        return self._pane(record)

    async def _why_not_running(self, record: SessionRecord) -> str:
        """What is left of the session's pane, in words (a user deciding to resume, and a
        test that failed, both need to know whether the agent exited or its window went)."""
        if record.status != "running" or not record.pane_id:
            return f"it is {record.status}"
        info = await Pane(self.manager.tmux, record.pane_id).info()
        if info is None:
            return "its tmux window is gone"
        if info.tag != record.session_id:
            return "its pane now shows another program"
        status = info.exit_status
        return "its agent exited" + (f" with status {status}" if status is not None else "")

    screen_busy_reliable = True
    """Whether the busy marker is always on screen while a turn runs (not for Codex, whose
    status line hides while it streams text)."""

    async def is_busy(
        self, record: SessionRecord, pane: Pane, reading: ScreenReading | None = None
    ) -> bool:
        reading = reading or await self.screen(pane)
        if reading.busy or self.screen_busy_reliable:
            return reading.busy
        return (await self.status(record.session_id)).state == "working"

    async def flavor_submit_key(self, record: SessionRecord, pane: Pane) -> str:
        """The key that submits (or, while busy, queues) what is in the input box."""
        return "Enter"

    # -- stopping ---------------------------------------------------------------------
    async def terminate_session(self, session_id: str) -> dict[str, Any]:
        rt = self.manager.runtime(session_id)
        async with rt.lock:
            record = self._record(session_id)
            was_working = False
            killed = False
            if record.pane_id:
                pane = Pane(self.manager.tmux, record.pane_id)
                info = await pane.info()
                if info is not None and info.tag == session_id:  # never another session's pane
                    if not info.dead:
                        was_working = (await self.screen(pane)).busy
                        await self._stop_process(pane, info.pid)
                        killed = True
                    await pane.kill()
            await self.manager.stop_tail(session_id)
            self._catch_up(rt, record)
            if record.worktree_path:
                from .worktree import remove_worktree

                await remove_worktree(Path(record.worktree_path))
            self.manager.registry.archive(
                session_id, status="stopped", exited_at=time.time(), pane_id=None
            )
        return {"sessionId": session_id, "killed": killed, "wasWorking": was_working}

    async def _stop_process(self, pane: Pane, pid: int | None) -> None:
        """SIGINT, then SIGTERM, then SIGKILL, each given a moment (by pid, never by name)."""
        import signal

        for sig, wait in ((signal.SIGINT, 1.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 1.0)):
            if pid is None:
                return
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                info = await pane.info()
                if info is None or info.dead:
                    return
                await asyncio.sleep(0.05)

    # -- state ------------------------------------------------------------------------
    async def status(self, session_id: str) -> SessionStatus:
        record = self._record(session_id)
        rt = self.manager.runtime(session_id)
        dead, screen = True, None
        if record.status == "running" and record.pane_id:
            info = await self.manager.pane_info(
                record.pane_id, max_age=self.config.poll_interval / 2, tag=session_id
            )
            dead = info is None or info.dead
            if info is not None:
                screen = await rt.screen_if_changed(
                    self, Pane(self.manager.tmux, info.pane_id), info.activity
                )
            if dead:
                record = self.manager.mark_exited(record, info)
        hook = rt.state_file.read(record.agent_session_id)
        transcript = self._transcript_signal(rt, record)
        seen_ready = record.started_at is not None or (
            time.time() - record.created_at > self.config.ready_timeout
        )
        state, detail, source = decide(
            dead=dead,
            screen=screen,
            hook=hook,
            transcript=transcript,
            seen_ready=seen_ready,
            screen_reliable=self.screen_busy_reliable,
        )
        flags = JobFlags(Path(record.flag_root), session_id)
        log = rt.event_log(record)
        return SessionStatus(
            session_id=session_id,
            backend=self.name,
            state=state,
            detail=detail,
            source=source,
            alive=not dead,
            working=state == "working",
            job_accomplished=flags.is_accomplished(),
            failed=flags.is_failed(),
            pane_id=record.pane_id,
            agent_session_id=record.agent_session_id,
            transcript_path=record.transcript_path,
            cwd=record.cwd,
            display_name=record.display_name,
            created_at=record.created_at,
            status=record.status,
            sentinel=log.last_seq,
        )

    def _transcript_signal(self, rt: SessionRuntime, record: SessionRecord) -> Signal | None:
        log = self._catch_up(rt, record)
        # A resumed conversation can end mid-turn (its process was killed): that turn is not
        # running in the agent process we started, so it must not read as "working" forever.
        since = record.started_at or 0.0
        for event in reversed(log.events(max(0, log.last_seq - 200))):
            at = _iso_to_epoch(event.ts)
            if event.kind in ("turn_end", "interrupted"):
                return Signal("idle", at, source="transcript")
            if event.kind in ("user", "tool_call", "tool_result", "assistant"):
                if at and at < since:
                    return None
                return Signal("working", at, source="transcript")
        return None

    def _catch_up(self, rt: SessionRuntime, record: SessionRecord):
        """Bring the event log up to date with the transcript (unless a live tail does it)."""
        return self.manager.catch_up(self, record)

    def is_job_goal_accomplished(self, session_id: str) -> bool:
        record = self._record(session_id)
        return JobFlags(Path(record.flag_root), session_id).is_accomplished()

    def is_failed(self, session_id: str) -> bool:
        record = self._record(session_id)
        return JobFlags(Path(record.flag_root), session_id).is_failed()

    # -- listing / events -------------------------------------------------------------
    def list_sessions(self) -> list[dict[str, Any]]:
        reg = self.manager.registry
        out = []
        for records in (reg.live(), reg.archived()):
            for record in records.values():
                if record.backend == self.name:
                    out.append(record.model_dump())
        return out

    def get_history(
        self, session_id: str, after: int = 0, limit: int | None = None
    ) -> dict[str, Any]:
        record = self._record(session_id)
        log = self._catch_up(self.manager.runtime(session_id), record)
        return log.history(after=after, limit=limit)

    def get_agent_raw_thought_stream(
        self,
        session_id: str,
        listener: Callable[[Any], None],
        opts: StreamOptions | dict | None = None,
    ) -> Callable[[], None]:
        o: StreamOptions = parse_options(StreamOptions, opts)
        record = self._record(session_id)
        log = self.manager.ensure_tail(self, record)
        return log.subscribe(listener, from_seq=o.from_sentinel)
