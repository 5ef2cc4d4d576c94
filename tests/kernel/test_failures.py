"""Model failures end the turn with a clear message; the kernel and the conversation survive."""

from __future__ import annotations

import pytest

from tests.support.gateways import BOTH_BACKENDS
from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Fault, Garbled, Hang, Reply, StreamError, Truncated

pytestmark = BOTH_BACKENDS  # every test runs against in-kernel litellm and the gateway


def assert_recovers(kc, model_server) -> None:
    """After a failure: the kernel still runs code and the next %%ai turn works."""
    assert execute(kc, "print(6 * 7)").stream_text().strip() == "42"
    model_server.script(Reply("recovered fine"))
    result = execute(kc, "%%ai\nare you there?")
    assert any("recovered fine" in m for m in result.markdown()), result.all_text()


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Fault(status=401, message="bad key"), "Authentication failed"),
        (Fault(status=429, message="slow down"), "Rate limited"),
        (Fault(status=500, message="boom"), "Provider unavailable"),
        (Garbled(), "Broken stream"),
        (Truncated(), "Broken stream"),
    ],
    ids=["401", "429", "500", "garbled", "truncated"],
)
def test_model_errors_are_clear_and_recoverable(ai_kernel, model_server, step, expected):
    km, kc = ai_kernel
    model_server.script(step)
    result = execute(kc, "%%ai\nhello")
    assert result.status == "ok"
    text = result.all_text()
    assert expected in text, text
    assert "The turn ended" in text
    assert "Traceback" not in text
    assert "sk-test-key" not in text
    assert_recovers(kc, model_server)
    # the conversation stays well-formed: roles alternate and the new prompt comes last
    messages = model_server.model_requests()[-1].body_json["messages"]
    roles = [m["role"] for m in messages]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False)), roles
    assert messages[-1]["content"] == "are you there?"
    if not isinstance(step, (Garbled, Truncated)):  # nothing was said: the failed prompt is gone
        assert roles == ["system", "user"]


def test_timeout_is_reported(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "%config AiSession.request_timeout = 1.5")
    model_server.script(Hang(seconds=10))
    result = execute(kc, "%%ai\nhello", timeout=30)
    assert "Model timeout" in result.all_text()
    assert "1.5 s" in result.all_text()
    # 1.5 s would also bound the next, healthy turn: on a loaded machine its first token can
    # take longer than that, so the recovery check runs with a deadline that means "hung".
    execute(kc, "%config AiSession.request_timeout = 120")
    assert_recovers(kc, model_server)


def test_missing_credentials_name_the_fix(model_server, tmp_path, lm_backend):
    env = model_env(None, **lm_backend)  # no keys at all, default model (gemini)
    with running_kernel(env=env, cwd=tmp_path) as (km, kc):
        result = execute(kc, "%%ai\nhello")
        text = result.all_text()
        assert "No credentials" in text
        assert "GEMINI_API_KEY" in text and "/login gemini" in text
        assert execute(kc, "print('alive')").stream_text().strip() == "alive"
    assert model_server.model_requests() == []


DAMAGED_STREAMS = {
    "garbled": lambda: Garbled("one two three four"),
    "truncated-abrupt": lambda: Truncated("one two three four"),
    "truncated-clean": lambda: Truncated("one two three four", abrupt=False),
    "stream-error": lambda: StreamError("one two three four"),
}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_damaged_stream_is_never_a_silently_short_answer(
    model_server, tmp_path, provider, lm_backend
):
    """Whatever litellm version raises (or not) for a damaged stream, the user sees the part
    that arrived followed by a clear "Broken stream" error; the answer never just stops."""
    env = model_env(
        model_server,
        ANTHROPIC_API_KEY="sk-ant-test-key-0123456789",
        ANTHROPIC_BASE_URL=model_server.anthropic_base,
        **lm_backend,
    )
    with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
        for label, step in DAMAGED_STREAMS.items():
            model_server.script(step())
            result = execute(kc, f"%%ai -m {provider}/scripted\nhello")
            text = result.all_text()
            assert result.status == "ok", (label, result.all_text())
            assert "one two" in text, (label, text)
            assert "four" not in text.split("Broken stream")[0], (label, text)
            assert "Broken stream" in text or "Provider unavailable" in text, (label, text)
            assert "The turn ended" in text, (label, text)
            assert model_server.model_requests()[-1].api == provider
        assert_recovers(kc, model_server)
