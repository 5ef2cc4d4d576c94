"""The sub-agent side: what a child kernel does for its parent.

The parent sends ``serve('<request JSON>')`` as a silent execute request; every answer goes
back on IOPub as a :data:`~.protocol.MSG_TYPE` message whose parent header is that request,
so the parent knows which call it answers. A turn's events stream the same way while the
turn's code outputs travel as the kernel's ordinary IOPub messages.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from .protocol import (
    ENV_VAR,
    AgentEnv,
    EventNote,
    PullRequest,
    PushRequest,
    ReplyNote,
    StartRequest,
    TurnRequest,
    child_request,
)

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def agent_env() -> AgentEnv | None:
    """This kernel's identity as a sub-agent, or None for an ordinary kernel."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        return None
    try:
        return AgentEnv.model_validate_json(raw)
    except ValueError:
        log.warning("ignoring a malformed %s", ENV_VAR)
        return None


def die_with_parent(env: AgentEnv) -> None:
    """Be killed the moment the parent kernel dies (see :func:`die_with`)."""
    die_with(env.parent_pid)


def die_with(parent_pid: int) -> None:
    """Be killed the moment process ``parent_pid`` (our parent) dies, even by SIGKILL
    (Linux), and exit now if it is already gone. ipykernel's parent poller (JPY_PARENT_PID)
    is the fallback elsewhere: it notices within a second."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            log.debug("prctl unavailable", exc_info=True)
    if os.getppid() != parent_pid:
        os._exit(1)


def publish(shell: Any, note: Any) -> None:
    """Send ``note`` to the parent on IOPub, attached to the request being served."""
    from ipykernel.jsonutil import json_clean

    from .protocol import MSG_TYPE

    kernel = shell.kernel
    kernel.session.send(
        kernel.iopub_socket,
        MSG_TYPE,
        json_clean(note.model_dump(mode="json")),
        parent=kernel.get_parent(),
        ident=MSG_TYPE.encode(),
    )


def serve(payload: str) -> None:
    """Handle one request of the parent (called by the parent's execute request)."""
    from IPython import get_ipython

    from ..session import AiSession

    shell = get_ipython()
    session = AiSession.for_shell(shell)
    request = child_request.validate_json(payload)
    if isinstance(request, StartRequest):
        data = _start(session, request)
    elif isinstance(request, TurnRequest):
        data = _turn(shell, session, request)
    elif isinstance(request, PullRequest):
        data = _pull(session, request)
    else:
        data = _push(session, request)
    publish(shell, ReplyNote(data=data))


def _start(session: Any, request: StartRequest) -> dict[str, Any]:
    from traitlets.utils.importstring import import_item

    session.checkpoint_directory = request.store
    store = import_item(session.checkpoint_store_class)(
        parent=session, directory=request.store, session_name=request.session
    )
    session._checkpoints = store
    report = store.adopt(
        session.namespace,
        request.source,
        request.names,
        map_buffers=True,
        verify=_verify_clone(session),
    )
    if session.tracker is not None:
        session.tracker.take()  # the adopted state is this session's checkpoint already
    if request.model:
        session.model_override = request.model
    return {
        "restored": report.restored,
        "skipped": report.not_rolled_back,
        "python": sys.version.split()[0],
    }


def _verify_clone(session: Any) -> bool:
    from .config import SubAgents

    return bool(SubAgents(parent=session.shell).verify_clone)


def _turn(shell: Any, session: Any, request: TurnRequest) -> dict[str, Any]:
    from ..turn.events import ReplyDone, TurnDone, TurnFailed

    text, reason, error = "", "error", None
    events = session.run_turn(request.prompt, model=request.model, max_steps=request.max_steps)
    try:
        for event in events:
            publish(shell, EventNote(event=event.model_dump(mode="json")))
            if isinstance(event, ReplyDone):
                text = event.text
            elif isinstance(event, TurnFailed):
                error = {"category": event.category, "message": event.message}
            elif isinstance(event, TurnDone):
                reason = event.reason
    except KeyboardInterrupt:
        events.close()
        done = TurnDone(reason="interrupted", steps=0)
        publish(shell, EventNote(event=done.model_dump(mode="json")))
        reason = "interrupted"
    return {"text": text, "reason": reason, "error": error}


def _pull(session: Any, request: PullRequest) -> dict[str, Any]:
    namespace = session.namespace
    missing = [name for name in request.names if name not in namespace]
    tracker = session.tracker
    touched = tracker.take() if tracker is not None else None
    try:
        ref = session.checkpoints.checkpoint_for_clone(
            namespace,
            label="pull: " + ", ".join(request.names)[:60],
            touched=touched,
            hidden=session.hidden_names,
        )
    except BaseException:
        if tracker is not None:
            tracker.mark_everything()
        raise
    return {"source": ref, "missing": missing}


def _push(session: Any, request: PushRequest) -> dict[str, Any]:
    values, problems = session.checkpoints.load(
        request.source,
        request.names,
        namespace=session.namespace,
        verify=_verify_clone(session),
    )
    pushed = [name for name in request.names if name in values]
    session.namespace.update({name: values[name] for name in pushed})
    session.mark_changed(*pushed)
    return {"pushed": pushed, "problems": problems}
