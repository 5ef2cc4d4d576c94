"""Typed options of the backend API, also accepted as the seed's camelCase dicts.

``CreateOptions.model_validate({"sessionId": "a", "cwd": "/x", "initialPrompt": "hi"})`` and
``CreateOptions(session_id="a", cwd="/x", initial_prompt="hi")`` are the same thing. Unknown keys
are rejected so a typo never silently drops an option.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from .errors import InvalidOptions

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_session_id(value: str) -> str:
    """Session ids become tmux window names and directory names: keep them boring."""
    if not isinstance(value, str) or not SESSION_ID_RE.fullmatch(value):
        raise ValueError(
            f"invalid session id {value!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


class _Options(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    session_id: str

    @field_validator("session_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_session_id(value)


def check_prompt(value: str | None) -> str | None:
    """Prompts are pasted into a terminal: control characters (ESC could end the bracketed
    paste early and type keys; Ctrl-C, NUL …) are refused. Tab and line breaks are fine."""
    if value is None:
        return None
    for i, ch in enumerate(value):
        code = ord(ch)
        if (code < 32 or 0x7F <= code < 0xA0) and ch not in "\t\n\r":
            raise ValueError(
                f"prompt contains the control character U+{code:04X} at position {i}; remove it"
            )
    return value


class CreateOptions(_Options):
    """Options of ``create_new_session``."""

    cwd: Path
    initial_prompt: str | None = None
    flag_root: Path | None = None
    model: str | None = None
    use_proxy: bool | None = None
    display_name: str | None = None
    agent_session_id: str | None = None
    worktree: bool = False
    worktree_within: Path | None = None
    """With ``worktree``: refuse a repository that starts above this directory (a server's root)."""
    env: dict[str, str] | None = None
    """Environment for the agent; defaults to the calling process's environment."""

    @field_validator("initial_prompt")
    @classmethod
    def _safe_prompt(cls, value: str | None) -> str | None:
        return check_prompt(value)


class SendOptions(_Options):
    """Options of the two send calls (queue / interrupt-and-send)."""

    prompt: str

    @field_validator("prompt")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt is empty")
        return check_prompt(value)


class StreamOptions(BaseModel):
    """Options of ``get_agent_raw_thought_stream``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    from_sentinel: int | None = None
    """Replay events after this sentinel first; ``None`` = only new events."""


def parse_options(model: type[BaseModel], value: Any) -> Any:
    """Accept a model instance, a camelCase dict or a snake_case dict; raise InvalidOptions."""
    if isinstance(value, model):
        return value
    if value is None:
        value = {}
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidOptions(f"invalid options: {problems}") from None
