"""The aimax routes: URL patterns to the REST handlers and the websocket.

Kept apart from :mod:`.handlers` because the websocket handler builds on the handlers' mixin:
the table needs both, and neither needs the table.
"""

from __future__ import annotations

from .handlers import (
    HistoryHandler,
    MessagesHandler,
    OpenAPIHandler,
    SessionHandler,
    SessionsHandler,
)
from .websocket import StreamHandler

_ID = r"(?P<session_id>[^/]+)"


def default_handlers() -> list[tuple[str, type]]:
    """The routes, relative to the server's base URL (the websocket included)."""
    return [
        (r"/aimax/sessions/?", SessionsHandler),
        (rf"/aimax/sessions/{_ID}/messages/?", MessagesHandler),
        (rf"/aimax/sessions/{_ID}/history/?", HistoryHandler),
        (rf"/aimax/sessions/{_ID}/stream/?", StreamHandler),
        (rf"/aimax/sessions/{_ID}/?", SessionHandler),
        (r"/aimax/openapi.json", OpenAPIHandler),
    ]
