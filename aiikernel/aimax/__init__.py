"""aimax: Claude Code and Codex sessions in tmux, driven from Python (no Jupyter here).

``aimax.get("tmux-claude-code")`` returns a backend implementing the seed's ``AgentBackend``
contract; :class:`AimaxManager` owns everything a process needs (config, tmux server, registry,
backends) — the server extension holds one. Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import SUPPORTED_BACKENDS

if TYPE_CHECKING:
    from .config import AimaxConfig
    from .contract import AgentBackend
    from .manager import AimaxManager

__all__ = [
    "SUPPORTED_BACKENDS",
    "AimaxConfig",
    "AimaxManager",
    "get",
    "manager_for",
    "set_recorder",
]

_managers: dict[Any, AimaxManager] = {}  # per-config cache behind get(); see manager_for


def manager_for(config: AimaxConfig | None = None) -> AimaxManager:
    """The cached manager for ``config`` (default: the environment's config)."""
    from .config import AimaxConfig
    from .manager import AimaxManager

    config = config or AimaxConfig.from_env()
    if config not in _managers:
        _managers[config] = AimaxManager(config)
    return _managers[config]


def get(name: str, config: AimaxConfig | None = None) -> AgentBackend:
    """The seed's factory: the backend called ``name`` (see ``SUPPORTED_BACKENDS``)."""
    return manager_for(config).backend(name)


def set_recorder(recorder, config: AimaxConfig | None = None) -> None:
    """The seed's prompt-paste analytics hook, on the manager behind :func:`get`."""
    manager_for(config).set_recorder(recorder)


def __getattr__(name: str) -> Any:
    if name == "AimaxManager":
        from .manager import AimaxManager

        return AimaxManager
    if name == "AimaxConfig":
        from .config import AimaxConfig

        return AimaxConfig
    raise AttributeError(name)
