"""Answers to the panel's read requests: the checkpoint tree, a diff, variables, the wire log.

They are answered where they arrive (the comm's subshell), so they work while a turn runs.
None of them runs the user's code: variables are described from their type (see
:mod:`aiikernel.checkpoints.summary`), values only for built-in scalars and strings.
"""

from __future__ import annotations

import reprlib
from typing import Any

from .protocol import (
    CheckpointNode,
    CheckpointsMessage,
    CheckpointsRequest,
    DiffMessage,
    DiffRequest,
    VariableInfo,
    VariablesMessage,
    VariablesRequest,
    WireMessage,
    WireRequest,
)

#: Variables listed at most (newest last).
MAX_VARIABLES = 500
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def answer_read(session: Any, request: Any) -> Any:
    """The message answering one of the read requests above."""
    if isinstance(request, CheckpointsRequest):
        return checkpoints_message(session, request.request_id)
    if isinstance(request, DiffRequest):
        return diff_message(session, request)
    if isinstance(request, VariablesRequest):
        return variables_message(session, request.request_id)
    if isinstance(request, WireRequest):
        return wire_message(session, request)
    raise TypeError(f"not a read request: {type(request).__name__}")


def checkpoints_message(session: Any, request_id: str | None = None) -> CheckpointsMessage:
    from ..checkpoints import CheckpointError
    from ..checkpoints.commands import tree_data

    if not getattr(session, "checkpoints_enabled", False):
        return CheckpointsMessage(
            request_id=request_id,
            problem="checkpoints are turned off (AiSession.checkpoints_enabled = False)",
        )
    try:
        data = tree_data(session.checkpoints)
    except (CheckpointError, OSError) as exc:
        return CheckpointsMessage(request_id=request_id, problem=str(exc))
    nodes = [CheckpointNode(**node) for node in data["nodes"]]
    return CheckpointsMessage(request_id=request_id, head=data["head"], nodes=nodes)


def diff_message(session: Any, request: DiffRequest) -> DiffMessage:
    from ..checkpoints import CheckpointError

    try:
        diff = session.checkpoints.diff(request.checkpoint)
    except (CheckpointError, OSError) as exc:
        return DiffMessage(request_id=request.request_id, problem=str(exc))
    return DiffMessage(
        request_id=request.request_id,
        checkpoint=diff.after,
        diff=diff.model_dump(),
        text=diff.text(),
    )


def _size(value: Any) -> int | None:
    from ..checkpoints.summary import ARRAY_MODULES

    if isinstance(value, (str, bytes, bytearray)) and type(value) in (str, bytes, bytearray):
        return len(value)
    top = (getattr(type(value), "__module__", "") or "").split(".")[0]
    if top in ARRAY_MODULES:
        try:
            nbytes = getattr(value, "nbytes", None)
            if isinstance(nbytes, int):
                return nbytes
            if top == "pandas" and hasattr(value, "memory_usage"):  # a DataFrame
                return int(value.memory_usage(index=True, deep=False).sum())
        except Exception:
            return None
    return None


def _value(value: Any) -> str:
    if type(value) not in _SCALARS:
        return ""
    return " ".join(_REPR.repr(value).split())


def variables_message(session: Any, request_id: str) -> VariablesMessage:
    from ..checkpoints.summary import value_summary
    from ..turn.context import visible_names

    items = dict(list(session.namespace.items()))  # a copy: the main shell may be running
    names = visible_names(items, session.hidden_names)[-MAX_VARIABLES:]
    variables = [
        VariableInfo(
            name=name,
            summary=value_summary(items[name]),
            size=_size(items[name]),
            value=_value(items[name]),
        )
        for name in names
    ]
    return VariablesMessage(request_id=request_id, variables=variables)


def wire_message(session: Any, request: WireRequest) -> WireMessage:
    from ..lm.session_wire import wire_log
    from ..lm.wire import format_entry

    entries = wire_log(session).last(request.count)
    if not entries:
        return WireMessage(request_id=request.request_id, markdown="No model requests yet.")
    text = "\n\n---\n\n".join(format_entry(e) for e in entries)
    return WireMessage(request_id=request.request_id, markdown=text, count=len(entries))
