"""Which environment variables hold each provider's API key, and the :class:`Credential` record.

Shared by the resolver (:mod:`.credentials`) and the credential store (:mod:`.auth`), which
the resolver consults: kept below both so that neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass

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
