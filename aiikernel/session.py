"""Per-shell AI state: the conversation, the model choice, checkpoints and the turn engine.

One :class:`AiSession` lives on each IPython shell (the kernel's, or a plain
terminal IPython after ``%load_ext aiikernel``).  Every front — the `%%ai` cell
magic, the chat comm, slash commands — goes through it, so they share one
conversation and one checkpoint tree.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from traitlets import Bool, DottedObjectName, Enum, Float, Instance, Int, Unicode, default
from traitlets.config import LoggingConfigurable
from traitlets.utils.importstring import import_item

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .turn.events import TurnEvent

log = logging.getLogger(__name__)


class ConversationPart(Protocol):
    """A front's share of the conversation (the chat panel's turns), kept with checkpoints.

    ``save`` returns JSON-able items; an item that did not change should be the same object
    each time (the store encodes it once).  ``load`` replaces the part with saved items;
    ``origin`` is the kernel session they were saved in, when it is not this one.
    """

    def save(self) -> list[Any]: ...

    def load(self, items: list[Any], origin: str | None = None) -> None: ...


_ATTR = "_aiikernel_session"

#: The model client class of each ``AiSession.lm_backend``.
MODEL_CLIENTS = {
    "auto": "aiikernel.gateway.client.AutoModelClient",
    "gateway": "aiikernel.gateway.client.GatewayClient",
    "litellm": "aiikernel.lm.litellm_client.LiteLLMClient",
}


class AiSession(LoggingConfigurable):
    """The AI side of one IPython shell."""

    shell = Instance("IPython.core.interactiveshell.InteractiveShellABC", allow_none=True)

    max_steps = Int(
        10,
        help="How many model replies one AI turn may take before it stops (each reply may run code).",
    ).tag(config=True)
    output_limit = Int(
        4000,
        help="Characters of each executed block's output fed back to the model; the rest is cut with a marker.",
    ).tag(config=True)
    namespace_budget = Int(
        6000, help="Characters the namespace summary in the system prompt may use."
    ).tag(config=True)
    run_mode = Enum(
        ["auto", "ask"],
        "auto",
        help="'auto': the AI's code blocks run as they come; 'ask': each block waits for the "
        "user's Run / Edit / Skip (the chat panel's buttons, or the stdin prompt in a %%ai cell).",
    ).tag(config=True)
    recent_cells_budget = Int(
        4000,
        help="Characters the recent cells (source, short outputs, errors of the last cells the "
        "user ran) may use in the system prompt; 0 leaves them out.",
    ).tag(config=True)
    request_timeout = Float(
        120.0, help="Seconds to wait for the model before a request is abandoned."
    ).tag(config=True)
    max_retries = Int(
        2,
        help="Retries of a model request that failed before any text arrived (429, 5xx, connection errors).",
    ).tag(config=True)
    checkpoints_enabled = Bool(
        True, help="Snapshot the namespace before every AI turn (undo, restore, fork)."
    ).tag(config=True)
    rollback_on_error = Bool(
        False,
        help="When an AI turn ends in an error or is stopped, put the namespace back as it was "
        "before the turn (the conversation stays; the message says how to redo it).",
    ).tag(config=True)
    checkpoint_directory = Unicode(
        help="Where the checkpoint store lives; default: .aiipython_checkpoints in the working directory."
    ).tag(config=True)

    turn_engine_class = DottedObjectName(
        "aiikernel.turn.engine.TurnEngine",
        help="Dotted name of the class that runs one AI turn (prompt → model → code → outputs → …).",
    ).tag(config=True)
    lm_backend = Enum(
        list(MODEL_CLIENTS),
        "auto",
        help="How models are reached: 'gateway' (the user's model gateway process, which "
        "holds litellm for every kernel), 'litellm' (litellm inside this kernel), or 'auto' "
        "(the gateway; litellm here, with a notice, when the gateway cannot start). "
        "The AIIPYTHON_LM_BACKEND environment variable overrides it.",
    ).tag(config=True)
    model_client_class = DottedObjectName(
        help="Dotted name of the class that talks to models; by default the one of lm_backend.",
    ).tag(config=True)
    checkpoint_store_class = DottedObjectName(
        "aiikernel.checkpoints.CheckpointStore",
        help="Dotted name of the class of the namespace checkpoint store.",
    ).tag(config=True)

    @default("model_client_class")
    def _default_model_client_class(self) -> str:
        return MODEL_CLIENTS[self.effective_lm_backend]

    @property
    def effective_lm_backend(self) -> str:
        """``AIIPYTHON_LM_BACKEND`` when it names a backend, else ``lm_backend``."""
        env = os.environ.get("AIIPYTHON_LM_BACKEND", "").strip().lower()
        return env if env in MODEL_CLIENTS else self.lm_backend

    @default("checkpoint_directory")
    def _default_checkpoint_directory(self) -> str:
        return str(Path(os.getcwd()) / ".aiipython_checkpoints")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conversation: list[dict[str, Any]] = []
        self.model_override: str | None = None
        self._client: Any = None
        self._client_lock = threading.Lock()  # the kernel's warm-up thread may create it too
        self._checkpoints: Any = None
        self._tracker: Any = None
        self.turn_count = 0
        #: The last cells the user ran (not AI code, not `%%ai` cells): the model sees them.
        from .turn.cells import CellLog

        self.cell_log = CellLog()
        self._turn_depth = 0
        self._recording = False
        #: Called with every event of every turn (usage totals, wire log, UI mirrors).
        self.observers: list[Callable[[Any], None]] = []
        #: Each returns text added to the system prompt of every turn (e.g. sub-agents).
        self.prompt_notes: list[Callable[[], str]] = []
        #: Multimodal content parts (e.g. images from /image) attached to the next prompt.
        self.pending_attachments: list[dict[str, Any]] = []
        #: Parts of the conversation fronts keep (the chat panel's turns, ``chat``), saved
        #: and restored with every checkpoint next to the model ``messages``.
        self.conversation_parts: dict[str, ConversationPart] = {}
        self.turn_checkpoint: str | None = None
        from .lm.config import models_config  # light: no pydantic, no litellm
        from .lm.usage import usage_tracker

        models_config(self)  # `%config AiModels.…` (wire log file, images back to the model)
        usage_tracker(self)  # tokens and cost per turn and per session (/usage)

    # -- discovery -------------------------------------------------------------

    @classmethod
    def for_shell(cls, shell: InteractiveShell) -> AiSession:
        """The session attached to ``shell``, created on first use."""
        session = getattr(shell, _ATTR, None)
        if session is None:
            session = cls(shell=shell, parent=shell)
            setattr(shell, _ATTR, session)
            shell.configurables.append(session)  # so `%config AiSession.max_steps = 5` works
            session._start_tracking()
            shell.events.register("pre_run_cell", session._pre_run_cell)
            shell.events.register("post_run_cell", session._post_run_cell)
        return session

    # -- namespace -------------------------------------------------------------

    @property
    def namespace(self) -> dict[str, Any]:
        """The user's namespace: the shell's ``user_ns``."""
        assert self.shell is not None
        return self.shell.user_ns

    @property
    def hidden_names(self) -> set[str]:
        """Names IPython put in the namespace itself (never summarised or checkpointed)."""
        assert self.shell is not None
        return set(self.shell.user_ns_hidden)

    # -- recent cells ----------------------------------------------------------

    @property
    def turn_running(self) -> bool:
        """An AI turn runs now (its code's cells are not the user's)."""
        return self._turn_depth > 0

    def _pre_run_cell(self, info: Any) -> None:
        source = getattr(info, "raw_cell", "") or ""
        self._recording = not (
            self.turn_running
            or getattr(info, "silent", False)
            or not getattr(info, "store_history", True)
            or source.lstrip().startswith(("%%ai", "%ai"))
            or not source.strip()
        )
        if self._recording:
            number = getattr(self.shell, "execution_count", None)
            self.cell_log.begin(source, number)

    def _post_run_cell(self, result: Any) -> None:
        if not self._recording:
            return
        self._recording = False
        value, error = getattr(result, "result", None), None
        text = None
        shown = self.cell_log.current
        if value is not None and not (shown and shown.result):  # a kernel's tap saw it shown
            try:
                text = repr(value)
            except Exception as exc:
                text = f"<repr failed: {type(exc).__name__}>"
        exc = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        if exc is not None:
            from .turn.runner import format_error

            error = format_error(exc, limit=4)
        self.cell_log.finish(result=text, error=error)

    @property
    def recording_cell(self) -> bool:
        """A user cell runs now (its outputs belong in :attr:`cell_log`)."""
        return self._recording

    def recent_cells(self) -> str:
        """The recent cells as Markdown for the system prompt (within ``recent_cells_budget``)."""
        if self.recent_cells_budget <= 0:
            return ""
        return self.cell_log.render(self.recent_cells_budget)

    # -- conversation ----------------------------------------------------------

    def reset_conversation(self) -> None:
        """Forget the conversation (every front's part too); the namespace and checkpoints stay."""
        self.conversation.clear()
        self.turn_count = 0
        for name, part in self.conversation_parts.items():
            try:
                part.load([])
            except Exception:
                log.exception("conversation part %r could not be reset", name)

    def conversation_state(self) -> dict[str, list[Any]]:
        """The conversation as a checkpoint records it: model messages plus the fronts' parts."""
        state: dict[str, list[Any]] = {"messages": list(self.conversation)}
        for name, part in self.conversation_parts.items():
            try:
                state[name] = part.save()
            except Exception:  # a front's problem must not cost the checkpoint
                log.exception("conversation part %r could not be saved", name)
        return state

    def load_conversation_state(
        self, state: Mapping[str, list[Any]], origin: str | None = None
    ) -> None:
        """Put back a recorded conversation (after a restore): the model is sent only it.

        ``origin`` names the kernel session it was recorded in when that is another one
        (``/resume``): checkpoint ids inside the parts belong to that session's tree.
        """
        messages = state.get("messages", [])
        self.conversation[:] = [m for m in messages if isinstance(m, dict) and "role" in m]
        for name, part in self.conversation_parts.items():
            try:
                part.load(list(state.get(name, [])), origin)
            except Exception:
                log.exception("conversation part %r could not be restored", name)

    # -- model -----------------------------------------------------------------

    def resolve_model(self, explicit: str | None = None) -> str:
        """The model for the next turn: explicit > session choice > remembered/env/default."""
        from .lm.models import resolve_model

        return resolve_model(explicit or self.model_override)

    @property
    def client(self) -> Any:
        """The model client, created on first use (keeps its connection pool between turns)."""
        with self._client_lock:
            if self._client is None:
                self._client = import_item(self.model_client_class)(parent=self)
            return self._client

    # -- checkpoints -----------------------------------------------------------

    @property
    def checkpoints(self) -> Any:
        """The checkpoint store, opened lazily (it may not exist until the first turn)."""
        if self._checkpoints is None:
            store_class = import_item(self.checkpoint_store_class)
            self._checkpoints = store_class(parent=self, directory=self.checkpoint_directory)
        return self._checkpoints

    @property
    def tracker(self) -> Any:
        """Records which names executed code touched since the last checkpoint."""
        return self._tracker

    def _start_tracking(self) -> None:
        if not self.checkpoints_enabled or self.shell is None:
            return
        try:
            from .checkpoints import TouchTracker
        except ImportError:
            log.debug("checkpoints unavailable; turns are not snapshotted")
            return
        self._tracker = TouchTracker(self.shell)
        self._tracker.register()

    def mark_changed(self, *names: str) -> None:
        """Tell the checkpoint tracker that code outside a cell (a command) changed ``names``."""
        if self._tracker is not None:
            self._tracker.mark(*names)

    def before_turn(self, prompt: str) -> str | None:
        """Snapshot the namespace before an AI turn; returns a warning to show, if any.

        A checkpoint failure never blocks the turn: the user is told and the turn runs.
        """
        return self._checkpoint_before(prompt)[1]

    def _touched(self) -> set[str] | None:
        return self._tracker.take() if self._tracker is not None else None

    def _checkpoint_before(self, prompt: str) -> tuple[str | None, str | None]:
        """(the checkpoint id, a warning) for the state before a turn."""
        if not self.checkpoints_enabled:
            return None, None
        try:
            info = self.checkpoints.checkpoint(
                self.namespace,
                label=" ".join(prompt.split())[:80],
                touched=self._touched(),
                hidden=self.hidden_names,
                meta={"kind": "ai-turn"},
                conversation=self.conversation_state(),
            )
        except ImportError:
            return None, None
        except Exception as exc:  # never let a checkpoint problem stop the turn
            log.warning("checkpoint before the AI turn failed: %s", exc)
            return None, (
                f"Checkpoint before this turn failed ({type(exc).__name__}: {exc}); "
                "/undo will not cover it."
            )
        return info.id, None

    def _checkpoint_after(self, prompt: str, before: str, reason: str) -> Any:
        """Checkpoint the state a turn left, and say what it changed (a ``state_diff`` event).

        With ``rollback_on_error``, a turn that ended in an error or was stopped has its
        namespace changes undone (the state it left stays in the tree, for a redo).
        """
        from .turn.events import StateDiffEvent, TurnNotice

        store = self.checkpoints
        try:
            info = store.checkpoint(
                self.namespace,
                label=" ".join(prompt.split())[:80],
                touched=self._touched(),
                hidden=self.hidden_names,
                meta={"kind": "ai-turn-end", "before": before, "reason": reason},
                kind="after",
                conversation=self.conversation_state(),
                skip_if_same=True,
            )
            diff = store.diff(info.id, against=before)
        except Exception as exc:
            log.warning("checkpoint after the AI turn failed: %s", exc)
            return TurnNotice(
                message=f"Checkpoint after this turn failed ({type(exc).__name__}: {exc})."
            )
        rolled_back = None
        if self.rollback_on_error and reason in ("error", "interrupted") and not diff.empty:
            rolled_back = self._roll_back(before, info.id, reason, diff)
        return StateDiffEvent(
            before=before,
            after=info.id,
            added=diff.added,
            changed=diff.changed,
            deleted=diff.deleted,
            text=diff.text(),
            rolled_back=rolled_back,
        )

    def _roll_back(self, before: str, after: str, reason: str, diff: Any) -> str:
        """Put the namespace back to ``before``; the message says what and how to redo."""
        why = "ended in an error" if reason == "error" else "was stopped"
        try:
            self.checkpoints.restore(
                self.namespace, before, touched=set(), hidden=self.hidden_names
            )
        except Exception as exc:
            log.warning("rollback after the AI turn failed: %s", exc)
            return f"The turn {why}; rolling back failed ({type(exc).__name__}: {exc})."
        return (
            f"The turn {why}, so its changes were rolled back ({diff.text()}): the namespace is "
            f"checkpoint [{before}] again. Redo them with /restore {after}."
        )

    # -- turns -----------------------------------------------------------------

    def run_turn(
        self,
        prompt: str,
        *,
        model: str | None = None,
        max_steps: int | None = None,
        runner: Any = None,
        approve: Any = None,
    ) -> Iterator[TurnEvent]:
        """Run one AI turn and yield its events; the caller renders them.

        ``approve`` (run mode ``ask``) is asked before each code block runs; see
        :mod:`aiikernel.turn.approval`.
        """
        from .lm.config import models_config
        from .turn.events import TurnNotice
        from .turn.runner import ShellCodeRunner

        self.turn_count += 1
        before, warning = self._checkpoint_before(prompt)
        #: The checkpoint before the running turn (the chat records it for edit-and-replay).
        self.turn_checkpoint = before
        if warning:
            yield TurnNotice(message=warning)
        engine = import_item(self.turn_engine_class)(
            client=self.client,
            runner=runner
            or ShellCodeRunner(
                self.shell,
                collect_images=lambda: bool(models_config(self).send_displayed_images),
            ),
            conversation=self.conversation,
            namespace=self.namespace,
            hidden=self.hidden_names,
            output_limit=self.output_limit,
            namespace_budget=self.namespace_budget,
            recent_cells=self.recent_cells,
            approve=approve,
            system_notes=self.system_notes,
        )
        attachments, self.pending_attachments = self.pending_attachments, []
        self._turn_depth += 1
        reason = None
        try:
            for event in engine.run(
                prompt,
                model=self.resolve_model(model),
                max_steps=max_steps or self.max_steps,
                attachments=attachments or None,
            ):
                self._notify(event)
                yield event
                if event.kind == "done":
                    reason = event.reason
        finally:
            self._turn_depth -= 1
        if before is not None and reason is not None:
            after = self._checkpoint_after(prompt, before, reason)
            self._notify(after)
            yield after

    def system_notes(self) -> str:
        """The text of :attr:`prompt_notes` (a failing note is left out, never breaks a turn)."""
        parts = []
        for note in list(self.prompt_notes):
            try:
                parts.append(note())
            except Exception:
                log.exception("system prompt note %r failed", note)
        return "".join(parts)

    def _notify(self, event: Any) -> None:
        for observer in list(self.observers):
            try:
                observer(event)
            except Exception:  # an observer must never break a turn
                log.exception("turn observer %r failed", observer)
