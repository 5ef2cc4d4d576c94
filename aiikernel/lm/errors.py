"""The model-access exception tree; SDK errors are converted into these at the edge.

    ModelError
    ├── MissingCredentials   no key for the provider (says which env var / command fixes it)
    ├── AuthenticationFailed 401/403
    ├── RateLimited          429
    ├── ProviderUnavailable  5xx, connection refused/reset
    ├── ModelTimeout         no answer within the timeout
    ├── BadRequest           400/404/422: the request itself (unknown model, context too long)
    └── StreamBroken         a garbled, truncated or otherwise unreadable stream

Messages never contain credentials: :func:`redact` scrubs anything key-like.
"""

from __future__ import annotations

import re


class ModelError(Exception):
    """A model call failed; ``category`` is stable and machine-readable."""

    category = "model_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status


class MissingCredentials(ModelError):
    category = "missing_credentials"


class AuthenticationFailed(ModelError):
    category = "authentication"


class RateLimited(ModelError):
    category = "rate_limited"
    retryable = True


class ProviderUnavailable(ModelError):
    category = "provider_unavailable"
    retryable = True


class ModelTimeout(ModelError):
    category = "timeout"
    retryable = True


class BadRequest(ModelError):
    category = "bad_request"


class StreamBroken(ModelError):
    category = "stream_broken"


_SECRET_PATTERNS = [
    re.compile(r"(sk|pk|rk)-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{10,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|x-api-key|authorization|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"
    ),
]


def redact(text: str) -> str:
    """Replace anything that looks like a credential with a marker."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text
