"""Reading an agent's screen (``capture-pane`` text): ready, busy, input box, dialogs.

The screen is the last-resort state source (hooks and transcripts come first), but it is the
only one that sees dialogs and whether our pasted text still sits in the input box.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenMarkers:
    """The strings one agent's TUI shows (agents.md "Screen")."""

    ready: tuple[str, ...]
    busy: tuple[str, ...]
    input_prefix: str
    permission: tuple[str, ...]


CLAUDE_MARKERS = ScreenMarkers(
    ready=("? for shortcuts", "bypass permissions on", "accept edits on", "plan mode on"),
    busy=("esc to interrupt",),
    input_prefix="❯\u00a0",
    permission=(
        "Do you want to proceed?",
        "Do you want to make this edit",
        "Do you want to create",
        "Do you want to allow",
    ),
)

CODEX_MARKERS = ScreenMarkers(
    ready=("for agents · ? for shortcuts",),
    busy=("esc to interrupt",),
    input_prefix="› ",
    permission=(
        "Would you like to run the following command?",
        "Would you like to make the following edits?",
        "Would you like to grant",
    ),
)


@dataclass(frozen=True)
class ScreenReading:
    """What one capture says."""

    text: str
    ready: bool
    busy: bool
    input_text: str | None
    """Text in the input box ("" when empty); None when no input box is visible."""
    permission: str | None
    """The permission question and the lines after it, when one is shown."""

    @property
    def blocked(self) -> bool:
        """Neither ready, busy, asking permission nor showing an input box: a dialog."""
        return not (self.ready or self.busy or self.permission) and self.input_text is None

    @property
    def excerpt(self) -> str:
        """The non-blank lines, for error messages and the waiting_input detail."""
        lines = [line.rstrip() for line in self.text.splitlines() if line.strip()]
        return "\n".join(lines[-25:])


def read_screen(text: str, markers: ScreenMarkers) -> ScreenReading:
    """Classify one screen capture."""
    lines = text.splitlines()
    busy = any(m in text for m in markers.busy)
    ready = not busy and any(m in text for m in markers.ready)
    input_text = None
    for line in reversed(lines):
        stripped = line.lstrip(" │|")
        if stripped.startswith(markers.input_prefix):
            input_text = stripped[len(markers.input_prefix) :].strip()
            break
    permission = None
    for i, line in enumerate(lines):
        if any(m in line for m in markers.permission):
            permission = "\n".join(x.rstrip() for x in lines[i : i + 8] if x.strip())
            break
    return ScreenReading(text, ready, busy, input_text, permission)
