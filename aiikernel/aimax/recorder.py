"""The seed's prompt-paste recorder hook: analytics about every prompt aimax pastes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Recorder = Callable[[dict[str, Any]], None]


class PromptRecorder:
    """Holds at most one recorder; a failing recorder is logged, never breaks a send."""

    def __init__(self) -> None:
        self._recorder: Recorder | None = None

    def set_recorder(self, recorder: Recorder | None) -> None:
        """Install (or with None remove) the function called after every paste."""
        self._recorder = recorder

    def record(self, backend_name: str, session_id: str, content: str) -> None:
        if self._recorder is None:
            return
        event = {
            "backend_name": backend_name,
            "session_id": session_id,
            "content_length": len(content),
        }
        try:
            self._recorder(event)
        except Exception:
            log.exception("prompt recorder failed; ignoring")
