"""Every route and the websocket refuse: no token, a wrong token, a cross-origin browser
request, and a cookie-authenticated POST/DELETE without the XSRF token. A control request with
the right credentials proves each refusal comes from the check being tested."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from .conftest import requires_tmux
from .helpers import body

pytestmark = [requires_tmux, pytest.mark.timeout(120)]

CREATE = {"backend": "tmux-claude-code", "cwd": "work", "sessionId": "made"}
ROUTES = [
    ("GET", "aimax/sessions", None),
    ("POST", "aimax/sessions", CREATE),
    ("GET", "aimax/sessions/known", None),
    ("DELETE", "aimax/sessions/known", None),
    ("POST", "aimax/sessions/known/messages", {"prompt": "hi"}),
    ("GET", "aimax/sessions/known/history", None),
    ("GET", "aimax/openapi.json", None),
]
UNSAFE = [r for r in ROUTES if r[0] in ("POST", "DELETE")]
XSRF = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def raw(jp_serverapp, jp_http_port, jp_base_url):
    """Send a request with exactly the given headers (no automatic token)."""
    client = AsyncHTTPClient()

    async def send(method, path, data=None, headers=None, query=""):
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}{path}" + (f"?{query}" if query else "")
        payload = json.dumps(data) if data is not None else ("" if method == "POST" else None)
        req = HTTPRequest(
            url, method=method, body=payload, headers=headers or {}, follow_redirects=False
        )
        return await client.fetch(req, raise_error=False)

    return send


@pytest.fixture
def token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


async def _known_session(jp_fetch, workdir):
    r = await jp_fetch(
        "aimax",
        "sessions",
        method="POST",
        body=json.dumps({"backend": "tmux-claude-code", "cwd": "work", "sessionId": "known"}),
    )
    assert r.code == 201


async def _login_cookie(raw, token: str) -> str:
    """A browser's login cookie: what a token in the URL sets."""
    r = await raw("GET", "aimax/sessions", query=urllib.parse.urlencode({"token": token}))
    assert r.code == 200
    cookies = [c.split(";")[0] for c in r.headers.get_list("Set-Cookie")]
    login = [c for c in cookies if c.startswith("username-")]
    assert login, cookies
    return login[0]


async def _nothing_changed(jp_fetch):
    sessions = body(await jp_fetch("aimax", "sessions"))["sessions"]
    assert [(s["sessionId"], s["status"]) for s in sessions] == [("known", "running")]


async def test_every_route_needs_a_valid_token(jp_fetch, raw, token, workdir):
    await _known_session(jp_fetch, workdir)
    for method, path, data in ROUTES:
        assert (await raw(method, path, data)).code == 403, (method, path, "no token")
        bad = {"Authorization": "token not-the-token"}
        assert (await raw(method, path, data, bad)).code == 403, (method, path, "wrong token")
        r = await raw(method, path, data, query="token=not-the-token")
        assert r.code == 403, (method, path, "wrong token in URL")
    await _nothing_changed(jp_fetch)


async def test_every_route_checks_the_host_header(jp_fetch, raw, token, workdir):
    """DNS rebinding: a request naming another host is refused even with the right token."""
    await _known_session(jp_fetch, workdir)
    for method, path, data in ROUTES:
        headers = {"Authorization": f"token {token}", "Host": "rebind.example:8888"}
        r = await raw(method, path, data, headers)
        assert r.code == 403, (method, path, r.code)
    await _nothing_changed(jp_fetch)


async def test_cookie_requests_need_same_origin_and_xsrf(jp_fetch, raw, token, workdir):
    await _known_session(jp_fetch, workdir)
    cookie = await _login_cookie(raw, token)
    evil = {"Cookie": cookie, "Origin": "http://evil.example"}
    for method, path, data in ROUTES:
        headers = dict(evil)
        if method != "GET":
            headers.update({"Cookie": f"{cookie}; _xsrf={XSRF}", "X-XSRFToken": XSRF})
        r = await raw(method, path, data, headers)
        assert r.code in (403, 404), (method, path, "cross-origin", r.code)
    for method, path, data in UNSAFE:
        r = await raw(method, path, data, {"Cookie": cookie})
        assert r.code == 403, (method, path, "no xsrf")
        assert "xsrf" in r.body.decode().lower()
        r = await raw(
            method, path, data, {"Cookie": f"{cookie}; _xsrf={XSRF}", "X-XSRFToken": "f" * 32}
        )
        assert r.code == 403, (method, path, "wrong xsrf")
    await _nothing_changed(jp_fetch)
    # Control: the same cookie with a matching XSRF token is accepted.
    ok = {"Cookie": f"{cookie}; _xsrf={XSRF}", "X-XSRFToken": XSRF}
    r = await raw("POST", "aimax/sessions/known/messages", {"prompt": "hi"}, ok)
    assert r.code == 202, r.body
    assert (await raw("GET", "aimax/sessions", None, {"Cookie": cookie})).code == 200


async def test_websocket_refuses_without_credentials_or_from_another_origin(
    jp_fetch, jp_ws_fetch, raw, token, workdir, jp_http_port, jp_base_url
):
    await _known_session(jp_fetch, workdir)
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}aimax/sessions/known/stream"
    cookie = await _login_cookie(raw, token)
    refused = [
        {},
        {"Authorization": "token not-the-token"},
        {"Cookie": cookie, "Origin": "http://evil.example"},
        {"Authorization": f"token {token}", "Host": "rebind.example:8888"},
    ]
    for headers in refused:
        with pytest.raises(HTTPClientError) as err:
            await websocket_connect(HTTPRequest(url, headers=headers))
        assert err.value.code == 403, headers
    with pytest.raises(HTTPClientError) as err:
        await websocket_connect(HTTPRequest(url + "?token=nope"))
    assert err.value.code == 403
    # Control: same origin with the cookie, and the token, both connect.
    host = f"127.0.0.1:{jp_http_port}"
    for headers in (
        {"Cookie": cookie, "Origin": f"http://{host}"},
        {"Authorization": f"token {token}"},
    ):
        ws = await websocket_connect(HTTPRequest(url, headers=headers))
        assert json.loads(await ws.read_message())["type"] == "caughtUp"
        ws.close()


@pytest.fixture
def read_only(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = ReadOnlyAuthorizer
    return jp_server_config


@pytest.mark.usefixtures("read_only")
async def test_actions_are_authorized_per_route(jp_fetch, raw, token, jp_serverapp):
    from .helpers import call

    assert (await call(jp_fetch, "GET", "aimax", "sessions")).code == 200
    assert (await call(jp_fetch, "GET", "aimax", "openapi.json")).code == 200
    for method, path, data in ROUTES:
        if method == "GET":
            continue
        r = await call(jp_fetch, method, *path.split("/"), data=data)
        assert r.code == 403, (method, path)
    with pytest.raises(HTTPClientError) as err:
        await websocket_connect(
            HTTPRequest(
                f"ws://127.0.0.1:{jp_serverapp.port}{jp_serverapp.base_url}aimax/sessions/x/stream",
                headers={"Authorization": f"token {token}"},
            )
        )
    assert err.value.code == 403
    assert ReadOnlyAuthorizer.seen >= {("read", "aimax"), ("execute", "aimax"), ("write", "aimax")}


from jupyter_server.auth import Authorizer  # noqa: E402


class ReadOnlyAuthorizer(Authorizer):
    """Allows `read` only, and records every (action, resource) it was asked about."""

    seen: set = set()

    def is_authorized(self, handler, user, action, resource):
        ReadOnlyAuthorizer.seen.add((action, resource))
        return action == "read"


class ExecuteOnlyAuthorizer(Authorizer):
    """Allows `execute` only: may start sessions, may not look at them."""

    def is_authorized(self, handler, user, action, resource):
        return action == "execute"


@pytest.fixture
def execute_only(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = ExecuteOnlyAuthorizer
    return jp_server_config


@pytest.mark.usefixtures("execute_only")
async def test_execute_only_users_get_no_session_details(jp_fetch, workdir):
    from .helpers import call

    r = await call(
        jp_fetch,
        "POST",
        "aimax",
        "sessions",
        data={"backend": "tmux-claude-code", "cwd": "work", "sessionId": "blind"},
    )
    assert r.code == 201, r.body
    created = body(r)
    assert created["sessionId"] == "blind" and created["state"]
    for hidden in ("agentSessionId", "paneId", "jsonlPath", "detail", "sentinel"):
        assert created[hidden] is None, hidden
    assert (await call(jp_fetch, "GET", "aimax", "sessions", "blind")).code == 403


async def test_cross_origin_cookie_requests_get_404_as_documented(jp_fetch, raw, token):
    from pathlib import Path

    cookie = await _login_cookie(raw, token)
    evil = {"Cookie": cookie, "Origin": "http://evil.example"}
    for method, path, data in ROUTES:
        headers = dict(evil)
        if method != "GET":
            headers.update({"Cookie": f"{cookie}; _xsrf={XSRF}", "X-XSRFToken": XSRF})
        r = await raw(method, path, data, headers)
        assert r.code == 404, (method, path, r.code)
    docs = (Path(__file__).parents[2] / "docs" / "rest-api.md").read_text()
    assert "from another origin is answered **404**" in docs
    assert "cookie requests from another origin get 403" not in docs
