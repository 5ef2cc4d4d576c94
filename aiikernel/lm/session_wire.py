"""The wire log of one AI session: created on first use, set up by ``AiModels``, traced to
MLflow when the environment asks.

Kept apart from :mod:`.wire` (the log itself) because it ties the log to the session's
settings and to :mod:`.mlflow_tracing`, a sink that itself builds on :mod:`.wire`.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .wire import WireLog

if TYPE_CHECKING:
    from .session_view import SessionView

log = logging.getLogger(__name__)

_ATTR = "_aiikernel_wire_log"
_lock = threading.RLock()


def wire_log(session: SessionView | None) -> WireLog:
    """The wire log of ``session`` (created on first use, configured by ``AiModels``)."""
    if session is None:
        return WireLog()
    with _lock:  # one log per session, its sinks attached before anyone else sees it
        return _session_log(session)


def _session_log(session: SessionView) -> WireLog:
    found = getattr(session, _ATTR, None)
    if found is None:
        from .config import models_config

        config = models_config(session)
        found = WireLog(config.wire_log_size, config.wire_log_file or None)
        setattr(session, _ATTR, found)

        def follow(change: dict[str, Any]) -> None:
            found.path = change["new"] or None

        config.observe(follow, names=["wire_log_file"])
        from .mlflow_tracing import enable_tracing, enabled_by_env

        if enabled_by_env():
            try:
                enable_tracing(found)
            except Exception as exc:
                log.warning("MLflow tracing requested but not started: %s", exc)
    return found
