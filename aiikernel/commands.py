"""The one command layer behind `/slash` commands, `%ai /command` and the `%name` magics.

Every front (a `%%ai` cell, the chat panel's comm, a plain IPython shell) calls
:func:`run_command`, so a command behaves the same everywhere.  Commands are plain
functions registered with :func:`command`; they receive the kernel's
:class:`~aiikernel.session.AiSession` and the argument string, and return a
:class:`CommandResult` (Markdown for people, optional ``data`` for the UI).

A user mistake is a :class:`CommandError`, shown as its message; any other
exception is a bug, reported without killing the kernel.
"""

from __future__ import annotations

import importlib
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Modules that register commands when imported.  They must import nothing heavy
#: at module level: they are loaded when the extension loads.
COMMAND_MODULES: tuple[str, ...] = (
    "aiikernel.builtin_commands",
    "aiikernel.checkpoints.commands",
    "aiikernel.lm.commands",
    "aiikernel.lm.auth_commands",
)


class CommandError(Exception):
    """A user-facing problem with a command; the message is shown as-is."""


@dataclass
class CommandResult:
    """What a command hands back to whichever front ran it."""

    markdown: str
    ok: bool = True
    data: dict[str, Any] | None = None


#: A command: (session, argument string) -> result.  The registry only passes the session
#: through, so it sits below ``aiikernel.session``; each command module says what it uses.
Handler = Callable[[Any, str], CommandResult]


@dataclass(frozen=True)
class Command:
    """A registered command: its handler plus the text `/help` shows."""

    name: str
    handler: Handler
    usage: str
    help: str
    magic: bool = True
    aliases: tuple[str, ...] = field(default=())


_REGISTRY: dict[str, Command] = {}
_loaded = False


def command(
    name: str, *, usage: str, help: str, magic: bool = True, aliases: tuple[str, ...] = ()
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``/name`` (and ``%name`` when ``magic`` is true)."""

    def decorator(handler: Handler) -> Handler:
        cmd = Command(name, handler, usage, help, magic, tuple(aliases))
        for key in (name, *aliases):
            _REGISTRY[key] = cmd
        return handler

    return decorator


def load_command_modules() -> None:
    """Import every module in :data:`COMMAND_MODULES` once; missing optional ones are skipped."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for modname in COMMAND_MODULES:
        try:
            importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name is None or not modname.startswith(exc.name):
                raise
            log.debug("command module %s not available", modname)


def all_commands() -> list[Command]:
    """Every registered command once, sorted by name."""
    load_command_modules()
    unique = {cmd.name: cmd for cmd in _REGISTRY.values()}
    return [unique[name] for name in sorted(unique)]


def get_command(name: str) -> Command | None:
    """The command called ``name`` (without the slash), or None."""
    load_command_modules()
    return _REGISTRY.get(name)


def split_command(line: str) -> tuple[str, str]:
    """Split ``"/restore 0003"`` into ``("restore", "0003")``; the slash is optional."""
    text = line.strip()
    if text.startswith("/"):
        text = text[1:]
    name, _, args = text.partition(" ")
    return name.strip().lower(), args.strip()


def split_args(args: str) -> list[str]:
    """Shell-like splitting of an argument string, with a clear error for bad quoting."""
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise CommandError(f"could not parse arguments: {exc}") from None


def run_command(session: Any, line: str) -> CommandResult:
    """Run one command line and always return a result, never raise."""
    name, args = split_command(line)
    if not name:
        return CommandResult("Type `/help` to list the commands.", ok=False)
    cmd = get_command(name)
    if cmd is None:
        return CommandResult(
            f"Unknown command `/{name}`. Type `/help` to list the commands.", ok=False
        )
    try:
        return cmd.handler(session, args)
    except CommandError as exc:
        return CommandResult(f"`/{name}`: {exc}\n\nUsage: `{cmd.usage}`", ok=False)
    except KeyboardInterrupt:
        return CommandResult(f"`/{name}` interrupted.", ok=False)
    except Exception as exc:  # a bug in a command must never take the kernel down
        log.exception("command /%s failed", name)
        return CommandResult(f"`/{name}` failed: {type(exc).__name__}: {exc}", ok=False)
