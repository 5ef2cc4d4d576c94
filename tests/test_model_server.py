"""The scripted model server, exercised by real HTTP clients (httpx and litellm)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.model_server import (
    LITELLM_SURFACES,
    Fault,
    Garbled,
    Hang,
    Reply,
    ScriptedModelServer,
    StreamError,
    ToolCall,
    Truncated,
)
from tests.support.model_steps import DEFAULT_REPLY_TEXT, step_from_dict, step_to_dict
from tests.support.title_requests import is_title_request

REPO = Path(__file__).resolve().parents[1]

CHAT = "/chat/completions"
ENDPOINTS = {
    "openai": lambda srv: srv.openai_base + CHAT,
    "anthropic": lambda srv: srv.anthropic_base + "/v1/messages?beta=true",
    "responses": lambda srv: srv.openai_base + "/responses",
}


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """Parse an SSE body into (event name, data) pairs."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, "\n".join(data)))
    return events


def json_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in sse_events(text) if data != "[DONE]"]


def post(srv: ScriptedModelServer, api: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    kw.setdefault("timeout", 10)
    return httpx.post(ENDPOINTS[api](srv), json={"model": "m", **body}, **kw)


@pytest.fixture
def srv(model_server: ScriptedModelServer) -> ScriptedModelServer:
    return model_server


# -- OpenAI chat completions -----------------------------------------------------------------


def test_openai_chat_non_streaming_reply(srv: ScriptedModelServer) -> None:
    srv.script(Reply("hello", usage=(7, 3)))
    body = post(srv, "openai", {"messages": [{"role": "user", "content": "hi"}]}).json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hello"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert srv.last_request().body_json["messages"][0]["content"] == "hi"


def test_openai_chat_stream_chunks_and_usage(srv: ScriptedModelServer) -> None:
    srv.script(Reply(chunks=["Hel", "lo"], usage=(4, 2)))
    response = post(srv, "openai", {"stream": True, "stream_options": {"include_usage": True}})
    assert response.headers["content-type"] == "text/event-stream"
    assert sse_events(response.text)[-1] == (None, "[DONE]")
    events = json_events(response.text)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "Hello"
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] == 6


def test_openai_chat_stream_without_usage_option_has_no_usage_chunk(
    srv: ScriptedModelServer,
) -> None:
    events = json_events(post(srv, "openai", {"stream": True}).text)
    assert all("usage" not in e for e in events)


def test_openai_chat_tool_calls(srv: ScriptedModelServer) -> None:
    call = ToolCall("run_code", {"code": "print(1)"}, id="call_1")
    srv.script(Reply(tool_calls=[call]), Reply(tool_calls=[call]))
    body = post(srv, "openai", {}).json()
    message = body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert message["tool_calls"][0]["id"] == "call_1"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"code": "print(1)"}

    events = json_events(post(srv, "openai", {"stream": True}).text)
    deltas = [d for e in events for d in e["choices"][0]["delta"].get("tool_calls", [])]
    assert deltas[0]["function"]["name"] == "run_code"
    assert len(deltas) >= 3, "arguments must arrive in several deltas"
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments) == {"code": "print(1)"}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


# -- Anthropic messages ----------------------------------------------------------------------


def test_anthropic_non_streaming_text_and_tool_use(srv: ScriptedModelServer) -> None:
    srv.script(Reply("thinking aloud", tool_calls=[ToolCall("Bash", {"command": "ls"}, "toolu_1")]))
    body = post(srv, "anthropic", {"messages": []}).json()
    assert body["type"] == "message" and body["stop_reason"] == "tool_use"
    assert body["content"] == [
        {"type": "text", "text": "thinking aloud"},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
    ]
    assert srv.last_request().api == "anthropic"
    assert srv.last_request().query == {"beta": "true"}


def test_anthropic_stream_event_sequence(srv: ScriptedModelServer) -> None:
    srv.script(Reply(chunks=["a", "b"], tool_calls=[ToolCall("Bash", {"command": "ls"})]))
    events = sse_events(post(srv, "anthropic", {"stream": True}).text)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for d, name in zip(data, names, strict=True))
    assert data[1]["content_block"] == {"type": "text", "text": ""}
    assert data[5]["content_block"]["type"] == "tool_use" and data[5]["index"] == 1
    partial = "".join(d["delta"]["partial_json"] for d in data[6:8])
    assert json.loads(partial) == {"command": "ls"}
    assert data[9]["delta"]["stop_reason"] == "tool_use"
    assert data[9]["usage"]["output_tokens"] == 5


def test_models_in_each_shape(srv: ScriptedModelServer) -> None:
    srv.models = ["alpha", "beta"]
    openai_shape = httpx.get(srv.openai_base + "/models").json()
    assert openai_shape["object"] == "list"
    assert [m["id"] for m in openai_shape["data"]] == ["alpha", "beta"]
    anthropic_shape = httpx.get(
        srv.anthropic_base + "/v1/models", headers={"anthropic-version": "2023-06-01"}
    ).json()
    assert anthropic_shape["has_more"] is False and anthropic_shape["first_id"] == "alpha"
    assert {m["type"] for m in anthropic_shape["data"]} == {"model"}
    assert srv.model_requests() == [] and len(srv.requests) == 2


# -- OpenAI responses ------------------------------------------------------------------------


def test_responses_stream_text(srv: ScriptedModelServer) -> None:
    srv.script(Reply(chunks=["po", "ng"], usage=(11, 2)))
    events = json_events(post(srv, "responses", {"stream": True, "input": []}).text)
    types = [e["type"] for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    for required in ("response.output_item.added", "response.output_item.done"):
        assert required in types
    assert (
        "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "pong"
    )
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["usage"]["input_tokens"] == 11 and completed["usage"]["total_tokens"] == 13
    assert completed["output"][0]["content"][0]["text"] == "pong"


def test_responses_function_call(srv: ScriptedModelServer) -> None:
    call = ToolCall("shell", {"command": ["ls"]}, id="call_9")
    srv.script(Reply(tool_calls=[call]), Reply(tool_calls=[call]))
    events = json_events(post(srv, "responses", {"stream": True}).text)
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert added["item"]["type"] == "function_call" and added["item"]["call_id"] == "call_9"
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(deltas) == done["arguments"]
    assert json.loads(done["arguments"]) == {"command": ["ls"]}
    body = post(srv, "responses", {}).json()
    assert body["object"] == "response" and body["output"][0]["name"] == "shell"


@pytest.mark.parametrize("api", ["openai", "anthropic", "responses"])
def test_thinking_comes_first_in_each_api_form(srv: ScriptedModelServer, api: str) -> None:
    srv.script(Reply("answer", thinking="pondering"), Reply("answer", thinking="pondering"))
    events = json_events(post(srv, api, {"stream": True}).text)
    body = post(srv, api, {}).json()
    if api == "openai":
        assert events[1]["choices"][0]["delta"] == {"reasoning_content": "pondering"}
        assert body["choices"][0]["message"]["reasoning_content"] == "pondering"
    elif api == "anthropic":
        assert events[1]["content_block"]["type"] == "thinking"
        deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
        assert deltas[0] == {"type": "thinking_delta", "thinking": "pondering"}
        assert deltas[1]["type"] == "signature_delta" and deltas[1]["signature"]
        assert [block["type"] for block in body["content"]] == ["thinking", "text"]
    else:
        summary = [e for e in events if e["type"] == "response.reasoning_summary_text.delta"]
        assert summary[0]["delta"] == "pondering"
        assert [item["type"] for item in body["output"]] == ["reasoning", "message"]


# -- step kinds over the wire ----------------------------------------------------------------


@pytest.mark.parametrize("api", ["openai", "anthropic", "responses"])
@pytest.mark.parametrize("status", [401, 429, 500])
def test_fault_uses_each_api_error_shape(srv: ScriptedModelServer, api: str, status: int) -> None:
    srv.script(Fault(status, "nope"))
    response = post(srv, api, {"stream": True})
    assert response.status_code == status
    assert response.headers["retry-after"] == "0"
    body = response.json()
    if api == "anthropic":
        assert body["type"] == "error" and body["error"]["message"] == "nope"
        assert body["error"]["type"].endswith("_error")
    else:
        assert body["error"]["message"] == "nope" and body["error"]["type"]


def test_hang_times_out_the_client(srv: ScriptedModelServer) -> None:
    srv.script(Hang(60))
    with pytest.raises(httpx.ReadTimeout):
        post(srv, "openai", {}, timeout=httpx.Timeout(10, read=0.3))


def test_stop_closes_a_hanging_connection() -> None:
    """A client with a long timeout is released by stop(), not left waiting for Hang(60)."""
    outcome: list[BaseException | httpx.Response] = []
    with ScriptedModelServer() as srv:
        srv.script(Hang(60))
        url = ENDPOINTS["openai"](srv)

        def client() -> None:
            try:
                outcome.append(httpx.post(url, json={}, timeout=60))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        waiting = threading.Thread(target=client)
        waiting.start()
        srv.wait_for_requests(1)
    waiting.join(timeout=20)  # a deadlock guard, not a speed check
    assert not waiting.is_alive()
    assert isinstance(outcome[0], httpx.RemoteProtocolError | httpx.ReadError)


@pytest.mark.parametrize("api", ["openai", "anthropic", "responses"])
def test_garbled_stream_has_one_malformed_data_line(srv: ScriptedModelServer, api: str) -> None:
    srv.script(Garbled("one two three four"), Garbled())
    response = post(srv, api, {"stream": True})
    assert response.status_code == 200
    bad = []
    for _, data in sse_events(response.text):
        try:
            json.loads(data) if data != "[DONE]" else None
        except ValueError:
            bad.append(data)
    assert len(bad) == 1
    before, after = response.text.split(bad[0])
    assert '"one "' in before and '"two "' in before, "the first half precedes the bad line"
    assert '"three "' in after
    with pytest.raises(ValueError):
        post(srv, api, {}).json()


@pytest.mark.parametrize("api", ["openai", "anthropic", "responses"])
def test_truncated_abrupt_breaks_the_http_body(srv: ScriptedModelServer, api: str) -> None:
    srv.script(Truncated("one two three four"))
    with pytest.raises(httpx.RemoteProtocolError):
        post(srv, api, {"stream": True})


@pytest.mark.parametrize(
    ("api", "final"),
    [("openai", "[DONE]"), ("anthropic", "message_stop"), ("responses", "response.completed")],
)
def test_truncated_clean_ends_without_the_stop_event(
    srv: ScriptedModelServer, api: str, final: str
) -> None:
    srv.script(Truncated("one two three four", after_chunks=1, abrupt=False))
    response = post(srv, api, {"stream": True})
    assert response.status_code == 200
    assert "one " in response.text and "two" not in response.text
    assert final not in response.text


@pytest.mark.parametrize(
    ("api", "error_marker"),
    [
        ("openai", '"type": "server_error"'),
        ("anthropic", "event: error"),
        ("responses", "event: response.failed"),
    ],
)
def test_stream_error_sends_the_api_error_event_mid_stream(
    srv: ScriptedModelServer, api: str, error_marker: str
) -> None:
    srv.script(StreamError("one two three four", status=500), StreamError(status=429))
    response = post(srv, api, {"stream": True})
    assert response.status_code == 200
    before, _, after = response.text.partition(error_marker)
    assert '"one "' in before and '"two "' in before and after
    assert "three" not in response.text
    names = [name for name, _ in sse_events(response.text)]
    assert names[-1] in (None, "error", "response.failed")
    assert post(srv, api, {}).status_code == 429, "non-streaming requests get a plain fault"


def test_slow_stream_and_client_disconnect_is_recorded(srv: ScriptedModelServer) -> None:
    srv.script(Reply(chunks=["x"] * 50, delay=0.05))
    with httpx.stream("POST", ENDPOINTS["openai"](srv), json={"stream": True}) as response:
        lines = response.iter_lines()
        for _ in range(6):  # role chunk + a few content chunks, then hang up
            next(line for line in lines if line.startswith("data: "))
    deadline = time.monotonic() + 5
    while not srv.last_request().client_disconnected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.last_request().client_disconnected


# -- scripting, recording, auth --------------------------------------------------------------


def test_default_reply_when_nothing_is_scripted(srv: ScriptedModelServer) -> None:
    body = post(srv, "openai", {}).json()
    assert body["choices"][0]["message"]["content"] == DEFAULT_REPLY_TEXT


def test_steps_are_consumed_in_order_and_responder_goes_first(srv: ScriptedModelServer) -> None:
    srv.script(Reply("first"), Reply("second"))
    srv.responder = lambda r: Reply("dynamic") if "magic" in json.dumps(r.body_json) else None
    texts = [
        post(srv, "anthropic", {"messages": [{"role": "user", "content": c}]}).json()["content"][0][
            "text"
        ]
        for c in ("a", "magic", "b", "c")
    ]
    assert texts == ["first", "dynamic", "second", DEFAULT_REPLY_TEXT]
    assert srv.pending_steps() == 0
    assert [type(r.step).__name__ for r in srv.model_requests()] == ["Reply"] * 4


def test_a_raising_responder_gives_a_clear_500(srv: ScriptedModelServer) -> None:
    def responder(request: Any) -> None:
        raise KeyError("messages")

    srv.responder = responder
    response = post(srv, "anthropic", {})
    assert response.status_code == 500
    assert "scripted responder raised KeyError" in response.json()["error"]["message"]
    assert [type(e) for e in srv.responder_errors] == [KeyError]
    srv.responder_errors.clear()  # handled here; the fixture would fail the test otherwise


def test_script_rejects_non_steps(srv: ScriptedModelServer) -> None:
    with pytest.raises(TypeError, match="not a scripted step"):
        srv.script("hello")  # type: ignore[arg-type]


def test_wait_for_requests_from_another_thread(srv: ScriptedModelServer) -> None:
    threading.Timer(0.1, lambda: post(srv, "openai", {})).start()
    got = srv.wait_for_requests(1, timeout=5)
    assert got[0].path == "/v1/chat/completions"
    with pytest.raises(TimeoutError, match="expected 2 request"):
        srv.wait_for_requests(2, timeout=0.2)


@pytest.mark.asyncio
async def test_wait_for_requests_async_lets_a_same_loop_client_run(
    srv: ScriptedModelServer,
) -> None:
    import asyncio

    async with httpx.AsyncClient() as client:
        request = asyncio.create_task(client.post(ENDPOINTS["openai"](srv), json={}))
        (got,) = await srv.wait_for_requests_async(1, timeout=5)
        assert got.api == "openai"
        assert (await request).status_code == 200


def test_require_key_rejects_wrong_keys_in_each_shape() -> None:
    with ScriptedModelServer(require_key="sk-test") as srv:
        assert post(srv, "openai", {}).status_code == 401
        assert (
            post(srv, "anthropic", {}, headers={"x-api-key": "wrong"}).json()["error"]["type"]
            == "authentication_error"
        )
        assert post(srv, "responses", {}, headers={"authorization": "Bearer x"}).status_code == 401
        assert httpx.get(srv.openai_base + "/models").status_code == 401
        ok = post(srv, "openai", {}, headers={"authorization": "Bearer sk-test"})
        assert ok.status_code == 200
        assert post(srv, "anthropic", {}, headers={"x-api-key": "sk-test"}).status_code == 200
        assert len(srv.model_requests()) == 5


def test_bad_json_body_gets_a_clear_400(srv: ScriptedModelServer) -> None:
    response = httpx.post(ENDPOINTS["anthropic"](srv), content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "request body is not JSON"
    assert srv.last_request().kind == "other" and srv.model_requests() == []


def test_unknown_route_is_404(srv: ScriptedModelServer) -> None:
    assert httpx.post(srv.url + "/v1/embeddings", json={}).status_code == 404


def test_count_tokens(srv: ScriptedModelServer) -> None:
    response = httpx.post(srv.anthropic_base + "/v1/messages/count_tokens", json={"messages": []})
    assert response.json() == {"input_tokens": 10}
    assert srv.model_requests() == []


def test_step_json_round_trip() -> None:
    steps = [
        Reply(
            "hi", chunks=["h", "i"], delay=0.1, usage=(1, 2), tool_calls=[ToolCall("f", {"a": 1})]
        ),
        Fault(429, "slow down"),
        Hang(1.5),
        Garbled("g"),
        Truncated("t", after_chunks=1, abrupt=False),
        StreamError("s", status=529, after_chunks=2),
    ]
    assert [step_from_dict(json.loads(json.dumps(step_to_dict(s)))) for s in steps] == steps
    with pytest.raises(ValueError, match="unknown step kind 'nope'"):
        step_from_dict({"kind": "nope"})
    with pytest.raises(ValueError, match="concatenate"):
        Reply("abc", chunks=["x"])


# -- title requests --------------------------------------------------------------------------

TITLE_SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}}


@pytest.mark.parametrize(
    ("api", "extra"),
    [
        ("anthropic", {"output_format": {"type": "json_schema", "schema": TITLE_SCHEMA}}),
        (
            "anthropic",
            {"output_config": {"format": {"type": "json_schema", "schema": TITLE_SCHEMA}}},
        ),
        (
            "openai",
            {"response_format": {"type": "json_schema", "json_schema": {"schema": TITLE_SCHEMA}}},
        ),
        ("responses", {"text": {"format": {"type": "json_schema", "schema": TITLE_SCHEMA}}}),
        ("anthropic", {"system": "Generate a concise title for this session. Reply in JSON."}),
    ],
)
def test_title_requests_answer_json_without_consuming_steps(
    srv: ScriptedModelServer, api: str, extra: dict[str, Any]
) -> None:
    srv.title = "My title"
    srv.script(Reply("the real turn"))
    response = post(srv, api, {"stream": True, "messages": [], **extra})
    assert '{\\"title\\": \\"My title\\"}' in response.text
    assert srv.pending_steps() == 1
    assert srv.last_request().kind == "title" and srv.model_requests() == []


def test_requests_with_tools_are_never_title_requests() -> None:
    body = {"tools": [{"name": "x"}], "output_format": {"schema": TITLE_SCHEMA}}
    assert not is_title_request(body)
    assert not is_title_request({"system": "The title of the plot should be in JSON"})
    assert not is_title_request({"messages": [{"role": "user", "content": "write a title"}]})


def test_title_detection_can_be_switched_off() -> None:
    with ScriptedModelServer(detect_titles=False) as srv:
        post(srv, "anthropic", {"output_format": {"schema": TITLE_SCHEMA}})
        assert srv.last_request().kind == "model"


# -- subprocess mode -------------------------------------------------------------------------


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"kind": "reply", "text": "from file"}]))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.model_server",
            "--port",
            "0",
            "--script",
            str(script),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith("PORT "), first
        yield process, int(first.split()[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_subprocess_server_serves_script_and_control(
    server_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server_process
    base = f"http://127.0.0.1:{port}"
    first = httpx.post(base + "/v1/chat/completions", json={"model": "m"}).json()
    assert first["choices"][0]["message"]["content"] == "from file"
    httpx.post(base + "/_control/script", json=[{"kind": "fault", "status": 429}])
    assert httpx.post(base + "/v1/chat/completions", json={}).status_code == 429
    recorded = httpx.get(base + "/_control/requests").json()
    assert [r["step"]["kind"] for r in recorded if r["kind"] == "model"] == ["reply", "fault"]
    process.terminate()
    assert process.wait(timeout=10) == 0


# -- litellm, the client the turn engine uses ------------------------------------------------


@pytest.fixture(scope="module")
def litellm_module() -> Any:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    return litellm


STEPS_BY_LABEL = {
    "Fault(401)": lambda: Fault(401),
    "Fault(429)": lambda: Fault(429),
    "Fault(500)": lambda: Fault(500),
    "Hang": lambda: Hang(30),
    "Garbled": lambda: Garbled("one two three four"),
    "Truncated(abrupt)": lambda: Truncated("one two three four"),
    "Truncated(clean)": lambda: Truncated("one two three four", abrupt=False),
    "StreamError": lambda: StreamError("one two three four"),
}


async def litellm_stream(litellm: Any, srv: ScriptedModelServer, provider: str, **kw: Any) -> Any:
    model = "openai/scripted" if provider == "openai" else "anthropic/claude-x"
    base = srv.openai_base if provider == "openai" else srv.anthropic_base
    return await litellm.acompletion(
        model=model,
        api_base=base,
        api_key="sk-test",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        **kw,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_litellm_streams_text_and_usage(
    litellm_module: Any, srv: ScriptedModelServer, provider: str
) -> None:
    srv.script(Reply(chunks=["Hel", "lo ", "world"], usage=(12, 3)))
    stream = await litellm_stream(
        litellm_module, srv, provider, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    usage = [getattr(c, "usage", None) for c in chunks if getattr(c, "usage", None)]
    assert usage and usage[-1].prompt_tokens == 12 and usage[-1].completion_tokens == 3
    request = srv.model_requests()[0]
    assert request.api == provider and request.stream


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_litellm_streams_thinking_as_reasoning_content(
    litellm_module: Any, srv: ScriptedModelServer, provider: str
) -> None:
    srv.script(Reply("answer", thinking="pondering"))
    stream = await litellm_stream(litellm_module, srv, provider)
    chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in deltas) == "pondering"
    assert "".join(d.content or "" for d in deltas) == "answer"


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_litellm_streams_tool_calls(
    litellm_module: Any, srv: ScriptedModelServer, provider: str
) -> None:
    srv.script(Reply(tool_calls=[ToolCall("run_code", {"code": "1+1"}, id="call_x")]))
    stream = await litellm_stream(litellm_module, srv, provider)
    chunks = [chunk async for chunk in stream]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].function.name == "run_code" and calls[0].id == "call_x"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"code": "1+1"}


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("label", list(STEPS_BY_LABEL))
async def test_litellm_surfaces_each_step_as_documented(
    litellm_module: Any, srv: ScriptedModelServer, provider: str, label: str
) -> None:
    srv.script(STEPS_BY_LABEL[label]())
    expected = LITELLM_SURFACES[(provider, label)]
    received: list[str] = []
    raised: BaseException | None = None
    try:
        stream = await litellm_stream(litellm_module, srv, provider, timeout=0.5, max_retries=0)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    except Exception as exc:  # noqa: BLE001 - the class is what we assert
        raised = exc
    assert (type(raised).__name__ if raised else None) == expected, repr(raised)
    if expected is not None:
        assert isinstance(raised, getattr(litellm_module.exceptions, expected))
    if label.startswith(("Garbled", "Truncated", "StreamError")):
        assert "".join(received).startswith("one "), "the first half reached the client"
        assert "four" not in "".join(received), "the stream must not look complete"
    if expected == "MidStreamFallbackError":
        assert raised.generated_content == "one two "  # type: ignore[union-attr]
        original = type(raised.original_exception).__name__  # type: ignore[union-attr]
        anthropic_event = provider == "anthropic" and label == "StreamError"
        assert original == ("InternalServerError" if anthropic_event else "APIConnectionError")
    assert len(srv.model_requests()) == 1


@pytest.mark.asyncio
async def test_litellm_openai_retries_consume_scripted_steps(
    litellm_module: Any, srv: ScriptedModelServer
) -> None:
    srv.script(Fault(429), Fault(500), Reply("finally"))
    stream = await litellm_stream(litellm_module, srv, "openai")
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "finally"
    assert [r.step.status for r in srv.model_requests()[:2]] == [429, 500]  # type: ignore[union-attr]
