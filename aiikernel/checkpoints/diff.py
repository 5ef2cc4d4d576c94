"""What changed between two checkpoints: names added, changed and deleted, with their shapes.

Computed from the manifests alone (digests and the stored summaries, see ``summary.py``):
no value is loaded or pickled again, so the diff of a turn that left a 1 GB DataFrame alone
costs what comparing a few hundred short strings costs.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from .records import Entry
from .summary import shape_part

#: Names listed per kind in the one-line text; the rest are counted.
TEXT_NAMES = 8


class NameChange(BaseModel):
    """One name: its summary before and after (``""`` on the side where it did not exist)."""

    name: str
    before: str = ""
    after: str = ""

    def describe(self) -> str:
        """``df: 1000×5 → 980×6``, ``x: int → str len 3``, or ``arr`` (same shape, new values)."""
        if not self.before or not self.after:
            known = self.after or self.before
            return f"{self.name} ({known})" if known else self.name
        if self.before == self.after:
            return self.name
        before_type, after_type = self.before.split(" ")[0], self.after.split(" ")[0]
        if before_type != after_type:
            return f"{self.name}: {self.before} → {self.after}"
        old, new = shape_part(self.before).split(), shape_part(self.after).split()
        while len(old) > 1 and len(new) > 1 and old[-1] == new[-1]:  # same dtype: say it once
            old, new = old[:-1], new[:-1]
        return f"{self.name}: {' '.join(old) or before_type} → {' '.join(new) or after_type}"


class StateDiff(BaseModel):
    """The difference between checkpoint ``before`` and checkpoint (or live state) ``after``."""

    before: str | None = None
    after: str | None = None
    added: list[NameChange] = Field(default_factory=list)
    changed: list[NameChange] = Field(default_factory=list)
    deleted: list[NameChange] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.deleted)

    def text(self) -> str:
        """One line for people: ``added x (int); changed df: 1000×5 → 980×6; deleted y (str)``."""
        if self.empty:
            return "no names changed"
        parts = []
        for verb, items in (
            ("added", self.added),
            ("changed", self.changed),
            ("deleted", self.deleted),
        ):
            if items:
                shown = ", ".join(item.describe() for item in items[:TEXT_NAMES])
                more = len(items) - TEXT_NAMES
                parts.append(f"{verb} {shown}" + (f", … ({more} more)" if more > 0 else ""))
        return "; ".join(parts)


def _content(entry: Entry) -> tuple[str, str]:
    if entry.kind in ("value", "member"):
        return ("data", entry.digest)
    if entry.kind == "module":
        return ("module", entry.module or "")
    return ("unpicklable", entry.summary or entry.type_name)


def diff_entries(
    before: Mapping[str, Entry],
    after: Mapping[str, Entry],
    *,
    before_id: str | None = None,
    after_id: str | None = None,
) -> StateDiff:
    """The names that differ between two checkpoints' entries (modules are left out)."""
    diff = StateDiff(before=before_id, after=after_id)
    for name in sorted(after.keys() | before.keys()):
        old, new = before.get(name), after.get(name)
        if {e.kind for e in (old, new) if e is not None} == {"module"}:
            continue  # `import numpy as np` is not a change of the user's data
        if old is None:
            assert new is not None
            diff.added.append(NameChange(name=name, after=new.summary))
        elif new is None:
            diff.deleted.append(NameChange(name=name, before=old.summary))
        elif _content(old) != _content(new) or old.summary != new.summary:
            diff.changed.append(NameChange(name=name, before=old.summary, after=new.summary))
    return diff
