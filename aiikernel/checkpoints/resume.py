"""Which earlier kernel session a new kernel may resume, and what resuming would bring back.

After a restart the store still holds the tree of the previous kernel process.  The
candidate is the most recent other session of the same notebook (sessions are named after
it; from a console, any session), at its current checkpoint: the state its namespace was in
when that kernel stopped.  Nothing is restored here: the panel and ``/resume`` offer it, the
user decides.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

#: The start time and pid a default session name ends with (see ``CheckpointStore``).
_STAMP = re.compile(r"-?\d{8}-\d{6}-\d+$")


class ResumeOffer(BaseModel):
    """An earlier session's current checkpoint: "Resume from checkpoint N (label, time)"."""

    session: str
    checkpoint: str
    label: str
    kind: str
    time: float
    #: ``SESSION/ID``: what ``/resume`` (or ``/restore``) takes.
    ref: str
    names: list[str] = Field(default_factory=list)
    #: Chat turns and model messages the checkpoint recorded (0 when it recorded none).
    turns: int = 0
    messages: int = 0


def notebook_of(session: str) -> str:
    """The notebook part of a session name ("" for a console or a custom name)."""
    return _STAMP.sub("", session)


def resume_offer(store: Any) -> ResumeOffer | None:
    """The session a fresh kernel could resume, or None (see the module docstring)."""
    from .tree import describe

    current = store.session_name
    mine = notebook_of(current)
    for item in store.sessions():  # newest activity first
        name = item["session"]
        if name == current or not item["checkpoints"]:
            continue
        if mine and notebook_of(name) != mine:
            continue
        manifest = store.head_of(name)
        if manifest is None or manifest.pruned:
            continue
        parts = manifest.conversation.parts if manifest.conversation else {}
        return ResumeOffer(
            session=name,
            checkpoint=manifest.id,
            label=describe(manifest),
            kind=manifest.kind,
            time=manifest.time,
            ref=f"{name}/{manifest.id}",
            names=sorted(n for n, e in manifest.entries.items() if e.kind != "module"),
            turns=len(parts.get("chat", [])),
            messages=len(parts.get("messages", [])),
        )
    return None
