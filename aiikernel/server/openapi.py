"""The OpenAPI 3.1 document of ``/aimax``, generated from :mod:`.models`.

Served at ``GET /aimax/openapi.json``; committed beside the handlers as ``rest-api.yml``
(``python -m aiikernel.server.openapi --yaml``; a test checks it is current), and rendered for
``docs/rest-api.md`` with ``--update-docs docs/rest-api.md`` (``--markdown`` prints it).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import models as m

AUTH = [{"token": []}, {"tokenQuery": []}]

_ERRORS = {
    400: "Malformed request: the body is not a JSON object (or is nested too deeply to parse), "
    "or a plain HTTP request was sent to the websocket route.",
    403: "Not authenticated / not authorized, a missing XSRF token, a cross-origin websocket, "
    "a path outside the root directory, or a backend disabled by configuration.",
    404: "Unknown session. A cross-origin REST request (cookie-authenticated, foreign "
    "`Origin`) is answered 404 by jupyter_server, on every route.",
    409: "The session is running already, or not running, its agent needs a human, or the "
    "agent conversation (`agentSessionId`) is open in another running session.",
    413: "A prompt over `AimaxExtension.max_prompt_bytes`, or a body over "
    "`AimaxExtension.max_body_bytes` (refused before it is read).",
    422: "A request field is invalid; `field` names it.",
    429: "`AimaxExtension.max_sessions` sessions are running.",
    502: "The agent did not confirm the prompt.",
    503: "tmux or the backend's binary is missing (the message says what to install).",
}


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    out = dict(ok)
    for code in (403, *codes):
        out[str(code)] = _json(_ref(m.ErrorModel), _ERRORS[code])
    return dict(sorted(out.items()))


_SESSION_ID_PARAM = {
    "name": "sessionId",
    "in": "path",
    "required": True,
    "description": "The session's id.",
    "schema": {"type": "string", "pattern": m.SESSION_ID_PATTERN},
}


def _query_int(
    name: str, description: str, minimum: int, maximum: int | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _body(model: type) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _paths(max_history_limit: int) -> dict[str, Any]:
    sid = [_SESSION_ID_PARAM]
    return {
        "/aimax/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "List sessions (live and stopped) with their state.",
                "description": "Needs `read` on `aimax`.",
                "responses": _responses({"200": _json(_ref(m.SessionList), "The sessions.")}),
            },
            "post": {
                "operationId": "createSession",
                "summary": "Start an agent session (and submit `initialPrompt`).",
                "description": "Needs `execute` on `aimax`. Returns once the agent is ready "
                "and the first prompt (if any) was confirmed.",
                "requestBody": _body(m.CreateSessionRequest),
                "responses": _responses(
                    {
                        "201": _json(
                            _ref(m.SessionModel),
                            "The new session. A user allowed `execute` but not `read` gets "
                            "only sessionId, backend, state, status, alive, working, "
                            "jobAccomplished, failed, cwd and createdAt; the rest is null.",
                        )
                    },
                    400,
                    409,
                    413,
                    422,
                    429,
                    502,
                    503,
                ),
            },
        },
        "/aimax/sessions/{sessionId}": {
            "parameters": sid,
            "get": {
                "operationId": "getSession",
                "summary": "A session's state.",
                "description": "Needs `read` on `aimax`.",
                "responses": _responses(
                    {"200": _json(_ref(m.SessionModel), "The session.")}, 404, 422
                ),
            },
            "delete": {
                "operationId": "stopSession",
                "summary": "Stop the agent and archive the session.",
                "description": "Needs `write` on `aimax`. The session stays listed with status "
                "`stopped` (its history remains readable); stopping it again is a no-op.",
                "responses": _responses({"204": {"description": "Stopped."}}, 404, 422, 503),
            },
        },
        "/aimax/sessions/{sessionId}/messages": {
            "parameters": sid,
            "post": {
                "operationId": "sendMessage",
                "summary": "Submit a prompt, queued or interrupting the running turn.",
                "description": "Needs `execute` on `aimax`. Returns once the agent confirmed "
                "the prompt; the reply arrives as events (stream or history).",
                "requestBody": _body(m.SendMessageRequest),
                "responses": _responses(
                    {"202": _json(_ref(m.SendResult), "Submitted and confirmed.")},
                    400,
                    404,
                    409,
                    413,
                    422,
                    502,
                    503,
                ),
            },
        },
        "/aimax/sessions/{sessionId}/history": {
            "parameters": sid,
            "get": {
                "operationId": "getHistory",
                "summary": "Recorded events after a sentinel, one page at a time.",
                "description": "Needs `read` on `aimax`. Continue with `after=<sentinel>` "
                "while `truncated` is true.",
                "parameters": [
                    _query_int("after", "Only events with `seq` greater than this.", 0),
                    _query_int(
                        "limit",
                        "At most this many events (default and maximum: the server's "
                        "`max_history_limit`).",
                        1,
                        max_history_limit,
                    ),
                ],
                "responses": _responses(
                    {"200": _json(_ref(m.HistoryResponse), "A page of events.")}, 404, 422
                ),
            },
        },
        "/aimax/sessions/{sessionId}/stream": {
            "parameters": sid,
            "get": {
                "operationId": "streamEvents",
                "summary": "Websocket: history after `from`, then live events.",
                "description": "Needs `execute` on `aimax`. Upgrade to a websocket. The server "
                "sends JSON text frames: `StreamEvent` for each event (history first), one "
                "`StreamCaughtUp` when the history is sent, and `StreamClosing` before it "
                "closes a client that fell too far behind. Without `from`, only new events "
                "are sent. Reconnect with `from=<last sentinel>` to lose and repeat nothing. "
                "A stream over `max_streams_per_user` or `max_streams` is closed as soon as "
                "it opens, with code 4429 and a reason naming the cap.",
                "parameters": [
                    _query_int("from", "Send events with `seq` greater than this first.", 0)
                ],
                "responses": _responses(
                    {
                        "101": _json(
                            {
                                "oneOf": [
                                    _ref(m.StreamEvent),
                                    _ref(m.StreamCaughtUp),
                                    _ref(m.StreamClosing),
                                ]
                            },
                            "Switching to the websocket protocol; frames as described.",
                        )
                    },
                    400,
                    404,
                    422,
                ),
            },
        },
        "/aimax/sessions/{sessionId}/permission": {
            "parameters": sid,
            "post": {
                "operationId": "answerPermission",
                "summary": "Approve or deny the permission question the agent shows.",
                "description": "Needs `execute` on `aimax`. 409 when the agent is not asking "
                "anything (the session's `state` is `waiting_permission` while it asks, its "
                "`detail` the question).",
                "requestBody": _body(m.PermissionAnswer),
                "responses": _responses(
                    {"200": _json(_ref(m.PermissionResult), "Answered.")},
                    400,
                    404,
                    409,
                    422,
                    502,
                    503,
                ),
            },
        },
        "/aimax/sessions/{sessionId}/resume": {
            "parameters": sid,
            "post": {
                "operationId": "resumeSession",
                "summary": "Restart an exited or stopped session on the same conversation.",
                "description": "Needs `execute` on `aimax`. Returns once the agent is ready.",
                "responses": _responses(
                    {"200": _json(_ref(m.SessionModel), "The session, running again.")},
                    400,
                    404,
                    409,
                    422,
                    429,
                    503,
                ),
            },
        },
        "/aimax/sessions/{sessionId}/screen": {
            "parameters": sid,
            "get": {
                "operationId": "getScreen",
                "summary": "The agent's terminal screen as plain text (read-only).",
                "description": "Needs `read` on `aimax`. With `after` (a previous "
                "`activity`), waits up to `wait` seconds for the screen to change first, so "
                "a viewer refreshes on change without polling fast.",
                "parameters": [
                    _query_int("after", "The `activity` of the screen the client has.", 0),
                    _query_int("wait", "Seconds to wait for a change (default 0).", 0, 25),
                ],
                "responses": _responses(
                    {"200": _json(_ref(m.ScreenModel), "The screen.")}, 404, 422, 503
                ),
            },
        },
        "/aimax/backends": {
            "get": {
                "operationId": "listBackends",
                "summary": "The agent backends installed, and which ones this server allows.",
                "description": "Needs `read` on `aimax`. Includes backends other packages "
                "register in the `aiikernel.aimax.backends` entry-point group.",
                "responses": _responses({"200": _json(_ref(m.BackendList), "The backends.")}),
            },
        },
        "/aimax/watch": {
            "get": {
                "operationId": "watchSessions",
                "summary": "Websocket: the session list, sent again whenever it changes.",
                "description": "Needs `read` on `aimax`. Upgrade to a websocket. The server "
                "sends a `SessionsFrame` at once and then whenever any session's state, "
                "activity or usage changes (looked at once per aimax monitor tick, and right "
                "after a create, send, answer, resume or stop). A slow client gets only the "
                "newest list. Counts under `max_streams_per_user` / `max_streams` with the "
                "streams (closed at once with code 4429 beyond).",
                "responses": _responses(
                    {
                        "101": _json(
                            _ref(m.SessionsFrame),
                            "Switching to the websocket protocol; frames as described.",
                        )
                    },
                    400,
                ),
            },
        },
        "/aimax/openapi.json": {
            "get": {
                "operationId": "getOpenAPI",
                "summary": "This document.",
                "responses": _responses(
                    {
                        "200": {
                            "description": "OpenAPI 3.1 document.",
                            "content": {"application/json": {}},
                        }
                    }
                ),
            },
        },
    }


def _schemas() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    wire = [
        m.CreateSessionRequest,
        m.SendMessageRequest,
        m.SessionModel,
        m.SessionList,
        m.SendResult,
        m.EventModel,
        m.HistoryResponse,
        m.StreamEvent,
        m.StreamCaughtUp,
        m.StreamClosing,
        m.BackendList,
        m.PermissionAnswer,
        m.PermissionResult,
        m.ScreenModel,
        m.SessionsFrame,
        m.ErrorModel,
    ]
    _, top = models_json_schema(
        [(model, "validation") for model in wire],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    return dict(sorted(top["$defs"].items()))


def openapi_document(server_base: str = "/", max_history_limit: int = 1000) -> dict[str, Any]:
    """The whole document; ``server_base`` is the Jupyter server's base URL, the limits are
    the server's configuration (defaults for the committed copy)."""
    from ..version import __version__

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "aimax sessions API",
            "version": __version__,
            "description": "Claude Code and Codex agent sessions in tmux, served by the "
            "aiikernel jupyter-server extension. Authenticate like any Jupyter API call "
            "(`Authorization: token <TOKEN>` or the login cookie plus an XSRF token on "
            "POST/DELETE). Errors are JSON `ErrorModel` bodies.",
        },
        "servers": [{"url": server_base.rstrip("/") or "/"}],
        "security": AUTH,
        "paths": _paths(max_history_limit),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <TOKEN>` (the server's token).",
                },
                "tokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiikernel.server.openapi")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--yaml", action="store_true", help="YAML (the committed rest-api.yml)")
    how.add_argument("--markdown", action="store_true", help="the docs/rest-api.md reference")
    how.add_argument(
        "--update-docs",
        metavar="FILE",
        help="replace the generated reference at the end of FILE (keeps the guide above it)",
    )
    args = parser.parse_args(argv)
    doc = openapi_document()
    if args.update_docs:
        from pathlib import Path

        from .openapi_markdown import MARKER, render_markdown

        path = Path(args.update_docs)
        guide = path.read_text(encoding="utf-8").split(MARKER)[0] if path.exists() else ""
        path.write_text(guide + render_markdown(doc), encoding="utf-8")
    elif args.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    elif args.markdown:
        from .openapi_markdown import render_markdown

        sys.stdout.write(render_markdown(doc))
    else:
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
