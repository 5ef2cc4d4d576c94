"""A small async tmux client for aimax's private server, layered like libtmux.

:class:`TmuxServer` is the one place that runs tmux (``tmux -L <socket> …``); :class:`Pane`
only holds a ``%pane_id`` and forwards to it. Nothing is cached: state is re-read from tmux when
asked. tmux runs on a small thread pool of its own, not through the event loop's subprocess
support: starting a process from the loop thread blocks it until the child has exec'd, which on
a busy machine is tens of milliseconds per command, and the monitor runs one every tick.

Errors::

    TmuxError (AimaxError)
    ├── TmuxNotFound        the tmux executable is missing
    └── TmuxCommandError    tmux exited non-zero (``args``, ``returncode``, ``stderr``)
        └── PaneGone        the target pane/window no longer exists
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import AimaxError

SESSION_OPTION = "@aimax_session"
PANE_FORMAT = "\t".join(
    [
        "#{pane_id}",
        "#{pane_pid}",
        "#{pane_dead}",
        "#{pane_dead_status}",
        "#{window_activity}",
        "#{session_name}",
        "#{window_id}",
        f"#{{{SESSION_OPTION}}}",
        "#{pane_dead_signal}",
    ]
)


class TmuxError(AimaxError):
    """Base of the tmux transport errors."""

    exit_code = 4


class TmuxNotFound(TmuxError):
    """The tmux executable cannot be found."""


class TmuxCommandError(TmuxError):
    """tmux exited with a non-zero status."""

    exit_code = 1

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"tmux {' '.join(args[:2])} failed ({returncode}): {stderr.strip()}")
        self.tmux_args = list(args)
        self.returncode = returncode
        self.stderr = stderr


class PaneGone(TmuxCommandError):
    """The pane (or its window) no longer exists."""


@dataclass(frozen=True)
class TmuxResult:
    """Output of one tmux invocation."""

    stdout: str
    stderr: str
    returncode: int

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclass(frozen=True)
class PaneInfo:
    """One row of ``list-panes -a`` (see :data:`PANE_FORMAT`)."""

    pane_id: str
    pid: int | None
    dead: bool
    dead_status: int | None
    activity: int
    session_name: str
    window_id: str
    tag: str
    dead_signal: int | None = None

    @property
    def exit_status(self) -> int | None:
        """Shell-style status of a dead pane: the exit code, or 128 + the killing signal."""
        if self.dead_status is not None and not (self.dead_status == 0 and self.dead_signal):
            return self.dead_status
        return 128 + self.dead_signal if self.dead_signal else None

    @classmethod
    def parse(cls, line: str) -> PaneInfo:
        parts = (line.split("\t") + [""] * 9)[:9]
        return cls(
            pane_id=parts[0],
            pid=int(parts[1]) if parts[1].isdigit() else None,
            dead=parts[2] == "1",
            dead_status=int(parts[3]) if parts[3].lstrip("-").isdigit() else None,
            activity=int(parts[4]) if parts[4].isdigit() else 0,
            session_name=parts[5],
            window_id=parts[6],
            tag=parts[7],
            dead_signal=int(parts[8]) if parts[8].isdigit() and parts[8] != "0" else None,
        )


def _is_gone(stderr: str) -> bool:
    text = stderr.lower()
    return any(s in text for s in ("can't find pane", "can't find window", "no such", "not found"))


def _is_no_server(stderr: str) -> bool:
    """The server is not running, or (while it shuts down) has no sessions left."""
    text = stderr.lower()
    return any(
        s in text
        for s in (
            "no server running",
            "error connecting",
            "no such file",
            "no current target",
            "no sessions",
        )
    )


#: Where tmux commands run (threads start on first use; tmux serialises commands anyway).
_RUNNER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="aimax-tmux")


def _run(argv: list[str], input: bytes | None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        argv,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        check=False,
    )


class TmuxServer:
    """aimax's private tmux server, addressed by socket name (``tmux -L``)."""

    def __init__(self, socket_name: str, tmux_bin: str = "tmux", window_size: str = "200x50"):
        self.socket_name = socket_name
        self.tmux_bin = tmux_bin
        self.window_size = window_size

    def _argv(self, args: Sequence[str]) -> list[str]:
        exe = shutil.which(self.tmux_bin)
        if exe is None:
            raise TmuxNotFound(
                f"tmux not found ({self.tmux_bin!r}); install it (apt-get install tmux) "
                "or set AIMAX_TMUX_BIN"
            )
        # -f /dev/null: the user's tmux.conf must not change how agents' windows behave.
        return [exe, "-L", self.socket_name, "-f", "/dev/null", *args]

    async def cmd(self, *args: str, input: bytes | None = None, check: bool = True) -> TmuxResult:
        """Run one tmux command on this server; raise :class:`TmuxCommandError` if ``check``."""
        argv = self._argv(args)
        done = await asyncio.get_running_loop().run_in_executor(_RUNNER, _run, argv, input)
        result = TmuxResult(
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
            done.returncode,
        )
        if check and result.returncode != 0:
            error = PaneGone if _is_gone(result.stderr) else TmuxCommandError
            raise error(args, result.returncode, result.stderr)
        return result

    async def is_running(self) -> bool:
        """True if the server answers."""
        try:
            res = await self.cmd("list-sessions", check=False)
        except TmuxNotFound:
            return False
        return res.returncode == 0

    async def has_session(self, name: str) -> bool:
        res = await self.cmd("has-session", "-t", f"={name}", check=False)
        return res.returncode == 0

    async def list_panes(self) -> list[PaneInfo]:
        """Every pane of the server in one call (the poller's one tmux call per tick)."""
        res = await self.cmd("list-panes", "-a", "-F", PANE_FORMAT, check=False)
        if res.returncode != 0:
            if _is_no_server(res.stderr):
                return []
            raise TmuxCommandError(["list-panes", "-a"], res.returncode, res.stderr)
        return [PaneInfo.parse(line) for line in res.lines if line.strip()]

    async def new_window(
        self,
        hub: str,
        argv: Sequence[str],
        *,
        cwd: str,
        tag: str,
        env: Mapping[str, str] | None = None,
    ) -> Pane:
        """Start ``argv`` (exec'd, no shell) in a new window of session ``hub``; tag it."""
        if not argv:
            raise ValueError("argv must not be empty")
        env_args: list[str] = []
        for key, value in (env or {}).items():
            env_args += ["-e", f"{key}={value}"]
        width, _, height = self.window_size.partition("x")
        fmt = "#{pane_id}"
        # Before the agent starts: keep the server up when its last window closes (a server
        # that exits and restarts reuses pane ids, so a stale id could address a new agent),
        # and keep panes of exited agents (an agent that dies at once must still leave a pane
        # to tag, read and report, not vanish before we configure its window).
        await self.cmd(
            "start-server",
            ";",
            "set-option",
            "-s",
            "exit-empty",
            "off",
            ";",
            "set-option",
            "-gw",
            "remain-on-exit",
            "on",
            check=False,
        )
        if await self.has_session(hub):
            args = ["new-window", "-d", "-P", "-F", fmt, "-t", f"={hub}:", "-n", tag, "-c", cwd]
        else:
            args = ["new-session", "-d", "-P", "-F", fmt, "-s", hub, "-n", tag, "-c", cwd]
            args += ["-x", width or "200", "-y", height or "50"]
        try:
            res = await self.cmd(*args, *env_args, "--", *argv)
        except TmuxCommandError as exc:
            if "duplicate session" in exc.stderr:
                # Another task created the hub between our check and our call.
                args = ["new-window", "-d", "-P", "-F", fmt, "-t", f"={hub}:", "-n", tag]
            elif any(m in exc.stderr for m in ("can't find session", "no current target")) or (
                _is_no_server(exc.stderr)
            ):
                # The hub's last window closed between our check and our call.
                args = ["new-session", "-d", "-P", "-F", fmt, "-s", hub, "-n", tag]
                args += ["-x", width or "200", "-y", height or "50"]
            else:
                raise
            res = await self.cmd(*args, "-c", cwd, *env_args, "--", *argv)
        pane = Pane(self, res.stdout.strip())
        await pane.window_option("remain-on-exit", "on")
        await pane.window_option(SESSION_OPTION, tag)
        await pane.window_option("automatic-rename", "off")
        return pane

    async def kill(self) -> None:
        """Stop the whole server (tests; ``aimax`` never does this to a user's sessions)."""
        await self.cmd("kill-server", check=False)


class Pane:
    """One pane, addressed by its immutable ``%id``."""

    def __init__(self, server: TmuxServer, pane_id: str) -> None:
        if not pane_id.startswith("%"):
            raise ValueError(f"not a pane id: {pane_id!r}")
        self.server = server
        self.pane_id = pane_id

    def __repr__(self) -> str:
        return f"Pane({self.pane_id!r})"

    async def cmd(self, command: str, *args: str, input: bytes | None = None) -> TmuxResult:
        """Run ``tmux <command> -t <pane> <args>``."""
        return await self.server.cmd(command, "-t", self.pane_id, *args, input=input)

    async def window_option(self, name: str, value: str) -> None:
        await self.cmd("set-option", "-w", name, value)

    async def info(self) -> PaneInfo | None:
        """This pane's row, or None if it no longer exists."""
        for info in await self.server.list_panes():
            if info.pane_id == self.pane_id:
                return info
        return None

    async def capture(self, history: int = 0, escapes: bool = False) -> str:
        """The visible screen as text (``history`` extra lines of scrollback; ``escapes``
        keeps colours/attributes, e.g. to tell placeholder text from typed text)."""
        args = ["-p", "-J"] + (["-e"] if escapes else [])
        if history:
            args += ["-S", str(-history)]
        return (await self.cmd("capture-pane", *args)).stdout

    async def paste(self, text: str) -> None:
        """Paste ``text`` as one bracketed paste through a uniquely named buffer.

        Line endings are normalised to ``\\n``; ``-r`` keeps them as LF (not CR, which a TUI
        would read as Enter); ``-d`` deletes the buffer; ``-p`` brackets the paste when the
        application asked for it.
        """
        data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
        buffer = f"aimax-{uuid.uuid4().hex}"
        await self.server.cmd("load-buffer", "-b", buffer, "-", input=data)
        try:
            await self.cmd("paste-buffer", "-p", "-r", "-d", "-b", buffer)
        except TmuxCommandError:
            await self.server.cmd("delete-buffer", "-b", buffer, check=False)
            raise

    async def send_keys(self, *keys: str) -> None:
        """Send key names (``Enter``, ``Escape``, ``C-c``) — never literal user text."""
        await self.cmd("send-keys", *keys)

    async def kill(self) -> None:
        """Kill the pane's window."""
        await self.server.cmd("kill-window", "-t", self.pane_id, check=False)

    async def respawn(self, argv: Sequence[str], cwd: str) -> None:
        """Restart a dead pane with ``argv`` (resume an exited agent in the same window)."""
        await self.cmd("respawn-pane", "-k", "-c", cwd, "--", *argv)


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
