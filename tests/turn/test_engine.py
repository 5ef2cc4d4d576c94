"""The turn loop with a scripted in-process client and runner (fast; real-kernel tests cover the rest)."""

from __future__ import annotations

from aiikernel.lm.errors import RateLimited
from aiikernel.lm.litellm_client import TextChunk, UsageChunk
from aiikernel.turn.engine import TurnEngine, feedback_message, merge_roles, truncate
from aiikernel.turn.runner import Outcome


class ScriptedClient:
    def __init__(self, *replies):
        self.replies = list(replies)
        self.requests = []

    def stream(self, request):
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        yield from (TextChunk(part) for part in reply.split("|"))
        yield UsageChunk(10, 5, 0.001)


class RecordingRunner:
    def __init__(self, namespace):
        self.namespace = namespace
        self.ran = []

    def run(self, code):
        self.ran.append(code)
        try:
            exec(code, self.namespace)
        except Exception as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}")
        return Outcome(stdout="ran\n")


def make(client, namespace=None):
    ns = {} if namespace is None else namespace
    conversation = []
    engine = TurnEngine(
        client=client, runner=RecordingRunner(ns), conversation=conversation, namespace=ns
    )
    return engine, conversation, ns


def kinds(events):
    return [e.kind for e in events]


def test_loop_runs_fences_feeds_back_and_stops_when_answered():
    client = ScriptedClient("Do it|\n```py\nx = 2\n```", "x is 2")
    engine, conversation, ns = make(client)
    events = list(engine.run("go", model="m"))
    assert kinds(events) == [
        "turn_started",
        "step_started",
        "text_delta",
        "text_delta",
        "usage",
        "reply_done",
        "code_started",
        "code_finished",
        "step_started",
        "text_delta",
        "usage",
        "reply_done",
        "done",
    ]
    assert events[-1].reason == "answered" and events[-1].steps == 2
    assert ns["x"] == 2
    assert [m["role"] for m in conversation] == ["user", "assistant", "user", "assistant"]
    assert "ran" in conversation[2]["content"]
    assert "- x: int = 2" in client.requests[1].messages[0]["content"]


def test_model_error_becomes_turn_failed_and_drops_unanswered_prompt():
    client = ScriptedClient(RateLimited("Rate limited (429)"))
    engine, conversation, _ = make(client)
    events = list(engine.run("go", model="m"))
    assert kinds(events)[-2:] == ["error", "done"]
    assert events[-2].category == "rate_limited"
    assert conversation == []


def test_unexpected_exception_is_contained():
    client = ScriptedClient(ValueError("weird api_key=sk-abcdefghijkl"))
    engine, _, _ = make(client)
    events = list(engine.run("go", model="m"))
    assert events[-2].category == "internal"
    assert "sk-abcdefghijkl" not in events[-2].message


def test_attachments_make_multimodal_content():
    client = ScriptedClient("ok")
    engine, conversation, _ = make(client)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    list(engine.run("look", model="m", attachments=[image]))
    assert conversation[0]["content"] == [{"type": "text", "text": "look"}, image]


def test_step_limit():
    client = ScriptedClient(*["```py\ny = 1\n```"] * 3)
    engine, _, _ = make(client)
    events = list(engine.run("go", model="m", max_steps=3))
    assert events[-1].reason == "max_steps" and events[-1].steps == 3


def test_helpers():
    assert truncate("a" * 100, 20).count("characters cut") == 1
    assert merge_roles([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]) == [
        {"role": "user", "content": "a\n\nb"}
    ]
    assert "(no output)" in feedback_message([Outcome()], 100)
