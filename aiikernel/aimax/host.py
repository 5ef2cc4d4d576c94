"""`BackendHost`: what an agent backend uses of the manager that owns it.

The manager creates the backends and calls them, so backends sit below it: they name the
members they use here instead of importing :class:`~.manager.AimaxManager`, which has them.
:class:`TranscriptSource` is the converse: what the manager's transcript tailing uses of a
backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .delivery import DeliveryHost

if TYPE_CHECKING:
    from .config import AimaxConfig
    from .registry import SessionRecord
    from .runtime import SessionRuntime
    from .tmux import PaneInfo, TmuxServer
    from .transcripts.eventlog import EventLog
    from .transcripts.events import TranscriptParser


class TranscriptSource(Protocol):
    """Where a session's transcript is and how to read it (a backend knows)."""

    @property
    def parser(self) -> TranscriptParser: ...

    def flavor_transcript_path(self, record: SessionRecord) -> Path | None: ...


class BackendHost(DeliveryHost, Protocol):
    """The manager as its backends see it (prompt delivery's view included)."""

    config: AimaxConfig
    tmux: TmuxServer

    @property
    def data_dir(self) -> Path: ...

    def session_dir(self, session_id: str) -> Path: ...

    def runtime(self, session_id: str) -> SessionRuntime: ...

    async def pane_info(self, pane_id: str | None, max_age: float = 0.0) -> PaneInfo | None: ...

    def mark_exited(self, record: SessionRecord, info: PaneInfo | None) -> SessionRecord: ...

    def catch_up(self, backend: TranscriptSource, record: SessionRecord) -> EventLog: ...

    def ensure_tail(self, backend: TranscriptSource, record: SessionRecord) -> EventLog: ...

    async def stop_tail(self, session_id: str) -> None: ...
