"""Real kernels on the gateway: no litellm in the kernel, a gateway killed mid-reply, a kernel
killed mid-reply, and the ``auto`` fallback when no gateway can start."""

from __future__ import annotations

import json
import os
import signal

from tests.support.gateways import gateway_backend_env, private_gateway_dir
from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Reply

from .helpers import alive, wait_for


def state_pid(directory: str) -> int | None:
    try:
        with open(os.path.join(directory, "gateway.json")) as fh:
            return json.load(fh)["pid"]
    except (OSError, ValueError, KeyError):
        return None


#: What a kernel on the gateway never imports: the model library and any HTTP client stack
#: (it speaks HTTP to its gateway with the standard library).
HEAVY = ("litellm", "openai", "aiohttp", "httpx", "httpcore", "anyio", "h11", "certifi")


def test_a_kernel_on_the_gateway_never_imports_litellm(model_server, tmp_path):
    with gateway_backend_env() as backend:
        backend["AIIPYTHON_LM_BACKEND"] = "auto"
        env = model_env(model_server, **backend)
        with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
            model_server.script(Reply("```py\nx = 6 * 7\n```"), Reply("x is 42"))
            result = execute(kc, "%%ai\ncompute x", timeout=120)
            assert any("x is 42" in m for m in result.markdown()), result.all_text()
            assert "unavailable" not in result.all_text()
            probe = execute(
                kc,
                f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))",
            )
            assert probe.stream_text().strip() == "[]"
            usage = execute(kc, "%ai /usage").all_text()
            assert "| 2 |" in usage  # two requests counted from the gateway's usage events
            wire = execute(kc, "%ai /wire 1").all_text()
            assert "api_base" in wire and "sk-test-key" not in wire


def test_gateway_killed_mid_reply_then_the_next_turn_restarts_it(model_server, tmp_path):
    with gateway_backend_env() as backend:
        directory = backend["AIIPYTHON_GATEWAY_DIR"]
        env = model_env(model_server, **backend)
        with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
            model_server.script(Reply(chunks=[f"word{i} " for i in range(200)], delay=0.05))
            killed: list[int] = []

            def kill_on_first_text(output):
                if not killed and output["msg_type"] in ("display_data", "update_display_data"):
                    pid = state_pid(directory)
                    killed.append(pid)
                    os.kill(pid, 9)

            result = execute(kc, "%%ai\ntalk", timeout=120, on_output=kill_on_first_text)
            text = result.all_text()
            assert killed and result.status == "ok"
            assert "word0" in text
            assert "Broken stream" in text and "model gateway stopped" in text, text
            assert "Traceback" not in text
            wait_for(lambda: not alive(killed[0]), what="the killed gateway to be gone")
            model_server.script(Reply("back again"))
            again = execute(kc, "%%ai\nstill there?", timeout=120)
            assert any("back again" in m for m in again.markdown()), again.all_text()
            assert state_pid(directory) not in (None, killed[0])


def test_a_kernel_killed_mid_reply_cancels_its_upstream_request(model_server, tmp_path):
    with gateway_backend_env() as backend:
        env = model_env(model_server, **backend)
        with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
            model_server.script(Reply(chunks=[f"word{i} " for i in range(400)], delay=0.05))
            msg_id = kc.execute("%%ai\ntalk")
            while True:  # until the first text of the reply is shown
                msg = kc.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in (
                    "display_data",
                    "update_display_data",
                ):
                    break
            km.signal_kernel(signal.SIGKILL)
            wait_for(
                lambda: model_server.model_requests()[0].client_disconnected,
                what="the gateway to close the upstream request",
            )


def test_auto_falls_back_to_litellm_in_the_kernel_with_a_notice(model_server, tmp_path):
    root = private_gateway_dir()
    os.chmod(root, 0o777)  # others could plant a socket here: never used
    try:
        env = model_env(model_server, AIIPYTHON_LM_BACKEND="auto", AIIPYTHON_GATEWAY_DIR=str(root))
        with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
            model_server.script(Reply("answered in the kernel"), Reply("second"))
            result = execute(kc, "%%ai\nhello", timeout=180)
            text = result.all_text()
            assert any("answered in the kernel" in m for m in result.markdown()), text
            assert "Model gateway unavailable" in text and "writable by other users" in text
            second = execute(kc, "%%ai\nagain", timeout=120).all_text()
            assert "second" in second and "Model gateway unavailable" not in second  # said once
        assert not (root / "gateway.sock").exists()
    finally:
        os.chmod(root, 0o700)
        os.rmdir(root)
