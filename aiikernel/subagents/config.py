"""Configuration of sub-agents (``%config SubAgents.max_children = 8``)."""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable


class SubAgents(LoggingConfigurable):
    """Limits and start-up of the child kernels ``spawn_agent()`` starts."""

    max_children = Int(
        4,
        help="How many sub-agents of this kernel may be alive at once; spawn_agent() refuses "
        "more (stop one first). Each is a kernel process.",
    ).tag(config=True)
    max_depth = Int(
        2,
        help="How deep sub-agents may nest: 1 allows children only, 2 children of children, … "
        "A child inherits the limit of its parent.",
    ).tag(config=True)
    transport = Unicode(
        "ipc",
        help="ZMQ transport between this kernel and its children: 'ipc' (Unix sockets in a "
        "private directory) or 'tcp' (127.0.0.1).",
    ).tag(config=True)
    ready_timeout = Float(
        60.0, help="Seconds a child kernel may take to start before spawn_agent() gives up."
    ).tag(config=True)
    stop_timeout = Float(
        3.0,
        help="Seconds a child is given to shut down cleanly before it is killed.",
    ).tag(config=True)
    verify_clone = Bool(
        False,
        help="Hash every chunk a child maps when it clones the namespace (reads every page; "
        "the chunks were hashed when written, and sizes and ownership are always checked).",
    ).tag(config=True)
    update_interval = Float(
        0.15, help="Seconds between updates of a child's block in the cell output."
    ).tag(config=True)
    template = Bool(
        True,
        help="Fork children from a warm template process of this kernel that has imported "
        "ipykernel, aiikernel and template_modules once (started at the first spawn_agent(); "
        "it ends with the kernel). Off: every child is a new interpreter that imports "
        "everything itself. Any failure of the template falls back to that, logged.",
    ).tag(config=True)
    prewarm = Bool(
        False,
        help="Start the template before any spawn: when this kernel runs its first AI turn "
        "(while the model is still answering), or at once when set with %config. Then even "
        "the first spawn_agent() forks warm, for one idle process per kernel that has used AI "
        "(see docs/subagents.md for its memory) whether it spawns or not. Top-level kernels "
        "only: a sub-agent starts its template at its own first spawn.",
    ).tag(config=True)
    template_modules = List(
        Unicode(),
        ["numpy", "pandas"],
        help="Modules the template imports before forking (those not installed are skipped). "
        "A module that starts threads at import makes the template unsafe to fork: it "
        "refuses, and children start normally. Changing it starts a new template at the next "
        "spawn (the old one stays for the children it forked).",
    ).tag(config=True)
    template_timeout = Float(
        60.0, help="Seconds the template may take to start before children start normally."
    ).tag(config=True)


_ATTR = "_aiikernel_subagents_config"


def config_of(shell: Any) -> SubAgents:
    """The kernel's one :class:`SubAgents`, made and listed for ``%config`` the first time.

    It exists from the kernel's start (only traitlets are imported), so ``%config
    SubAgents.x = …`` takes effect even before the first spawn.
    """
    config = getattr(shell, _ATTR, None)
    if config is None:
        config = SubAgents(parent=shell)
        shell.configurables.append(config)
        setattr(shell, _ATTR, config)
    return config
