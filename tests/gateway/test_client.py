"""The kernel's gateway client against a real gateway and the scripted model server: the same
errors as in-process litellm, cancellation upstream, isolation between callers, restarts."""

from __future__ import annotations

import os
import threading

import pytest
from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from aiikernel.gateway.client import GatewayClient
from aiikernel.gateway.lifecycle import probe
from aiikernel.lm import errors
from aiikernel.lm.auth import AuthStore
from aiikernel.lm.litellm_client import LiteLLMClient, ModelRequest, TextChunk, UsageChunk
from tests.support.model_steps import Fault, Garbled, Hang, Reply, StreamError, Truncated

from .helpers import alive, wait_for

KEY = "sk-test-key-0123456789"


class Settings(LoggingConfigurable):
    """Stands for the AiSession: the two settings a client reads from its parent."""

    request_timeout = Float(20.0)
    max_retries = Int(0)


def ask(client, text="hi", model="openai/scripted"):
    return list(client.stream(ModelRequest(model, [{"role": "user", "content": text}])))


def outcome(client, **kwargs):
    try:
        return ask(client, **kwargs)
    except errors.ModelError as exc:
        return (type(exc).__name__, str(exc))


@pytest.fixture
def openai_env(model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.openai_base)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0123456789")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.anthropic_base)


@pytest.fixture
def client(gw_paths, openai_env):
    return GatewayClient(parent=Settings())


STEPS = {
    "401": lambda: Fault(status=401, message=f"bad key {KEY}"),
    "429": lambda: Fault(status=429, message="slow down"),
    "500": lambda: Fault(status=500, message="boom"),
    "garbled": lambda: Garbled("one two three four"),
    "truncated": lambda: Truncated("one two three four", abrupt=False),
    "stream-error": lambda: StreamError("one two three four"),
    "timeout": lambda: Hang(seconds=8),
    "ok": lambda: Reply(chunks=["a ", "b"]),
}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_same_chunks_errors_and_messages_as_in_process_litellm(
    client, model_server, provider, gw_paths
):
    settings = Settings(request_timeout=2.0)
    in_process = LiteLLMClient(parent=settings)
    through_gateway = GatewayClient(parent=settings)
    model = f"{provider}/scripted"
    for warm in (in_process, through_gateway):  # the provider's first request imports its code:
        model_server.script(STEPS["ok"]())  # on a loaded machine, longer than the 2 s timeout
        outcome(warm, model=model)
    for label, step in STEPS.items():
        model_server.script(step())
        expected = outcome(in_process, model=model)
        model_server.script(step())
        got = outcome(through_gateway, model=model)
        assert got == expected, label
        assert KEY not in repr(got)
    # no key at all: the same message naming the fix
    os.environ.pop("OPENAI_API_KEY")
    os.environ.pop("ANTHROPIC_API_KEY")
    assert outcome(through_gateway, model=model) == outcome(in_process, model=model)


def test_interrupting_a_stream_cancels_the_upstream_request(client, model_server):
    model_server.script(Reply(chunks=[f"w{i} " for i in range(200)], delay=0.05))
    stream = client.stream(ModelRequest("openai/scripted", [{"role": "user", "content": "hi"}]))
    assert isinstance(next(stream), TextChunk)
    stream.close()  # what a kernel interrupt does
    wait_for(
        lambda: model_server.model_requests()[0].client_disconnected,
        what="the upstream request to be closed",
    )
    assert client.wire.last(1)[0].status == "interrupted"
    model_server.script(Reply("next"))
    assert ask(client)[0] == TextChunk("next")


def test_a_slow_stream_never_delays_the_others(client, model_server):
    """One caller's slow, long stream; nine others each get their whole answer meanwhile."""

    def responder(request):
        last = request.body_json["messages"][-1]["content"]
        if last == "slow":
            return Reply(chunks=[f"s{i} " for i in range(400)], delay=0.05)
        return Reply(f"fast answer to {last}")

    model_server.responder = responder
    slow_client = GatewayClient(parent=Settings())
    slow_stream = slow_client.stream(
        ModelRequest("openai/scripted", [{"role": "user", "content": "slow"}])
    )
    assert isinstance(next(slow_stream), TextChunk)
    results: dict[int, list] = {}

    def fast(n: int) -> None:
        results[n] = ask(GatewayClient(parent=Settings()), text=f"q{n}")

    threads = [threading.Thread(target=fast, args=(n,)) for n in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    slow_request = next(
        r for r in model_server.model_requests() if r.body_json["messages"][-1]["content"] == "slow"
    )
    assert not slow_request.client_disconnected
    assert next(slow_stream)  # the slow one is still going
    for n in range(9):
        assert results[n][0] == TextChunk(f"fast answer to q{n}")
    slow_stream.close()


def test_a_kernels_keys_never_serve_another_kernel(gw_paths, model_server, monkeypatch):
    """The gateway is started from an environment with a key; a caller without one is still
    told it has none, and two callers with different keys each send their own."""
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.openai_base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-starter-key-000000")
    starter = GatewayClient(parent=Settings())
    starter.ensure_started()
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(errors.MissingCredentials, match="OPENAI_API_KEY"):
        ask(GatewayClient(parent=Settings()))
    for key in ("sk-first-key-111111", "sk-second-key-222222"):
        monkeypatch.setenv("OPENAI_API_KEY", key)
        model_server.script(Reply("ok"))
        ask(GatewayClient(parent=Settings()))
        assert model_server.model_requests()[-1].headers["authorization"] == f"Bearer {key}"


def test_login_applies_at_once_and_the_wire_record_is_redacted(gw_paths, model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.openai_base)
    client = GatewayClient(parent=Settings())
    with pytest.raises(errors.MissingCredentials):
        ask(client)
    AuthStore(gw_paths.home).set_api_key("openai", "sk-stored-key-333333")  # /login
    model_server.script(Reply(chunks=["stored ", "key"]))
    chunks = ask(client)
    assert chunks[:2] == [TextChunk("stored "), TextChunk("key")]
    assert isinstance(chunks[-1], UsageChunk)
    assert (
        model_server.model_requests()[-1].headers["authorization"] == "Bearer sk-stored-key-333333"
    )
    entry = client.wire.last(1)[0]
    assert entry.status == "ok" and entry.text == "stored key"
    assert entry.request["api_base"] == model_server.openai_base
    assert "sk-stored-key-333333" not in entry.model_dump_json()
    AuthStore(gw_paths.home).remove("openai")  # /logout
    with pytest.raises(errors.MissingCredentials):
        ask(client)
    assert "sk-stored-key-333333" not in gw_paths.log.read_text()


def test_a_gateway_killed_mid_reply_is_a_clear_error_then_restarts(client, model_server):
    model_server.script(Reply(chunks=[f"w{i} " for i in range(200)], delay=0.05))
    stream = client.stream(ModelRequest("openai/scripted", [{"role": "user", "content": "hi"}]))
    assert isinstance(next(stream), TextChunk)
    first = probe(client.paths)
    os.kill(first.pid, 9)
    with pytest.raises(errors.StreamBroken, match="model gateway stopped during the reply"):
        list(stream)
    wait_for(lambda: not alive(first.pid), what="the killed gateway to be gone")
    model_server.script(Reply("back"))
    assert ask(client)[0] == TextChunk("back")
    assert probe(client.paths).pid != first.pid


def test_a_gateway_gone_between_requests_is_restarted_silently(client, model_server):
    model_server.script(Reply("one"), Reply("two"))
    assert ask(client)[0] == TextChunk("one")
    first = probe(client.paths)
    os.kill(first.pid, 9)
    wait_for(lambda: not alive(first.pid), what="the killed gateway to be gone")
    assert ask(client)[0] == TextChunk("two")  # the client still believed it was there
    assert probe(client.paths).pid != first.pid
