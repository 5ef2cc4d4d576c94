"""Live, auth-aware model discovery for ``/model``.

Each provider with a credential (or a keyless endpoint) is asked for its model list
with httpx — all of them at once, each with a short timeout — so one slow or broken
provider costs at most the timeout and is listed as unavailable with the reason.
A kernel on the model gateway has the gateway ask (with the kernel's environment), so
the kernel itself never imports httpx.
Providers without credentials are not called at all.  Results are cached briefly
per session; ``/model refresh`` asks again.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from .errors import MissingCredentials, redact

if TYPE_CHECKING:
    from .session_view import SessionView

Status = Literal["ok", "unavailable", "no_credentials"]
REFUSED = "connection refused or host unreachable"


class ProviderListing(BaseModel):
    """What one provider answered (sent to the UI as ``/model`` data)."""

    provider: str
    status: Status
    models: list[str] = Field(default_factory=list)
    reason: str | None = None
    seconds: float = 0.0


class Discovery(BaseModel):
    listings: list[ProviderListing]
    fetched_at: float

    def available_models(self) -> list[str]:
        return [
            f"{listing.provider}/{name}"
            for listing in self.listings
            if listing.status == "ok"
            for name in listing.models
        ]


class DiscoveryFailed(Exception):
    """A provider's answer could not be used; the message is the reason shown to the user."""


def _openai_ids(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise DiscoveryFailed("invalid response (no 'data' list of models)")
    return sorted({str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")})


def _gemini_ids(body: Any) -> list[str]:
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list):
        raise DiscoveryFailed("invalid response (no 'models' list)")
    found = set()
    for item in models:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        methods = item.get("supportedGenerationMethods") or ["generateContent"]
        if "generateContent" in methods:
            found.add(str(item["name"]).removeprefix("models/"))
    return sorted(found)


@dataclass
class Target:
    """How to ask one provider for its models."""

    provider: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    parse: Callable[[Any], list[str]] = _openai_ids
    secret: str | None = None
    static_models: list[str] = field(default_factory=list)


def _env_base(names: tuple[str, ...], default: str, env: Mapping[str, str]) -> str:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value.rstrip("/")
    return default


def _key_for(provider: str, env: Mapping[str, str]) -> tuple[str | None, str]:
    from .credentials import resolve_credential

    credential = resolve_credential(f"{provider}/_", env)
    return credential.key, credential.source


def build_targets(
    env: Mapping[str, str] | None = None,
) -> tuple[list[Target], list[ProviderListing]]:
    """Targets to query, and listings for providers skipped for lack of credentials.

    ``env`` stands for the environment (default ``os.environ``): the model gateway passes
    the environment of the kernel that asks."""
    from .providers import custom_providers

    env = os.environ if env is None else env
    targets: list[Target] = []
    skipped: list[ProviderListing] = []

    def keyed(provider: str) -> str | None:
        try:
            key, _ = _key_for(provider, env)
        except MissingCredentials:
            key = None
        if key is None:
            skipped.append(
                ProviderListing(
                    provider=provider,
                    status="no_credentials",
                    reason=f"no credentials (`/login {provider} KEY` or its environment variable)",
                )
            )
        return key

    if (key := keyed("openai")) is not None:
        base = _env_base(("OPENAI_BASE_URL", "OPENAI_API_BASE"), "https://api.openai.com/v1", env)
        targets.append(
            Target("openai", f"{base}/models", {"Authorization": f"Bearer {key}"}, secret=key)
        )
    if (key := keyed("anthropic")) is not None:
        base = _env_base(
            ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE"), "https://api.anthropic.com", env
        )
        headers = {"anthropic-version": "2023-06-01"}
        if key.startswith("sk-ant-oat"):
            headers |= {"Authorization": f"Bearer {key}", "anthropic-beta": "oauth-2025-04-20"}
        else:
            headers["x-api-key"] = key
        base = base.removesuffix("/v1")
        targets.append(Target("anthropic", f"{base}/v1/models", headers, secret=key))
    if (key := keyed("gemini")) is not None:
        base = _env_base(
            ("GEMINI_API_BASE", "GEMINI_BASE_URL"), "https://generativelanguage.googleapis.com", env
        )
        targets.append(
            Target(
                "gemini",
                f"{base}/v1beta/models?pageSize=1000",
                {"x-goog-api-key": key},
                _gemini_ids,
                secret=key,
            )
        )
    for name, endpoint in custom_providers(env=env).items():
        try:
            key, _ = _key_for(name, env)
        except MissingCredentials:
            key = None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        targets.append(
            Target(
                name,
                f"{endpoint.base_url}/models",
                headers,
                secret=key,
                static_models=list(endpoint.models),
            )
        )
    return targets, skipped


async def _query(client: Any, target: Target, timeout: float) -> ProviderListing:
    import httpx

    started = time.perf_counter()

    def done(status: Status, models: list[str] | None = None, reason: str | None = None):
        if reason and target.secret:
            reason = reason.replace(target.secret, "[REDACTED]")
        return ProviderListing(
            provider=target.provider,
            status=status,
            models=models or [],
            reason=redact(reason) if reason else None,
            seconds=round(time.perf_counter() - started, 3),
        )

    if target.static_models:
        return done("ok", sorted(target.static_models))
    try:
        response = await asyncio.wait_for(
            client.get(target.url, headers=target.headers), timeout + 0.5
        )
    except (TimeoutError, httpx.TimeoutException):
        return done("unavailable", reason=f"no answer within {timeout:g} s")
    except httpx.ConnectError:
        return done("unavailable", reason=REFUSED)
    except httpx.HTTPError as exc:
        return done("unavailable", reason=f"{type(exc).__name__}: {exc}")
    if response.status_code in (401, 403):
        return done("unavailable", reason=f"credentials rejected (HTTP {response.status_code})")
    if response.status_code >= 400:
        return done("unavailable", reason=f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return done("unavailable", reason="invalid response (not JSON)")
    try:
        return done("ok", target.parse(body))
    except DiscoveryFailed as exc:
        return done("unavailable", reason=str(exc))


def _quietly_absent(listing: ProviderListing) -> bool:
    """TabMinion not running and not configured: an optional extra, not a failure to report."""
    from .providers import TABMINION
    from .settings import load_settings

    return (
        listing.provider == TABMINION
        and listing.status == "unavailable"
        and listing.reason == REFUSED
        and TABMINION not in load_settings().providers
    )


async def discover_async(timeout: float = 3.0, env: Mapping[str, str] | None = None) -> Discovery:
    """Ask every configured provider for its models, concurrently (``env``: see
    :func:`build_targets`)."""
    import httpx

    targets, skipped = build_targets(env)
    limits = httpx.Timeout(timeout)
    async with httpx.AsyncClient(timeout=limits, follow_redirects=True) as client:
        answers = await asyncio.gather(*(_query(client, t, timeout) for t in targets))
    order = {"ok": 0, "unavailable": 1, "no_credentials": 2}
    listings = sorted(
        [a for a in answers if not _quietly_absent(a)] + skipped,
        key=lambda x: (order[x.status], x.provider),
    )
    return Discovery(listings=listings, fetched_at=time.time())


def discover(timeout: float = 3.0) -> Discovery:
    """:func:`discover_async` from synchronous code, even inside a running event loop (the kernel).

    It runs on a daemon thread with its own loop, closed without waiting for stray resolver
    threads, so a provider whose DNS lookup never ends cannot hold ``/model`` either.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            outcome["value"] = loop.run_until_complete(discover_async(timeout))
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc
        finally:
            loop.close()  # shuts its executor down without waiting

    thread = threading.Thread(target=run, name="aiikernel-discovery", daemon=True)
    thread.start()
    thread.join(timeout * 2 + 5)
    if "error" in outcome:
        raise outcome["error"]
    if "value" not in outcome:
        raise DiscoveryFailed(f"model discovery did not finish within {timeout * 2 + 5:g} s")
    return outcome["value"]


class ModelCatalog:
    """Per-session discovery cache."""

    def __init__(self, timeout: float = 3.0, ttl: float = 60.0) -> None:
        self.timeout = timeout
        self.ttl = ttl
        self._cached: Discovery | None = None
        #: Who asks the providers: the session's model client when it can (the gateway's
        #: client asks the gateway), else this process.
        self.fetch: Callable[[float], Discovery] = discover

    def get(self, refresh: bool = False) -> tuple[Discovery, bool]:
        """The discovery result and whether it came from the cache."""
        fresh = self._cached is not None and time.time() - self._cached.fetched_at < self.ttl
        if fresh and not refresh:
            assert self._cached is not None
            return self._cached, True
        self._cached = self.fetch(self.timeout)
        return self._cached, False

    def invalidate(self) -> None:
        self._cached = None


_ATTR = "_aiikernel_model_catalog"


def model_catalog(session: SessionView) -> ModelCatalog:
    """The session's catalog, following ``AiModels.discovery_timeout`` / ``discovery_cache_seconds``."""
    from .config import models_config

    config = models_config(session)
    catalog = getattr(session, _ATTR, None)
    if catalog is None:
        catalog = ModelCatalog()
        setattr(session, _ATTR, catalog)
    catalog.timeout = config.discovery_timeout
    catalog.ttl = config.discovery_cache_seconds
    client = getattr(session, "client", None)
    catalog.fetch = getattr(client, "discover", None) or discover
    return catalog
