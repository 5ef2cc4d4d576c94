"""`SessionRuntime`: the in-memory companions of one aimax session in this process.

The manager keeps one per session (lock, state-file reader, event log, transcript tail, last
screen); backends and prompt delivery use it. Kept apart from :mod:`.manager` so that they
need not import the manager that owns them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .state import StateFile

if TYPE_CHECKING:
    from .delivery import DeliveryReport
    from .registry import SessionRecord
    from .screen import ScreenReading
    from .tmux import Pane
    from .transcripts.eventlog import EventLog
    from .transcripts.tail import TranscriptTailer


class ScreenSource(Protocol):
    """Reads a pane's screen with an agent's markers (a backend does)."""

    async def screen(self, pane: Pane) -> ScreenReading: ...


@dataclass
class SessionRuntime:
    """In-memory companions of one session in this process."""

    session_dir: Path
    log_writer: Any = None
    """The thread that writes and fsyncs the event log (see :class:`EventLog`); None: inline."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    state_file: StateFile = field(init=False)
    log: EventLog | None = None
    tailer: TranscriptTailer | None = None
    tail_task: asyncio.Task | None = None
    tail_lock_file: Any = None
    persisted_tail: dict | None = None
    last_activity: int = -1
    last_capture: float = 0.0
    last_screen: ScreenReading | None = None
    last_delivery: DeliveryReport | None = None

    def __post_init__(self) -> None:
        self.state_file = StateFile(self.session_dir / "state.jsonl")

    def reset_state_file(self) -> None:
        """A new session under an old id: start the state and event files afresh."""
        stamp = int(time.time())
        for name in ("state.jsonl", "events.jsonl"):
            path = self.session_dir / name
            if path.exists():
                path.rename(path.with_name(f"{name}.{stamp}.old"))
        if self.log is not None:
            self.log.close()
            self.log = None
        self.state_file = StateFile(self.session_dir / "state.jsonl")

    def event_log(self, record: SessionRecord) -> EventLog:
        if self.log is None:
            from .transcripts.eventlog import EventLog

            self.session_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.log = EventLog(
                self.session_dir / "events.jsonl", record.session_id, writer=self.log_writer
            )
        return self.log

    async def screen_if_changed(
        self, backend: ScreenSource, pane: Pane, activity: int
    ) -> ScreenReading:
        """Capture only when tmux saw pane activity since our last capture.

        ``window_activity`` has one-second resolution, so activity in the same second as the
        last capture also triggers a capture.
        """
        if (
            self.last_screen is None
            or activity != self.last_activity
            or activity >= int(self.last_capture) - 1
        ):
            self.last_screen = await backend.screen(pane)
            self.last_activity = activity
            self.last_capture = time.time()
        return self.last_screen
