"""Which model a turn uses, and which provider a model string belongs to."""

from __future__ import annotations

import os

DEFAULT_MODEL = "gemini/gemini-3-flash-preview"


def resolve_model(explicit: str | None = None) -> str:
    """explicit (``-m`` / chat selection) > remembered ``last_model`` > ``AIIPYTHON_MODEL`` > default."""
    if explicit:
        return explicit.strip()
    remembered = _remembered_model()
    if remembered:
        return remembered
    return os.environ.get("AIIPYTHON_MODEL", "").strip() or DEFAULT_MODEL


def _remembered_model() -> str | None:
    try:
        from .settings import load_settings
    except ImportError:
        return None
    return load_settings().get("last_model") or None


def provider_of(model: str) -> str:
    """The provider prefix of a litellm model string (``openai/gpt-4o`` → ``openai``).

    Bare names are guessed the way litellm does for the common families.
    """
    if "/" in model:
        return model.split("/", 1)[0].lower()
    name = model.lower()
    if name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt", "text-embedding")):
        return "openai"
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith("gemini"):
        return "gemini"
    return "openai"
