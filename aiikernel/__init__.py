"""aiikernel: the aiipython kernel, aimax agent sessions and their JupyterLab panel.

Importing this package is cheap: the kernel, the turn engine, litellm and the
server extension are imported only when used.
"""

from __future__ import annotations

from typing import Any

from .version import __version__

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(shell: Any) -> None:
    """`%load_ext aiikernel`: the `%%ai` magic and the command magics, in any IPython."""
    from .magics import register
    from .session import AiSession

    register(shell)
    AiSession.for_shell(shell)
    if getattr(shell, "kernel", None) is not None:
        from .chat.target import register_chat_target

        register_chat_target(shell)
        from .subagents import install, prompt_note

        install(shell)
        AiSession.for_shell(shell).prompt_notes.append(lambda: prompt_note(shell))


def unload_ipython_extension(shell: Any) -> None:
    """Nothing to tear down: magics stay until the shell ends, like most extensions."""


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "aiikernel"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import AimaxExtension

    return [{"module": "aiikernel.server", "app": AimaxExtension}]
