"""Ten real kernels on one gateway: one kernel's endless slow stream and another's huge reply
never delay the others' turns, and the kernel killed mid-stream has its upstream request
cancelled while the others go on."""

from __future__ import annotations

import json
import queue
import signal
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from tests.support.gateways import gateway_backend_env
from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Reply

from .helpers import wait_for

KERNELS = 10
HUGE_CHUNKS = 500  # 500 × 1 KiB, sent as fast as the gateway takes them
HUGE_END = "END-OF-HUGE-REPLY"


def prompt_of(request) -> str:
    messages = (request.body_json or {}).get("messages") or [{}]
    content = messages[-1].get("content")
    return content if isinstance(content, str) else json.dumps(content)


def respond(request):
    prompt = prompt_of(request)
    if "endless" in prompt:  # ~15 minutes: never ends within the test
        return Reply(chunks=[f"slow{i} " for i in range(9000)], delay=0.1)
    if "huge" in prompt:
        # distinct chunks: litellm ends a stream that repeats one chunk over and over
        lines = [f"{i:06d} {'x' * 1016}\n" for i in range(HUGE_CHUNKS)]
        return Reply(chunks=[*lines, HUGE_END])
    number = prompt.rsplit(" ", 1)[-1]
    return Reply(f"quick answer {number}")


def first_text_shown(kc, msg_id: str) -> None:
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=120)
        except queue.Empty:
            raise AssertionError("no text from the endless stream") from None
        if msg["parent_header"].get("msg_id") == msg_id and "slow0" in json.dumps(msg["content"]):
            return


def test_a_slow_or_huge_stream_never_delays_the_other_kernels(model_server, tmp_path):
    model_server.responder = respond
    with gateway_backend_env() as backend, ExitStack() as stack:
        env = model_env(model_server, **backend)
        kernels = []
        for number in range(KERNELS):
            cwd = tmp_path / f"k{number}"
            cwd.mkdir()
            kernels.append(stack.enter_context(running_kernel("aiipython", env=env, cwd=cwd)))
        (slow_km, slow_kc), (_, huge_kc) = kernels[0], kernels[1]

        slow_id = slow_kc.execute("%%ai\nendless")
        first_text_shown(slow_kc, slow_id)
        with ThreadPoolExecutor(KERNELS) as pool:
            huge = pool.submit(execute, huge_kc, "%%ai\nhuge", 300)
            quick = [
                pool.submit(execute, kc, f"%%ai\nquestion {number}", 300)
                for number, (_, kc) in enumerate(kernels[2:], start=2)
            ]
            for number, future in enumerate(quick, start=2):
                result = future.result()
                assert any(f"quick answer {number}" in m for m in result.markdown()), (
                    result.all_text()
                )
            # every quick turn finished while the endless stream still streams
            endless = next(r for r in model_server.model_requests() if "endless" in prompt_of(r))
            assert not endless.client_disconnected
            assert HUGE_END in "".join(huge.result().markdown())

        slow_km.signal_kernel(signal.SIGKILL)  # killed mid-stream
        wait_for(
            lambda: endless.client_disconnected,
            what="the gateway to cancel the killed kernel's upstream request",
        )
        _, survivor = kernels[2]
        model_server.responder = None
        model_server.script(Reply("still served"))
        after = execute(survivor, "%%ai\nand now?", timeout=120)
        assert any("still served" in m for m in after.markdown()), after.all_text()
