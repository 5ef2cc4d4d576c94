"""Parsers on real recorded transcripts: exact event sequences, and drift tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiikernel.aimax.transcripts import parser_for
from aiikernel.aimax.transcripts.events import AgentEvent, entry_dedupe_key
from aiikernel.aimax.transcripts.parse_claude import causal_order, parse_claude_entry
from aiikernel.aimax.transcripts.parse_codex import parse_codex_entry

FIXTURES = Path(__file__).parent / "fixtures"


def _entries(name: str) -> list[dict]:
    data = (FIXTURES / name).read_bytes()
    return [json.loads(line) for line in data.split(b"\n") if line.strip()]


def _conversation(parser, entries) -> list[tuple[str, str | None]]:
    """Only the kinds a chat view shows, with text."""
    shown = {"user", "assistant", "tool_call", "tool_result", "turn_end", "interrupted"}
    return [(e.kind, e.text) for entry in entries for e in parser(entry) if e.kind in shown]


def test_claude_fixture_exact_conversation() -> None:
    events = _conversation(parse_claude_entry, _entries("claude-session-text-interrupt-tool.jsonl"))
    assert events == [
        ("assistant", "PONG-ONE from fake server"),
        ("turn_end", None),
        ("user", "Hello fake model, please answer [[reply:PONG-ONE from fake server]]"),
        ("user", "Now stream slowly [[slow:40]]"),
        (
            "assistant",
            "FAKE-REPLY 2: you said: Now stream slowly [[slow:40]] chunk0 chunk1 chunk2 chunk3 chunk4 c",
        ),
        ("interrupted", "[Request interrupted by user]"),
        ("user", "Please create file [[bash:touch x]]"),
        ("tool_call", '{"command": "touch x", "description": "fake tool call"}'),
        ("tool_result", "(Bash completed with no output)"),
        ("assistant", "TOOL-DONE: (Bash completed with no output)"),
        ("turn_end", None),
    ]


def test_claude_fixture_every_line_is_kept_with_kinds() -> None:
    entries = _entries("claude-session-text-interrupt-tool.jsonl")
    kinds = [(e.kind, e.subtype) for entry in entries for e in parse_claude_entry(entry)]
    assert kinds[:5] == [
        ("system", "mode"),
        ("system", "permission-mode"),
        ("assistant", None),
        ("turn_end", "turn_duration"),
        ("system", "file-history-snapshot"),
    ]
    assert sum(1 for k, _ in kinds if k == "raw") == 0
    tool_call = next(
        e for entry in entries for e in parse_claude_entry(entry) if e.kind == "tool_call"
    )
    assert (tool_call.tool_name, tool_call.tool_call_id) == ("Bash", "toolu_fake0003458b8f1f")
    result = next(
        e for entry in entries for e in parse_claude_entry(entry) if e.kind == "tool_result"
    )
    assert (result.tool_call_id, result.is_error) == ("toolu_fake0003458b8f1f", False)


def test_claude_causal_order_puts_first_prompt_first() -> None:
    entries = _entries("claude-session-text-interrupt-tool.jsonl")
    ordered = causal_order(entries)
    assert sorted(map(json.dumps, ordered)) == sorted(map(json.dumps, entries))  # nothing lost
    convo = _conversation(parse_claude_entry, ordered)
    assert convo[0] == (
        "user",
        "Hello fake model, please answer [[reply:PONG-ONE from fake server]]",
    )
    assert convo[1] == ("assistant", "PONG-ONE from fake server")
    assert convo[2] == ("turn_end", None)


def test_codex_fixture_exact_conversation() -> None:
    events = _conversation(
        parse_codex_entry, _entries("codex-rollout-text-interrupt-tool-resume.jsonl")
    )
    tool_output = _entries("codex-rollout-text-interrupt-tool-resume.jsonl")[30]["payload"][
        "output"
    ]
    last = _entries("codex-rollout-text-interrupt-tool-resume.jsonl")[36]["payload"]
    assert events == [
        ("user", "hello codex [[reply:CX-ALPHA]]"),
        ("assistant", "CX-ALPHA"),
        ("turn_end", "CX-ALPHA"),
        ("user", "slow one [[slow:40]]"),
        ("interrupted", "interrupted"),
        ("user", "remove the flag [[bash:rm running.flag && echo removed-flag]]"),
        ("tool_call", '{"cmd": "rm running.flag && echo removed-flag"}'),
        ("tool_result", tool_output),
        ("assistant", last["last_agent_message"]),
        ("turn_end", last["last_agent_message"]),
        ("user", "after resume [[reply:CX-GAMMA]]"),
        ("assistant", "CX-GAMMA"),
        ("turn_end", "CX-GAMMA"),
    ]


def test_codex_harness_messages_are_system() -> None:
    entries = _entries("codex-rollout-text-interrupt-tool-resume.jsonl")
    subtypes = [
        e.subtype for entry in entries for e in parse_codex_entry(entry) if e.kind == "system"
    ]
    assert subtypes.count("harness") == 2  # <environment_context>, <turn_aborted>
    assert "message:developer" in subtypes
    assert "item_completed:AgentMessage" in subtypes


def test_codex_harness_detected_by_text_without_metadata() -> None:
    raw = {
        "timestamp": "t",
        "ordinal": 1,
        "type": "response_item",
        "payload": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "<environment_context>x"}],
        },
    }
    assert parse_codex_entry(raw)[0].kind == "system"
    raw["payload"]["content"][0]["text"] = "plain question"
    assert parse_codex_entry(raw)[0].kind == "user"


@pytest.mark.parametrize("parser", [parse_claude_entry, parse_codex_entry], ids=["claude", "codex"])
@pytest.mark.parametrize(
    "raw",
    [
        {"type": "brand-new-type", "x": 1},
        {"type": "user", "message": "not a dict"},
        {"type": "assistant", "message": {"content": [{"type": "future_block"}, 3]}},
        {"type": "response_item", "payload": {"type": "hologram"}},
        {"type": "event_msg", "payload": "oops"},
        {"type": "event_msg", "payload": {"type": "item_completed", "item": None}},
        {},
    ],
)
def test_parsers_never_raise_and_keep_the_raw_entry(parser, raw) -> None:
    events = parser(raw)
    assert events, "every entry must produce at least one event"
    for event in events:
        assert event.raw is raw
        AgentEvent.model_validate({**event.to_event(1, "s").model_dump()})


def test_unknown_types_are_raw_events() -> None:
    (claude,) = parse_claude_entry({"type": "brand-new-type"})
    (codex,) = parse_codex_entry({"type": "event_msg", "payload": {"type": "hologram"}})
    assert (claude.kind, claude.subtype) == ("raw", "brand-new-type")
    assert (codex.kind, codex.subtype) == ("raw", "event_msg:hologram")


def test_claude_interrupt_for_tool_use_and_string_content() -> None:
    raw = {
        "type": "user",
        "uuid": "u1",
        "message": {"content": "[Request interrupted by user for tool use]"},
    }
    assert parse_claude_entry(raw)[0].kind == "interrupted"
    meta = {"type": "user", "uuid": "u2", "isMeta": True, "message": {"content": "<caveat>"}}
    assert parse_claude_entry(meta)[0].kind == "system"


def test_dedupe_keys() -> None:
    assert entry_dedupe_key({"uuid": "abc"}) == "u:abc"
    assert entry_dedupe_key({"timestamp": "t", "ordinal": 3}) == "o:t/3"
    a = entry_dedupe_key({"type": "mode", "mode": "normal"})
    assert a == entry_dedupe_key({"mode": "normal", "type": "mode"})
    assert a != entry_dedupe_key({"type": "mode", "mode": "plan"})


def test_parser_for_names() -> None:
    assert parser_for("tmux-claude-code") is parse_claude_entry
    assert parser_for("tmux-codex") is parse_codex_entry
    with pytest.raises(ValueError, match="no transcript parser"):
        parser_for("gemini")
