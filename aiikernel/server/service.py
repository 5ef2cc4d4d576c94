"""AimaxService: the server's policy around one :class:`AimaxManager`.

Handlers speak to this object only. It turns validated request models into calls on the aimax
backends and enforces what the server promises its users: allowed backends, a session limit,
paths inside ``root_dir``, a prompt size cap, bounded history pages. It raises domain errors
(:mod:`.errors`, :mod:`aiikernel.aimax.errors`); mapping them to HTTP is the handlers' job.
Prompts are passed on, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiikernel.aimax.backends import SUPPORTED_BACKENDS, available_backends
from aiikernel.aimax.errors import InvalidOptions, SessionNotFound

from .errors import (
    BackendDisabled,
    ConversationInUse,
    InvalidField,
    NothingAsked,
    PromptTooLarge,
    SessionLimitReached,
)
from .models import (
    BackendInfo,
    CreateSessionRequest,
    HistoryResponse,
    PermissionResult,
    ScreenModel,
    SendMessageRequest,
    SendResult,
    SessionModel,
    event_dict_payload,
)
from .paths import api_path, resolve_inside, shown_path
from .status_cache import StatusCache
from .stream_limits import StreamLimits
from .usage import UsageTally, epoch

if TYPE_CHECKING:
    from aiikernel.aimax.backend_base import TmuxAgentBackend
    from aiikernel.aimax.manager import AimaxManager
    from aiikernel.aimax.registry import SessionRecord
    from aiikernel.aimax.state import SessionStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerPolicy:
    """The limits a server applies (filled from ``AimaxExtension`` traits)."""

    root_dir: Path
    allowed_backends: tuple[str, ...]
    max_sessions: int = 20
    max_prompt_bytes: int = 256 * 1024
    max_history_limit: int = 1000
    status_ttl: float = 0.5
    close_timeout: float = 10.0
    max_streams_per_user: int = 32
    max_streams: int = 256


class AimaxService:
    """Sessions as the REST API sees them."""

    def __init__(self, manager: AimaxManager, policy: ServerPolicy) -> None:
        self.manager = manager
        self.policy = policy
        self._status: StatusCache[SessionStatus] = StatusCache(policy.status_ttl)
        self._creating: dict[str, tuple[str, str | None]] = {}
        """Creates in flight: session id → (backend, agent conversation id)."""
        self._started: asyncio.Future[dict[str, str]] | None = None
        self.streams: set[Any] = set()
        """Open websocket streams (:class:`~.stream.StreamConnection`), closed at shutdown."""
        self.stream_limits = StreamLimits(policy.max_streams_per_user, policy.max_streams)
        self.usage = UsageTally()
        self.changed = asyncio.Event()
        """Set after a create, send, answer, resume or stop: list watchers look again now."""
        from .watch import SessionsWatch

        self.watch = SessionsWatch(self.list_sessions, self.changed, manager.config.poll_interval)

    # -- lifecycle ----------------------------------------------------------------------
    async def ready(self) -> dict[str, str]:
        """Run :meth:`start` once; every caller (server start hook, first request) awaits it."""
        failed = (
            self._started is not None
            and self._started.done()
            and (self._started.cancelled() or self._started.exception() is not None)
        )
        if self._started is None or failed:  # a start that broke unexpectedly is retried
            self._started = asyncio.ensure_future(self.start())
        return await asyncio.shield(self._started)

    async def start(self) -> dict[str, str]:
        """Reconcile with tmux, start the monitor, resume tailing every live session.

        Sessions created before a server restart are listed again and stream from where
        their event log stopped. If tmux cannot be used, the server still starts: listing
        works from the registry and the calls that need tmux answer 503.
        """
        from aiikernel.aimax.errors import AimaxError

        try:
            found = await self.manager.reconcile()
        except AimaxError as exc:
            log.warning("aimax: could not reconcile with tmux: %s", exc)
            return {}
        self.manager.start_monitor()
        for session_id, how in found.items():
            if how == "live":
                with contextlib.suppress(Exception):
                    self._tail(session_id)
        return found

    async def shutdown(self, stop_agents: bool) -> None:
        """Close streams, stop tails and the monitor; stop the agents too only when asked to."""
        for stream in list(self.streams):
            stream.shutdown()
        await self.watch.aclose()
        if stop_agents:
            running = [r for r in self.manager.registry.live().values() if r.status == "running"]
            await asyncio.gather(
                *(self.manager.backend(r.backend).terminate_session(r.session_id) for r in running),
                return_exceptions=True,
            )
        # Bounded: a server shutdown must not hang on a helper (a transcript watcher thread
        # can take up to its own timeout to notice it should stop).
        closing = asyncio.ensure_future(self.manager.close())
        done, _ = await asyncio.wait({closing}, timeout=self.policy.close_timeout)
        if not done:
            log.warning(
                "aimax: tails did not stop within %.0fs; leaving them to the process exit",
                self.policy.close_timeout,
            )

    # -- lookups ------------------------------------------------------------------------
    def _record(self, session_id: str) -> SessionRecord:
        return self.manager.registry.get(session_id)

    def backend_for(self, session_id: str) -> TmuxAgentBackend:
        """The backend owning ``session_id``; :class:`SessionNotFound` when unknown."""
        return self.manager.backend(self._record(session_id).backend)

    def _tail(self, session_id: str) -> None:
        record = self._record(session_id)
        self.manager.ensure_tail(self.manager.backend(record.backend), record)

    async def _fresh_status(self, session_id: str) -> SessionStatus:
        return await self._status.get(
            session_id, lambda: self.backend_for(session_id).status(session_id)
        )

    def _model(self, record: SessionRecord, status: SessionStatus | None) -> SessionModel:
        """The wire model of ``record`` (read after ``status`` was computed, so it is current)."""
        from aiikernel.aimax.flags import JobFlags

        if status is None:  # archived: no pane to ask, the record says it all
            flags = JobFlags(Path(record.flag_root), record.session_id)
            state, detail, alive = "exited", None, False
            accomplished, failed, sentinel = flags.is_accomplished(), flags.is_failed(), None
        else:
            state, detail, alive = status.state, status.detail, status.alive
            accomplished, failed, sentinel = status.job_accomplished, status.failed, status.sentinel
        return SessionModel(
            session_id=record.session_id,
            backend=record.backend,
            state=state,
            status=record.status,
            detail=detail,
            alive=alive,
            working=state == "working",
            job_accomplished=accomplished,
            failed=failed,
            cwd=api_path(self.policy.root_dir, record.cwd),
            display_name=record.display_name,
            model=record.model,
            agent_session_id=record.agent_session_id,
            pane_id=record.pane_id,
            jsonl_path=shown_path(self.policy.root_dir, record.transcript_path),
            created_at=record.created_at,
            started_at=record.started_at,
            exited_at=record.exited_at,
            worktree_branch=record.worktree_branch,
            sentinel=sentinel,
            **self._usage_fields(record),
        )

    def _usage_fields(self, record: SessionRecord) -> dict[str, Any]:
        """Tokens, cost and last activity from the session's event log (incrementally).

        A stopped session's log is read only once something else loaded it (its tab was
        opened): listing hundreds of archived sessions must not parse hundreds of logs."""
        rt = self.manager.runtime(record.session_id)
        if record.status != "running" and rt.log is None:
            return {"last_activity": record.exited_at or record.started_at or record.created_at}
        try:
            events = rt.event_log(record)
            usage = self.usage.update(record.session_id, events)
        except Exception:  # a damaged log must not break listing
            log.debug("aimax: usage of %s unavailable", record.session_id, exc_info=True)
            return {"last_activity": record.exited_at or record.started_at or record.created_at}
        times = [epoch(usage.last_event_at), record.exited_at, record.started_at]
        return {
            "last_activity": max((t for t in times if t), default=record.created_at),
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": usage.cost_usd,
        }

    # -- the API ------------------------------------------------------------------------
    async def list_sessions(self) -> list[SessionModel]:
        """Every known session (live and archived), oldest first, with its state."""
        registry = self.manager.registry
        live_ids = list(registry.live())
        statuses = await asyncio.gather(
            *(self._fresh_status(sid) for sid in live_ids), return_exceptions=True
        )
        live, archived = registry.live(), registry.archived()  # once, after any status change
        models = []
        for session_id, status in zip(live_ids, statuses, strict=True):
            record = live.get(session_id)
            if record is None or isinstance(status, SessionNotFound):
                continue  # stopped meanwhile: listed from the archive below
            if isinstance(status, BaseException):
                log.warning("aimax: status of %s failed: %s", session_id, type(status).__name__)
                status = None
            models.append(self._model(record, status))
        listed = {m.session_id for m in models}
        models += [self._model(r, None) for sid, r in archived.items() if sid not in listed]
        return sorted(models, key=lambda m: m.created_at)

    async def get_session(self, session_id: str) -> SessionModel:
        record = self.manager.registry.live().get(session_id)
        if record is None:  # archived, or SessionNotFound
            return self._model(self._record(session_id), None)
        status = await self._fresh_status(session_id)
        return self._model(self.manager.registry.find(session_id) or record, status)

    async def create_session(self, req: CreateSessionRequest) -> SessionModel:
        """Start an agent (and submit ``initialPrompt``) within the server's limits."""
        if req.backend not in available_backends():
            raise InvalidField(
                "backend",
                f"unknown backend {req.backend!r}; choose one of {', '.join(available_backends())}",
            )
        if req.backend not in self.policy.allowed_backends:
            raise BackendDisabled(
                f"backend {req.backend!r} is disabled on this server; allowed: "
                f"{', '.join(self.policy.allowed_backends) or 'none'}"
            )
        self._check_prompt("initialPrompt", req.initial_prompt)
        cwd = resolve_inside(self.policy.root_dir, req.cwd, "cwd")
        flag_root = (
            resolve_inside(self.policy.root_dir, req.flag_root, "flagRoot")
            if req.flag_root
            else None
        )
        live = [r for r in self.manager.registry.live().values() if r.status == "running"]
        if req.agent_session_id:
            opened = [(r.session_id, r.backend, r.agent_session_id) for r in live]
            opened += [(sid, b, a) for sid, (b, a) in self._creating.items()]
            for other, backend_name, conversation in opened:
                if conversation == req.agent_session_id and backend_name == req.backend:
                    raise ConversationInUse(
                        f"agent conversation {req.agent_session_id!r} is open in running session "
                        f"{other!r}; send to that session, or stop it first"
                    )
        if len({r.session_id for r in live} | set(self._creating)) >= self.policy.max_sessions:
            raise SessionLimitReached(
                f"{self.policy.max_sessions} sessions are running (the server's limit); "
                "stop one first"
            )
        session_id = req.session_id or f"s-{uuid.uuid4().hex[:12]}"
        backend = self.manager.backend(req.backend)
        self._creating[session_id] = (req.backend, req.agent_session_id)
        try:
            await backend.create_new_session(
                {
                    "sessionId": session_id,
                    "cwd": str(cwd),
                    "initialPrompt": req.initial_prompt,
                    "model": req.model,
                    "displayName": req.display_name,
                    "worktree": req.worktree,
                    "worktreeWithin": str(self.policy.root_dir) if req.worktree else None,
                    "agentSessionId": req.agent_session_id,
                    "flagRoot": str(flag_root) if flag_root else None,
                }
            )
        finally:
            self._creating.pop(session_id, None)
            self._status.forget(session_id)
            self.changed.set()
        self._tail(session_id)
        return await self.get_session(session_id)

    async def stop_session(self, session_id: str) -> None:
        """Stop the agent and archive the session (idempotent for stopped sessions)."""
        backend = self.backend_for(session_id)
        try:
            await backend.terminate_session(session_id)
        finally:
            self._status.forget(session_id)
            self.changed.set()

    async def send(self, session_id: str, req: SendMessageRequest) -> SendResult:
        """Submit a prompt, queued or interrupting the running turn; returns once confirmed."""
        self._check_prompt("prompt", req.prompt)
        backend = self.backend_for(session_id)
        sentinel = self.last_sentinel(session_id)
        opts = {"sessionId": session_id, "prompt": req.prompt}
        try:
            if req.mode == "interrupt":
                await backend.pause_current_and_resume_from_session(opts)
            else:
                await backend.no_pause_current_and_queue_query_at_session(opts)
        finally:
            self._status.forget(session_id)
            self.changed.set()
        return SendResult(session_id=session_id, mode=req.mode, sentinel=sentinel)

    def history(self, session_id: str, after: int = 0, limit: int | None = None) -> HistoryResponse:
        """One page of events after ``after`` (at most ``max_history_limit``)."""
        cap = self.policy.max_history_limit
        if after < 0:
            raise InvalidField("after", "must be a sentinel >= 0")
        if limit is not None and not 1 <= limit <= cap:
            raise InvalidField("limit", f"must be between 1 and {cap}")
        page = self.backend_for(session_id).get_history(session_id, after=after, limit=limit or cap)
        page["entries"] = [event_dict_payload(e) for e in page["entries"]]
        return HistoryResponse.model_validate(page)

    def last_sentinel(self, session_id: str) -> int:
        """The newest event's ``seq`` (0 for an empty log)."""
        record = self._record(session_id)
        return self.manager.catch_up(self.manager.backend(record.backend), record).last_seq

    def history_page(self, session_id: str, after: int, limit: int) -> dict[str, Any]:
        """Raw history page (snake_case dicts) for the websocket's replay."""
        return self.backend_for(session_id).get_history(session_id, after=after, limit=limit)

    def subscribe(
        self, session_id: str, listener: Callable[[Any], None], from_sentinel: int | None
    ) -> Callable[[], None]:
        """Events after ``from_sentinel`` then live ones, delivered to ``listener``."""
        return self.backend_for(session_id).get_agent_raw_thought_stream(
            session_id, listener, {"fromSentinel": from_sentinel}
        )

    def _check_prompt(self, field: str, prompt: str | None) -> None:
        if prompt is None:
            return
        size = len(prompt.encode("utf-8", "surrogatepass"))
        if size > self.policy.max_prompt_bytes:
            raise PromptTooLarge(
                field,
                f"{size} bytes is over this server's limit of {self.policy.max_prompt_bytes} "
                "(AimaxExtension.max_prompt_bytes)",
            )

    # -- the Agents view ------------------------------------------------------------------
    def backends(self) -> list[BackendInfo]:
        """Every backend installed (built-in and from entry points), with whether it is allowed."""
        labels = {"tmux-claude-code": "Claude Code", "tmux-codex": "Codex"}
        return [
            BackendInfo(
                name=name,
                label=labels.get(name, name),
                allowed=name in self.policy.allowed_backends,
                builtin=name in SUPPORTED_BACKENDS,
            )
            for name in available_backends()
        ]

    async def answer_permission(self, session_id: str, approve: bool) -> PermissionResult:
        """Approve (Enter) or deny (Escape) the question the agent shows; 409 if none."""
        backend = self.backend_for(session_id)
        try:
            question = await backend.answer_permission(session_id, approve)
        except InvalidOptions as exc:
            raise NothingAsked(str(exc)) from None
        finally:
            self._status.forget(session_id)
            self.changed.set()
        return PermissionResult(session_id=session_id, approved=approve, question=question)

    async def resume_session(self, session_id: str) -> SessionModel:
        """Restart an exited or stopped session on the same agent conversation."""
        record = self._record(session_id)
        if record.backend not in self.policy.allowed_backends:
            raise BackendDisabled(f"backend {record.backend!r} is disabled on this server")
        live = self.manager.registry.live()
        running = {sid for sid, r in live.items() if r.status == "running" and sid != session_id}
        if len(running | set(self._creating)) >= self.policy.max_sessions:
            raise SessionLimitReached(
                f"{self.policy.max_sessions} sessions are running (the server's limit); "
                "stop one first"
            )
        try:
            await self.manager.backend(record.backend).resume_session(session_id)
        finally:
            self._status.forget(session_id)
            self.changed.set()
        self._tail(session_id)
        return await self.get_session(session_id)

    async def screen(self, session_id: str, after: int | None, wait: float) -> ScreenModel:
        """The agent's screen as plain text; with ``after``, wait (up to ``wait`` seconds) for
        tmux to report pane activity newer than it first, so viewers refresh on change only."""
        from aiikernel.aimax.tmux import Pane

        record = self._record(session_id)
        deadline = asyncio.get_running_loop().time() + max(0.0, wait)
        interval = max(0.1, self.manager.config.poll_interval / 2)
        while True:
            record = self.manager.registry.find(session_id) or record
            info = None
            if record.status == "running" and record.pane_id:
                info = await self.manager.pane_info(
                    record.pane_id, max_age=interval, tag=session_id
                )
            if info is None:
                return ScreenModel(session_id=session_id, text="", activity=0, alive=False)
            changed = after is None or info.activity != after
            if changed or asyncio.get_running_loop().time() >= deadline:
                text = await Pane(self.manager.tmux, info.pane_id).capture()
                return ScreenModel(
                    session_id=session_id,
                    text=text.rstrip("\n"),
                    activity=info.activity,
                    alive=not info.dead,
                )
            await asyncio.sleep(interval)
