"""What kernels ask their gateway besides completions, through real kernels: ``/model``'s live
listing (the gateway asks the providers with the kernel's environment), the usage ledger of
every kernel (``/usage``), and credentials stored by ``/login`` used at once — none of it
imports litellm or an HTTP client stack into the kernel."""

from __future__ import annotations

import os

from tests.support.gateways import gateway_backend_env
from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Reply

from .test_kernel_gateway import HEAVY

LOGIN_KEY = "sk-login-key-0123456789"


def heavy_modules(kc) -> str:
    probe = f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    return execute(kc, probe).stream_text().strip()


def test_model_listing_usage_ledger_and_login_are_the_gateways(model_server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with gateway_backend_env() as backend:
        env = model_env(model_server, AIIPYTHON_HOME=str(home), **backend)
        del env["OPENAI_API_KEY"]  # only /login will give one
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with (
            running_kernel("aiipython", env=env, cwd=tmp_path / "a") as (_, first),
            running_kernel("aiipython", env=env, cwd=tmp_path / "b") as (_, second),
        ):
            refused = execute(first, "%%ai\nhello", timeout=120).all_text()
            assert "No API key for openai" in refused, refused

            login = execute(first, f"%ai /login openai {LOGIN_KEY}").all_text()
            assert "Stored the API key" in login, login
            model_server.script(Reply("hello from the first"), Reply("hello from the second"))
            assert "hello from the first" in execute(first, "%%ai\nhello", timeout=120).all_text()
            assert "hello from the second" in execute(second, "%%ai\nhi", timeout=120).all_text()
            keys = {r.headers.get("authorization") for r in model_server.model_requests()}
            assert keys == {f"Bearer {LOGIN_KEY}"}  # stored once, read by the gateway at once

            listing = execute(second, "%ai /model").all_text()
            assert "**openai** (1): `openai/scripted`" in listing, listing
            listed = [r for r in model_server.requests if r.path.endswith("/models")]
            assert listed and listed[-1].headers.get("authorization") == f"Bearer {LOGIN_KEY}"

            usage = execute(second, "%ai /usage").all_text()
            session_row = next(line for line in usage.splitlines() if "this session" in line)
            gateway_row = next(line for line in usage.splitlines() if "all kernels" in line)
            assert session_row.split("|")[2].strip() == "1", usage
            assert gateway_row.split("|")[2].strip() == "2", usage  # both kernels' requests

            for kc in (first, second):
                assert heavy_modules(kc) == "[]"
    assert os.stat(home / "auth.json").st_mode & 0o777 == 0o600
