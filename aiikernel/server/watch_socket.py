"""``/aimax/watch``: a websocket carrying the whole session list on every change.

Authenticated and authorized (``read`` on ``aimax``) before the upgrade; the list comes from the
service's one :class:`~.watch.SessionsWatch`. Clients only listen. Watchers count under the same
caps as streams (:mod:`.stream_limits`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .errors import NotAWebSocket
from .handlers import AUTH_RESOURCE, AimaxHandlerMixin
from .stream_limits import CappedSocketMixin


class WatchHandler(
    CappedSocketMixin, AimaxHandlerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler
):
    """One client watching the session list (``read`` on ``aimax``)."""

    _unsubscribe: Callable[[], None] | None = None
    _pending: str | None = None
    _sending = False

    def set_default_headers(self) -> None:
        """No JupyterHandler default headers on a websocket (as the kernels socket does)."""

    @ws_authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.aimax_ready()
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise NotAWebSocket("this route is a websocket: connect with `Upgrade: websocket`")
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        if self.admit(self.aimax.stream_limits):  # closed otherwise: no ping loop for it
            super().open()  # WebSocketMixin: ping loop
            self._unsubscribe = self.aimax.watch.subscribe(self._push)

    def _push(self, frame: str) -> None:
        self._pending = frame
        if not self._sending:
            self._sending = True
            asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending is not None:
                frame, self._pending = self._pending, None
                await self.write_message(frame)
        except WebSocketClosedError:
            pass
        finally:
            self._sending = False

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen."""

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.release_place()
