"""The aimax routes: URL patterns to the REST handlers and the websocket.

Kept apart from :mod:`.handlers` because the websocket handler builds on the handlers' mixin:
the table needs both, and neither needs the table.
"""

from __future__ import annotations

from .agent_handlers import BackendsHandler, PermissionHandler, ResumeHandler, ScreenHandler
from .handlers import (
    HistoryHandler,
    MessagesHandler,
    OpenAPIHandler,
    SessionHandler,
    SessionsHandler,
)
from .watch_socket import WatchHandler
from .websocket import StreamHandler

_ID = r"(?P<session_id>[^/]+)"


def default_handlers() -> list[tuple[str, type]]:
    """The routes, relative to the server's base URL (the websocket included)."""
    return [
        (r"/aimax/sessions/?", SessionsHandler),
        (rf"/aimax/sessions/{_ID}/messages/?", MessagesHandler),
        (rf"/aimax/sessions/{_ID}/history/?", HistoryHandler),
        (rf"/aimax/sessions/{_ID}/stream/?", StreamHandler),
        (rf"/aimax/sessions/{_ID}/permission/?", PermissionHandler),
        (rf"/aimax/sessions/{_ID}/resume/?", ResumeHandler),
        (rf"/aimax/sessions/{_ID}/screen/?", ScreenHandler),
        (r"/aimax/backends/?", BackendsHandler),
        (r"/aimax/watch/?", WatchHandler),
        (rf"/aimax/sessions/{_ID}/?", SessionHandler),
        (r"/aimax/openapi.json", OpenAPIHandler),
    ]
