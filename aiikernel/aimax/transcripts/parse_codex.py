"""Codex rollout lines → :class:`ParsedEvent` drafts (verified with codex-cli 0.169.0).

Every line is ``{timestamp, ordinal, type, payload}``. The conversation itself is
taken from ``response_item`` entries, the format every Codex version has written:
``message`` (role ``user``/``assistant``; ``developer`` and harness-injected user
messages such as ``<environment_context>`` become ``system``), ``function_call`` /
``custom_tool_call`` → ``tool_call``, ``function_call_output`` → ``tool_result``,
``reasoning`` → ``system``. Turn boundaries come from ``event_msg``:
``task_complete`` → ``turn_end`` (text = ``last_agent_message``),
``turn_aborted`` → ``interrupted``. The ``event_msg`` mirrors of the same
conversation (``item_completed`` with UserMessage/AgentMessage/CommandExecution,
older ``user_message``/``agent_message``) become ``system`` events with their
text, so a consumer that shows user/assistant kinds sees each message once.
Unknown entry or payload types become ``raw``. Interrupted partial text is not
saved by Codex, so there is nothing to emit for it.
"""

from __future__ import annotations

from typing import Any

from .events import (
    KIND_ASSISTANT,
    KIND_INTERRUPTED,
    KIND_RAW,
    KIND_SYSTEM,
    KIND_TOOL_CALL,
    KIND_TOOL_RESULT,
    KIND_TURN_END,
    KIND_USER,
    ParsedEvent,
    text_of,
)

SYSTEM_ENTRY_TYPES = frozenset(
    {"session_meta", "turn_context", "world_state", "token_usage_record", "compacted"}
)
SYSTEM_EVENT_MSGS = frozenset(
    {
        "task_started",
        "token_count",
        "thread_settings_applied",
        "item_completed",
        "item_started",
        "user_message",
        "agent_message",
        "agent_reasoning",
        "exec_command_begin",
        "exec_command_end",
        "error",
        "warning",
        "context_compacted",
        "thread_name_updated",
    }
)
HARNESS_PREFIXES = (
    "<environment_context>",
    "<turn_aborted>",
    "<user_instructions>",
    "<permissions instructions>",
    "<skills_instructions>",
    "<collaboration_mode>",
    "<user_shell_command>",
    "# AGENTS.md instructions",
)
_TOOL_CALLS = ("function_call", "custom_tool_call", "local_shell_call", "web_search_call")
_TOOL_OUTPUTS = ("function_call_output", "custom_tool_call_output")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_codex_entry(raw: dict[str, Any]) -> list[ParsedEvent]:
    """Normalize one Codex rollout entry; never raises, never returns nothing."""
    if not isinstance(raw, dict):
        return [ParsedEvent(kind=KIND_RAW, raw={"value": raw})]
    etype = _str(raw.get("type"))
    payload = raw.get("payload") if isinstance(raw.get("payload"), dict) else {}
    ptype = _str(payload.get("type"))
    ts = _str(raw.get("timestamp"))
    try:
        if etype == "response_item":
            event = _response_item(raw, payload, ptype, ts)
        elif etype == "event_msg":
            event = _event_msg(raw, payload, ptype, ts)
        elif etype in SYSTEM_ENTRY_TYPES:
            uuid = _str(payload.get("id")) or _str(payload.get("turn_id"))
            event = ParsedEvent(kind=KIND_SYSTEM, subtype=etype, raw=raw, ts=ts, uuid=uuid)
        else:
            event = None
    except (AttributeError, TypeError, ValueError):  # a drifted shape: keep it, unparsed
        event = None
    if event is None:
        subtype = f"{etype}:{ptype}" if etype and ptype else etype
        event = ParsedEvent(kind=KIND_RAW, subtype=subtype, raw=raw, ts=ts)
    return [event]


def _is_harness_message(payload: dict[str, Any], text: str) -> bool:
    """True for user-role messages Codex injected itself (context, abort notes)."""
    meta = payload.get("internal_chat_message_metadata_passthrough")
    items = meta.get("content_item_metadata") if isinstance(meta, dict) else None
    provenances = [
        (item.get("provenance") or {}).get("type")
        for item in items or []
        if isinstance(item, dict) and isinstance(item.get("provenance"), dict)
    ]
    if provenances:
        return "user" not in provenances
    return text.lstrip().startswith(HARNESS_PREFIXES)


def _response_item(raw, payload, ptype, ts) -> ParsedEvent | None:
    uuid = _str(payload.get("id"))
    if ptype == "message":
        role = payload.get("role")
        text = text_of(payload.get("content")) or ""
        if role == "assistant":
            return ParsedEvent(kind=KIND_ASSISTANT, text=text, raw=raw, ts=ts, uuid=uuid)
        if role == "user" and not _is_harness_message(payload, text):
            return ParsedEvent(kind=KIND_USER, text=text, raw=raw, ts=ts, uuid=uuid)
        subtype = "harness" if role == "user" else f"message:{role}"
        return ParsedEvent(kind=KIND_SYSTEM, subtype=subtype, text=text, raw=raw, ts=ts, uuid=uuid)
    if ptype in _TOOL_CALLS:
        args = payload.get("arguments", payload.get("input", payload.get("action")))
        return ParsedEvent(
            kind=KIND_TOOL_CALL,
            subtype=ptype,
            text=args if isinstance(args, str) else text_of(args),
            tool_name=_str(payload.get("name")) or ptype,
            tool_call_id=_str(payload.get("call_id")),
            raw=raw,
            ts=ts,
            uuid=uuid,
        )
    if ptype in _TOOL_OUTPUTS:
        output = payload.get("output")
        is_error = None
        if isinstance(output, dict):
            success = output.get("success")
            is_error = (success is False) if isinstance(success, bool) else None
        return ParsedEvent(
            kind=KIND_TOOL_RESULT,
            subtype=ptype,
            text=text_of(output),
            tool_call_id=_str(payload.get("call_id")),
            is_error=is_error,
            raw=raw,
            ts=ts,
            uuid=uuid,
        )
    if ptype == "reasoning":
        text = text_of(payload.get("summary")) or text_of(payload.get("content"))
        return ParsedEvent(
            kind=KIND_SYSTEM, subtype="reasoning", text=text, raw=raw, ts=ts, uuid=uuid
        )
    return None


def _event_msg(raw, payload, ptype, ts) -> ParsedEvent | None:
    uuid = _str(payload.get("turn_id"))
    if ptype == "task_complete":
        text = _str(payload.get("last_agent_message"))
        return ParsedEvent(kind=KIND_TURN_END, subtype=ptype, text=text, raw=raw, ts=ts, uuid=uuid)
    if ptype == "turn_aborted":
        text = _str(payload.get("reason"))
        return ParsedEvent(
            kind=KIND_INTERRUPTED, subtype=ptype, text=text, raw=raw, ts=ts, uuid=uuid
        )
    if ptype == "item_completed" or ptype == "item_started":
        item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
        itype = _str(item.get("type"))
        text = text_of(item.get("content"))
        if text is None and itype == "CommandExecution":
            text = _str(item.get("aggregated_output"))
        return ParsedEvent(
            kind=KIND_SYSTEM,
            subtype=f"{ptype}:{itype}" if itype else ptype,
            text=text,
            raw=raw,
            ts=ts,
            uuid=_str(item.get("id")) or uuid,
        )
    if ptype in SYSTEM_EVENT_MSGS:
        text = _str(payload.get("message"))
        return ParsedEvent(kind=KIND_SYSTEM, subtype=ptype, text=text, raw=raw, ts=ts, uuid=uuid)
    return None
