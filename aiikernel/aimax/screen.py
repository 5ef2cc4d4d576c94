"""Reading an agent's screen (``capture-pane`` text): ready, busy, input box, dialogs.

The screen is the last-resort state source (hooks and transcripts come first), but it is the
only one that sees dialogs and whether our pasted text still sits in the input box.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# CSI sequences (colours, cursor), OSC strings, charset selection.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")


def strip_ansi(text: str) -> str:
    """The visible text of a ``capture-pane -e`` capture."""
    return _ANSI.sub("", text)


def _cells(raw_line: str) -> list[tuple[str, bool]]:
    """Visible characters of one captured line, each with "is dim" (placeholder text)."""
    cells: list[tuple[str, bool]] = []
    dim = False
    pos = 0
    for match in _ANSI.finditer(raw_line):
        cells.extend((ch, dim) for ch in raw_line[pos : match.start()])
        seq = match.group()
        if seq.startswith("\x1b[") and seq.endswith("m"):
            params = seq[2:-1].replace(":", ";").split(";")
            for param in params:
                if param in ("", "0", "22"):
                    dim = False
                elif param == "2":
                    dim = True
        pos = match.end()
    cells.extend((ch, dim) for ch in raw_line[pos:])
    return cells


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


def _input_after(raw_line: str, prefix: str) -> str | None:
    """Text typed after the input prompt on this line; dim text is a placeholder (empty)."""
    cells = _cells(raw_line)
    plain = "".join(ch for ch, _ in cells)
    stripped = plain.lstrip(" │|")
    if not stripped.startswith(prefix):
        return None
    start = len(plain) - len(stripped) + len(prefix)
    rest = cells[start:]
    visible = [(ch, dim) for ch, dim in rest if not ch.isspace()]
    if visible and all(dim for _, dim in visible):
        return ""
    return "".join(ch for ch, _ in rest).strip()


def read_screen(raw: str, markers: ScreenMarkers) -> ScreenReading:
    """Classify one screen capture (plain, or with escapes from ``capture-pane -e``)."""
    text = strip_ansi(raw)
    lines = text.splitlines()
    busy = any(m in text for m in markers.busy)
    ready = not busy and any(m in text for m in markers.ready)
    input_text = None
    for raw_line in reversed(raw.splitlines()):
        found = _input_after(raw_line, markers.input_prefix)
        if found is not None:
            input_text = found
            break
    permission = None
    for i, line in enumerate(lines):
        if any(m in line for m in markers.permission):
            permission = "\n".join(x.rstrip() for x in lines[i : i + 8] if x.strip())
            break
    return ScreenReading(text, ready, busy, input_text, permission)


_DEAD = re.compile(r"Pane is dead \(status (\d+)")


def dead_status_shown(text: str) -> int | None:
    """The exit status tmux prints in a dead pane ("Pane is dead (status 127, …)"), if shown."""
    found = _DEAD.findall(text)
    return int(found[-1]) if found else None
