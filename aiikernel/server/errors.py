"""Errors of the server's own policy, and the one table that maps every error to HTTP.

The aimax engine raises :class:`~aiikernel.aimax.errors.AimaxError` subclasses; the policy layer
(:mod:`.service`) adds the ones below. Handlers never pick status codes themselves: they look
the exception up in :data:`STATUS_FOR` (most specific class first), so one place decides.

::

    AimaxError
    └── ServerPolicyError
        ├── MalformedBody       the body is not a JSON object             400
        ├── InvalidField        a request value that cannot be used       422
        ├── PathOutsideRoot     cwd / flagRoot escapes the server root    403
        ├── BackendDisabled     backend not allowed by configuration      403
        ├── SessionLimitReached too many running sessions                 429
        ├── ConversationInUse   agentSessionId open in a running session  409
        ├── NothingAsked        a permission answer with no question      409
        ├── PromptTooLarge      prompt over the configured cap            413
        └── BodyTooLarge        request body over the configured cap      413

The engine's ``UnsafeFlagDir`` and ``WorktreeRefused`` are ``InvalidOptions`` (400) that name
one field whose value cannot be used, so they answer 422 like ``InvalidField``.
"""

from __future__ import annotations

from aiikernel.aimax.errors import (
    AgentBlocked,
    AimaxError,
    ConfigError,
    DeliveryError,
    InvalidOptions,
    PreflightError,
    SessionExists,
    SessionNotFound,
    SessionNotRunning,
    UnknownBackend,
    UnsafeFlagDir,
    WorktreeRefused,
)


class ServerPolicyError(AimaxError):
    """A request the server refuses by its own rules."""


class MalformedBody(ServerPolicyError):
    """The request body is not a JSON object."""


class NotAWebSocket(MalformedBody):
    """A plain HTTP request to the websocket route."""


class InvalidField(ServerPolicyError):
    """One request field has a value that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message if message.startswith(f"{field}:") else f"{field}: {message}")
        self.field = field


class PathOutsideRoot(InvalidField):
    """A path resolves (symlinks followed) outside the server's ``root_dir``."""


class BackendDisabled(ServerPolicyError):
    """The backend exists but this server's configuration does not allow it."""


class SessionLimitReached(ServerPolicyError):
    """``AimaxExtension.max_sessions`` running sessions already exist."""


class ConversationInUse(ServerPolicyError):
    """Another running session already drives this agent conversation (``agentSessionId``):
    two TUIs on one conversation would interleave one transcript."""


class NothingAsked(ServerPolicyError):
    """A permission answer while the agent is not asking anything."""


class PromptTooLarge(InvalidField):
    """A prompt longer than ``AimaxExtension.max_prompt_bytes``."""


class BodyTooLarge(ServerPolicyError):
    """A request body longer than ``AimaxExtension.max_body_bytes`` (refused unread)."""


# Most specific first: the first isinstance match wins.
STATUS_FOR: tuple[tuple[type[BaseException], int], ...] = (
    (PathOutsideRoot, 403),
    (PromptTooLarge, 413),
    (BodyTooLarge, 413),
    (InvalidField, 422),
    (UnsafeFlagDir, 422),
    (WorktreeRefused, 422),
    (MalformedBody, 400),
    (BackendDisabled, 403),
    (SessionLimitReached, 429),
    (ConversationInUse, 409),
    (NothingAsked, 409),
    (SessionNotFound, 404),
    (UnknownBackend, 422),
    (InvalidOptions, 400),
    (SessionExists, 409),
    (SessionNotRunning, 409),
    (AgentBlocked, 409),
    (PreflightError, 503),
    (ConfigError, 503),
    (DeliveryError, 502),
)


def status_for(exc: BaseException) -> int | None:
    """The HTTP status for an error we raise on purpose; None means "unexpected" (500)."""
    for cls, status in STATUS_FOR:
        if isinstance(exc, cls):
            return status
    if isinstance(exc, AimaxError):  # tmux failures and the like: the service is unavailable
        return 503
    return None
