"""Regression tests of issue 14 (the security probe of the server extension) against a real
``jupyter server`` subprocess: raw sockets where the point is what the server does before it
has read a body, plain HTTP elsewhere."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import requires_tmux
from .server_process import ServerProcess

pytestmark = [requires_tmux, pytest.mark.timeout(180)]
BODY_CAP = 64 * 1024
STREAMS_PER_USER = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("hardening")
    with ServerProcess(
        base / "srv", traits={"max_body_bytes": BODY_CAP, "max_streams_per_user": STREAMS_PER_USER}
    ) as srv:
        (srv.root / "w").mkdir()
        yield srv


def _call(server: ServerProcess, method: str, path: str, data=None, raw: bytes | None = None):
    """(status, parsed body) of one request, errors included."""
    payload = raw if raw is not None else (json.dumps(data).encode() if data is not None else None)
    req = urllib.request.Request(server.url + path, data=payload, method=method)
    for k, v in server.headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None


def _raw(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (Content-Length framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, rest[:length]


def _head(server: ServerProcess, method: str, path: str, extra: str) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: token {server.token}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


# -- 2. huge bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/aimax/sessions", "/aimax/sessions/x/messages"])
def test_a_huge_content_length_is_refused_before_the_body_is_sent(server, path):
    with _raw(server) as sock:
        sock.sendall(_head(server, "POST", path, "Content-Length: 200000000\r\n"))
        started = time.monotonic()
        status, body = _read_response(sock)  # no byte of the body was sent
    assert status == 413, body
    assert "too large" in json.loads(body)["message"]
    assert time.monotonic() - started < 10
    assert _call(server, "GET", "/api/status")[0] == 200


def test_a_chunked_body_is_cut_off_at_the_cap(server):
    with _raw(server) as sock:
        sock.sendall(_head(server, "POST", "/aimax/sessions", "Transfer-Encoding: chunked\r\n"))
        piece = b'{"backend": "tmux-codex", "initialPrompt": "' + b"a" * 16384
        sent = 0
        try:
            while sent <= BODY_CAP * 2:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
                piece = b"a" * 16384
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the rest arrived: what a cap does
        status, body = _read_response(sock)
    assert status == 413, body
    assert _call(server, "GET", "/aimax/sessions")[0] == 200


def test_a_body_under_the_cap_is_still_parsed(server):
    status, reply = _call(server, "POST", "/aimax/sessions", {"backend": "nope"})
    assert status == 422 and reply["field"] == "backend"


def test_deeply_nested_json_is_a_400_not_a_500(server):
    for raw in (b"[" * 60_000, b'{"a":' * 12_000):
        status, reply = _call(server, "POST", "/aimax/sessions", raw=raw)
        assert status == 400, reply
        assert "not valid JSON" in reply["message"]


def test_the_control_character_check_is_fast(server):
    prompt = "é" * (BODY_CAP // 8)  # valid, long: one regex pass, not a Python loop per char
    status, reply = _call(
        server, "POST", "/aimax/sessions", {"backend": "nope", "initialPrompt": prompt}
    )
    assert status == 422 and reply["field"] == "backend"
    status, reply = _call(
        server, "POST", "/aimax/sessions", {"backend": "tmux-codex", "initialPrompt": "a\x1bb"}
    )
    assert status == 422 and "control characters" in reply["message"]


def test_the_models_cap_every_string_field():
    from aiikernel.server.models import CreateSessionRequest, SendMessageRequest

    for model in (CreateSessionRequest, SendMessageRequest):
        for name, field in model.model_fields.items():
            if field.annotation in (str, str | None):
                limits = [m for m in field.metadata if hasattr(m, "max_length")]
                patterns = [m for m in field.metadata if hasattr(m, "pattern")]
                assert limits or patterns, f"{model.__name__}.{name} has no length limit"


def test_every_pattern_has_a_meaning_in_words():
    """A 422 for a pattern explains the pattern (see handlers._readable)."""
    from aiikernel.server.models import PATTERN_MEANINGS, CreateSessionRequest, SendMessageRequest

    for model in (CreateSessionRequest, SendMessageRequest):
        for name, field in model.model_fields.items():
            for meta in field.metadata:
                pattern = getattr(meta, "pattern", None)
                if pattern is not None:
                    assert pattern in PATTERN_MEANINGS, f"{model.__name__}.{name}"


# -- 7. small ones ----------------------------------------------------------------------------


def test_session_ids_are_matched_whole(server):
    for raw in ("abc%0A", "abc%0a", "abc%0D%0A"):
        status, reply = _call(server, "GET", f"/aimax/sessions/{raw}")
        assert status == 422 and reply["field"] == "sessionId", (raw, status, reply)
    from aiikernel.aimax.options import check_session_id

    with pytest.raises(ValueError):
        check_session_id("abc\n")


def test_transcript_paths_do_not_show_the_home_directory(server):
    status, created = _call(
        server,
        "POST",
        "/aimax/sessions",
        {"backend": "tmux-claude-code", "cwd": "w", "sessionId": "home-check"},
    )
    assert status == 201, created
    try:
        assert created["jsonlPath"].startswith("~/"), created["jsonlPath"]
        assert server.local_path(created["jsonlPath"]).parent.is_dir()
        for path in ("/aimax/sessions", "/aimax/sessions/home-check"):
            assert str(server.home) not in json.dumps(_call(server, "GET", path)[1])
    finally:
        _call(server, "DELETE", "/aimax/sessions/home-check")


# -- 3. flags and files in the project tree ---------------------------------------------------


def _wait_for(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("link_at", [".imac", ".imac/flags"])
def test_a_symlinked_flag_directory_is_refused_and_nothing_leaves_the_root(server, link_at):
    project = server.root / f"linked-{link_at.replace('/', '-')}"
    outside = server.base / f"outside-{link_at.replace('/', '-')}"
    outside.mkdir()
    (project / link_at).parent.mkdir(parents=True, exist_ok=True)
    (project / link_at).symlink_to(outside, target_is_directory=True)
    status, reply = _call(
        server,
        "POST",
        "/aimax/sessions",
        {
            "backend": "tmux-claude-code",
            "cwd": project.name,
            "sessionId": "flag-link",
            "initialPrompt": "a secret prompt",
        },
    )
    assert status == 422, reply
    assert reply["field"] == "flagRoot" and "symbolic link" in reply["message"]
    assert list(outside.rglob("*")) == []
    assert _call(server, "GET", "/aimax/sessions/flag-link")[0] == 404


def test_flags_and_the_state_file_are_private_and_hold_no_prompt(server):
    status, created = _call(
        server,
        "POST",
        "/aimax/sessions",
        {
            "backend": "tmux-claude-code",
            "cwd": "w",
            "sessionId": "flag-mode",
            "initialPrompt": "SECRET-PROMPT-TEXT [[think:60]]",
        },
    )
    assert status == 201, created
    try:
        flag_dir = server.root / "w" / ".imac" / "flags" / "flag-mode"
        running = flag_dir / "running.flag"
        assert running.exists()
        assert running.stat().st_mode & 0o777 == 0o600
        assert flag_dir.stat().st_mode & 0o777 == 0o700
        assert "SECRET" not in running.read_text()
        state = server.base / "aimax-data" / "sessions" / "flag-mode" / "state.jsonl"
        _wait_for(lambda: state.exists() and "UserPromptSubmit" in state.read_text(), "hooks")
        assert state.stat().st_mode & 0o777 == 0o600
    finally:
        _call(server, "DELETE", "/aimax/sessions/flag-mode")


# -- 4. worktrees -----------------------------------------------------------------------------


def _git(cwd, *args: str) -> str:
    argv = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-C", str(cwd), *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _worktree_dirs(server: ServerProcess) -> list:
    root = server.base / "aimax-data" / "worktrees"
    return sorted(root.iterdir()) if root.is_dir() else []


def test_a_worktree_of_a_repository_above_the_root_is_refused(server):
    project = server.root / "in-outer-repo"
    project.mkdir()
    (project / "mine.txt").write_text("inside the root\n")
    (server.base / "outside-secret.txt").write_text("outside the root\n")
    _git(server.base, "init", "-q")
    try:
        _git(server.base, "add", "outside-secret.txt", "root/in-outer-repo/mine.txt")
        _git(server.base, "commit", "-qm", "outer")
        before = _worktree_dirs(server)
        status, reply = _call(
            server,
            "POST",
            "/aimax/sessions",
            {
                "backend": "tmux-claude-code",
                "cwd": project.name,
                "sessionId": "wt-outer",
                "worktree": True,
            },
        )
        assert status == 422, reply
        assert reply["field"] == "worktree" and "outside" in reply["message"]
        assert str(server.base) not in reply["message"]
        assert _worktree_dirs(server) == before
        assert "aimax/wt-outer" not in _git(server.base, "branch", "--list")
        assert _call(server, "GET", "/aimax/sessions/wt-outer")[0] == 404
    finally:
        shutil.rmtree(server.base / ".git")


def test_a_worktree_without_the_directory_is_a_422_not_an_agent_elsewhere(server):
    repo = server.root / "repo-wt"
    (repo / "untracked").mkdir(parents=True)
    (repo / "a.txt").write_text("a\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-qm", "a")
    before = _worktree_dirs(server)
    status, reply = _call(
        server,
        "POST",
        "/aimax/sessions",
        {
            "backend": "tmux-claude-code",
            "cwd": "repo-wt/untracked",
            "sessionId": "wt-missing",
            "worktree": True,
        },
    )
    assert status == 422, reply
    assert reply["field"] == "worktree" and "untracked" in reply["message"]
    assert _worktree_dirs(server) == before
    assert len(_git(repo, "worktree", "list").splitlines()) == 1
    assert "aimax/wt-missing" not in _git(repo, "branch", "--list")
    assert _call(server, "GET", "/aimax/sessions/wt-missing")[0] == 404

    # The same directory, committed, gives a worktree session started in it.
    (repo / "untracked" / "b.txt").write_text("b\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "b")
    status, created = _call(
        server,
        "POST",
        "/aimax/sessions",
        {
            "backend": "tmux-claude-code",
            "cwd": "repo-wt/untracked",
            "sessionId": "wt-ok",
            "worktree": True,
        },
    )
    assert status == 201, created
    try:
        assert created["cwd"].endswith("/untracked")
        assert "repo-wt" not in created["cwd"]
    finally:
        _call(server, "DELETE", "/aimax/sessions/wt-ok")


# -- 5. streams -------------------------------------------------------------------------------


def _login_cookie(server: ServerProcess) -> str:
    """A browser's login cookie (a new anonymous user each time): what a token URL sets."""
    req = urllib.request.Request(f"{server.url}/aimax/sessions?token={server.token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        cookies = [c.split(";")[0] for c in resp.headers.get_all("Set-Cookie")]
    return next(c for c in cookies if c.startswith("username-"))


async def _connect(server: ServerProcess, session_id: str | None, cookie: str | None = None):
    """One websocket stream (token, or a user's cookie), or the session-list watch when
    ``session_id`` is None; returns (socket, first frame or None when closed at once)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    path = "/aimax/watch" if session_id is None else f"/aimax/sessions/{session_id}/stream"
    url = f"ws://127.0.0.1:{server.port}{path}"
    headers = {"Cookie": cookie} if cookie else server.headers
    ws = await websocket_connect(HTTPRequest(url, headers=headers))
    first = await asyncio.wait_for(ws.read_message(), 30)
    return ws, json.loads(first) if first is not None else None


async def _check_stream_cap(
    server: ServerProcess, session_id: str, cap: int, names: str, cookie: str | None = None
):
    admitted = []
    try:
        for _ in range(cap):
            ws, first = await _connect(server, session_id, cookie)
            admitted.append(ws)
            assert first is not None and first["type"] == "caughtUp", (first, ws.close_reason)
        ws, first = await _connect(server, session_id, cookie)
        assert first is None
        assert ws.close_code == 4429
        assert "too many streams" in ws.close_reason and names in ws.close_reason
        # The server keeps answering, and a closed stream frees its place.
        assert _call(server, "GET", "/api/status")[0] == 200
        admitted.pop().close()
        deadline = time.monotonic() + 30
        while True:
            ws, first = await _connect(server, session_id, cookie)
            if first is not None:
                admitted.append(ws)
                break
            assert time.monotonic() < deadline, "a closed stream never gave its place back"
            await asyncio.sleep(0.1)
        assert first["type"] == "caughtUp"
    finally:
        for ws in admitted:
            ws.close()


@pytest.fixture
def stream_session(server):
    status, created = _call(
        server,
        "POST",
        "/aimax/sessions",
        {"backend": "tmux-claude-code", "cwd": "w", "sessionId": "streams"},
    )
    assert status == 201, created
    yield "streams"
    _call(server, "DELETE", "/aimax/sessions/streams")


def test_websocket_streams_are_capped_per_user(server, stream_session):
    asyncio.run(_check_stream_cap(server, stream_session, STREAMS_PER_USER, "max_streams_per_user"))


def test_each_user_has_a_stream_cap_of_their_own(server, stream_session):
    async def check() -> None:
        users = [_login_cookie(server), _login_cookie(server)]
        first_user = []
        try:
            for _ in range(STREAMS_PER_USER):
                ws, frame = await _connect(server, stream_session, users[0])
                first_user.append(ws)
                assert frame is not None, ws.close_reason
            ws, frame = await _connect(server, stream_session, users[0])
            assert frame is None and ws.close_code == 4429
            await _check_stream_cap(
                server, stream_session, STREAMS_PER_USER, "max_streams_per_user", users[1]
            )
        finally:
            for ws in first_user:
                ws.close()

    asyncio.run(check())


def test_session_list_watchers_count_under_the_same_caps(server, stream_session):
    async def check() -> None:
        opened = []
        try:
            for target in [stream_session] * (STREAMS_PER_USER - 1) + [None]:
                ws, frame = await _connect(server, target)
                opened.append(ws)
                assert frame is not None, ws.close_reason
            assert opened and frame["type"] == "sessions"
            for target in (None, stream_session):
                ws, frame = await _connect(server, target)
                assert frame is None and ws.close_code == 4429, target
        finally:
            for ws in opened:
                ws.close()

    asyncio.run(check())


def test_websocket_streams_are_capped_for_the_server(tmp_path):
    traits = {"max_streams": 2, "max_streams_per_user": 50}
    with ServerProcess(tmp_path / "srv", traits=traits) as small:
        (small.root / "w").mkdir()
        small.request(
            "POST",
            "/aimax/sessions",
            {"backend": "tmux-claude-code", "cwd": "w", "sessionId": "streams"},
        )
        asyncio.run(_check_stream_cap(small, "streams", 2, "max_streams)"))
