"""Model discovery: concurrent, auth-aware, bounded by a timeout, cached, failures explained."""

from __future__ import annotations

import json
import time

from aiikernel.lm import discovery, settings

from .endpoints import Endpoint, closed_port_url


def _by_provider(result):
    return {listing.provider: listing for listing in result.listings}


def test_discovery_lists_working_providers_and_explains_broken_ones(
    home, monkeypatch, model_server
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-disc-openai-1111")
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.openai_base)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-disc-2222")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.anthropic_base)
    monkeypatch.setenv("TABMINION_URL", closed_port_url())
    with (
        Endpoint({"/v1beta/models": "hang"}) as hanging,
        Endpoint({"/v1/models": "<html>definitely not json</html>"}) as garbage,
        Endpoint({"/v1/models": {"object": "list", "models": "wrong shape"}}) as wrong,
    ):
        monkeypatch.setenv("GEMINI_API_KEY", "AIza-disc-3333333333")
        monkeypatch.setenv("GEMINI_API_BASE", hanging.url)
        settings.update_settings(
            lambda s: s.providers.update(
                {
                    "junk": settings.ProviderConfig(base_url=garbage.url + "/v1"),
                    "odd": settings.ProviderConfig(base_url=wrong.url + "/v1"),
                    "fixed": settings.ProviderConfig(
                        base_url=closed_port_url() + "/v1", models=["b-model", "a-model"]
                    ),
                }
            )
        )
        started = time.monotonic()
        result = discovery.discover(timeout=1.0)
        elapsed = time.monotonic() - started
        found = _by_provider(result)

    # concurrent and bounded: the hanging provider costs its timeout once, not a hang
    assert elapsed < 10, elapsed
    assert found["openai"].status == "ok" and found["openai"].models == ["scripted"]
    assert found["anthropic"].status == "ok" and found["anthropic"].models == ["scripted"]
    assert found["gemini"].status == "unavailable"
    assert found["gemini"].reason == "no answer within 1 s"
    assert found["junk"].status == "unavailable"
    assert found["junk"].reason == "invalid response (not JSON)"
    assert found["odd"].reason == "invalid response (no 'data' list of models)"
    assert found["fixed"].models == ["a-model", "b-model"]  # listed from settings, not asked
    assert "tabminion" not in found  # optional, not running, not configured: not listed
    assert "openai/scripted" in result.available_models()

    # auth-aware: each provider got its own credential in its own header style
    models_requests = [r for r in model_server.requests if r.kind == "models"]
    headers = {r.api: r.headers for r in models_requests}
    assert headers["openai"]["authorization"] == "Bearer sk-disc-openai-1111"
    assert headers["anthropic"]["x-api-key"] == "sk-ant-disc-2222"
    assert hanging.seen and "AIza" not in hanging.seen[0]  # the key goes in a header, not the URL
    assert "sk-" not in json.dumps(result.model_dump())


def test_providers_without_credentials_are_not_called(home, monkeypatch, model_server):
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.openai_base)
    monkeypatch.setenv("TABMINION_URL", closed_port_url())
    found = _by_provider(discovery.discover(timeout=1.0))
    for provider in ("openai", "anthropic", "gemini"):
        assert found[provider].status == "no_credentials"
        assert f"/login {provider}" in found[provider].reason
    assert [r for r in model_server.requests if r.kind == "models"] == []


def test_results_are_cached_briefly_and_refresh_asks_again(home, monkeypatch, model_server):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-disc-cache-4444")
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.openai_base)
    monkeypatch.setenv("TABMINION_URL", closed_port_url())
    catalog = discovery.ModelCatalog(timeout=1.0, ttl=60.0)

    def asked() -> int:
        return len([r for r in model_server.requests if r.kind == "models"])

    first, cached = catalog.get()
    assert not cached and asked() == 1
    second, cached = catalog.get()
    assert cached and second is first and asked() == 1
    _, cached = catalog.get(refresh=True)
    assert not cached and asked() == 2
    catalog.ttl = 0.0
    _, cached = catalog.get()
    assert not cached and asked() == 3
