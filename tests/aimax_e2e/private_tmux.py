"""A private tmux server for driving real TUIs in tests: one socket per test, killed after.

Only what the real-CLI tests need: start a pane with a clean environment, read the screen,
paste text the way humans' terminals do (bracketed paste from a uniquely named buffer), press
keys. Every tmux call goes through `PrivateTmux.cmd`.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path


class TmuxCommandError(RuntimeError):
    """A tmux command failed; the message carries tmux's stderr."""


class PrivateTmux:
    """``tmux -L aiik-a-<random>`` with no user config; `kill` stops it and all its panes."""

    def __init__(self, prefix: str = "aiik-a") -> None:
        self.socket_name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self._has_session = False

    def cmd(self, *args: str, stdin: str | None = None) -> str:
        completed = subprocess.run(
            ["tmux", "-L", self.socket_name, "-f", "/dev/null", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=15,
        )
        if completed.returncode != 0:
            raise TmuxCommandError(f"tmux {' '.join(args[:2])}: {completed.stderr.strip()}")
        return completed.stdout

    def start(
        self, argv: list[str], env: dict[str, str], cwd: Path, *, width: int = 160, height: int = 45
    ) -> str:
        """Run ``argv`` with exactly ``env`` (via ``env -i``) in a new pane; returns ``%pane_id``."""
        command = ["env", "-i", *(f"{key}={value}" for key, value in env.items()), *argv]
        if self._has_session:
            where = ["new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "main", "-c", str(cwd)]
        else:
            where = ["new-session", "-d", "-P", "-F", "#{pane_id}", "-s", "main", "-c", str(cwd)]
            where += ["-x", str(width), "-y", str(height)]
        pane = self.cmd(*where, "--", *command).strip()
        self._has_session = True
        self.cmd("set-option", "-w", "-t", pane, "remain-on-exit", "on")
        return pane

    def screen(self, pane: str) -> str:
        return self.cmd("capture-pane", "-p", "-t", pane)

    def pane_info(self, pane: str, fmt: str) -> str:
        return self.cmd("display-message", "-p", "-t", pane, fmt).strip()

    def wait_for_screen(
        self, pane: str, predicate: Callable[[str], bool], timeout: float, what: str
    ) -> str:
        """Poll the screen until ``predicate`` holds; the error shows the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(pane)
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"screen never showed {what} within {timeout}s:\n{text}")
            time.sleep(0.05)

    def paste(self, pane: str, text: str) -> None:
        """Bracketed paste through a one-shot buffer (``-d`` deletes it after pasting)."""
        buffer = f"aiik-{uuid.uuid4().hex[:12]}"
        self.cmd("load-buffer", "-b", buffer, "-", stdin=text)
        self.cmd("paste-buffer", "-p", "-r", "-d", "-b", buffer, "-t", pane)

    def keys(self, pane: str, *keys: str, literal: bool = False) -> None:
        self.cmd("send-keys", "-t", pane, *(["-l"] if literal else []), *keys)

    def kill(self) -> None:
        """Kill the whole private server (and with it every pane's process group), then remove
        its socket file, which tmux 3.3a leaves behind."""
        try:
            socket_path = self.cmd("display-message", "-p", "#{socket_path}").strip()
        except TmuxCommandError:
            socket_path = ""  # no server was ever started
        subprocess.run(
            ["tmux", "-L", self.socket_name, "kill-server"], capture_output=True, timeout=15
        )
        if socket_path:
            Path(socket_path).unlink(missing_ok=True)
