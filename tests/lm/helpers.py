"""A real kernel for model/credential tests that keeps every message and log it produced.

Redaction tests must see *every* channel, so unlike ``tests.support.kernels.execute``
this records all iopub messages of the kernel (not only those of one request), sends
the kernel's stdout/stderr to files, and points HOME, AIIPYTHON_HOME and IPYTHONDIR
at a private directory (the history database lives there).
"""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

from tests.support.kernels import Execution, model_env

from .endpoints import closed_port_url


@dataclass
class LmKernel:
    km: KernelManager
    kc: Any
    home: Path
    aiipython_home: Path
    ipython_dir: Path
    stdout_path: Path
    stderr_path: Path
    iopub: list[dict[str, Any]] = field(default_factory=list)
    shell_replies: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False

    def run(
        self, code: str, *, timeout: float = 90.0, stdin_answer: str | None = None
    ) -> Execution:
        """Execute ``code``; answer one input request with ``stdin_answer`` when given."""
        msg_id = self.kc.execute(code, allow_stdin=stdin_answer is not None)
        outputs: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        answered = False
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no idle after {timeout}s; outputs so far: {outputs}")
            if stdin_answer is not None and not answered:
                try:
                    request = self.kc.get_stdin_msg(timeout=0.05)
                except queue.Empty:
                    request = None
                if request is not None and request["msg_type"] == "input_request":
                    self.kc.input(stdin_answer)
                    answered = True
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            self.iopub.append(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                break
            if kind in ("stream", "display_data", "update_display_data", "execute_result", "error"):
                outputs.append({"msg_type": kind, "content": msg["content"]})
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            self.shell_replies.append(reply)
            reply = self.kc.get_shell_msg(timeout=timeout)
        self.shell_replies.append(reply)
        return Execution(reply=reply, outputs=outputs)

    def ok(self, code: str, **kwargs: Any) -> Execution:
        result = self.run(code, **kwargs)
        assert result.status == "ok", result.errors()
        return result

    def iopub_text(self, *, skip_execute_input: bool = False) -> str:
        """All iopub messages as JSON text (what a frontend receives)."""
        return "\n".join(
            json.dumps(m["content"], default=str) + json.dumps(m["metadata"], default=str)
            for m in self.iopub
            if not (skip_execute_input and m["msg_type"] == "execute_input")
        )

    def stop(self) -> None:
        """Shut the kernel down (by its manager, i.e. by pid); safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        if self.km.has_kernel:
            self.km.kill_kernel()


def start_lm_kernel(
    tmp_path: Path, server: Any | None, *, home: Path | None = None, **env_extra: str
) -> LmKernel:
    """Start a kernel whose HOME and IPython dir are private to the test."""
    home = home or tmp_path / "home"
    home.mkdir(exist_ok=True)
    ipython_dir = home / ".ipython"
    env = model_env(server)
    env.pop("OPENAI_API_KEY", None)  # tests choose their own credentials
    env.update(
        HOME=str(home),
        IPYTHONDIR=str(ipython_dir),
        AIIPYTHON_HOME=str(home / ".aiipython"),
        TABMINION_URL=closed_port_url(),  # never whatever listens on localhost:8080
    )
    env.update(env_extra)
    stamp = time.strftime("%H%M%S") + f"-{time.monotonic_ns() % 100000}"
    stdout_path = tmp_path / f"kernel-{stamp}.stdout"
    stderr_path = tmp_path / f"kernel-{stamp}.stderr"
    km = KernelManager(kernel_name="aiipython")
    out = open(stdout_path, "wb")  # noqa: SIM115 - the kernel process owns these
    err = open(stderr_path, "wb")  # noqa: SIM115
    try:
        km.start_kernel(env=env, cwd=str(tmp_path), stdout=out, stderr=err)
    finally:
        out.close()
        err.close()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    except Exception:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return LmKernel(
        km=km,
        kc=kc,
        home=home,
        aiipython_home=home / ".aiipython",
        ipython_dir=ipython_dir,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
    )
