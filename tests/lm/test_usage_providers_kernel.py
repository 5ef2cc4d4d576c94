"""Cost per turn and per session, named OpenAI-compatible endpoints and TabMinion, in a real kernel."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tests.support.gateways import BOTH_BACKENDS
from tests.support.model_steps import Reply

from .helpers import start_lm_kernel

pytestmark = BOTH_BACKENDS  # every test runs against in-kernel litellm and the gateway


def _price(model: str) -> tuple[float, float]:
    """Per-token prices from litellm's bundled (local) cost map, read without importing litellm."""
    package = Path(importlib.util.find_spec("litellm").submodule_search_locations[0])
    table = json.loads((package / "model_prices_and_context_window_backup.json").read_text())
    entry = table[model]
    return entry["input_cost_per_token"], entry["output_cost_per_token"]


def test_usage_and_cost_per_turn_and_session(lm_kernel, model_server):
    k = lm_kernel
    k.ok("%ai /login openai sk-usage-test-0123456789")
    assert "No model requests" in k.ok("%ai /usage").all_text()
    inp, out = _price("gpt-4o")
    model_server.script(
        Reply("```py\nx = 1\n```", usage=(1000, 500)),
        Reply("done", usage=(2000, 100)),
        Reply("cheap", usage=(10, 5)),
    )
    k.ok("%%ai -m openai/gpt-4o\nset x")
    first_turn = 3000 * inp + 600 * out
    usage = k.ok("%usage").all_text()
    assert f"| last turn (#1, `openai/gpt-4o`) | 2 | 3,000 | 600 | ${first_turn:.6f} |" in usage
    assert f"| **this session** | 2 | 3,000 | 600 | ${first_turn:.6f} |" in usage

    # a model missing from the price map: tokens only, never an invented price
    k.ok("%%ai -m openai/scripted\nsomething cheap")
    usage = k.ok("%ai /usage").all_text()
    assert "| last turn (#2, `openai/scripted`) | 1 | 10 | 5 | unknown" in usage
    assert f"${first_turn:.6f} (+1 unpriced request(s))" in usage
    assert "| `openai/scripted` | 1 | 10 | 5 | unknown" in usage


def test_named_endpoints_and_tabminion_route_through_litellm(model_server, tmp_path, lm_backend):
    home = tmp_path / "home"
    (home / ".aiipython").mkdir(parents=True, mode=0o700)
    (home / ".aiipython" / "settings.json").write_text(
        json.dumps(
            {
                "providers": {
                    "local": {
                        "base_url": model_server.openai_base,
                        "api_key_env": "LOCAL_LLM_KEY",
                        "extra_body": {"keep_alive": "5m"},
                    }
                }
            }
        )
    )
    wire_file = tmp_path / "wire.jsonl"
    k = start_lm_kernel(
        tmp_path,
        model_server,
        home=home,
        TABMINION_URL=model_server.url,
        LOCAL_LLM_KEY="local-key-abcdef123456",
        **lm_backend,
    )
    try:
        k.ok(f"%config AiModels.wire_log_file = {str(wire_file)!r}")
        model_server.script(Reply("from the browser"), Reply("from the local server"))
        assert "from the browser" in k.ok("%ai -m tabminion/claude hello").all_text()
        tab = model_server.model_requests()[-1]
        assert tab.body_json["model"] == "claude"
        assert tab.body_json["conversation_mode"] == "new"
        assert "from the local server" in k.ok("%ai -m local/llama3:8b hello").all_text()
        local = model_server.model_requests()[-1]
        assert local.body_json["model"] == "llama3:8b"
        assert local.body_json["keep_alive"] == "5m"
        assert "conversation_mode" not in local.body_json
        assert local.headers["authorization"] == "Bearer local-key-abcdef123456"
        usage = k.ok("%ai /usage").all_text()
        assert "| `local/llama3:8b` | 1 | 10 | 5 | unknown" in usage
        auth = k.ok("%ai /auth").all_text()
        assert "| local | env:LOCAL_LLM_KEY | …3456 |" in auth
        assert "| tabminion | keyless |" in auth
    finally:
        k.stop()
    entries = [json.loads(line) for line in wire_file.read_text().splitlines()]
    assert [e["model"] for e in entries] == ["tabminion/claude", "local/llama3:8b"]
    assert entries[0]["request"]["extra_body"] == {"conversation_mode": "new"}
    assert entries[1]["text"] == "from the local server"
    assert "local-key-abcdef123456" not in wire_file.read_text()


def test_anthropic_oauth_token_goes_as_a_bearer_with_the_oauth_beta(
    model_server, tmp_path, lm_backend
):
    home = tmp_path / "home"
    (home / ".aiipython").mkdir(parents=True, mode=0o700)
    token = "sk-ant-oat01-" + "t" * 24 + "9876"
    (home / ".aiipython" / "auth.json").write_text(
        json.dumps({"providers": {"anthropic": {"oauth": {"access": token}}}})
    )
    k = start_lm_kernel(
        tmp_path,
        model_server,
        home=home,
        ANTHROPIC_BASE_URL=model_server.anthropic_base,
        ANTHROPIC_API_KEY="sk-ant-api-env-should-not-be-used",
        **lm_backend,
    )
    try:
        model_server.script(Reply("hello from claude"))
        assert "hello from claude" in k.ok("%ai -m anthropic/claude-sonnet-4-5 hi").all_text()
        sent = model_server.model_requests()[-1]
        assert sent.api == "anthropic"
        assert sent.headers["authorization"] == f"Bearer {token}"
        assert "oauth-2025-04-20" in sent.headers.get("anthropic-beta", "")
        assert "x-api-key" not in sent.headers
        assert "| anthropic | oauth | sk-…9876 |" in k.ok("%ai /auth").all_text()
    finally:
        k.stop()
