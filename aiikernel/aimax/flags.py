"""The seed's job-completion contract: ``<flagRoot>/.imac/flags/<sessionId>/{running,failed}.flag``.

Every submit writes ``running.flag`` (and clears ``failed.flag``); the agent — told by its
instructions, or the fake agent by itself — removes ``running.flag`` when the job is done and
writes ``failed.flag`` if it failed. Real files, so any process can watch them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

RUNNING = "running.flag"
FAILED = "failed.flag"


class JobFlags:
    """The flag directory of one session."""

    def __init__(self, flag_root: Path, session_id: str) -> None:
        self.dir = Path(flag_root) / ".imac" / "flags" / session_id

    def arm(self, prompt_excerpt: str = "") -> None:
        """Mark a job as running (called on every submit)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            os.unlink(self.dir / FAILED)
        except FileNotFoundError:
            pass
        tmp = self.dir / f".{RUNNING}.{os.getpid()}.tmp"
        tmp.write_text(f"{time.time():.3f}\n{prompt_excerpt[:200]}\n", encoding="utf-8")
        os.replace(tmp, self.dir / RUNNING)

    def is_running(self) -> bool:
        return (self.dir / RUNNING).exists()

    def is_failed(self) -> bool:
        return (self.dir / FAILED).exists()

    def is_accomplished(self) -> bool:
        """True once the agent removed ``running.flag`` (success or failure)."""
        return self.dir.is_dir() and not self.is_running()
