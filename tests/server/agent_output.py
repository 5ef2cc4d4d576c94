"""Write agent output straight into a session's transcript, as fast as a test needs.

The fake agent answers one prompt at a time; restart and load tests need thousands of events.
This appends Claude Code–format assistant entries (the fake agent's own writer) to the
transcript the server tails, each carrying its index and the wall-clock time it was written.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from aiikernel.aimax.fake_agent.writers import ClaudeWriter

_MARK = re.compile(r"^n=(\d+) t=([0-9.]+)$")


class TranscriptWriter:
    """Appends ``n=<i> t=<epoch>`` assistant messages to one Claude transcript."""

    def __init__(self, jsonl_path: str, cwd: str, agent_session_id: str) -> None:
        self._writer = ClaudeWriter(cwd, agent_session_id, None)
        self._writer.path = Path(jsonl_path)
        self.written = 0

    def write(self, index: int) -> None:
        self._writer.assistant(f"n={index} t={time.time():.6f}")
        self.written += 1

    def run_in_thread(self, count: int, interval: float, start: int = 0) -> threading.Thread:
        """Write ``count`` messages, one every ``interval`` seconds, on a thread."""

        def loop() -> None:
            for i in range(start, start + count):
                self.write(i)
                time.sleep(interval)

        thread = threading.Thread(target=loop, daemon=True, name="transcript-writer")
        thread.start()
        return thread


def parse_mark(text: str | None) -> tuple[int, float] | None:
    """``(index, written_at)`` of a message written by :class:`TranscriptWriter`."""
    m = _MARK.match(text or "")
    return (int(m.group(1)), float(m.group(2))) if m else None
