"""REST handlers of ``/aimax``: each verb checks auth, calls the service, writes a model.

Every route is ``@web.authenticated`` and ``@authorized`` on the ``aimax`` resource (``read`` to
look, ``execute`` to create / send / stream, ``write`` to stop); being ``APIHandler``s they inherit
jupyter_server's XSRF, origin and host checks. Errors are raised by the service as domain
exceptions and turned into JSON here, in one place (:meth:`AimaxHandlerMixin.write_error`).
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from pydantic import BaseModel, ValidationError
from tornado import web

from .errors import BodyTooLarge, InvalidField, MalformedBody, status_for
from .models import (
    PATTERN_MEANINGS,
    SESSION_ID_PATTERN,
    CreateSessionRequest,
    SendMessageRequest,
)

if TYPE_CHECKING:
    from .service import AimaxService

AUTH_RESOURCE = "aimax"
#: What a user allowed ``execute`` but not ``read`` learns from a create (the rest is null).
CREATED_FOR_EXECUTE_ONLY = frozenset(
    {"sessionId", "backend", "state", "status", "alive", "working", "jobAccomplished", "failed"}
    | {"cwd", "createdAt"}
)
SERVICE_SETTING = "aimax_service"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


def _readable(error: Any) -> str:
    """One pydantic error as a person reads it: what a pattern allows, not the pattern."""
    if error.get("type") == "string_pattern_mismatch":
        meaning = PATTERN_MEANINGS.get((error.get("ctx") or {}).get("pattern"))
        if meaning:
            return f"use {meaning}"
    return str(error["msg"]).removeprefix("Value error, ")


class AimaxHandlerMixin:
    """Reach the service, parse bodies, and write every error as JSON without leaking prompts."""

    auth_resource = AUTH_RESOURCE

    @property
    def aimax(self) -> AimaxService:
        service = self.settings.get(SERVICE_SETTING)  # type: ignore[attr-defined]
        if service is None:
            raise web.HTTPError(404, "aimax is disabled on this server")
        return service

    async def aimax_ready(self) -> AimaxService:
        """The service, started (reconciled with tmux) before its first use."""
        service = self.aimax
        await service.ready()
        return service

    def session_id_arg(self, raw: str) -> str:
        if not _SESSION_ID.fullmatch(raw):
            raise InvalidField(
                "sessionId", "use 1-64 letters, digits, '.', '_' or '-', starting with a letter"
            )
        return raw

    def int_arg(self, name: str, default: int | None) -> int | None:
        raw = self.get_query_argument(name, None)  # type: ignore[attr-defined]
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise InvalidField(name, f"expected an integer, got {raw[:40]!r}") from None

    def request_body(self) -> bytes:
        """The body (streamed in by :class:`RestHandler`, buffered by tornado elsewhere)."""
        parts = getattr(self, "_body_parts", None)
        if parts is None:
            return self.request.body  # type: ignore[attr-defined]
        return b"".join(parts)

    def parse_body(self, model: type[BaseModel]) -> Any:
        try:
            data = json.loads(self.request_body() or b"{}")
        except (ValueError, RecursionError):  # RecursionError: `[` nested 100,000 deep
            raise MalformedBody("the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise MalformedBody("the request body must be a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            fields = [".".join(str(p) for p in e["loc"]) or "body" for e in errors]
            message = "; ".join(f"{f}: {_readable(e)}" for f, e in zip(fields, errors, strict=True))
            raise InvalidField(fields[0], message) from None

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "application/json")  # type: ignore[attr-defined]
        self.finish(json.dumps(data))  # type: ignore[attr-defined]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON ``{message, reason, field}`` for every error; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        mapped = status_for(exc) if exc is not None else None
        if mapped is not None:
            self.set_status(mapped)  # type: ignore[attr-defined]
            message = str(exc)
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            try:
                message = exc.log_message % exc.args if exc.args else exc.log_message
            except (TypeError, ValueError):
                message = exc.log_message
        elif isinstance(exc, web.HTTPError):
            message = self._reason  # type: ignore[attr-defined]
        else:
            message = "Unhandled error (see the server log)"
        if self.get_status() == 405:  # type: ignore[attr-defined]
            self.set_header("Allow", ", ".join(self.allowed_methods()))  # type: ignore[attr-defined]
        reply = {
            "message": message,
            "reason": self._reason,  # type: ignore[attr-defined]
            "field": getattr(exc, "field", None),
        }
        self.set_header("Content-Type", "application/json")  # type: ignore[attr-defined]
        self.finish(json.dumps(reply))  # type: ignore[attr-defined]

    def allowed_methods(self) -> list[str]:
        """The verbs this route implements (the ``Allow`` header of a 405)."""
        return [m for m in ("GET", "POST", "DELETE") if m.lower() in vars(type(self))]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Client mistakes are logged by class only: messages may quote a prompt."""
        if value is not None and status_for(value) is not None:
            request = self.request  # type: ignore[attr-defined]
            self.log.info(  # type: ignore[attr-defined]
                "aimax: %s %s -> %s", request.method, request.path, typ.__name__
            )
            return
        super().log_exception(typ, value, tb)  # type: ignore[misc]


@web.stream_request_body
class RestHandler(AimaxHandlerMixin, APIHandler):
    """A REST route whose body is refused unread when too large.

    Tornado buffers a whole body before a normal handler runs (jupyter_server allows 512 MB),
    so a huge body would be read and parsed before any check. Here the body streams in: a
    ``Content-Length`` over ``aimax_max_body_bytes`` is answered 413 in :meth:`prepare`, before
    one byte of it is read, and a chunked body is cut off with 413 as soon as it passes the cap.
    """

    _body_parts: list[bytes] | None = None
    _body_size = 0

    @property
    def max_body_bytes(self) -> int:
        return int(self.settings.get("aimax_max_body_bytes", 1024 * 1024))

    def _too_large(self, size: int | None) -> BodyTooLarge:
        got = f"{size} bytes" if size is not None else "more than that"
        return BodyTooLarge(
            f"the request body is too large ({got}; the limit is {self.max_body_bytes} bytes)"
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for verb in ("get", "post", "delete"):
            method = vars(cls).get(verb)
            if method is not None:
                setattr(cls, verb, _unless_answered(method))

    def _refuse(self, size: int | None) -> None:
        exc = self._too_large(size)
        self.log_exception(type(exc), exc, None)
        self.send_error(413, exc_info=(type(exc), exc, None))

    async def prepare(self) -> None:  # type: ignore[override]
        self._body_parts = []
        await super().prepare()  # host, XSRF, origin: none of them reads the body
        raw = self.request.headers.get("Content-Length")
        declared = int(raw) if raw is not None and raw.strip().isdigit() else None
        if declared is not None and declared > self.max_body_bytes:
            self._refuse(declared)  # before one byte is read; tornado discards the rest

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self._body_parts is None:
            return  # already answered: the rest is discarded as it arrives
        self._body_size += len(chunk)
        if self._body_size > self.max_body_bytes:
            self._body_parts = None
            self._refuse(None)
            return
        self._body_parts.append(chunk)


def _unless_answered(method: Any) -> Any:
    """Skip the verb when the request was already answered (413 while the body streamed)."""

    @functools.wraps(method)
    async def wrapper(self: RestHandler, *args: Any, **kwargs: Any) -> None:
        if self._finished:
            return
        await method(self, *args, **kwargs)

    return wrapper


class SessionsHandler(RestHandler):
    """``/aimax/sessions``: list (GET) and create (POST)."""

    @web.authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self) -> None:
        service = await self.aimax_ready()
        sessions = await service.list_sessions()
        self.write_json({"sessions": [s.wire() for s in sessions]})

    @web.authenticated
    @authorized("execute", resource=AUTH_RESOURCE)
    async def post(self) -> None:
        request = self.parse_body(CreateSessionRequest)
        service = await self.aimax_ready()
        session = await service.create_session(request)
        self.set_header(
            "Location", self.base_url.rstrip("/") + f"/aimax/sessions/{session.session_id}"
        )
        reply = session.wire()
        if not await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        ):
            # Allowed to start sessions but not to look at them: the id and the state only.
            reply = {k: (v if k in CREATED_FOR_EXECUTE_ONLY else None) for k, v in reply.items()}
        self.write_json(reply, status=201)


class SessionHandler(RestHandler):
    """``/aimax/sessions/{id}``: status (GET) and stop (DELETE)."""

    @web.authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        service = await self.aimax_ready()
        self.write_json((await service.get_session(session_id)).wire())

    @web.authenticated
    @authorized("write", resource=AUTH_RESOURCE)
    async def delete(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        service = await self.aimax_ready()
        await service.stop_session(session_id)
        self.set_status(204)
        self.finish()


class MessagesHandler(RestHandler):
    """``/aimax/sessions/{id}/messages``: submit a prompt (queued or interrupting)."""

    @web.authenticated
    @authorized("execute", resource=AUTH_RESOURCE)
    async def post(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        request = self.parse_body(SendMessageRequest)
        service = await self.aimax_ready()
        result = await service.send(session_id, request)
        self.write_json(result.wire(), status=202)


class HistoryHandler(RestHandler):
    """``/aimax/sessions/{id}/history?after=&limit=``: one page of recorded events."""

    @web.authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self, session_id: str) -> None:
        session_id = self.session_id_arg(session_id)
        after = self.int_arg("after", 0)
        limit = self.int_arg("limit", None)
        service = await self.aimax_ready()
        self.write_json(service.history(session_id, after=after or 0, limit=limit).wire())


class OpenAPIHandler(RestHandler):
    """``/aimax/openapi.json``: the document generated from :mod:`.models`."""

    @web.authenticated
    @authorized("read", resource=AUTH_RESOURCE)
    async def get(self) -> None:
        from .openapi import openapi_document

        limit = self.aimax.policy.max_history_limit
        self.write_json(openapi_document(server_base=self.base_url, max_history_limit=limit))
