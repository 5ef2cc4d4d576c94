"""Backend names → classes (``SUPPORTED_BACKENDS``), imported lazily."""

from __future__ import annotations

import importlib

_BACKENDS = {
    "tmux-claude-code": ("aiikernel.aimax.claude_code", "ClaudeCodeBackend"),
    "tmux-codex": ("aiikernel.aimax.codex", "CodexBackend"),
}
SUPPORTED_BACKENDS: tuple[str, ...] = tuple(_BACKENDS)


def backend_class(name: str):
    """The class registered for ``name``, or None."""
    target = _BACKENDS.get(name)
    if target is None:
        return None
    module, attr = target
    return getattr(importlib.import_module(module), attr)
