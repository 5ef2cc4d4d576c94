"""Issue 14.6: /login never stores or echoes a key given where the provider goes, and the wire
log scrubs every stored and environment secret into a 0600 file it never follows a link to."""

from __future__ import annotations

import json
import os
import stat
import types

import pytest

from aiikernel.commands import CommandError
from aiikernel.lm import auth
from aiikernel.lm.auth_commands import login_command
from aiikernel.lm.wire import WireLog

# Key-like but not key-shaped (no sk-/AIza prefix, under 40 characters, lowercase): the
# old checks took it for a provider name.
PLAIN_KEY = "f3a9c2e7b1d04a6f8e2c9b7a5d3f1e0c"


def _session() -> types.SimpleNamespace:
    return types.SimpleNamespace(shell=None)


@pytest.mark.parametrize(
    "args",
    [f"{PLAIN_KEY} openai", f"{PLAIN_KEY} {PLAIN_KEY[::-1]}", PLAIN_KEY, "x9k2m4q7z1w8e5r3"],
)
def test_login_refuses_a_key_in_the_provider_place_without_echoing_it(home, args):
    with pytest.raises(CommandError) as err:
        login_command(_session(), args)
    message = str(err.value)
    for word in args.split():
        assert word not in message
    assert "nothing was stored" in message or "not a provider" in message
    assert not auth.AuthStore().path.exists() or not auth.AuthStore().load().providers


def test_login_says_when_the_arguments_are_swapped(home):
    with pytest.raises(CommandError, match="swapped"):
        login_command(_session(), f"{PLAIN_KEY} openai")


def test_login_still_takes_listed_and_word_like_providers(home, monkeypatch):
    monkeypatch.setattr(
        "aiikernel.lm.discovery.model_catalog",
        lambda session: types.SimpleNamespace(invalidate=lambda: None),
    )
    for provider in ("openai", "together_ai", "fireworks_ai", "ai21"):
        result = login_command(_session(), f"{provider} sk-test-key-0123456789")
        assert result.data == {"provider": provider, "stored": True}
    assert set(auth.AuthStore().load().providers) == {
        "openai",
        "together_ai",
        "fireworks_ai",
        "ai21",
    }


def test_provider_name_errors_never_quote_the_name():
    with pytest.raises(ValueError) as err:
        auth.check_provider_name("Sk!secret-value")
    assert "secret-value" not in str(err.value)
    with pytest.raises(ValueError):
        auth.check_provider_name("openai\n")  # fullmatch: a trailing newline does not pass


def test_wire_log_scrubs_stored_and_environment_secrets(home, monkeypatch, tmp_path):
    stored = "plainstoredsecret0001"
    oauth = "plainoauthaccess0002"
    env_value = "plainenvironmentvalue0003"
    custom = "plaincustomtoken0004"
    auth.AuthStore().set_api_key("mistral", stored)
    auth.AuthStore().set_oauth("anthropic", auth.OAuthToken(access=oauth, expires=None))
    monkeypatch.setenv("MISTRAL_API_KEY", env_value)
    monkeypatch.setenv("MY_SERVICE_TOKEN", custom)
    log = WireLog(size=5, path=tmp_path / "wire.jsonl")
    exchange = log.begin(
        "m/x",
        {"messages": [{"role": "user", "content": f"{stored} {oauth} {env_value} {custom}"}]},
        secrets=[],
    )
    exchange.add_text(f"echo {stored} and {custom}")
    exchange.finish("error", f"failed with {env_value}")
    text = (tmp_path / "wire.jsonl").read_text() + json.dumps(log.last(1)[0].model_dump())
    for secret in (stored, oauth, env_value, custom):
        assert secret not in text


def test_wire_log_file_is_made_0600_and_never_followed(home, tmp_path):
    path = tmp_path / "wire.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    log = WireLog(size=5, path=path)
    log.begin("m/x", {}, []).finish()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().splitlines()) == 1

    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    WireLog(size=5, path=link).begin("m/y", {}, []).finish()
    assert target.read_text() == ""
