"""One conversation per kernel, shown in every open chat panel.

The :class:`ChatHub` of a session observes every turn — started by a `%%ai` cell or by a
panel — keeps it in a bounded :class:`~aiikernel.chat.history.ChatHistory`, and broadcasts
each event to every open chat comm, numbered by ``seq``.  While AI-written code runs it taps
the kernel's IOPub (see :mod:`aiikernel.chat.capture`) so the panel gets that code's outputs
as Jupyter MIME bundles (``code_output`` events) and finds them again in the history.

Threads: with JupyterLab ≥ 4.4 and ipykernel 7 a panel's comm is served on a kernel subshell,
so ``history``/``state``/``commands`` are answered at once even while the main shell runs a
long turn.  Turns themselves must run on the main shell (the kernel interrupt stops them there,
and they queue with cells): a panel sends prompts and commands as a small execute request that
calls :func:`chat_request`.  One lock orders history changes and the messages sent about them.

Importing this module is cheap (no pydantic): it is loaded when the kernel starts.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from traitlets import Int
from traitlets.config import LoggingConfigurable

if TYPE_CHECKING:
    from ..session import AiSession
    from .channel import ChatChannel
    from .history import ChatHistory

log = logging.getLogger(__name__)

_ATTR = "_aiikernel_chat_hub"


class ChatHub(LoggingConfigurable):
    """Keeps the conversation of one kernel and tells every open chat panel about it."""

    history_max_turns = Int(
        100, help="Turns the kernel keeps for the chat panel (older ones are dropped whole)."
    ).tag(config=True)
    history_max_chars = Int(
        20_000_000,
        help="Characters the kept chat history may use in all (text and outputs); the oldest "
        "turns are dropped beyond it.",
    ).tag(config=True)
    history_output_limit = Int(
        500_000,
        help="Characters one code output may keep in the chat history; larger ones are cut "
        "with a visible marker (rich outputs keep the MIME types that fit).",
    ).tag(config=True)

    def __init__(self, session: AiSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.channels: list[ChatChannel] = []
        self.seq = 0
        self.lock = threading.RLock()
        self._history: ChatHistory | None = None
        self._pending_request: str | None = None
        self._pending_labels: list[str] = []
        self._armed: tuple[int, int] | None = None
        self._user_cell: Any = None  # the running user cell's record in the session's cell log
        #: Run mode ``ask``: the block (turn, step, index) waiting for the user, and the answer.
        self._awaiting: tuple[int, int, int] | None = None
        self._decision: Any = None
        self._decided = threading.Event()
        self._tap: Any = None
        self._state_mark: tuple[Any, ...] | None = None
        self._resume: Any = False  # not looked up yet
        session.observers.append(self.on_event)
        session.conversation_parts["chat"] = _ChatPart(self)
        shell = session.shell
        kernel = getattr(shell, "kernel", None)
        if kernel is not None and getattr(kernel, "session", None) is not None:
            from .capture import IOPubTap

            self._tap = IOPubTap(kernel.session, self._on_output)
            shell.events.register("pre_run_cell", self._pre_run_cell)
            shell.events.register("post_run_cell", self._post_run_cell)

    # -- state ---------------------------------------------------------------------------

    @property
    def history(self) -> ChatHistory:
        if self._history is None:
            from .history import ChatHistory

            self._history = ChatHistory(
                max_turns=self.history_max_turns,
                max_chars=self.history_max_chars,
                output_limit=self.history_output_limit,
            )
        return self._history

    @property
    def busy(self) -> bool:
        return self._history is not None and self._history.current is not None

    def add_channel(self, channel: ChatChannel) -> None:
        with self.lock:
            self.channels.append(channel)

    def remove_channel(self, channel: ChatChannel) -> None:
        with self.lock:
            if channel in self.channels:
                self.channels.remove(channel)

    def _broadcast(self, data: dict[str, Any]) -> None:
        for channel in list(self.channels):
            channel.send_data(data)

    # -- turns ---------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """Session observer: fold ``event`` into the history and broadcast it."""
        with self.lock:
            history = self.history
            if event.kind == "turn_started":
                request_id, self._pending_request = self._pending_request, None
                labels, self._pending_labels = self._pending_labels, []
                turn = history.begin(
                    prompt=event.prompt,
                    model=event.model,
                    source="chat" if request_id else "cell",
                    request_id=request_id,
                    max_steps=getattr(event, "max_steps", None),
                )
                turn.attachments = labels
                turn.checkpoint = getattr(self.session, "turn_checkpoint", None)
            elif event.kind == "state_diff":  # comes after `done`: it belongs to the last turn
                if not history.turns:
                    return
                turn = history.turns[-1]
            else:
                turn = history.current
                if turn is None:
                    return
            if event.kind == "code_started":
                self._armed = (event.step, event.index)
            elif event.kind in ("code_finished", "done"):
                self._armed = None
                if self._tap is not None:
                    self._tap.active = False
            wire = history.apply(turn, event)
            if event.kind == "turn_started":
                wire["attachments"] = list(turn.attachments)
                wire["checkpoint"] = turn.checkpoint
            self.seq += 1
            if not self.channels:  # no panel open: nothing to build (nor its models to import)
                return
            from .protocol import EventMessage

            message = EventMessage(
                seq=self.seq,
                turn=turn.id,
                source=turn.source,
                request_id=turn.request_id,
                event=wire,
            )
            self._broadcast(message.model_dump(mode="json"))

    def end_interrupted(self) -> None:
        """A turn was interrupted outside the engine: close it as the engine would have."""
        from ..turn.events import TurnDone

        with self.lock:
            turn = self.history.current
            if turn is not None:
                self.on_event(TurnDone(reason="interrupted", steps=len(turn.steps)))

    def load_turns(self, items: list[Any]) -> None:
        """A restore (or `/reset`) replaced the conversation: draw it again in every panel."""
        from .protocol import HistoryMessage

        with self.lock:
            if items:
                self.history.load(items)
                self._restore_diffs()
            else:
                self.history.clear()
            self.seq += 1
            message = HistoryMessage(
                seq=self.seq,
                turns=[turn.model_copy(deep=True) for turn in self.history.turns],
                dropped=self.history.dropped,
                busy=self.busy,
            )
            self._broadcast(message.model_dump(mode="json"))

    # -- code outputs ------------------------------------------------------------------------

    def _pre_run_cell(self, info: Any) -> None:
        tap = self._tap
        if tap is None:
            return
        # A user cell: its outputs go to the session's recent cells (what the model is told).
        recording = self._armed is None and getattr(self.session, "recording_cell", False)
        self._user_cell = self.session.cell_log.current if recording else None
        # A user cell's outputs are taken by its request, until the next cell: its last stream
        # text comes with the kernel's own flush after the cell, so nothing is flushed here.
        tap.parent_id = _request_id(self.session.shell) if recording else None
        tap.active = self._armed is not None or self._user_cell is not None

    def _post_run_cell(self, result: Any) -> None:
        self._tell_panels_if_changed()
        if self._tap is None or not self._tap.active:
            return
        if self._user_cell is not None and self._tap.parent_id is not None:
            return
        # Stream text still buffered belongs to this block: flush it through the tap first
        # (without holding the lock: the IO thread needs it to deliver the text).
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        self._tap.active = False
        self._user_cell = None

    def _on_output(self, msg_type: str, output: dict[str, Any], display_id: str | None) -> None:
        with self.lock:
            if self._user_cell is not None and self._armed is None:
                if msg_type not in ("clear_output", "update_display_data"):
                    self.session.cell_log.add_output(output, self._user_cell)
                return
            from .protocol import CodeClear, CodeOutput, EventMessage

            turn = self.history.current
            if turn is None or self._armed is None:
                return
            step, index = self._armed
            if msg_type == "clear_output":
                self.history.clear_outputs(turn, step, index)
                event: Any = CodeClear(step=step, index=index, wait=output["wait"])
            elif msg_type == "update_display_data":
                if display_id is None:
                    return
                updated = self.history.update_display(turn, display_id, output)
                if updated is None:
                    return
                event = CodeOutput(
                    step=step, index=index, output=updated, display_id=display_id, update=True
                )
            else:
                kept = self.history.add_output(turn, step, index, output, display_id)
                event = CodeOutput(step=step, index=index, output=kept, display_id=display_id)
            self.seq += 1
            message = EventMessage(
                seq=self.seq,
                turn=turn.id,
                source=turn.source,
                request_id=turn.request_id,
                event=event.model_dump(mode="json"),
            )
            self._broadcast(message.model_dump(mode="json"))

    # -- requests ------------------------------------------------------------------------

    def history_message(self, request_id: str | None) -> Any:
        from .protocol import HistoryMessage

        with self.lock:
            history = self.history
            return HistoryMessage(
                request_id=request_id,
                seq=self.seq,
                turns=[turn.model_copy(deep=True) for turn in history.turns],
                dropped=history.dropped,
                busy=self.busy,
            )

    def _mark(self) -> tuple[Any, ...]:
        """What the footer shows that a cell can change (`%model`, `%ai /reset`, a turn)."""
        s = self.session
        return (s.model_override, len(s.conversation), s.turn_count, s.run_mode, s.max_steps)

    def _tell_panels_if_changed(self) -> None:
        """After a cell: a panel's footer follows `%model` and friends typed in the notebook
        (cheap when nothing changed, nothing at all without a panel)."""
        if not self.channels or self._mark() == self._state_mark:
            return
        try:
            self.after_command()
        except Exception:  # the footer is a convenience; never fail the user's cell
            log.debug("state broadcast after a cell failed", exc_info=True)

    def state_message(self, request_id: str | None = None) -> Any:
        from ..lm.usage import usage_tracker
        from .protocol import SessionUsage, StateMessage

        resume = self._resume_info()
        with self.lock:
            self._state_mark = self._mark()
            total = usage_tracker(self.session).session_total.as_dict()
            return StateMessage(
                request_id=request_id,
                model=self.session.resolve_model(),
                messages=len(self.session.conversation),
                busy=self.busy,
                turns=self.session.turn_count,
                max_steps=self.session.max_steps,
                auth_source=self._auth_source(),
                run_mode=self.session.run_mode,
                resume=resume,
                usage=SessionUsage(
                    requests=total["requests"],
                    prompt_tokens=total["prompt_tokens"],
                    completion_tokens=total["completion_tokens"],
                    cost=total["cost"],
                ),
            )

    def _restore_diffs(self) -> None:
        """Give loaded turns their state diff again, from the checkpoints before and after them."""
        from ..checkpoints import CheckpointError
        from ..turn.events import StateDiffEvent

        missing = {t.checkpoint: t for t in self.history.turns if t.checkpoint and t.diff is None}
        if not missing:
            return
        try:
            store = self.session.checkpoints
            for node in store.checkpoints():
                turn = missing.get(node.meta.get("before")) if node.kind == "after" else None
                if turn is None:
                    continue
                diff = store.diff(node.id, against=turn.checkpoint)
                event = StateDiffEvent(
                    before=diff.before,
                    after=diff.after,
                    added=diff.added,
                    changed=diff.changed,
                    deleted=diff.deleted,
                    text=diff.text(),
                )
                turn.diff = event.model_dump(mode="json")
        except (CheckpointError, OSError):  # the turns still show, without their diff line
            log.debug("state diffs of restored turns unavailable", exc_info=True)

    def _resume_info(self) -> Any:
        """An earlier session to offer resuming, while this kernel has no checkpoint yet."""
        session = self.session
        if not getattr(session, "checkpoints_enabled", False):
            return None
        try:
            store = session.checkpoints
            if store.head is not None or session.conversation:
                return None
            if self._resume is False:
                from ..checkpoints.resume import resume_offer

                offer = resume_offer(store)
                self._resume = offer
            offer = self._resume
            if offer is None:
                return None
            from .protocol import ResumeInfo

            return ResumeInfo(
                ref=offer.ref,
                session=offer.session,
                checkpoint=offer.checkpoint,
                label=offer.label,
                time=offer.time,
                names=offer.names,
                turns=offer.turns,
            )
        except Exception:  # an unreadable store shows in /checkpoints; the panel still works
            log.debug("resume lookup failed", exc_info=True)
            return None

    def _auth_source(self) -> str | None:
        """Where the current model's key comes from (the footer shows it)."""
        try:
            from ..lm.credentials import resolve_credential
            from ..lm.errors import MissingCredentials

            try:
                return resolve_credential(self.session.resolve_model()).source
            except MissingCredentials:
                return "missing"
        except Exception:  # the footer is a convenience; a broken auth file shows in /auth
            log.debug("auth source lookup failed", exc_info=True)
            return None

    def run_prompt(self, request: Any) -> None:
        """Run a panel's prompt as a turn (events reach every panel through :meth:`on_event`)."""
        parts: list[dict[str, Any]] = []
        if getattr(request, "attachments", None):
            from ..lm.config import models_config
            from .mentions import attachment_parts

            parts, labels = attachment_parts(
                self.session.namespace,
                request.attachments,
                max_image_bytes=models_config(self.session).max_image_bytes,
            )
            if any(a.kind == "image" for a in request.attachments):
                self.session.mark_changed("images")  # the next checkpoint re-examines the dict
            self._pending_labels = labels
        self.session.pending_attachments = parts + list(self.session.pending_attachments)
        with self.lock:
            self._pending_request = request.request_id
        mode = getattr(request, "run_mode", None) or self.session.run_mode
        events = self.session.run_turn(
            request.text,
            model=request.model,
            max_steps=request.max_steps,
            approve=self._wait_for_approval if mode == "ask" else None,
        )
        try:
            for _ in events:
                pass
        except KeyboardInterrupt:
            events.close()
            self.end_interrupted()
        finally:
            with self.lock:
                self._pending_request = None
                self._pending_labels = []

    # -- run mode ask ---------------------------------------------------------------------

    def _wait_for_approval(self, code: str) -> Any:
        """The approver of a panel's turn: wait (interruptibly) for an ``approve`` request."""
        from ..turn.approval import Decision

        with self.lock:
            turn = self.history.current
            if turn is None or self._armed is None:
                return Decision("run", code)
            self._awaiting = (turn.id, *self._armed)
            self._decision = None
            self._decided.clear()
        try:
            while not self._decided.wait(0.2):  # short waits: the kernel interrupt gets through
                pass
            return self._decision
        finally:
            with self.lock:
                self._awaiting = None

    def approve(self, request: Any) -> str | None:
        """A panel's answer for the waiting block; returns why it was refused, if it was."""
        from ..turn.approval import Decision

        with self.lock:
            if self._awaiting != (request.turn, request.step, request.index):
                return "that code block is not waiting for an answer"
            if request.action == "edit" and not (request.code or "").strip():
                return "an edited block needs code"
            code = request.code if request.action == "edit" else ""
            self._decision = Decision(request.action, code or "")
            self._decided.set()
        return None

    def after_command(self) -> None:
        """A command may have reset the conversation or changed the model: tell the panels."""
        state = self.state_message().model_dump(mode="json")
        with self.lock:
            self._broadcast(state)


def _request_id(shell: Any) -> str | None:
    """The msg_id of the execute request the shell runs now (None when unknown)."""
    try:
        return shell.kernel.get_parent("shell")["header"]["msg_id"]
    except Exception:
        return None


class _ChatPart:
    """The chat panel's turns as a part of the conversation checkpoints record."""

    def __init__(self, hub: ChatHub) -> None:
        self.hub = hub

    def save(self) -> list[Any]:
        with self.hub.lock:
            return self.hub.history.save()

    def load(self, items: list[Any], origin: str | None = None) -> None:
        if origin:  # a resumed session: its turns' checkpoints are SESSION/ID here
            items = [_qualified(item, origin) for item in items]
        self.hub.load_turns(items)


def _qualified(item: Any, session: str) -> Any:
    checkpoint = item.get("checkpoint") if isinstance(item, dict) else None
    if isinstance(checkpoint, str) and "/" not in checkpoint:
        return {**item, "checkpoint": f"{session}/{checkpoint}"}
    return item


def chat_hub(session: AiSession) -> ChatHub:
    """The session's hub, created (and subscribed to its turns) on first use."""
    hub = getattr(session, _ATTR, None)
    if hub is None:
        hub = ChatHub(session, parent=session)
        setattr(session, _ATTR, hub)
        shell = session.shell
        if shell is not None and hub not in shell.configurables:
            shell.configurables.append(hub)  # `%config ChatHub.history_max_turns = 20`
    return hub


def chat_request(shell: Any, payload: str) -> None:
    """Entry point of the execute request a panel sends to run a prompt or command.

    ``payload`` is the JSON of an :class:`~aiikernel.chat.protocol.ExecuteEnvelope`.  Running
    on the main shell, the turn queues with cells and the kernel interrupt stops it.
    """
    from ..session import AiSession

    hub = chat_hub(AiSession.for_shell(shell))
    data = json.loads(payload)
    channel = (
        next((c for c in hub.channels if c.comm_id == data.get("comm_id")), None)
        if isinstance(data, dict)
        else None
    )
    if channel is None:
        from .channel import ChatChannel

        channel = ChatChannel.detached(hub)
    request = data.get("request") if isinstance(data, dict) else data
    channel.handle(request, on_main_shell=True)
