"""Recognise the side "title" requests Claude Code and Codex send, so scripts need not.

Both CLIs send, next to the real turn, a request asking for a short session title as JSON. A
scripted server answers those with ``{"title": ...}`` and does not consume a scripted step.

A request is a title request when it offers **no tools** and either

1. asks for structured output whose JSON schema has a ``title`` property — wherever the API
   puts the schema: Anthropic ``output_format`` / ``output_config.format``, OpenAI chat
   ``response_format.json_schema.schema``, Responses ``text.format.schema``; or
2. its system prompt / instructions ask to *generate/write/create/suggest ... a title* and
   mention JSON (older CLI versions asked for JSON in prose instead of a schema).

A request with tools is never a title request, so ordinary turns cannot be swallowed.
"""

from __future__ import annotations

import re
from typing import Any

_TITLE_ASK = re.compile(
    r"\b(generate|write|create|suggest|come up with)\b[^.\n]{0,80}\btitle\b", re.IGNORECASE
)
_JSON_WORD = re.compile(r"\bjson\b", re.IGNORECASE)


def is_title_request(body: Any) -> bool:
    """True for a CLI's "name this session" request (see the module docstring)."""
    if not isinstance(body, dict) or body.get("tools"):
        return False
    if any(_schema_has_title(schema) for schema in _output_schemas(body)):
        return True
    system = _system_text(body)
    return bool(_TITLE_ASK.search(system) and _JSON_WORD.search(system))


def _output_schemas(body: dict[str, Any]) -> list[Any]:
    """Every place an API lets a request ask for JSON-schema output."""
    output_config = body.get("output_config") or {}
    response_format = body.get("response_format") or {}
    text = body.get("text") or {}
    candidates = [
        body.get("output_format"),
        output_config.get("format") if isinstance(output_config, dict) else None,
        response_format.get("json_schema") if isinstance(response_format, dict) else None,
        text.get("format") if isinstance(text, dict) else None,
    ]
    schemas = []
    for candidate in candidates:
        if isinstance(candidate, dict):
            schemas.append(candidate.get("schema", candidate))
    return schemas


def _schema_has_title(schema: Any) -> bool:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return isinstance(properties, dict) and "title" in properties


def _system_text(body: dict[str, Any]) -> str:
    """System prompt text across APIs: Anthropic ``system``, Responses ``instructions``, and
    system/developer messages in ``messages`` or ``input``."""
    parts: list[str] = []
    for value in (body.get("system"), body.get("instructions")):
        parts.append(_flatten_text(value))
    for message in (body.get("messages") or []) + _list(body.get("input")):
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            parts.append(_flatten_text(message.get("content")))
    return "\n".join(part for part in parts if part)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _flatten_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_flatten_text(item) for item in value)
    if isinstance(value, dict):
        return _flatten_text(value.get("text") or value.get("content") or "")
    return ""
