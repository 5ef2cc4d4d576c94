"""One open chat comm: parse requests, answer them, and carry the hub's broadcasts.

Malformed requests get an ``error`` answer and change nothing; a failure inside a handler is
reported the same way — the comm and the kernel stay up.

Messages are published on IOPub directly through the kernel's session rather than with
``comm.send``: ipykernel 7 routes a frontend's next comm message to the subshell that last
*published* on the comm, so broadcasting an event from the main shell would move the panel's
``history``/``state`` requests onto the busy main shell.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from pydantic import ValidationError

from ..commands import all_commands, run_command
from .protocol import (
    ApproveRequest,
    CheckpointsRequest,
    CommandInfo,
    CommandRequest,
    CommandResultMessage,
    CommandsMessage,
    CommandsRequest,
    DiffRequest,
    ErrorMessage,
    HistoryRequest,
    NamesMessage,
    NamesRequest,
    PromptRequest,
    StateRequest,
    VariablesRequest,
    WireRequest,
    client_message,
)

log = logging.getLogger(__name__)

#: Read requests of the inspectors and the Checkpoints view (answered where they arrive).
READS = (CheckpointsRequest, DiffRequest, VariablesRequest, WireRequest)


class ChannelHub(Protocol):
    """What a channel uses of its kernel's :class:`~aiikernel.chat.hub.ChatHub`.

    The hub owns the channels (it broadcasts to them and hands them execute requests), so a
    channel names the hub's members it uses instead of importing the hub module.
    """

    session: Any
    #: Held while a detached channel broadcasts (:meth:`_broadcast`), like the hub does.
    lock: Any

    @property
    def busy(self) -> bool: ...

    def add_channel(self, channel: ChatChannel) -> None: ...

    def remove_channel(self, channel: ChatChannel) -> None: ...

    def _broadcast(self, data: dict[str, Any]) -> None: ...

    def history_message(self, request_id: str | None) -> Any: ...

    def state_message(self, request_id: str | None = None) -> Any: ...

    def run_prompt(self, request: Any) -> None: ...

    def after_command(self) -> None: ...

    def approve(self, request: Any) -> str | None: ...


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "invalid chat message — " + "; ".join(parts)


class ChatChannel:
    """Serves one comm opened by a chat panel (``comm`` None: answers go to every panel)."""

    def __init__(self, comm: Any, hub: ChannelHub) -> None:
        self.comm = comm
        self.hub = hub
        self.comm_id = getattr(comm, "comm_id", None)
        if comm is not None:
            comm.on_msg(self.on_msg)
            comm.on_close(lambda _msg: hub.remove_channel(self))
            hub.add_channel(self)

    @classmethod
    def detached(cls, hub: ChannelHub) -> ChatChannel:
        """A channel for a request that arrived without a known comm."""
        return cls(None, hub)

    @property
    def session(self) -> Any:
        return self.hub.session

    # -- sending -------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        data = message.model_dump(mode="json")
        if self.comm is None:
            with self.hub.lock:
                self.hub._broadcast(data)
        else:
            self.send_data(data)

    def send_data(self, data: dict[str, Any]) -> None:
        """Publish ``data`` on this comm (see the module docstring for why not ``comm.send``)."""
        comm = self.comm
        kernel = getattr(comm, "kernel", None)
        session = getattr(kernel, "session", None)
        if session is None or getattr(kernel, "iopub_socket", None) is None:
            comm.send(data)
            return
        from ipykernel.jsonutil import json_clean

        try:
            parent = kernel.get_parent()
        except Exception:
            parent = {}
        session.send(
            kernel.iopub_socket,
            "comm_msg",
            json_clean({"data": data, "comm_id": comm.comm_id}),
            parent=parent,
            ident=comm.topic,
            metadata={},
        )

    # -- requests ------------------------------------------------------------------------

    def on_msg(self, msg: dict[str, Any]) -> None:
        self.handle(msg.get("content", {}).get("data"))

    def handle(self, data: Any, on_main_shell: bool | None = None) -> None:
        """Answer one request; prompts and commands run only on the main shell."""
        try:
            request = client_message.validate_python(data)
        except ValidationError as exc:
            request_id = data.get("request_id") if isinstance(data, dict) else None
            self.send(
                ErrorMessage(
                    request_id=request_id if isinstance(request_id, str) else None,
                    message=_validation_summary(exc),
                )
            )
            return
        if on_main_shell is None:
            on_main_shell = threading.current_thread() is threading.main_thread()
        try:
            if isinstance(request, HistoryRequest):
                self.send(self.hub.history_message(request.request_id))
            elif isinstance(request, StateRequest):
                self.send(self.hub.state_message(request.request_id))
            elif isinstance(request, CommandsRequest):
                self.send(self.commands(request.request_id))
            elif isinstance(request, ApproveRequest):
                problem = self.hub.approve(request)
                if problem:
                    self.send(ErrorMessage(request_id=request.request_id, message=problem))
            elif isinstance(request, READS):
                from .reads import answer_read

                self.send(answer_read(self.session, request))
            elif isinstance(request, NamesRequest):
                from .mentions import user_names

                session = self.session
                names = user_names(session.namespace, session.hidden_names)
                self.send(NamesMessage(request_id=request.request_id, names=names))
            elif not on_main_shell:
                self.send(
                    ErrorMessage(
                        request_id=request.request_id,
                        message=f"{request.type} requests run on the main shell: send them in an "
                        "execute request (see the chat protocol docs), not on a subshell",
                    )
                )
            elif isinstance(request, PromptRequest):
                self.run_prompt(request)
            elif isinstance(request, CommandRequest):
                result = run_command(self.session, request.line)
                self.send(
                    CommandResultMessage(
                        request_id=request.request_id,
                        ok=result.ok,
                        markdown=result.markdown,
                        data=result.data,
                    )
                )
                self.hub.after_command()
        except Exception as exc:  # never let a chat request take the comm down
            log.exception("chat request failed")
            self.send(
                ErrorMessage(request_id=request.request_id, message=f"{type(exc).__name__}: {exc}")
            )

    def commands(self, request_id: str) -> CommandsMessage:
        return CommandsMessage(
            request_id=request_id,
            commands=[
                CommandInfo(name=c.name, usage=c.usage, help=c.help, aliases=list(c.aliases))
                for c in all_commands()
            ],
        )

    def run_prompt(self, request: PromptRequest) -> None:
        if self.hub.busy:
            self.send(
                ErrorMessage(request_id=request.request_id, message="a turn is already running")
            )
            return
        self.hub.run_prompt(request)
