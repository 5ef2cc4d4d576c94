"""Register the chat comm target without importing the protocol (pydantic) at kernel start."""

from __future__ import annotations

from typing import Any

#: Kept in sync with :data:`aiikernel.chat.protocol.TARGET_NAME` (a test checks).
TARGET_NAME = "aiikernel.chat"


def register_chat_target(shell: Any) -> bool:
    """Register the chat target on the kernel running ``shell``; False outside a kernel.

    The session's :class:`~aiikernel.chat.hub.ChatHub` starts recording turns now, so a
    panel opened later still sees the `%%ai` cells run before it.
    """
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is None:
        return False
    from ..session import AiSession
    from .hub import chat_hub

    hub = chat_hub(AiSession.for_shell(shell))

    def open_chat(comm: Any, open_msg: dict[str, Any]) -> None:
        from .channel import ChatChannel

        channel = ChatChannel(comm, hub)
        channel.send(hub.state_message())

    manager.register_target(TARGET_NAME, open_chat)
    return True
