"""Sub-agents: ``spawn_agent()`` starts a child kernel from a clone of this namespace.

In a kernel's namespace (hidden from checkpoints and from the model's namespace summary)::

    child = spawn_agent("fit a model to df and report the R²", names=["df"])
    child.result            # waits for the first turn's final reply
    child.ask("now try a log transform")   # another turn, same child, same conversation
    fit = child.get("fit")  # bring a value back (the parent is never changed implicitly)
    gather(a, b)            # wait for several children that run in parallel
    agents()                # every sub-agent below this kernel

Importing this package is cheap; the kernel manager, pydantic and the rest load at the first
spawn. See docs/subagents.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Kept in sync with :data:`aiikernel.subagents.panel.TARGET_NAME` (a test checks).
PANEL_TARGET = "aiikernel.subagents"

PROMPT_NOTE = """
Sub-agents: `spawn_agent(task, names=None, model=None, max_steps=None)` starts a sub-agent: a \
separate Python process that starts from a clone of this namespace (all of it, or only `names`) \
and works on `task` in the background. It returns a handle at once: `child.result` waits for \
its final answer; `child.ask("...")` gives it another task (same process, same conversation); \
`child.get("name")` brings back one of its variables; `gather(a, b)` waits for several. Its \
changes never reach this namespace unless you bring them back. Use sub-agents for independent \
pieces of work that can run in parallel; at most {max_children} at once.
"""


def _registry(shell: Any) -> Any:
    from .registry import AgentRegistry

    return AgentRegistry.for_shell(shell)


def install(shell: Any) -> None:
    """Put ``spawn_agent``, ``agents`` and ``gather`` into a kernel's namespace."""
    import os

    from .protocol import ENV_VAR

    if os.environ.get(ENV_VAR):
        from .child import agent_env, die_with_parent, serve
        from .protocol import SERVE_NAME

        env = agent_env()
        if env is not None:
            die_with_parent(env)
            shell.user_ns[SERVE_NAME] = serve
            shell.user_ns_hidden[SERVE_NAME] = serve

    def spawn_agent(
        task: str,
        *,
        names: list[str] | None = None,
        model: str | None = None,
        max_steps: int | None = None,
    ) -> Any:
        """Start a sub-agent on ``task`` from a clone of this namespace (or of ``names``).

        Returns its handle at once; the task runs in the background (``.result`` waits).
        """
        return _registry(shell).spawn(task, names=names, model=model, max_steps=max_steps)

    def agents() -> Any:
        """Every sub-agent below this kernel (children, their children …) with its state."""
        from .table import AgentTable

        return AgentTable(_registry(shell).rows())

    from .config import config_of

    def on_prewarm(change: dict[str, Any]) -> None:
        if change["new"]:
            _registry(shell).prewarm()

    config_of(shell).observe(on_prewarm, names=["prewarm"])
    names = {
        "spawn_agent": spawn_agent,
        "agents": agents,
        "gather": gather,
        "gather_async": gather_async,
    }
    shell.user_ns.update(names)
    shell.user_ns_hidden.update(names)
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is not None:  # the chat panel's list (pydantic is imported when it opens)

        def open_panel(comm: Any, open_msg: dict[str, Any]) -> None:
            from .panel import open_panel

            open_panel(shell, _registry(shell), comm, open_msg)

        manager.register_target(PANEL_TARGET, open_panel)


def gather(*children: Any, return_exceptions: bool = False, timeout: float | None = None) -> Any:
    """Wait for the current turn of every child; their final replies, in order.

    Children run in parallel whatever the order. A failed child raises its error (or, with
    ``return_exceptions=True``, stands in the list as the exception). ``await gather_async(…)``
    is the awaitable twin.
    """
    from .proxy import wait

    results: list[Any] = []
    for child in children:
        try:
            results.append(None if child._current is None else wait(child._current, timeout))
        except Exception as exc:
            if not return_exceptions:
                raise
            results.append(exc)
    return results


async def gather_async(*children: Any, return_exceptions: bool = False) -> list[Any]:
    """``await gather_async(a, b)``: like :func:`gather`, without blocking the event loop."""
    return list(await asyncio.gather(*children, return_exceptions=return_exceptions))


def prompt_note(shell: Any) -> str:
    """What the model is told about sub-agents ("" when this kernel may not spawn more).

    Called as every AI turn starts, so it is also where ``SubAgents.prewarm`` starts the
    template: it warms up while the model answers, and a spawn in that turn forks warm.
    """
    import os

    from .config import config_of
    from .protocol import ENV_VAR

    config = config_of(shell)
    registry = getattr(shell, "_aiikernel_agents", None)
    if registry is None and (config.prewarm or os.environ.get(ENV_VAR)):
        registry = _registry(shell)  # a child's limits come with its registry
    if registry is not None and registry.depth + 1 > config.max_depth:
        return ""
    if registry is not None and config.prewarm:
        registry.prewarm()
    return PROMPT_NOTE.format(max_children=config.max_children)
