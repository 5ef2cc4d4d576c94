"""Find the API key for a model's provider, and say clearly how to fix its absence."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import MissingCredentials
from .models import provider_of

#: Environment variables litellm reads, per provider, in order of preference.
PROVIDER_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
}

#: Providers that run locally or authenticate another way: no key required.
KEYLESS_PROVIDERS = frozenset(
    {"ollama", "ollama_chat", "lm_studio", "vllm", "hosted_vllm", "tabminion"}
)


@dataclass(frozen=True)
class Credential:
    """An API key and where it came from (``env:NAME``, ``auth.json``, ``oauth``)."""

    provider: str
    key: str | None
    source: str

    def __repr__(self) -> str:  # never show the key itself
        tail = self.key[-4:] if self.key else ""
        return f"Credential(provider={self.provider!r}, key='…{tail}', source={self.source!r})"


def env_vars_of(provider: str) -> tuple[str, ...]:
    """The environment variables that may hold ``provider``'s key (custom endpoints included)."""
    try:
        from .providers import api_key_env_of
    except ImportError:
        return PROVIDER_ENV.get(provider, ())
    return PROVIDER_ENV.get(provider, ()) + api_key_env_of(provider)


def resolve_credential(model: str) -> Credential:
    """The credential for ``model``; raises :class:`MissingCredentials` with the fix."""
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
        value = os.environ.get(var)
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
