"""Transcript text made safe to print on a terminal.

Agent output is untrusted: a transcript line may hold escape sequences that set the window
title, write the clipboard (OSC 52), clear the screen or move the cursor over earlier lines.
Every C0 and C1 control character except newline and tab is shown as a visible escape
(``\\x1b``) instead, so what is printed is what was written, and nothing acts on the terminal.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with C0/C1 controls (newline and tab excepted) as ``\\xNN`` escapes."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
