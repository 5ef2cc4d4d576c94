"""Drawing the checkpoint tree as text, in the seed's style.

::

    Checkpoint tree:
    └── [0000] ○ pre: analyze the data  (14:30:01)
        ├── [0001] ○ pre: make a bar chart  (14:30:45)
        └── [0002] ● pre: try a scatter plot instead  (14:31:12)

``●`` marks the checkpoint the live namespace came from, ``○`` the others.  A
checkpoint with a single child continues in the same column, so a long run of
turns does not drift to the right; only branches indent.  The state ``/undo`` or
``/restore`` left behind is always drawn as a branch: it is a side road, not the
next step (the next turn from the restored state becomes its sibling).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import Manifest, RestoreReport


def describe(manifest: Manifest) -> str:
    """The label as shown in the tree: ``pre: <prompt>`` for AI turns."""
    label = " ".join(manifest.label.split())
    if len(label) > 60:
        label = label[:59] + "…"
    if manifest.kind == "turn":
        text = f"pre: {label}"
    elif manifest.kind == "after":
        text = f"after: {label}"
    elif manifest.kind == "fork":
        text = f"fork: {label}"
    else:
        text = label
    if manifest.pruned:
        text += " (pruned)"
    return text


def left_behind(manifest: Manifest) -> bool:
    """Whether ``manifest`` is the state saved by /undo or /restore before moving away."""
    return manifest.kind == "auto" and (
        manifest.label == "before undo" or manifest.label.startswith("before restore of ")
    )


def clock(timestamp: float) -> str:
    """HH:MM:SS in local time."""
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def render(
    manifests: Iterable[Manifest],
    head: str | None,
    forks: Mapping[str, str] | None = None,
    recent: int | None = None,
) -> str:
    """The tree of one session as text.

    With ``recent``, runs of older checkpoints inside a chain fold into one
    ``… N earlier checkpoints`` line; roots, branch points, forks, the current
    checkpoint and the ``recent`` newest ones always show.
    """
    by_id = {m.id: m for m in manifests}
    if not by_id:
        return "Checkpoint tree: (empty — a checkpoint is taken before every AI turn)"
    tags: dict[str, list[str]] = {}
    for label, cid in (forks or {}).items():
        tags.setdefault(cid, []).append(label)
    children: dict[str | None, list[str]] = {}
    for cid in sorted(by_id):
        parent = by_id[cid].parent
        children.setdefault(parent if parent in by_id else None, []).append(cid)
    side = {cid for cid, m in by_id.items() if left_behind(m)}
    shown = set(by_id)
    if recent is not None and len(by_id) > recent:
        shown = set(sorted(by_id)[-recent:]) | set(tags) | {head} | set(children[None])
        shown |= {cid for cid in by_id if len(children.get(cid, ())) != 1}
        shown |= side | {by_id[cid].parent for cid in side}

    lines = ["Checkpoint tree:"]

    def line(cid: str) -> str:
        m = by_id[cid]
        mark = "●" if cid == head else "○"
        tag = "".join(f"  ⑂ {t}" for t in sorted(tags.get(cid, [])))
        return f"[{cid}] {mark} {describe(m)}  ({clock(m.time)}){tag}"

    def continuation(connector: str) -> str:
        return "    " if connector in ("└── ", "    ") else "│   "

    # Iterative walk: (id, prefix, connector of its line, checkpoints folded before it)
    stack: list[tuple[str, str, str, int]] = []
    roots = children.get(None, [])
    for i, cid in enumerate(reversed(roots)):
        stack.append((cid, "", "└── " if i == 0 else "├── ", 0))
    while stack:
        cid, prefix, connector, folded = stack.pop()
        kids = children.get(cid, [])
        if cid not in shown:  # inside a chain (one child): fold it
            stack.append((kids[0], prefix, connector, folded + 1))
            continue
        if folded:
            noun = "checkpoint" if folded == 1 else "checkpoints"
            lines.append(f"{prefix}{connector}… {folded} earlier {noun} (/tree all)")
            connector = continuation(connector)
        lines.append(prefix + connector + line(cid))
        if len(kids) == 1 and kids[0] not in side:  # continue in the same column
            stack.append((kids[0], prefix, continuation(connector), 0))
            continue
        child_prefix = prefix + continuation(connector)
        for i, kid in enumerate(reversed(kids)):
            stack.append((kid, child_prefix, "└── " if i == 0 else "├── ", 0))
    return "\n".join(lines)


def restore_message(target: Manifest, report: RestoreReport, shown_as: str) -> str:
    def names(items: list[str]) -> str:
        shown = ", ".join(items[:12])
        return shown + (f", … ({len(items) - 12} more)" if len(items) > 12 else "")

    lines = [f"Restored [{shown_as}] {describe(target)}  ({clock(target.time)})."]
    if report.restored:
        lines.append(f"Restored: {names(report.restored)}.")
    if report.removed:
        lines.append(f"Removed (not in that checkpoint): {names(report.removed)}.")
    if not report.restored and not report.removed:
        lines.append("The namespace already matched it.")
    if report.not_rolled_back:
        parts = [f"{n} ({why})" for n, why in sorted(report.not_rolled_back.items())]
        lines.append("Not rolled back (could not be stored): " + ", ".join(parts) + ".")
    if report.saved_as and report.saved_as != shown_as:
        lines.append(
            f"The state before this is checkpoint [{report.saved_as}] (/restore it to go back)."
        )
    return "\n".join(lines)
