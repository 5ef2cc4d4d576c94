"""The gateway's socket surface: malformed, oversized or mismatched requests get an error and
the gateway lives on; OpenAI-compatible answers for plain clients."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from aiikernel.gateway.lifecycle import ensure_gateway, probe
from aiikernel.gateway.paths import GatewayPaths
from aiikernel.gateway.protocol import VERSION_HEADER
from tests.support.gateways import private_gateway_dir, stop_gateway_in
from tests.support.model_steps import Reply

from .helpers import http_request, raw_exchange


def status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One gateway for the whole module (these tests never change its state)."""
    root = private_gateway_dir()
    paths = GatewayPaths(root / "gw", tmp_path_factory.mktemp("home"))
    try:
        yield paths, ensure_gateway(paths)
    finally:
        stop_gateway_in(paths.directory)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def gw_paths(shared):
    return shared[0]


@pytest.fixture
def gateway(shared):
    return shared[1]


def still_serving(paths: GatewayPaths, pid: int) -> bool:
    hello = probe(paths)
    return hello is not None and hello.pid == pid


@pytest.mark.parametrize(
    "payload",
    [
        b"GARBAGE\r\n\r\n",
        b"\x00\xff" * 1000,
        b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["not-http", "binary", "absurd-length", "huge-line"],
)
def test_malformed_http_gets_an_error_and_the_gateway_lives(gw_paths, gateway, payload):
    answer = raw_exchange(gw_paths.socket, payload)
    assert answer == b"" or answer.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), answer[:200]
    assert still_serving(gw_paths, gateway.pid)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "invalid gateway request"),
        (b"[]", "invalid gateway request"),
        (json.dumps({"model": "openai/x"}).encode(), "messages"),
        (
            json.dumps({"model": "", "messages": [{"role": "user", "content": "hi"}]}).encode(),
            "model",
        ),
        (
            json.dumps({"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}).encode(),
            "role",
        ),
        (
            json.dumps(
                {"model": "m", "messages": [{"role": "user"}], "aiikernel": {"timeout": -1}}
            ).encode(),
            "timeout",
        ),
        (
            json.dumps(
                {"model": "m", "messages": [{"role": "user"}], "aiikernel": {"surprise": 1}}
            ).encode(),
            "surprise",
        ),
    ],
    ids=[
        "bad-json",
        "not-object",
        "no-messages",
        "empty-model",
        "bad-role",
        "bad-timeout",
        "unknown-option",
    ],
)
def test_invalid_requests_get_a_400_that_says_why(gw_paths, gateway, body, expected):
    status, reply = status_and_body(
        http_request(gw_paths.socket, "POST", "/v1/chat/completions", body)
    )
    assert status == 400
    error = json.loads(reply)["error"]
    assert error["type"] == "bad_request"
    assert expected in error["message"]
    assert still_serving(gw_paths, gateway.pid)


def test_an_oversized_body_is_refused(gw_paths, gateway):
    big = json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": "x" * (65 * 1024 * 1024)}]}
    ).encode()
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(gw_paths.socket)), timeout=120) as c:
        try:
            response = c.post("http://gateway/v1/chat/completions", content=big)
        except httpx.HTTPError:
            response = None  # the gateway may close the connection while we still send
    if response is not None:
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "bad_request"
    assert still_serving(gw_paths, gateway.pid)


def test_unknown_routes_and_other_versions(gw_paths, gateway):
    status, _ = status_and_body(http_request(gw_paths.socket, "GET", "/nothing/here"))
    assert status == 404
    status, reply = status_and_body(
        http_request(
            gw_paths.socket,
            "POST",
            "/v1/chat/completions",
            b"{}",
            **{VERSION_HEADER.replace("-", "_"): "9.9.9+gw9"},
        )
    )
    assert status == 409
    assert json.loads(reply)["error"]["type"] == "version_mismatch"
    assert still_serving(gw_paths, gateway.pid)


def test_a_plain_openai_client_can_use_it(gw_paths, gateway, model_server):
    """The surface is OpenAI's: a client that knows nothing of aiikernel streams and gets
    a whole reply; the model environment comes in the request's ``aiikernel`` object."""
    model_server.script(Reply(chunks=["plain ", "client"]), Reply("whole reply"))
    options = {
        "env": {
            "OPENAI_API_KEY": "sk-test-key-0123456789",
            "OPENAI_BASE_URL": model_server.openai_base,
        }
    }
    request = {
        "model": "openai/scripted",
        "messages": [{"role": "user", "content": "hi"}],
        "aiikernel": options,
    }
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(gw_paths.socket)), timeout=120) as c:
        with c.stream(
            "POST", "http://gateway/v1/chat/completions", json={**request, "stream": True}
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        text = "".join(
            ch["choices"][0]["delta"].get("content") or "" for ch in chunks if ch["choices"]
        )
        assert text == "plain client"
        assert not any("usage" in c for c in chunks)  # not asked for (stream_options)
        whole = c.post("http://gateway/v1/chat/completions", json=request).json()
    assert whole["object"] == "chat.completion"
    assert whole["choices"][0]["message"]["content"] == "whole reply"
    assert whole["usage"]["completion_tokens"] == 5
    sent = model_server.model_requests()[0]
    assert sent.headers.get("authorization") == "Bearer sk-test-key-0123456789"


def test_capabilities_say_whether_a_model_takes_images(gw_paths, gateway):
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(gw_paths.socket)), timeout=120) as c:
        url = "http://gateway/aiikernel/v1/capabilities"
        assert c.post(url, json={"model": "openai/gpt-4o"}).json()["vision"] is True
        assert c.post(url, json={"model": "openai/scripted"}).json()["vision"] is False
        refused = c.post(url, json={"model": "openai/gpt-4o", "api_key": "sk-nope-123456"})
    assert refused.status_code == 400
    assert "sk-nope" not in refused.text
    assert still_serving(gw_paths, gateway.pid)
