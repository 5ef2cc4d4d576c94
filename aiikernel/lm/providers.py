"""Named OpenAI-compatible endpoints, and how a model string becomes a litellm call.

litellm already knows OpenAI, Anthropic, Gemini and friends by prefix.  Anything
else that speaks the OpenAI API (Ollama, vLLM, LM Studio, a local proxy) is
registered by name in the ``providers`` section of settings.json::

    {"providers": {"local": {"base_url": "http://127.0.0.1:11434/v1"}}}

and ``local/llama3`` is then sent as litellm's ``openai/llama3`` to that base URL.
TabMinion (browser subscriptions behind an OpenAI-compatible proxy) is built in:
``tabminion/claude`` goes to ``$TABMINION_URL/v1`` (default ``http://localhost:8080``)
with ``conversation_mode="new"`` so every call starts a fresh browser conversation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField

from .settings import ProviderConfig, Settings, load_settings

TABMINION = "tabminion"
TABMINION_DEFAULT_URL = "http://localhost:8080"


def tabminion_url(env: Mapping[str, str] | None = None) -> str:
    """TabMinion's root URL (its OpenAI API is under ``/v1``); ``env`` defaults to ``os.environ``."""
    environ = os.environ if env is None else env
    return (environ.get("TABMINION_URL") or TABMINION_DEFAULT_URL).rstrip("/")


def tabminion_extra_body(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Fields TabMinion reads from each request: a fresh conversation, optional window/focus."""
    environ = os.environ if env is None else env
    extra: dict[str, Any] = {"conversation_mode": "new"}
    window = environ.get("TABMINION_WINDOW_ID", "").strip()
    if window:
        extra["window_id"] = int(window) if window.isdigit() else window
    activate = environ.get("TABMINION_ACTIVATE", "").strip()
    if activate:
        extra["activate"] = activate.lower() not in ("0", "false", "no")
    return extra


def custom_providers(
    settings: Settings | None = None, env: Mapping[str, str] | None = None
) -> dict[str, ProviderConfig]:
    """Every named OpenAI-compatible endpoint: TabMinion plus the settings.json ones."""
    settings = settings or load_settings()
    found = {TABMINION: ProviderConfig(base_url=tabminion_url(env) + "/v1")}
    found.update(settings.providers)
    return found


def split_model(model: str) -> tuple[str, str]:
    """``"local/llama3:8b"`` → ``("local", "llama3:8b")``; a bare name has provider ``""``."""
    provider, sep, name = model.partition("/")
    return (provider.lower(), name) if sep else ("", model)


@dataclass(frozen=True)
class Route:
    """What litellm is called with for one model: its model string plus extra arguments."""

    litellm_model: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    custom: bool = False


def route(
    model: str,
    api_key: str | None,
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
) -> Route:
    """How to call ``model`` through litellm (custom endpoints become ``openai/…`` + base URL).

    ``env`` stands for the environment (default ``os.environ``; the gateway passes the kernel's).
    """
    provider, name = split_model(model)
    endpoint = custom_providers(settings, env).get(provider) if provider else None
    if endpoint is None:
        return Route(model, {"api_key": api_key} if api_key else {})
    extra = dict(endpoint.extra_body)
    if provider == TABMINION:
        extra.update(tabminion_extra_body(env))
    kwargs: dict[str, Any] = {
        "api_base": endpoint.base_url,
        # the OpenAI SDK insists on some key; keyless local servers ignore it
        "api_key": api_key or "not-needed",
    }
    if extra:
        kwargs["extra_body"] = extra
    return Route(f"openai/{name}", kwargs, custom=True)


def api_key_env_of(provider: str) -> tuple[str, ...]:
    """The env var a custom endpoint's key lives in, when settings.json names one."""
    endpoint = custom_providers().get(provider)
    return (endpoint.api_key_env,) if endpoint is not None and endpoint.api_key_env else ()


def is_custom(provider: str) -> bool:
    return provider in custom_providers()


def supports_vision(model: str) -> bool:
    """Whether ``model`` accepts images: settings for custom endpoints, litellm's map otherwise.

    Imports litellm when needed (waiting for a background warm-up import to finish rather than
    peeking at a half-imported module).
    """
    provider, _ = split_model(model)
    endpoint = custom_providers().get(provider) if provider else None
    if endpoint is not None:
        return endpoint.vision
    from .litellm_import import import_litellm

    litellm = import_litellm()
    try:
        return bool(litellm.supports_vision(model=model))
    except Exception:
        return False


#: Browser AIs TabMinion can drive, recognised by the URL of an open tab.
TABMINION_SERVICES = {
    "chatgpt": ("ChatGPT", "chatgpt.com"),
    "claude": ("Claude", "claude.ai"),
    "grok": ("Grok", "grok.com"),
    "gemini": ("Gemini", "gemini.google.com"),
}


class TabMinionStatus(BaseModel):
    """What ``/tabminion`` found (also the command's ``data`` for the UI)."""

    url: str
    running: bool
    reason: str | None = None
    services: list[str] = PydanticField(default_factory=list)
    models: list[str] = PydanticField(default_factory=list)

    def markdown(self) -> str:
        if not self.running:
            return (
                f"**TabMinion** is not reachable at `{self.url}` ({self.reason}).\n\n"
                "Start TabMinion and its browser extension to use browser AI subscriptions; "
                "set `TABMINION_URL` if it listens elsewhere."
            )
        lines = [f"**TabMinion** is running at `{self.url}`."]
        if self.services:
            lines.append(
                "Browser AIs with an open tab: "
                + ", ".join(f"`tabminion/{s}` ({TABMINION_SERVICES[s][0]})" for s in self.services)
            )
        else:
            lines.append("No AI tabs are open (ChatGPT, Claude, Grok or Gemini).")
        if self.models:
            lines.append("Models offered: " + ", ".join(f"`tabminion/{m}`" for m in self.models))
        lines.append("Switch with `/model tabminion/claude`; every call starts a new conversation.")
        return "\n\n".join(lines)


def tabminion_status(timeout: float = 2.0) -> TabMinionStatus:
    """Ask TabMinion for its health, its tabs and its models (short timeouts, never raises)."""
    import httpx

    url = tabminion_url()
    try:
        with httpx.Client(timeout=timeout) as client:
            health = client.get(f"{url}/api/v1/health")
            if health.status_code != 200:
                return TabMinionStatus(url=url, running=False, reason=f"HTTP {health.status_code}")
            services: list[str] = []
            try:
                tabs = client.get(f"{url}/api/v1/tabs").json()
                tabs = tabs if isinstance(tabs, list) else tabs.get("data", [])
                urls = [str(t.get("url", "")) for t in tabs if isinstance(t, dict)]
                services = [
                    name
                    for name, (_, host) in TABMINION_SERVICES.items()
                    if any(host in u for u in urls)
                ]
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
            models: list[str] = []
            try:
                body = client.get(f"{url}/v1/models").json()
                models = sorted(
                    str(m["id"]) for m in body.get("data", []) if isinstance(m, dict) and "id" in m
                )
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
    except httpx.TimeoutException:
        return TabMinionStatus(url=url, running=False, reason=f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return TabMinionStatus(url=url, running=False, reason=type(exc).__name__)
    return TabMinionStatus(url=url, running=True, services=services, models=models)
