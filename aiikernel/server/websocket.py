"""``/aimax/sessions/{id}/stream?from=SENTINEL``: the websocket, delegating to a connection.

The handler authenticates and authorizes (``execute`` on ``aimax``) before the upgrade, checks
the session and the ``from`` argument (JSON errors, like the REST routes), then hands the socket
to a :class:`~.stream.StreamConnection`. Origin checks come from jupyter_server's
``WebSocketMixin``; clients only listen, so messages from them are ignored. Each user may have
``max_streams_per_user`` streams open and the server ``max_streams``: a socket over either cap is
closed as soon as it opens, with code 4429 and a reason naming the cap.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado.websocket import WebSocketHandler

from .errors import InvalidField, NotAWebSocket
from .handlers import AUTH_RESOURCE, AimaxHandlerMixin
from .stream import StreamConnection
from .stream_limits import CappedSocketMixin


class StreamHandler(
    CappedSocketMixin, AimaxHandlerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler
):
    """One client following one session's events."""

    connection: StreamConnection | None = None

    def set_default_headers(self) -> None:
        """No JupyterHandler default headers on a websocket (as the kernels socket does)."""

    @ws_authenticated
    @authorized("execute", resource=AUTH_RESOURCE)
    async def get(self, session_id: str, *args: Any, **kwargs: Any) -> None:
        session_id = self.session_id_arg(session_id)
        from_sentinel = self.int_arg("from", None)
        if from_sentinel is not None and from_sentinel < 0:
            raise InvalidField("from", "must be a sentinel >= 0")
        service = await self.aimax_ready()
        service.backend_for(session_id)  # 404 before the upgrade when unknown
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise NotAWebSocket("this route is a websocket: connect with `Upgrade: websocket`")
        self.connection = StreamConnection(
            service,
            session_id,
            from_sentinel,
            self.write_message,
            self.close,
            queue_limit=self.settings.get("aimax_stream_queue_limit", 10_000),
        )
        await super().get(session_id, *args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        if self.connection is None:
            return
        if not self.admit(self.connection.service.stream_limits):
            self.connection = None
            return  # closed: no ping loop for it
        super().open()  # WebSocketMixin: ping loop
        self.connection.start()

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen."""

    def on_close(self) -> None:
        if self.connection is not None:
            self.connection.close_soon()
            self.connection = None
        self.release_place()
