"""Register the chat comm target without importing the protocol (pydantic) at kernel start."""

from __future__ import annotations

from typing import Any

#: Kept in sync with :data:`aiikernel.chat.protocol.TARGET_NAME` (a test checks).
TARGET_NAME = "aiikernel.chat"


def register_chat_target(shell: Any) -> bool:
    """Register the chat target on the kernel running ``shell``; False outside a kernel."""
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is None:
        return False

    def open_chat(comm: Any, open_msg: dict[str, Any]) -> None:
        from ..session import AiSession
        from .channel import ChatChannel

        channel = ChatChannel(comm, AiSession.for_shell(shell))
        channel.send(channel.state())

    manager.register_target(TARGET_NAME, open_chat)
    return True
