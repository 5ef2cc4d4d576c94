"""Find the API key for a model's provider, and say clearly how to fix its absence."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import MissingCredentials
from .models import provider_of
from .provider_keys import KEYLESS_PROVIDERS, PROVIDER_ENV, Credential


def env_vars_of(provider: str) -> tuple[str, ...]:
    """The environment variables that may hold ``provider``'s key (custom endpoints included)."""
    try:
        from .providers import api_key_env_of
    except ImportError:
        return PROVIDER_ENV.get(provider, ())
    return PROVIDER_ENV.get(provider, ()) + api_key_env_of(provider)


def resolve_credential(model: str, env: Mapping[str, str] | None = None) -> Credential:
    """The credential for ``model``; raises :class:`MissingCredentials` with the fix.

    ``env`` stands for the environment (default ``os.environ``): the model gateway passes
    the environment of the kernel that asks.
    """
    environ = os.environ if env is None else env
    provider = provider_of(model)
    try:
        from .auth import lookup_credential  # stored OAuth / API keys, when present
    except ImportError:
        lookup_credential = None
    if lookup_credential is not None:
        found = lookup_credential(provider)
        if found is not None:
            return found
    for var in env_vars_of(provider):
        value = environ.get(var)
        if value:
            return Credential(provider, value, f"env:{var}")
    if provider in KEYLESS_PROVIDERS or provider not in PROVIDER_ENV:
        return Credential(provider, None, "none")
    names = " or ".join(PROVIDER_ENV[provider])
    raise MissingCredentials(
        f"No API key for {provider} (model {model!r}). Set {names} in the kernel's environment "
        f"and restart the kernel, or run `%ai /login {provider} YOUR_KEY`, "
        f"or choose another model with `%%ai -m PROVIDER/MODEL`."
    )
