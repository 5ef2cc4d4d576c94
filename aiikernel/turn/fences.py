"""Find the code fences in a model reply: ```py / ```python run, ```#py is shown only.

A fence opens with three or more backticks (or tildes) at the start of a line and
closes with at least as many of the same character; anything else (``` ```js ```,
a bare fence) is prose.  An unclosed fence at the end of a reply is not run: the
model was cut off and half a program is worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
RUNNABLE_TAGS = frozenset({"py", "python", "python3", "ipython"})
REFERENCE_TAGS = frozenset({"#py", "#python"})


@dataclass(frozen=True)
class Fence:
    """One fenced block: its language tag, code, and where it sits in the reply."""

    tag: str
    code: str
    start: int
    end: int

    @property
    def runnable(self) -> bool:
        return self.tag in RUNNABLE_TAGS

    @property
    def reference_only(self) -> bool:
        return self.tag in REFERENCE_TAGS


def find_fences(text: str) -> list[Fence]:
    """Every closed fence in ``text``, in order."""
    fences: list[Fence] = []
    lines = text.split("\n")
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        tag = m.group("info").strip().split(" ")[0].lower() if m.group("info").strip() else ""
        close = re.compile(rf"^[ ]{{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j >= len(lines):
            break  # unclosed: the reply was cut off
        indent = len(m.group("indent"))
        body = [line[indent:] if line[:indent].isspace() else line for line in lines[i + 1 : j]]
        end = offsets[j] + len(lines[j])
        fences.append(Fence(tag=tag, code="\n".join(body), start=offsets[i], end=end))
        i = j + 1
    return fences


def runnable_fences(text: str) -> list[Fence]:
    """The fences of ``text`` that are run, in order."""
    return [f for f in find_fences(text) if f.runnable]


def for_display(text: str) -> str:
    """Markdown for people: reference-only fences get Python highlighting and a note."""

    def relabel(m: re.Match[str]) -> str:
        return f"{m.group(1)}python  (not run)"

    return re.sub(r"(?m)^([ ]{0,3}(?:`{3,}|~{3,}))[ \t]*#py(?:thon)?[ \t]*$", relabel, text)
