"""settings.json: where it lives, atomic private writes, broken files kept, model resolution order."""

from __future__ import annotations

import json
import stat

from aiikernel.lm import models, settings


def test_home_follows_env_and_files_are_private(home, monkeypatch):
    assert settings.aiipython_home() == home / ".aiipython"
    settings.remember_model("openai/gpt-4o")
    path = home / ".aiipython" / "settings.json"
    assert json.loads(path.read_text())["last_model"] == "openai/gpt-4o"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []

    other = home / "elsewhere"
    monkeypatch.setenv("AIIPYTHON_HOME", str(other))
    assert settings.aiipython_home() == other
    assert settings.load_settings().last_model is None


def test_resolution_order_explicit_remembered_env_default(home, monkeypatch):
    assert models.resolve_model() == models.DEFAULT_MODEL
    monkeypatch.setenv("AIIPYTHON_MODEL", "anthropic/from-env")
    assert models.resolve_model() == "anthropic/from-env"
    settings.remember_model("openai/remembered")
    assert models.resolve_model() == "openai/remembered"
    assert models.resolve_model("gemini/explicit") == "gemini/explicit"


def test_recent_models_are_ordered_unique_and_bounded(home):
    for i in range(20):
        settings.remember_model(f"openai/m{i}")
    settings.remember_model("openai/m3")
    recent = settings.load_settings().recent_models
    assert recent[0] == "openai/m3" and recent[1] == "openai/m19"
    assert len(recent) == settings.RECENT_LIMIT and len(set(recent)) == len(recent)
    assert settings.load_settings().last_model == "openai/m3"


def test_a_broken_settings_file_is_reported_kept_and_replaced_on_write(home):
    path = home / ".aiipython" / "settings.json"
    path.parent.mkdir(mode=0o700)
    path.write_text('{"last_model": "openai/x", ')
    assert settings.load_settings().last_model is None
    assert "not valid JSON" in settings.settings_problem()
    settings.remember_model("openai/new")
    kept = [p for p in path.parent.iterdir() if p.name.startswith("settings.json.bad-")]
    assert len(kept) == 1 and kept[0].read_text() == '{"last_model": "openai/x", '
    assert settings.load_settings().last_model == "openai/new"


def test_provider_entries_are_validated_with_clear_messages(home):
    path = home / ".aiipython" / "settings.json"
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps({"providers": {"local": {"base_url": "ftp://x"}}}))
    problem = settings.settings_problem()
    assert "providers.local.base_url" in problem and "http://" in problem
    path.write_text(
        json.dumps({"providers": {"local": {"base_url": "http://127.0.0.1:1/v1/"}}, "x": 1})
    )
    loaded = settings.load_settings()
    assert loaded.providers["local"].base_url == "http://127.0.0.1:1/v1"
    settings.remember_model("local/llama3")
    assert json.loads(path.read_text())["x"] == 1  # unknown keys survive a rewrite
