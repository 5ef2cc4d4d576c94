"""The warm template: a single-threaded process that forks sub-agent kernels.

A new kernel process spends most of its start importing (the interpreter, ipykernel, IPython,
this package, NumPy and pandas to rebuild the cloned objects). The template does those imports
once, per parent kernel, and then forks each child on request; the child becomes the
aiipython kernel of the connection file the parent's supervisor prepared.

Forking is safe only from a process with one thread and no ZMQ context, so the template
imports with single-threaded BLAS (the supervisor sets ``OPENBLAS_NUM_THREADS=1`` and friends
in its environment: ``warm_start.FORK_SAFE_ENV``), checks the thread count before every fork and refuses otherwise; the
child then gives OpenBLAS back the threads its own environment asks for. Its channel to the
parent is a Unix socket in the supervisor's private (0700) directory; one connection per
child carries a :class:`~.protocol.ForkRequest` and the replies (pydantic models, one JSON
line each). The template dies with its parent kernel (``PR_SET_PDEATHSIG``; a poll of the
parent pid elsewhere) and each child with the template, so nothing outlives the parent.

Run by the supervisor as ``python -m aiikernel.subagents.template SOCKET PARENT_PID MODULE…``.
"""

from __future__ import annotations

import os
import signal
import sys

#: Imported before any fork: what a child kernel imports while it starts (ipykernel's
#: debugger, the turn path, the chat hub, the checkpoint store …), so that a forked child
#: only initialises. The configured extras (``SubAgents.template_modules``) follow.
BASE_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython",
    "IPython.extensions.storemagic",
    "aiikernel.__main__",
    "aiikernel.kernel",
    "aiikernel.session",
    "aiikernel.builtin_commands",
    "aiikernel.magics",
    "aiikernel.cell_output",
    "aiikernel.chat.history",
    "aiikernel.chat.hub",
    "aiikernel.turn.engine",
    "aiikernel.turn.runner",
    "aiikernel.lm.litellm_client",
    "aiikernel.gateway.client",
    "aiikernel.checkpoints.store",
    "aiikernel.subagents.child",
    "aiikernel.subagents.registry",
    "aiikernel.subagents.proxy",
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    socket_path, parent_pid, modules = args[0], int(args[1]), args[2:]
    # ipykernel reads JPY_PARENT_PID when it is imported: the children's parent is this process.
    os.environ["JPY_PARENT_PID"] = str(os.getpid())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the parent kernel
    from .child import die_with

    die_with(parent_pid)
    _import_all(modules)
    from .template_loop import TemplateLoop, fork_hazard

    hazard = fork_hazard()
    if hazard is not None:
        sys.stderr.write(f"aiikernel template: will not fork: {hazard}\n")
        sys.exit(3)

    TemplateLoop(socket_path, parent_pid).run()


def _import_all(modules: list[str]) -> None:
    import importlib

    for name in (*BASE_MODULES, *modules):
        try:
            importlib.import_module(name)
        except ImportError:
            if name in BASE_MODULES:
                raise


if __name__ == "__main__":
    main()
