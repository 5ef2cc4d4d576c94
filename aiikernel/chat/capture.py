"""See what AI-run code publishes on IOPub, as Jupyter outputs, while it runs.

The chat panel shows each code block's outputs exactly as a notebook would, live and again
after a reload.  Every output a kernel produces — stream text (sent from the IO thread),
``display_data`` and ``clear_output`` (display publisher), ``execute_result`` (display hook)
and ``error`` (the shell's traceback) — leaves through the kernel's one
:class:`jupyter_client.session.Session`.  :class:`IOPubTap` wraps that session's ``send``
once; while it is :attr:`~IOPubTap.active` it hands each output message, converted to its
nbformat form, to a callback.  Nothing else changes: the message is sent as before.

With :attr:`~IOPubTap.parent_id` set, only outputs of that request are handed on: a user
cell's outputs are known by their request, so its last stream text can arrive after the cell
(with the kernel's own flush) instead of being flushed early at a cost to every cell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

OUTPUT_TYPES = frozenset(
    {"stream", "display_data", "update_display_data", "execute_result", "error", "clear_output"}
)

#: callback(msg_type, nbformat-ish output dict, display_id or None)
OutputCallback = Callable[[str, dict[str, Any], "str | None"], None]


def to_output(msg_type: str, content: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The nbformat output for an IOPub message's content, and its display id if any."""
    display_id = (content.get("transient") or {}).get("display_id")
    if msg_type == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}, None
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": list(content.get("traceback", [])),
        }, None
    if msg_type == "clear_output":
        return {"output_type": "clear_output", "wait": bool(content.get("wait"))}, None
    output = {
        "output_type": "execute_result" if msg_type == "execute_result" else "display_data",
        "data": dict(content.get("data", {})),
        "metadata": dict(content.get("metadata", {})),
    }
    if msg_type == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output, display_id


def parent_msg_id(msg_or_type: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``msg_id`` of the request a message answers, from ``Session.send``'s arguments."""
    if isinstance(msg_or_type, dict):
        parent = msg_or_type.get("parent_header")
    else:  # send(stream, msg_type, content, parent, ...)
        parent = args[1] if len(args) > 1 else kwargs.get("parent")
    if not isinstance(parent, dict):
        return None
    header = parent.get("header", parent)  # a whole message or just its header
    return header.get("msg_id") if isinstance(header, dict) else None


class IOPubTap:
    """Wraps ``session.send`` once; forwards output messages while :attr:`active`
    (only those of request :attr:`parent_id` when it is set)."""

    def __init__(self, session: Any, callback: OutputCallback) -> None:
        self.session = session
        self.callback = callback
        self.active = False
        self.parent_id: str | None = None
        self._original = session.send
        session.send = self._send

    def _send(self, stream: Any, msg_or_type: Any, *args: Any, **kwargs: Any) -> Any:
        result = self._original(stream, msg_or_type, *args, **kwargs)
        if self.active:
            try:
                if isinstance(msg_or_type, dict):
                    msg_type = msg_or_type["header"]["msg_type"]
                    content = msg_or_type["content"]
                else:
                    msg_type = msg_or_type
                    content = args[0] if args else kwargs.get("content")
                if msg_type in OUTPUT_TYPES and isinstance(content, dict):
                    if self.parent_id is not None and self.parent_id != parent_msg_id(
                        msg_or_type, args, kwargs
                    ):
                        return result
                    output, display_id = to_output(msg_type, content)
                    self.callback(msg_type, output, display_id)
            except Exception:  # the chat copy is a convenience; the real output was sent
                log.exception("chat output capture failed")
        return result

    def remove(self) -> None:
        """Put the session's own ``send`` back."""
        if self.session.send == self._send:
            self.session.send = self._original
