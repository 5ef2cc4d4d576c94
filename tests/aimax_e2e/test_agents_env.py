"""The throwaway agent homes, checked without running the CLIs (no real_agent mark)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agents_env import (
    _java_string_hash,
    claude_code_env,
    codex_env,
    encode_claude_project_dir,
    find_agent_binaries,
)
from tests.support.model_server import ScriptedModelServer


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


def test_claude_home_skips_every_first_run_screen(server: ScriptedModelServer, tmp_path: Path):
    agent = claude_code_env(server, tmp_path / "home", tmp_path / "proj", api_key="sk-" + "k" * 30)
    state = json.loads((tmp_path / "home" / ".claude.json").read_text())
    assert state["hasCompletedOnboarding"] is True
    trust = state["projects"][os.path.realpath(tmp_path / "proj")]
    assert trust["hasTrustDialogAccepted"] is True
    assert state["customApiKeyResponses"]["approved"] == ["k" * 20]
    settings = json.loads((agent.config_dir / "settings.json").read_text())
    assert settings == {"permissions": {"allow": ["Bash"]}}
    assert agent.env["ANTHROPIC_BASE_URL"] == server.url
    assert agent.env["HOME"] == str(tmp_path / "home")
    assert "IS_SANDBOX" not in agent.env
    assert agent.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert not any(key.startswith(("OPENAI", "AWS", "GOOGLE")) for key in agent.env)


def test_claude_bypass_mode_settings(server: ScriptedModelServer, tmp_path: Path):
    agent = claude_code_env(server, tmp_path / "h", tmp_path / "p", bypass_permissions=True)
    settings = json.loads((agent.config_dir / "settings.json").read_text())
    assert settings["permissions"]["defaultMode"] == "bypassPermissions"
    assert settings["skipDangerousModePermissionPrompt"] is True
    assert agent.env["IS_SANDBOX"] == "1"


def test_codex_config_is_valid_toml_pointing_at_the_server(
    server: ScriptedModelServer, tmp_path: Path
):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    cwd = tmp_path / 'odd "dir" name'
    agent = codex_env(server, tmp_path / "codex-home", cwd, model="m1")
    config = tomllib.loads(agent.config_path.read_text())
    assert config["model"] == "m1" and config["model_provider"] == "local"
    assert config["model_providers"]["local"]["base_url"] == server.openai_base
    assert config["model_providers"]["local"]["wire_api"] == "responses"
    assert config["projects"][os.path.realpath(cwd)]["trust_level"] == "trusted"
    assert config["features"]["daemon_auto_start"] is False
    assert agent.env["CODEX_HOME"] == str(tmp_path / "codex-home")
    assert agent.env["LOCAL_API_KEY"]
    assert agent.rollout_paths() == [] and agent.thread_rollouts() == {}


def test_claude_project_dir_encoding(tmp_path: Path):
    assert encode_claude_project_dir("/tmp/a.b_c d") == "-tmp-a-b-c-d"
    long_path = "/" + "x" * 250
    encoded = encode_claude_project_dir(long_path)
    assert encoded.startswith("-" + "x" * 199 + "-") and len(encoded) > 200
    assert _java_string_hash("hello") == 99162322  # java: "hello".hashCode()
    assert _java_string_hash("polygenelubricants") == -2147483648  # Integer.MIN_VALUE


def test_find_agent_binaries_honours_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("AIIKERNEL_CLAUDE_BIN", str(fake))
    monkeypatch.setenv("AIIKERNEL_AGENTS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("AIIKERNEL_CODEX_BIN", raising=False)
    binaries = find_agent_binaries()
    assert binaries.claude == fake and binaries.codex is None
