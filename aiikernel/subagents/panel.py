"""The chat panel's list of sub-agents: a comm of its own (``aiikernel.subagents``).

On open, and whenever a sub-agent starts, changes state or ends, the kernel sends
:class:`AgentsUpdate` (every row of ``agents()``); the panel may send :class:`StopAgent` for
a direct child. JupyterLab serves comms on a kernel subshell, so a stop is taken even while
the main shell waits for that child. Messages go out through the kernel's session with the
comm's open message as parent (as the chat comm does, so ipykernel 7 keeps routing the
panel's messages to the subshell).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .protocol import AgentInfo

log = logging.getLogger(__name__)

TARGET_NAME = "aiikernel.subagents"


class AgentsUpdate(BaseModel):
    type: Literal["agents"] = "agents"
    agents: list[AgentInfo]


class StopAgent(BaseModel):
    """Stop the direct child ``id`` (its own children stop with it)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["stop"]
    id: str = Field(min_length=1, max_length=200)


class AgentsError(BaseModel):
    type: Literal["error"] = "error"
    message: str


def open_panel(shell: Any, registry: Any, comm: Any, open_msg: dict[str, Any]) -> None:
    """Serve one panel's comm: send the rows now and after every change; take stops."""
    kernel = shell.kernel

    def send(model: BaseModel) -> None:
        _send(kernel, comm, open_msg, model.model_dump(mode="json"))

    def on_rows(rows: list[AgentInfo]) -> None:
        send(AgentsUpdate(agents=rows))

    def on_msg(msg: dict[str, Any]) -> None:
        try:
            request = StopAgent.model_validate(msg.get("content", {}).get("data"))
        except ValidationError:
            send(AgentsError(message="unknown request (expected {type: 'stop', id})"))
            return
        agent = next((a for a in registry.agents if a.id == request.id), None)
        if agent is None:
            send(AgentsError(message=f"no sub-agent {request.id} of this kernel"))
            return
        registry.supervisor.submit(agent._stop())  # not waited for: the list follows

    registry.listeners.append(on_rows)
    comm.on_msg(on_msg)
    comm.on_close(lambda _msg: _remove(registry.listeners, on_rows))
    on_rows(registry.rows())


def _remove(listeners: list[Any], listener: Any) -> None:
    if listener in listeners:
        listeners.remove(listener)


def _send(kernel: Any, comm: Any, parent: dict[str, Any], data: dict[str, Any]) -> None:
    from ipykernel.jsonutil import json_clean

    try:
        kernel.session.send(
            kernel.iopub_socket,
            "comm_msg",
            json_clean({"data": data, "comm_id": comm.comm_id}),
            parent=parent,
            ident=comm.topic,
            metadata={},
        )
    except Exception:  # the panel is a convenience; a lost update is followed by the next
        log.debug("sub-agents panel update failed", exc_info=True)
