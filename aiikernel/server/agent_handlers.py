"""REST handlers the Agents view needs beyond create / send / stop: the backend list, answering
a permission question, resuming an exited session, and a read-only look at the agent's screen.

Same rules as :mod:`.handlers`: ``@web.authenticated`` + ``@authorized`` on ``aimax`` (``read``
to look, ``execute`` to answer or resume), errors raised by the service and written as JSON.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .errors import InvalidField
from .handlers import AUTH_RESOURCE, RestHandler
from .models import PermissionAnswer

#: Longest a screen request waits for the pane to change (``wait`` is capped to it).
MAX_SCREEN_WAIT = 25.0


class BackendsHandler(RestHandler):
    """``/aimax/backends``: the agents this server can start (entry-point backends included)."""

    @web.authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self) -> None:
        backends = self.aimax.backends()
        self.write_json({"backends": [b.wire() for b in backends]})


class PermissionHandler(RestHandler):
    """``/aimax/sessions/{id}/permission``: approve or deny what the agent asks."""

    @web.authenticated
    @authorized("execute", resource=AUTH_RESOURCE)
    async def post(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        answer = self.parse_body(PermissionAnswer)
        service = await self.aimax_ready()
        result = await service.answer_permission(session_id, answer.approve)
        self.write_json(result.wire())


class ResumeHandler(RestHandler):
    """``/aimax/sessions/{id}/resume``: restart an exited or stopped session."""

    @web.authenticated
    @authorized("execute", resource=AUTH_RESOURCE)
    async def post(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        service = await self.aimax_ready()
        session = await service.resume_session(session_id)
        self.write_json(session.wire())


class ScreenHandler(RestHandler):
    """``/aimax/sessions/{id}/screen?after=&wait=``: the agent's terminal as text."""

    @web.authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        after = self.int_arg("after", None)
        wait = self.int_arg("wait", 0) or 0
        if wait < 0 or wait > MAX_SCREEN_WAIT:
            raise InvalidField("wait", f"must be between 0 and {MAX_SCREEN_WAIT:.0f} seconds")
        service = await self.aimax_ready()
        self.write_json((await service.screen(session_id, after, float(wait))).wire())
