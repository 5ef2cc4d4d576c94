"""Real kernels for tests: a private kernelspec for the source tree, start/stop, execute helpers.

Kernels are started through jupyter_client exactly as JupyterLab would, with the
`aiipython` kernelspec written into a private JUPYTER_PATH entry whose env puts
this checkout first on PYTHONPATH, so tests exercise the code under test even
when an older aiikernel is installed.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

REPO = Path(__file__).resolve().parents[2]


def write_private_kernelspecs(root: Path) -> Path:
    """Create ``root/share/jupyter/kernels/aiipython`` pointing at this checkout; returns the data dir."""
    from aiikernel.kernelspec import write_kernel_spec

    data_dir = root / "share" / "jupyter"
    spec_dir = write_kernel_spec(data_dir / "kernels" / "aiipython")
    spec = json.loads((spec_dir / "kernel.json").read_text())
    spec["env"] = {
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=2))
    return data_dir


def model_env(server: Any | None = None, **extra: str) -> dict[str, str]:
    """Environment for a kernel that talks to the scripted model server (no real keys leak in)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and k not in ("AIIPYTHON_MODEL",)
    }
    env["AIIPYTHON_MAX_RETRIES"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    if server is not None:
        env["OPENAI_API_KEY"] = "sk-test-key-0123456789"
        env["OPENAI_BASE_URL"] = server.openai_base
        env["AIIPYTHON_MODEL"] = "openai/scripted"
    env.update(extra)
    return env


@dataclass
class Execution:
    """Everything one execute_request produced."""

    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def stream_text(self, name: str = "stdout") -> str:
        return "".join(
            o["content"]["text"]
            for o in self.outputs
            if o["msg_type"] == "stream" and o["content"]["name"] == name
        )

    def final_outputs(self) -> list[dict[str, Any]]:
        """Outputs minus live displays (those with a display_id, later updated in place)."""
        return [o for o in self.outputs if not o["content"].get("transient", {}).get("display_id")]

    def markdown(self) -> list[str]:
        """Markdown shown (final displays, not live updates), in order."""
        return [
            o["content"]["data"]["text/markdown"]
            for o in self.final_outputs()
            if o["msg_type"] == "display_data" and "text/markdown" in o["content"]["data"]
        ]

    def all_text(self) -> str:
        """Every text the user could see, in order, as one string."""
        parts = []
        for o in self.final_outputs():
            c = o["content"]
            if o["msg_type"] == "stream":
                parts.append(c["text"])
            elif o["msg_type"] in ("display_data", "execute_result"):
                parts.append(c["data"].get("text/markdown") or c["data"].get("text/plain", ""))
            elif o["msg_type"] == "error":
                parts.append(f"{c['ename']}: {c['evalue']}")
        return "\n".join(parts)

    def errors(self) -> list[dict[str, Any]]:
        return [o["content"] for o in self.outputs if o["msg_type"] == "error"]

    def kinds(self) -> list[str]:
        return [o["msg_type"] for o in self.outputs]


def execute(kc: Any, code: str, timeout: float = 60.0, on_output: Any = None) -> Execution:
    """Run ``code`` and collect its iopub outputs until the kernel is idle again."""
    msg_id = kc.execute(code)
    outputs: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no idle after {timeout}s; outputs so far: {outputs}")
        try:
            msg = kc.get_iopub_msg(timeout=remaining)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind in (
            "stream",
            "display_data",
            "update_display_data",
            "execute_result",
            "error",
            "clear_output",
        ):
            entry = {"msg_type": kind, "content": msg["content"]}
            outputs.append(entry)
            if on_output is not None:
                on_output(entry)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return Execution(reply=reply, outputs=outputs)


@contextmanager
def running_kernel(
    name: str = "aiipython",
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[KernelManager, Any]]:
    """Start a real kernel process; always shut it down (by its manager, i.e. by pid)."""
    km = KernelManager(kernel_name=name)
    km.start_kernel(env=env or model_env(), cwd=str(cwd) if cwd else None)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        if km.has_kernel:
            km.kill_kernel()


def python_executable() -> str:
    return sys.executable
