"""Getting one prompt into an agent's TUI, and interrupting a turn.

The hard-won rules (agents.md, design.md §5): paste once through a uniquely named tmux buffer,
wait until the text shows in the input box, pause (Codex reads an Enter within ~120 ms of a
paste as a newline), press the submit key as a separate call, confirm from the transcript or
the emptied box, and press the key again only while our text still sits in the box — never
paste twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import DeliveryError, InvalidOptions, SessionNotRunning
from .flags import JobFlags
from .tmux import Pane, PaneGone

if TYPE_CHECKING:
    from .config import AimaxConfig
    from .recorder import PromptRecorder
    from .registry import Registry, SessionRecord
    from .screen import ScreenReading
    from .state import StateFile
    from .transcripts.events import TranscriptParser

logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """How a prompt got in: useful for tests and the recorder."""

    enters: int
    confirmed_by: str
    chars: int


def normalize_prompt(text: str) -> str:
    """Line endings as a TUI expects inside a paste: ``\\n`` only."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class DeliveryHost(Protocol):
    """What delivery uses of the manager behind the backend (``AimaxManager`` provides it)."""

    recorder: PromptRecorder
    registry: Registry

    async def transcript_changed(self, backend: DeliveryBackend, record: SessionRecord) -> None: ...


class DeliveryBackend(Protocol):
    """What delivery uses of the agent's backend (``TmuxAgentBackend`` provides it).

    The backend creates the delivery, so the delivery names the backend's members it uses
    instead of importing the backend's module (or the manager's).
    """

    name: str
    agent_label: str
    config: AimaxConfig

    @property
    def manager(self) -> DeliveryHost: ...

    @property
    def parser(self) -> TranscriptParser: ...

    async def screen(self, pane: Pane) -> ScreenReading: ...

    async def is_busy(
        self, record: SessionRecord, pane: Pane, reading: ScreenReading | None = None
    ) -> bool: ...

    async def flavor_submit_key(self, record: SessionRecord, pane: Pane) -> str: ...

    def flavor_transcript_path(self, record: SessionRecord) -> Path | None: ...

    def flavor_new_transcript(
        self, record: SessionRecord, since: float, text: str | None = None
    ) -> Path | None: ...

    async def flavor_after_submit(
        self, record: SessionRecord, transcript: Path | None = None, text: str | None = None
    ) -> SessionRecord: ...


class PromptDelivery:
    """Delivers prompts to (and interrupts turns of) one session's pane for its backend."""

    def __init__(
        self, backend: DeliveryBackend, state_file: StateFile, record: SessionRecord, pane: Pane
    ) -> None:
        self.backend = backend
        self.state_file = state_file
        self.record = record
        self.pane = pane

    async def interrupt(self) -> bool:
        """One Escape if a turn runs (two while idle would open a menu), then wait for idle."""
        if not await self.backend.is_busy(self.record, self.pane):
            return False
        await self.pane.send_keys("Escape")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            reading = await self.backend.screen(self.pane)
            if reading.input_text is not None and not await self.backend.is_busy(
                self.record, self.pane, reading
            ):
                self.state_file.note("interrupt")
                return True
        raise DeliveryError(
            f"the {self.backend.agent_label} did not stop after Escape; it may be stuck"
        )

    async def clear_input(self) -> None:
        """Empty the input box before pasting, so our prompt arrives alone.

        Text there is a draft nobody submitted: typically the prompt an agent puts back when
        a turn is interrupted before any answer. Ctrl-C clears it in both TUIs (Claude then
        shows "Press Ctrl-C again to exit" for a moment; we wait for its footer to return).
        """
        reading = await self.backend.screen(self.pane)
        if not reading.input_text:
            return
        # Its length only: the text is usually a prompt, and prompts are never logged.
        logger.warning(
            "clearing %d characters of unsent text from the input box", len(reading.input_text)
        )
        await self.pane.send_keys("C-c")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            reading = await self.backend.screen(self.pane)
            if reading.input_text == "" and reading.ready:
                return
        raise DeliveryError(
            f"could not empty the {self.backend.agent_label} input box; it shows:\n{reading.excerpt}"
        )

    async def submit(self, prompt: str) -> DeliveryReport:
        """Paste once, Enter after a pause, confirm; retry Enter only while our text waits."""
        record = self.record
        text = normalize_prompt(prompt)
        if not text.strip():
            raise InvalidOptions("prompt is empty")
        await self.clear_input()
        JobFlags(Path(record.flag_root), record.session_id).arm()
        transcript = self.backend.flavor_transcript_path(record)
        before = transcript.stat().st_size if transcript and transcript.exists() else 0
        submitted_at = time.time()
        known_before = transcript is not None
        await self.pane.paste(text)
        self.backend.manager.recorder.record(self.backend.name, record.session_id, text)
        # Wait until the paste shows in the box, then the pause the TUIs need.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if (await self.backend.screen(self.pane)).input_text:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(self.backend.config.enter_delay)
        entered_at = time.time()
        await self.pane.send_keys(await self.backend.flavor_submit_key(record, self.pane))
        enters, last_enter = 1, time.monotonic()
        confirmed_by = ""
        deadline = time.monotonic() + self.backend.config.confirm_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if not known_before and transcript is None:
                transcript = self.backend.flavor_new_transcript(record, submitted_at, text)
            if transcript is not None and self._transcript_has(transcript, before, text):
                confirmed_by = "transcript"
                break
            try:
                reading = await self.backend.screen(self.pane)
            except PaneGone:
                raise SessionNotRunning("the agent exited while receiving the prompt") from None
            if reading.input_text == "" or reading.permission:
                confirmed_by = "screen"
                break
            if reading.input_text is None or (
                reading.input_text and time.monotonic() - last_enter > 1.0
            ):
                info = await self.pane.info()
                if info is None or info.dead:
                    confirmed_by = "agent exited"  # e.g. "/exit": the prompt was consumed
                    break
            if reading.input_text and time.monotonic() - last_enter > 1.0 and enters < 4:
                # The key was swallowed: press it again, never paste again.
                await self.pane.send_keys(await self.backend.flavor_submit_key(record, self.pane))
                enters, last_enter = enters + 1, time.monotonic()
        if not confirmed_by:
            raise DeliveryError(
                f"pasted the prompt but could not confirm it was submitted after {enters} Enter "
                f"presses; the screen shows:\n{(await self.backend.screen(self.pane)).excerpt}"
            )
        self.state_file.note("submit", at=entered_at)
        update: dict[str, Any] = {}
        if record.first_submit_at is None:
            update["first_submit_at"] = submitted_at
        record = self.backend.manager.registry.update(
            record.session_id, lambda r: r.model_copy(update=update)
        )
        known = record.transcript_path
        found = transcript if confirmed_by == "transcript" else None
        record = await self.backend.flavor_after_submit(record, found, text)
        if record.transcript_path != known:
            await self.backend.manager.transcript_changed(self.backend, record)
        return DeliveryReport(enters=enters, confirmed_by=confirmed_by, chars=len(text))

    def _transcript_has(self, path: Path, offset: int, text: str) -> bool:
        from .ingest import read_new_entries

        want = text.strip()[:200]
        for entry in read_new_entries(path, offset).entries:
            for event in self.backend.parser(entry):
                if event.kind == "user" and (event.text or "").strip()[:200] == want:
                    return True
        return False
