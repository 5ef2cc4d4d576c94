"""auth.json: priority, permissions, imports from Codex and Pi (read-only), errors without secrets."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time

import pytest

from aiikernel.lm import auth
from aiikernel.lm.credentials import resolve_credential
from aiikernel.lm.errors import MissingCredentials


def _jwt(exp: float) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': int(exp)})}.sig"


def test_priority_oauth_then_stored_key_then_env(home, monkeypatch):
    store = auth.AuthStore()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-0001")
    assert resolve_credential("anthropic/claude-x").source == "env:ANTHROPIC_API_KEY"
    store.set_api_key("anthropic", "sk-ant-stored-0002")
    assert resolve_credential("anthropic/claude-x").source == "auth.json"
    store.set_oauth("anthropic", auth.OAuthToken(access="sk-ant-oat-0003", expires=None))
    found = resolve_credential("anthropic/claude-x")
    assert (found.source, found.key) == ("oauth", "sk-ant-oat-0003")
    assert "sk-ant-oat-0003" not in repr(found)
    # an expired token is skipped, not used
    store.set_oauth(
        "anthropic",
        auth.OAuthToken(access="sk-ant-oat-0004", expires=int((time.time() - 60) * 1000)),
    )
    assert resolve_credential("anthropic/claude-x").source == "auth.json"
    assert store.remove("anthropic") == ["OAuth token", "API key"]
    assert resolve_credential("anthropic/claude-x").source == "env:ANTHROPIC_API_KEY"
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(MissingCredentials, match="/login anthropic"):
        resolve_credential("anthropic/claude-x")


def test_file_and_directory_permissions(home):
    auth.AuthStore().set_api_key("openai", "sk-perm-test-1234")
    path = home / ".aiipython" / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a directory someone loosened is tightened again on the next write
    os.chmod(path.parent, 0o755)
    auth.AuthStore().set_api_key("openai", "sk-perm-test-5678")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # and a file made readable by others is tightened when it is next read
    os.chmod(path, 0o644)
    assert auth.lookup_credential("openai").key == "sk-perm-test-5678"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_codex_and_pi_logins_are_imported_once_and_never_modified(home):
    codex = home / ".codex" / "auth.json"
    codex.parent.mkdir()
    access = _jwt(time.time() + 3600)
    codex.write_text(
        json.dumps(
            {
                "OPENAI_API_KEY": "sk-from-codex-1111",
                "tokens": {"access_token": access, "refresh_token": "rt-1", "id_token": "x"},
                "last_refresh": "2026-01-01T00:00:00Z",
            }
        )
    )
    pi = home / ".pi" / "agent" / "auth.json"
    pi.parent.mkdir(parents=True)
    pi.write_text(
        json.dumps(
            {
                "anthropic": {
                    "type": "oauth",
                    "access": "sk-ant-oat-pi-2222",
                    "refresh": "r",
                    "expires": int((time.time() + 3600) * 1000),
                },
                "google": {"type": "api_key", "key": "AIza-from-pi-3333"},
                "github-copilot": {
                    "type": "oauth",
                    "access": "ghu_x",
                    "refresh": "r",
                    "expires": 1,
                },
            }
        )
    )
    os.chmod(codex, 0o600)
    before = {p: _digest(p) for p in (codex, pi)}
    # something the user stored here first is never overwritten by an import
    path = home / ".aiipython" / "auth.json"
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps({"providers": {"openai": {"api_key": "sk-mine-0000"}}}))

    assert resolve_credential("openai/gpt-4o").key == "sk-mine-0000"
    assert resolve_credential("openai-codex/gpt-5").key == access
    assert resolve_credential("anthropic/claude-x").source == "oauth"
    assert resolve_credential("gemini/gemini-2.5-flash").key == "AIza-from-pi-3333"
    assert "github-copilot" not in auth.AuthStore().load().providers
    assert {p: _digest(p) for p in (codex, pi)} == before
    assert sorted(json.loads(path.read_text())["imported"]) == ["codex", "pi"]

    assert json.loads(path.read_text())["providers"]["anthropic"]["oauth_from"] == "pi"

    # after /logout the same file does not bring the credential back ...
    auth.AuthStore().remove("anthropic")
    assert "anthropic" not in auth.AuthStore().load().providers
    # ... but a new sign-in there does, and never replaces what /login stored
    data = json.loads(pi.read_text())
    data["anthropic"]["access"] = "sk-ant-oat-pi-new-4444"
    data["openai"] = {"type": "api_key", "key": "sk-from-pi-5555"}
    pi.write_text(json.dumps(data))
    os.utime(pi, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert resolve_credential("anthropic/claude-x").key == "sk-ant-oat-pi-new-4444"
    assert resolve_credential("openai/gpt-4o").key == "sk-mine-0000"


def test_an_unreadable_import_source_is_skipped(home, caplog):
    codex = home / ".codex" / "auth.json"
    codex.parent.mkdir()
    codex.write_text("{not json")
    assert auth.AuthStore().load().providers == {}
    assert "could not import credentials" in caplog.text
    caplog.clear()
    auth.AuthStore().load()
    assert "could not import credentials" not in caplog.text  # reported once per change


def test_broken_auth_file_errors_never_contain_the_key(home):
    path = home / ".aiipython" / "auth.json"
    path.parent.mkdir(mode=0o700)
    path.write_text(
        json.dumps({"providers": {"openai": {"api_key": ["sk-secret-in-a-list-9999"]}}})
    )
    with pytest.raises(auth.AuthFileError) as info:
        auth.AuthStore().load()
    assert "providers.openai.api_key" in str(info.value)
    assert "sk-secret" not in str(info.value)
    # resolution falls back to the environment instead of failing every turn
    assert auth.lookup_credential("openai") is None
    path.write_text('{"providers": {"openai": {"api_key": "sk-secret-truncated-9999"')
    with pytest.raises(auth.AuthFileError) as info:
        auth.AuthStore().load()
    assert "not valid JSON" in str(info.value) and "sk-secret" not in str(info.value)


def test_masks_show_only_the_type_prefix_and_the_last_four_characters():
    assert auth.mask("sk-abcdefghijklmnop") == "sk-…mnop"
    assert auth.mask("sk-proj-Abc123def456ghi789") == "sk-…i789"
    assert auth.mask("hf_Abc123def456ghi789") == "hf_…i789"
    assert auth.mask("AIzaSyD-0123456789abcdef") == "AIza…cdef"
    assert auth.mask("zz0123456789abcdef") == "…cdef"  # no type prefix: only the tail
    assert auth.mask("oauth-access-token-1234") == "…1234"
    assert auth.mask("sk-short") == "sk-…"  # too short to show any of it
    assert auth.mask("short") == "…"
    assert auth.mask(None) == "—"
