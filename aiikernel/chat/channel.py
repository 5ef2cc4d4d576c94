"""One open chat comm: parse requests, run them through the shared session, send answers.

Malformed requests get an ``error`` answer and change nothing; a failure inside a handler is
reported the same way — the comm and the kernel stay up.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from ..commands import run_command
from ..session import AiSession
from .protocol import (
    CommandRequest,
    CommandResultMessage,
    ErrorMessage,
    EventMessage,
    PromptRequest,
    StateMessage,
    StateRequest,
    client_message,
)

log = logging.getLogger(__name__)


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "invalid chat message — " + "; ".join(parts)


class ChatChannel:
    """Serves one comm opened by a chat panel."""

    def __init__(self, comm: Any, session: AiSession) -> None:
        self.comm = comm
        self.session = session
        self.busy = False
        comm.on_msg(self.on_msg)

    def send(self, message: Any) -> None:
        self.comm.send(message.model_dump(mode="json"))

    def on_msg(self, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data")
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
        try:
            if isinstance(request, PromptRequest):
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
            elif isinstance(request, StateRequest):
                self.send(self.state(request.request_id))
        except Exception as exc:  # never let a chat request take the comm down
            log.exception("chat request failed")
            self.send(
                ErrorMessage(request_id=request.request_id, message=f"{type(exc).__name__}: {exc}")
            )

    def state(self, request_id: str | None = None) -> StateMessage:
        return StateMessage(
            request_id=request_id,
            model=self.session.resolve_model(),
            messages=len(self.session.conversation),
            busy=self.busy,
        )

    def run_prompt(self, request: PromptRequest) -> None:
        if self.busy:
            self.send(
                ErrorMessage(request_id=request.request_id, message="a turn is already running")
            )
            return
        self.busy = True
        events = self.session.run_turn(
            request.text, model=request.model, max_steps=request.max_steps
        )
        try:
            for event in events:
                self.send(
                    EventMessage(request_id=request.request_id, event=event.model_dump(mode="json"))
                )
        except KeyboardInterrupt:
            events.close()
            self.send(
                EventMessage(
                    request_id=request.request_id,
                    event={"kind": "done", "reason": "interrupted", "steps": 0},
                )
            )
        finally:
            self.busy = False
