"""Session state from three sources: agent hooks > transcript > screen.

States: ``starting`` (no prompt seen yet), ``working`` (a turn runs), ``waiting_permission``
(the agent asks to run something; ``detail`` is the question), ``waiting_input`` (a dialog or
other screen that needs a human; ``detail`` is the screen text), ``idle`` (ready for a prompt),
``exited`` (the agent process ended).

The *state file* (``<data>/sessions/<id>/state.jsonl``) collects the timed signals: Claude Code
hooks (installed through a per-session ``--settings`` file) and Codex ``notify`` append lines
``<epoch>\\t<json>``, and aimax appends its own (``{"aimax": "submit"}``). The newest timed
signal among hooks and transcript wins; the screen overrides it only for what only the screen
sees (dialogs, permission prompts) and is the fallback when nothing else is known.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from .screen import ScreenReading

State = Literal["starting", "working", "waiting_permission", "waiting_input", "idle", "exited"]
STATES: tuple[str, ...] = (
    "starting",
    "working",
    "waiting_permission",
    "waiting_input",
    "idle",
    "exited",
)


@dataclass(frozen=True)
class Signal:
    """One timed state signal."""

    state: str
    at: float
    detail: str | None = None
    source: str = "hook"


class SessionStatus(BaseModel):
    """The answer of ``status()``; crosses process boundaries (CLI --json, REST)."""

    session_id: str
    backend: str
    state: State
    detail: str | None = None
    source: str
    """Which source decided: ``tmux``, ``hook``, ``transcript``, ``screen``."""
    alive: bool
    working: bool
    job_accomplished: bool
    failed: bool
    pane_id: str | None = None
    agent_session_id: str | None = None
    transcript_path: str | None = None
    cwd: str
    display_name: str | None = None
    created_at: float
    status: str
    sentinel: int | None = None


def signal_from_entry(entry: dict[str, Any], at: float) -> Signal | None:
    """Map one state-file entry (hook payload, notify payload, aimax note) to a signal."""
    note = entry.get("aimax")
    if note == "submit":
        return Signal("working", at, source="aimax")
    if note in ("interrupt", "command", "launch"):  # "command": a TUI command runs no turn
        return Signal("idle", at, source="aimax")
    if entry.get("type") == "agent-turn-complete":  # Codex notify
        return Signal("idle", at)
    event = entry.get("hook_event_name")
    if event in ("UserPromptSubmit", "PreToolUse", "PostToolUse", "SubagentStart"):
        return Signal("working", at)
    if event == "Notification":
        kind = entry.get("notification_type") or ""
        message = entry.get("message") or ""
        if kind == "permission_prompt" or "permission" in message.lower():
            return Signal("waiting_permission", at, detail=message)
        if kind == "idle_prompt":
            return Signal("idle", at)
        return None
    if event in ("Stop", "SessionStart"):
        return Signal("idle", at)
    if event == "SessionEnd":
        return Signal("exited", at)
    return None


class StateFile:
    """Incremental reader/writer of a session's state file (one per process and session)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.last_hook: Signal | None = None
        self.last_note: Signal | None = None
        self.has_hooks = False
        self.agent_session: tuple[str, str] | None = None
        """``(session_id, transcript_path)`` the agent's hooks last reported (Claude)."""

    @property
    def last(self) -> Signal | None:
        """The newest signal: hooks in the order the agent wrote them, aimax notes by date."""
        if self.last_hook is None or self.last_note is None:
            return self.last_hook or self.last_note
        return self.last_note if self.last_note.at > self.last_hook.at else self.last_hook

    def note(self, what: str, at: float | None = None) -> None:
        """Append aimax's own signal (``submit``, ``interrupt``), dated ``at`` (default now).

        A submit is dated when Enter was pressed, not when we confirmed it: a fast agent
        may finish the turn before the confirmation, and its "idle" must stay newer.
        """
        stamp = time.time() if at is None else at
        fd = self._open_append()
        try:
            os.write(fd, f"{stamp:.6f}\t{json.dumps({'aimax': what})}\n".encode())
        finally:
            os.close(fd)

    def ensure(self) -> None:
        """Create the file 0600 (or make an older one 0600) before an agent appends to it:
        hook shells append with ``>>``, which would create it with the umask's mode."""
        os.close(self._open_append())

    def _open_append(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return fd

    def read(self, thread_id: str | None = None) -> Signal | None:
        """Consume new lines; return the newest signal seen so far.

        Codex also notifies for side threads (its title request); when ``thread_id`` is known,
        notifications of other threads are ignored.
        """
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.last
        end = data.rfind(b"\n")
        if end < 0:
            return self.last
        self.offset += end + 1
        for raw in data[: end + 1].split(b"\n"):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            stamp, sep, payload = line.partition("\t")
            try:
                entry = json.loads(payload if sep else line)
            except ValueError:
                continue
            at = _stamp(stamp) if sep else time.time()
            if not isinstance(entry, dict):
                continue
            other = entry.get("thread-id")
            if thread_id and isinstance(other, str) and other != thread_id:
                continue
            if "aimax" not in entry:
                self.has_hooks = True
            sid, path = entry.get("session_id"), entry.get("transcript_path")
            if isinstance(sid, str) and isinstance(path, str) and sid and path:
                self.agent_session = (sid, path)
            signal = signal_from_entry(entry, at)
            if signal is None:
                continue
            if signal.source == "aimax":
                if self.last_note is None or signal.at >= self.last_note.at:
                    self.last_note = signal
            else:
                # Hook shells may stamp out of order when two run at once; the order the
                # agent finished them in (file order) is the truth among hooks.
                if self.last_hook is not None and signal.at < self.last_hook.at:
                    signal = Signal(signal.state, self.last_hook.at, signal.detail, signal.source)
                self.last_hook = signal
        return self.last


def _stamp(text: str) -> float:
    """``date +%s.%N`` output; BSD date (macOS) prints ``<seconds>.N``: keep the seconds."""
    try:
        return float(text)
    except ValueError:
        head = text.split(".", 1)[0]
        return float(head) if head.isdigit() else time.time()


SCREEN_OVERRULES_AFTER = 2.0
"""Seconds after the last "working" signal from which a reliably idle screen wins."""


def decide(
    *,
    dead: bool,
    screen: ScreenReading | None,
    hook: Signal | None,
    transcript: Signal | None,
    seen_ready: bool,
    screen_reliable: bool = False,
    now: float | None = None,
) -> tuple[str, str | None, str]:
    """Combine the sources into ``(state, detail, source)``.

    ``screen_reliable``: the agent shows its busy marker during every turn (Claude Code), so a
    ready screen with an empty box, lasting past :data:`SCREEN_OVERRULES_AFTER`, means idle even
    if the timed signals were stamped out of order (hooks run in their own shells).
    """
    if dead:
        return "exited", screen.excerpt if screen else None, "tmux"
    if screen is not None and screen.permission:
        return "waiting_permission", screen.permission, "screen"
    if screen is not None and screen.blocked and seen_ready:
        return "waiting_input", screen.excerpt, "screen"
    timed = [s for s in (hook, transcript) if s is not None]
    if timed:
        newest = max(timed, key=lambda s: s.at)
        if newest.state == "waiting_permission" and screen is not None and not screen.permission:
            # The hook fired but the question is gone: it was answered.
            newest = Signal("working", newest.at, source=newest.source)
        if newest.state == "idle" and screen is not None and screen.busy:
            return "working", None, "screen"
        if (
            newest.state == "working"
            and screen_reliable
            and screen is not None
            and screen.ready
            and screen.input_text == ""
            and (now if now is not None else time.time()) - newest.at > SCREEN_OVERRULES_AFTER
        ):
            return "idle", None, "screen"
        return newest.state, newest.detail, newest.source
    if screen is None:
        return "starting", None, "screen"
    if screen.busy:
        return "working", None, "screen"
    if screen.ready:
        return "idle", None, "screen"
    if seen_ready:
        return "waiting_input", screen.excerpt, "screen"
    return "starting", None, "screen"
