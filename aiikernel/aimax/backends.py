"""Backend names → classes: the two built-in ones, plus any registered by other packages.

A package can add a backend (a :class:`~aiikernel.aimax.backend_base.TmuxAgentBackend` or any
:class:`~aiikernel.aimax.contract.AgentBackend` whose constructor takes the manager) with an
entry point in the ``aiikernel.aimax.backends`` group; it is looked up only when a name is not
built in, so the common path imports nothing extra.
"""

from __future__ import annotations

import importlib

ENTRY_POINT_GROUP = "aiikernel.aimax.backends"

_BUILTIN = {
    "tmux-claude-code": ("aiikernel.aimax.claude_code", "ClaudeCodeBackend"),
    "tmux-codex": ("aiikernel.aimax.codex", "CodexBackend"),
}
SUPPORTED_BACKENDS: tuple[str, ...] = tuple(_BUILTIN)


def backend_class(name: str):
    """The class registered for ``name``, or None."""
    target = _BUILTIN.get(name)
    if target is not None:
        module, attr = target
        return getattr(importlib.import_module(module), attr)
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.load()
    return None


def available_backends() -> list[str]:
    """Built-in names followed by those other packages registered."""
    from importlib.metadata import entry_points

    extra = [e.name for e in entry_points(group=ENTRY_POINT_GROUP) if e.name not in _BUILTIN]
    return [*SUPPORTED_BACKENDS, *sorted(extra)]
