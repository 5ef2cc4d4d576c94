"""aimax's exception tree, so callers (CLI, server extension) map failures to exit codes / HTTP.

::

    AimaxError
    ├── ConfigError            bad configuration value
    ├── PreflightError         tmux / agent binary / data dir unusable   (CLI exit 4)
    ├── InvalidOptions         bad caller input (options, cwd, prompt)  (CLI exit 2)
    │   ├── UnsafeFlagDir      the job-flag path has a symlink / foreign directory
    │   └── WorktreeRefused    ``worktree`` cannot give a checkout of just the directory
    ├── UnknownBackend         name not in SUPPORTED_BACKENDS            (CLI exit 2)
    ├── SessionNotFound        no such session                          (CLI exit 3)
    ├── SessionExists          session id already in use                (CLI exit 5)
    ├── SessionNotRunning      the agent process has exited             (CLI exit 6)
    ├── DeliveryError          the prompt could not be confirmed        (CLI exit 7)
    └── AgentBlocked           a screen the agent cannot leave by itself (CLI exit 8)
The tmux transport has its own tree (:class:`aiikernel.aimax.tmux.TmuxError`), a subclass of
``AimaxError`` too.
"""

from __future__ import annotations


class AimaxError(Exception):
    """Base class of every error aimax raises on purpose."""

    exit_code = 1


class ConfigError(AimaxError):
    """A configuration value cannot be used."""

    exit_code = 2


class PreflightError(AimaxError):
    """An external prerequisite (tmux, the agent binary, the data dir) is missing or unusable."""

    exit_code = 4


class InvalidOptions(AimaxError):
    """The caller's options are invalid (missing prompt, cwd that does not exist, bad id)."""

    exit_code = 2


class UnsafeFlagDir(InvalidOptions):
    """``<flagRoot>/.imac/flags/<session>`` has a symbolic link or another user's directory on
    its way: aimax never follows it out of the project."""

    field = "flagRoot"


class WorktreeRefused(InvalidOptions):
    """``worktree`` was asked for but the checkout would not be the directory asked for: the
    repository reaches outside the allowed root, or the directory is not in its commits."""

    field = "worktree"


class UnknownBackend(AimaxError):
    """The backend name is not one of ``SUPPORTED_BACKENDS``."""

    exit_code = 2


class SessionNotFound(AimaxError):
    """No session with this id is known (live or archived)."""

    exit_code = 3


class SessionExists(AimaxError):
    """A live session already uses this id."""

    exit_code = 5


class SessionNotRunning(AimaxError):
    """The session's agent process has exited; resume it first."""

    exit_code = 6


class DeliveryError(AimaxError):
    """A prompt was pasted but its submission could not be confirmed."""

    exit_code = 7


class AgentBlocked(AimaxError):
    """The agent shows a screen (dialog, menu) that needs a human; ``screen`` holds its text."""

    exit_code = 8

    def __init__(self, message: str, screen: str = "") -> None:
        super().__init__(message)
        self.screen = screen
