"""A chat-comm client over jupyter_client's raw channels, speaking the protocol as the panel does."""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiikernel.chat import protocol


class ChatClient:
    """One chat comm; ``subshell_id`` set: its comm messages go to that kernel subshell."""

    def __init__(self, kc, subshell_id: str | None = None) -> None:
        self.kc = kc
        self.subshell_id = subshell_id
        self.comm_id = uuid.uuid4().hex
        self._send(
            "comm_open", {"comm_id": self.comm_id, "target_name": protocol.TARGET_NAME, "data": {}}
        )

    def _send(self, msg_type: str, content: dict) -> str:
        msg = self.kc.session.msg(msg_type, content)
        if self.subshell_id is not None:
            msg["header"]["subshell_id"] = self.subshell_id
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def request(self, data: Any) -> str:
        return self._send("comm_msg", {"comm_id": self.comm_id, "data": data})

    def execute_request(self, request: dict) -> str:
        """Run a prompt or command on the main shell, as the panel does (an execute request)."""
        envelope = json.dumps({"comm_id": self.comm_id, "request": request})
        code = f'__import__("aiikernel.chat.hub").chat.hub.chat_request(get_ipython(), {json.dumps(envelope)})'
        return self.kc.execute(code, silent=False, store_history=False, stop_on_error=False)

    def _inbox(self, comm_id: str) -> list[dict]:
        """Comm messages read from the shared iopub queue but meant for ``comm_id``."""
        boxes = self.kc.__dict__.setdefault("_chat_inboxes", {})
        return boxes.setdefault(comm_id, [])

    def collect(
        self, until: Callable[[dict], bool], timeout: float = 60.0
    ) -> tuple[list[dict], list[dict]]:
        """Chat messages and other iopub outputs until ``until(chat_message)`` is true.

        Several clients share one iopub queue: messages of other comms are kept for them."""
        chat, outputs = [], []
        inbox = self._inbox(self.comm_id)
        while inbox:
            data = inbox.pop(0)
            chat.append(data)
            if until(data):
                return chat, outputs
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["msg_type"] == "comm_msg":
                data = msg["content"]["data"]
                if msg["content"]["comm_id"] == self.comm_id:
                    chat.append(data)
                    if until(data):
                        return chat, outputs
                else:
                    self._inbox(msg["content"]["comm_id"]).append(data)
            elif msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                outputs.append(msg)
        raise TimeoutError(f"chat did not finish; got {chat}")

    def ask(self, data: dict, answer_type: str, timeout: float = 30.0) -> dict:
        """Send a request and return its answer (the first message of ``answer_type`` for it)."""
        self.request(data)
        msgs, _ = self.collect(
            lambda m: (
                m["type"] in (answer_type, "error")
                and m.get("request_id") == data.get("request_id")
            ),
            timeout,
        )
        return msgs[-1]


def is_done(message: dict) -> bool:
    return message.get("type") == "event" and message["event"]["kind"] == "done"


def is_turn_end(message: dict) -> bool:
    """The last message of a turn with checkpoints on: its state diff (after ``done``)."""
    return message.get("type") == "event" and message["event"]["kind"] == "state_diff"


def create_subshell(kc, timeout: float = 10.0) -> str:
    msg = kc.session.msg("create_subshell_request", {})
    kc.control_channel.send(msg)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = kc.get_control_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply["content"]["subshell_id"]
    raise TimeoutError("no create_subshell_reply")
