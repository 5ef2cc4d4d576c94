"""Checkpoint commands: `/tree`, `/undo`, `/restore ID`, `/fork LABEL`, `/checkpoints`.

Each is also a line magic (`%tree` …).  Store errors become short messages via
:class:`CommandError`; nothing here imports the store until a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ..commands import CommandError, CommandResult, command, split_args
from .tree import clock

T = TypeVar("T")


class CheckpointSession(Protocol):
    """What these commands use of the AI session (an ``AiSession``).

    Checkpoints sit below the session, so they name its shape instead of importing it;
    ``checkpoints_enabled`` and ``tracker`` are read when present.
    """

    @property
    def checkpoints(self) -> Any: ...

    @property
    def namespace(self) -> dict[str, Any]: ...

    @property
    def hidden_names(self) -> set[str]: ...


def _store(session: CheckpointSession) -> Any:
    if not getattr(session, "checkpoints_enabled", True):
        raise CommandError("checkpoints are turned off (AiSession.checkpoints_enabled = False)")
    return session.checkpoints


def _touched(session: CheckpointSession) -> set[str] | None:
    """Names changed since the last checkpoint, per the tracker (None: examine all)."""
    tracker = getattr(session, "tracker", None)
    return tracker.take() if tracker is not None else None


def _guard(action: Callable[[], T]) -> T:
    """Run a store call, turning its errors into messages instead of tracebacks."""
    from . import CheckpointError

    try:
        return action()
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"the checkpoint store could not be used: {exc}") from None


def _markdown_lines(text: str) -> str:
    """Keep the store's lines as lines in Markdown (hard breaks)."""
    return "  \n".join(text.splitlines())


def _node(manifest: Any) -> dict[str, Any]:
    return {
        "id": manifest.id,
        "parent": manifest.parent,
        "label": manifest.label,
        "kind": manifest.kind,
        "time": manifest.time,
        "pruned": manifest.pruned,
    }


#: Checkpoints `/tree` shows in full; older runs of a chain fold into one line.
TREE_RECENT = 30


@command("tree", usage="/tree [all]", help="Show the checkpoint tree (● marks the current state).")
def tree_command(session: CheckpointSession, args: str) -> CommandResult:
    words = split_args(args)
    if words not in ([], ["all"]):
        raise CommandError("/tree takes no argument but `all`")
    store = _store(session)
    text = _guard(lambda: store.render_tree(None if words else TREE_RECENT))
    nodes = _guard(store.checkpoints)
    data = {"head": _guard(lambda: store.head), "nodes": [_node(m) for m in nodes]}
    return CommandResult(f"```\n{text}\n```", data=data)


@command("undo", usage="/undo", help="Put the namespace back as it was before the last AI turn.")
def undo_command(session: CheckpointSession, args: str) -> CommandResult:
    if args.strip():
        raise CommandError("/undo takes no arguments (use /restore ID for a specific checkpoint)")
    store = _store(session)
    report = _guard(
        lambda: store.undo(
            session.namespace, touched=_touched(session), hidden=session.hidden_names
        )
    )
    return CommandResult(_markdown_lines(report.message), data=report.model_dump())


@command(
    "restore",
    usage="/restore ID",
    help="Jump to any checkpoint by id (see /tree), fork label, or SESSION/ID of an earlier kernel.",
)
def restore_command(session: CheckpointSession, args: str) -> CommandResult:
    target = args.strip()
    if not target:
        raise CommandError("which checkpoint? Give an id from /tree, e.g. /restore 0003")
    store = _store(session)
    report = _guard(
        lambda: store.restore(
            session.namespace, target, touched=_touched(session), hidden=session.hidden_names
        )
    )
    return CommandResult(_markdown_lines(report.message), data=report.model_dump())


@command("fork", usage="/fork LABEL", help="Checkpoint now and name it as a branch point.")
def fork_command(session: CheckpointSession, args: str) -> CommandResult:
    label = " ".join(split_args(args))
    if not label:
        raise CommandError("a fork needs a label, e.g. /fork log-scale")
    store = _store(session)
    info = _guard(
        lambda: store.fork(
            label, session.namespace, touched=_touched(session), hidden=session.hidden_names
        )
    )
    return CommandResult(
        f"Fork **{label}** is checkpoint [{info.id}]; come back with `/restore {label}`.",
        data=info.model_dump(),
    )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@command(
    "checkpoints",
    usage="/checkpoints [status|sessions|gc]",
    help="Store status; other kernel sessions' trees; gc: delete data no checkpoint needs.",
)
def checkpoints_command(session: CheckpointSession, args: str) -> CommandResult:
    words = split_args(args)
    action = words[0].lower() if words else "status"
    store = _store(session)
    if action == "status":
        status = _guard(store.status)
        if not status["exists"]:
            return CommandResult(
                f"No checkpoint store yet (it will be created at `{status['directory']}` "
                "before the first AI turn).",
                data=status,
            )
        cap = status["max_store_bytes"]
        lines = [
            f"Store: `{status['directory']}`",
            f"This kernel's tree: {status['checkpoints']} checkpoints, current [{status['head']}]"
            if status["head"]
            else "This kernel's tree: empty",
            f"Data: {status['chunks']} chunks, {_size(status['chunk_bytes'])} "
            f"(shared by {status['sessions']} kernel sessions)",
            f"Size cap: {_size(cap) if cap else 'none'} (`/checkpoints gc` frees unused data)",
        ]
        last = status.get("last")
        if last:
            lines.append(
                f"Last checkpoint [{last['id']}]: {last['seconds'] * 1000:.0f} ms, "
                f"{len(last['examined'])} of {len(last['names'])} names examined, "
                f"{_size(last['bytes_written'])} written"
            )
        return CommandResult("\n\n".join(lines), data=status)
    if action == "sessions":
        sessions = _guard(store.sessions)
        if not sessions:
            return CommandResult("No checkpoint store yet.", data={"sessions": []})
        rows = ["| kernel session | checkpoints | newest |", "|---|---|---|"]
        for item in sessions:
            name = f"`{item['session']}`" + (" (this kernel)" if item["current"] else "")
            newest = (
                f"[{item['newest']}] {item['label']}  ({clock(item['time'])})"
                if item["newest"]
                else "—"
            )
            rows.append(f"| {name} | {item['checkpoints']} | {newest} |")
        rows.append("\nRestore one with `/restore SESSION/ID`, e.g. after a kernel restart.")
        return CommandResult("\n".join(rows), data={"sessions": sessions})
    if action == "gc":
        if len(words) > 1:
            raise CommandError("/checkpoints gc takes no further arguments")
        result = _guard(store.gc)
        return CommandResult(
            f"Removed {result['removed_chunks']} unused chunks ({_size(result['removed_bytes'])}); "
            f"pruned {result['pruned']} old checkpoints; dropped {result['dropped_sessions']} "
            f"idle kernel sessions; {_size(result['kept_bytes'])} kept.",
            data=result,
        )
    raise CommandError(f"unknown action {action!r}; use status, sessions or gc")
