"""Claude Code transcript lines → :class:`ParsedEvent` drafts (verified with Claude Code 2.1.197).

Each line is a JSON object with a ``type``. ``user`` and ``assistant`` lines hold
an Anthropic ``message`` whose ``content`` is a string or a list of blocks
(``text``, ``thinking``, ``tool_use``, ``tool_result``, ``image``); one event is
emitted per meaningful block. ``system`` with ``subtype: turn_duration`` ends a
turn (it is absent for interrupted turns); a user text starting with
``[Request interrupted by user`` marks an interrupt. Bookkeeping lines (``mode``,
``permission-mode``, ``file-history-snapshot``, ``attachment``, ``ai-title``,
``last-prompt``, …) become ``system`` events; unknown types become ``raw``.

Order: events follow *file order*, which is not always causal order (Claude may
write a turn's assistant line before an earlier user line reaches the file).
Each event keeps ``raw["parentUuid"]``; :func:`causal_order` rebuilds the
conversation tree order for displays that need it. The log itself never
reorders, so sentinels stay stable.
"""

from __future__ import annotations

import json
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

INTERRUPT_PREFIX = "[Request interrupted by user"

BOOKKEEPING_TYPES = frozenset(
    {
        "mode",
        "permission-mode",
        "file-history-snapshot",
        "attachment",
        "ai-title",
        "custom-title",
        "last-prompt",
        "summary",
        "queue-operation",
        "progress",
    }
)
_BOOKKEEPING_TEXT_KEYS = ("aiTitle", "customTitle", "summary", "lastPrompt", "content")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_claude_entry(raw: dict[str, Any]) -> list[ParsedEvent]:
    """Normalize one Claude Code transcript entry; never raises, never returns nothing."""
    if not isinstance(raw, dict):
        return [ParsedEvent(kind=KIND_RAW, raw={"value": raw})]
    etype = raw.get("type")
    base = {"raw": raw, "ts": _str(raw.get("timestamp")), "uuid": _str(raw.get("uuid"))}
    try:
        if etype == "user":
            events = _user(raw, base)
        elif etype == "assistant":
            events = _assistant(raw, base)
        elif etype == "system":
            events = _system(raw, base)
        elif etype in BOOKKEEPING_TYPES:
            text = next(
                (_str(raw.get(k)) for k in _BOOKKEEPING_TEXT_KEYS if _str(raw.get(k))), None
            )
            events = [ParsedEvent(kind=KIND_SYSTEM, subtype=etype, text=text, **base)]
        else:
            events = []
    except (AttributeError, TypeError, ValueError):  # a drifted shape: keep it, unparsed
        events = []
    return events or [ParsedEvent(kind=KIND_RAW, subtype=_str(etype), **base)]


def _message_content(raw: dict[str, Any]) -> Any:
    message = raw.get("message")
    return message.get("content") if isinstance(message, dict) else None


def _user_text_event(text: str, raw: dict[str, Any], base: dict) -> ParsedEvent:
    if text.startswith(INTERRUPT_PREFIX):
        return ParsedEvent(kind=KIND_INTERRUPTED, text=text, subtype="interrupt", **base)
    if raw.get("isMeta") or raw.get("isCompactSummary"):
        return ParsedEvent(kind=KIND_SYSTEM, text=text, subtype="meta", **base)
    return ParsedEvent(kind=KIND_USER, text=text, **base)


def _user(raw: dict[str, Any], base: dict) -> list[ParsedEvent]:
    content = _message_content(raw)
    if isinstance(content, str):
        return [_user_text_event(content, raw, base)]
    events: list[ParsedEvent] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text":
            events.append(_user_text_event(_str(block.get("text")) or "", raw, base))
        elif btype == "tool_result":
            events.append(
                ParsedEvent(
                    kind=KIND_TOOL_RESULT,
                    text=text_of(block.get("content")),
                    tool_call_id=_str(block.get("tool_use_id")),
                    is_error=bool(block.get("is_error", False)),
                    **base,
                )
            )
        elif btype == "image":
            events.append(ParsedEvent(kind=KIND_USER, subtype="image", **base))
        else:
            events.append(ParsedEvent(kind=KIND_RAW, subtype=f"user:{btype}", **base))
    return events


def _assistant(raw: dict[str, Any], base: dict) -> list[ParsedEvent]:
    content = _message_content(raw)
    subtype = "api_error" if raw.get("isApiErrorMessage") else None
    if isinstance(content, str):
        return [ParsedEvent(kind=KIND_ASSISTANT, text=content, subtype=subtype, **base)]
    events: list[ParsedEvent] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text":
            events.append(
                ParsedEvent(
                    kind=KIND_ASSISTANT, text=_str(block.get("text")), subtype=subtype, **base
                )
            )
        elif btype == "tool_use":
            events.append(
                ParsedEvent(
                    kind=KIND_TOOL_CALL,
                    text=json.dumps(block.get("input"), ensure_ascii=False),
                    tool_name=_str(block.get("name")),
                    tool_call_id=_str(block.get("id")),
                    **base,
                )
            )
        elif btype in ("thinking", "redacted_thinking"):
            events.append(
                ParsedEvent(
                    kind=KIND_SYSTEM, text=_str(block.get("thinking")), subtype=btype, **base
                )
            )
        else:
            events.append(ParsedEvent(kind=KIND_RAW, subtype=f"assistant:{btype}", **base))
    return events


def _system(raw: dict[str, Any], base: dict) -> list[ParsedEvent]:
    subtype = _str(raw.get("subtype"))
    if subtype == "turn_duration":
        return [ParsedEvent(kind=KIND_TURN_END, subtype=subtype, **base)]
    return [ParsedEvent(kind=KIND_SYSTEM, subtype=subtype, text=_str(raw.get("content")), **base)]


def causal_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reorder Claude entries along the ``parentUuid`` tree (depth first, siblings in file order).

    Entries without a ``uuid`` (bookkeeping) keep their place after the entry
    that preceded them in the file. A display helper: the event log keeps file order.
    """
    index: dict[str, int] = {}
    for i, entry in enumerate(entries):
        uuid = entry.get("uuid") if isinstance(entry, dict) else None
        if isinstance(uuid, str):
            index[uuid] = i
    children: dict[int | None, list[int]] = {}
    trailing: dict[int | None, list[int]] = {}
    last_with_id: int | None = None
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("uuid"), str):
            trailing.setdefault(last_with_id, []).append(i)
            continue
        parent = index.get(entry.get("parentUuid"))  # unknown parent → root
        children.setdefault(parent if parent != i else None, []).append(i)
        last_with_id = i
    order: list[int] = list(trailing.get(None, []))
    stack = list(reversed(children.get(None, [])))
    seen: set[int] = set()
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        order.append(i)
        order.extend(trailing.get(i, []))
        stack.extend(reversed(children.get(i, [])))
    order.extend(i for i in index.values() if i not in seen)  # cycles: keep, never drop
    return [entries[i] for i in order]
