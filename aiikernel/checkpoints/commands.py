"""Checkpoint commands: `/tree`, `/undo`, `/restore ID`, `/fork LABEL`, `/diff [ID]`,
`/resume [ID]`, `/checkpoints`.

Each is also a line magic (`%tree` …).  A checkpoint holds the namespace *and* the
conversation: the commands that move the namespace put the recorded conversation back too,
so the model is never sent a turn that was undone.  Store errors become short messages via
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
    ``checkpoints_enabled``, ``tracker``, ``conversation_state()`` and
    ``load_conversation_state(state)`` are used when present.
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


def _conversation(session: CheckpointSession) -> Any:
    """The live conversation, saved with the state a command moves away from."""
    state = getattr(session, "conversation_state", None)
    return state() if callable(state) else None


def _put_back_conversation(session: CheckpointSession, report: Any) -> str:
    """Load the target's conversation into the session; returns the line that says so."""
    load = getattr(session, "load_conversation_state", None)
    if not callable(load):
        return ""
    if report.conversation is None:
        return "Conversation: that checkpoint did not record one; it stays as it is."
    load(report.conversation, origin=report.session)
    messages = len(report.conversation.get("messages", []))
    turns = len(report.conversation.get("chat", []))
    what = f"{turns} turn{'s' if turns != 1 else ''}" if "chat" in report.conversation else ""
    what = what or f"{messages} message{'s' if messages != 1 else ''}"
    return f"Conversation: back to {what} as it was then (later turns are not sent to the model)."


def _moved(session: CheckpointSession, report: Any) -> CommandResult:
    """The result of a command that moved the namespace (and the conversation)."""
    lines = [report.message]
    said = _put_back_conversation(session, report)
    if said:
        lines.append(said)
    return CommandResult(_markdown_lines("\n".join(lines)), data=report.model_dump())


def _markdown_lines(text: str) -> str:
    """Keep the store's lines as lines in Markdown (hard breaks)."""
    return "  \n".join(text.splitlines())


def _node(manifest: Any, forks: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": manifest.id,
        "parent": manifest.parent,
        "label": manifest.label,
        "kind": manifest.kind,
        "time": manifest.time,
        "pruned": manifest.pruned,
        "added_bytes": manifest.added_bytes,
        "forks": forks.get(manifest.id, []),
        "names": len(manifest.entries),
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
    return CommandResult(f"```\n{text}\n```", data=_guard(lambda: tree_data(store)))


def tree_data(store: Any) -> dict[str, Any]:
    """The tree as data: ``head`` and one node per checkpoint (the panel draws it)."""
    forks: dict[str, list[str]] = {}
    for label, cid in store.forks().items():
        forks.setdefault(cid, []).append(label)
    return {"head": store.head, "nodes": [_node(m, forks) for m in store.checkpoints()]}


@command("undo", usage="/undo", help="Put the namespace back as it was before the last AI turn.")
def undo_command(session: CheckpointSession, args: str) -> CommandResult:
    if args.strip():
        raise CommandError("/undo takes no arguments (use /restore ID for a specific checkpoint)")
    store = _store(session)
    report = _guard(
        lambda: store.undo(
            session.namespace,
            touched=_touched(session),
            hidden=session.hidden_names,
            conversation=_conversation(session),
        )
    )
    return _moved(session, report)


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
            session.namespace,
            target,
            touched=_touched(session),
            hidden=session.hidden_names,
            conversation=_conversation(session),
        )
    )
    return _moved(session, report)


@command("fork", usage="/fork LABEL", help="Checkpoint now and name it as a branch point.")
def fork_command(session: CheckpointSession, args: str) -> CommandResult:
    label = " ".join(split_args(args))
    if not label:
        raise CommandError("a fork needs a label, e.g. /fork log-scale")
    store = _store(session)
    info = _guard(
        lambda: store.fork(
            label,
            session.namespace,
            touched=_touched(session),
            hidden=session.hidden_names,
            conversation=_conversation(session),
        )
    )
    return CommandResult(
        f"Fork **{label}** is checkpoint [{info.id}]; come back with `/restore {label}`.",
        data=info.model_dump(),
    )


@command(
    "diff",
    usage="/diff [ID]",
    help="What a checkpoint changed since the one before it (default: the current one, "
    "i.e. the last turn): names added, changed, deleted, with shapes.",
)
def diff_command(session: CheckpointSession, args: str) -> CommandResult:
    words = split_args(args)
    if len(words) > 1:
        raise CommandError("/diff takes one checkpoint id at most")
    store = _store(session)
    diff = _guard(lambda: store.diff(words[0] if words else None))
    since = f"[{diff.before}]" if diff.before else "an empty namespace"
    title = f"Checkpoint [{diff.after}] against {since}: {diff.text()}."
    rows = [title]
    for sign, items in (("+", diff.added), ("~", diff.changed), ("-", diff.deleted)):
        rows.extend(f"{sign} {item.describe()}" for item in items)
    return CommandResult(_markdown_lines("\n".join(rows)), data=diff.model_dump())


@command(
    "resume",
    usage="/resume [SESSION/ID]",
    help="After a kernel restart: bring back the variables and the conversation of the "
    "previous kernel session (its last checkpoint, or the one given).",
)
def resume_command(session: CheckpointSession, args: str) -> CommandResult:
    from .resume import resume_offer

    words = split_args(args)
    if len(words) > 1:
        raise CommandError("/resume takes one SESSION/ID at most (/checkpoints sessions)")
    store = _store(session)
    if words:
        ref = words[0]
        if "/" not in ref:
            raise CommandError(
                "give SESSION/ID (see /checkpoints sessions); /restore ID is for this kernel's tree"
            )
    else:
        offer = _guard(lambda: resume_offer(store))
        if offer is None:
            raise CommandError(
                "there is no earlier kernel session of this notebook to resume "
                "(/checkpoints sessions lists every session in this folder)"
            )
        ref = offer.ref
    report = _guard(
        lambda: store.restore(
            session.namespace,
            ref,
            touched=_touched(session),
            hidden=session.hidden_names,
            conversation=_conversation(session),
        )
    )
    result = _moved(session, report)
    if report.not_rolled_back:
        missing = [f"{n} ({why})" for n, why in sorted(report.not_rolled_back.items())]
        result.markdown += (
            "  \n**Could not be restored** (run the cells that made them): "
            + ", ".join(missing)
            + "."
        )
    return result


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
