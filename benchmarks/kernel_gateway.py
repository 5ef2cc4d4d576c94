"""Kernel benchmarks for the model gateway (issue 11), each against a baseline of the same run.

(e) memory: resident set of an `aiipython` kernel after its first AI turn (one fence, two model
    calls), with litellm in the kernel and with the gateway, against a stock `python3` kernel
    after the same plain cell; the gateway's own memory is shown beside it. Target ≤ 1.3×.
(f) cold first token: kernel started, prompt sent the moment it is ready → first token shown,
    against a raw httpx streamed request to the same scripted server from a fresh client.
    Target ≤ 1.5× + 100 ms. Backends: litellm in the kernel; the gateway already running; the
    gateway not running yet (started by that kernel: its litellm import on the path).
(g) per-request overhead of the gateway over in-process litellm on a warm path: the same
    streamed request through `GatewayClient` and `LiteLLMClient` in this process, interleaved.
    Target ≤ 3 ms.
(h) ten kernels, one AI turn each: their total memory (plus the gateway's) against ten `python3`
    kernels after the same plain cell; resident set and proportional set size (PSS: shared pages
    divided among the processes sharing them).

Run: python benchmarks/kernel_gateway.py [--runs N] [--kernels 10] [--only e,f,g,h]
(prints Markdown rows; paste into docs/benchmarks.md). `python benchmarks/kernel.py --only
gateway` runs the same.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

from tests.support.kernels import execute, model_env, write_private_kernelspecs  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

FENCE_REPLY = "Setting it.\n```py\nbench_x = 1\n```"
PLAIN_CELL = "bench_x = 1"
MB = 1024 * 1024
BACKENDS = ("litellm", "gateway")


@contextmanager
def gateway_dir() -> Iterator[dict[str, str]]:
    """A private gateway directory for one measurement; its gateway is stopped after."""
    from aiikernel.gateway.lifecycle import stop_gateway
    from aiikernel.gateway.paths import GatewayPaths

    root = Path(tempfile.mkdtemp(prefix="aiigw-bench-", dir="/tmp"))
    directory = root / "gw"
    try:
        yield {"AIIPYTHON_GATEWAY_DIR": str(directory)}
    finally:
        stop_gateway(GatewayPaths(directory, directory))
        shutil.rmtree(root, ignore_errors=True)


def gateway_process(env: dict[str, str]) -> psutil.Process | None:
    from aiikernel.gateway.lifecycle import read_state
    from aiikernel.gateway.paths import GatewayPaths

    directory = Path(env["AIIPYTHON_GATEWAY_DIR"])
    state = read_state(GatewayPaths(directory, directory)) or {}
    pid = state.get("pid")
    return psutil.Process(pid) if isinstance(pid, int) else None


@contextmanager
def kernel(name: str, env: dict[str, str], cwd: str) -> Iterator[tuple[Any, psutil.Process]]:
    km = KernelManager(kernel_name=name)
    km.start_kernel(env=env, cwd=cwd)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        yield kc, psutil.Process(km.provisioner.pid)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def memory(process: psutil.Process) -> tuple[float, float]:
    """Resident set and proportional set size, MB."""
    info = process.memory_full_info()
    return info.rss / MB, getattr(info, "pss", info.uss) / MB


def ai_turn(kc: Any, server: ScriptedModelServer) -> None:
    server.script(Reply(FENCE_REPLY), Reply("Done."))
    result = execute(kc, "%%ai\nset bench_x", timeout=300)
    if not any("Done." in m for m in result.markdown()):
        raise RuntimeError(f"the AI turn failed: {result.all_text()}")


def settle() -> None:
    time.sleep(2.0)  # let background warm-ups finish what they started


# -- (e) memory of one kernel ------------------------------------------------------


def one_kernel_memory(server: ScriptedModelServer, base_env: dict[str, str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cwd:
        with kernel("python3", base_env, cwd) as (kc, process):
            execute(kc, PLAIN_CELL)
            settle()
            results["python3"] = memory(process)
        for backend in BACKENDS:
            with gateway_dir() as gw:
                env = {**base_env, **gw, "AIIPYTHON_LM_BACKEND": backend}
                with kernel("aiipython", env, cwd) as (kc, process):
                    ai_turn(kc, server)
                    settle()
                    results[backend] = memory(process)
                    gateway = gateway_process(env)
                    results[f"{backend} gateway"] = memory(gateway) if gateway else None
    return results


# -- (f) cold first token -------------------------------------------------------------


def raw_first_token(server: ScriptedModelServer) -> float:
    import httpx

    server.script(Reply(chunks=["First ", "token ", "arrives."]))
    started = time.perf_counter()
    with httpx.Client(base_url=server.openai_base) as client:
        with client.stream(
            "POST",
            "/chat/completions",
            headers={"Authorization": "Bearer sk-bench"},
            json={
                "model": "scripted",
                "stream": True,
                "messages": [{"role": "user", "content": "say something"}],
            },
        ) as response:
            for line in response.iter_lines():
                if "First" in line:
                    return time.perf_counter() - started
    raise RuntimeError("no token")


#: Kernel start → ready (seconds) of every kernel started by (f), by label.
READY: dict[str, list[float]] = {}


def start_to_ready(name: str, env: dict[str, str], label: str) -> None:
    """One kernel started and stopped: how long until it answered kernel_info."""
    with tempfile.TemporaryDirectory() as cwd:
        started = time.perf_counter()
        with kernel(name, env, cwd):
            READY.setdefault(label, []).append(time.perf_counter() - started)


def kernel_first_token(server: ScriptedModelServer, env: dict[str, str], label: str = "") -> float:
    server.script(Reply(chunks=["First ", "token ", "arrives."]))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd, kernel("aiipython", env, cwd) as (kc, _):
        if label:
            READY.setdefault(label, []).append(time.perf_counter() - started)
        asked = time.perf_counter()
        msg_id = kc.execute("%%ai\nsay something")
        while True:
            msg = kc.get_iopub_msg(timeout=300)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] in ("display_data", "update_display_data") and "First" in str(
                msg["content"]
            ):
                return time.perf_counter() - asked
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                raise RuntimeError("turn ended without showing the token")


def cold_first_tokens(
    server: ScriptedModelServer, base_env: dict[str, str], runs: int
) -> dict[str, float]:
    samples: dict[str, list[float]] = {
        "raw httpx": [],
        "litellm": [],
        "gateway running": [],
        "gateway cold": [],
    }
    for _ in range(runs):
        samples["raw httpx"].append(raw_first_token(server))
        samples["litellm"].append(
            kernel_first_token(server, {**base_env, "AIIPYTHON_LM_BACKEND": "litellm"})
        )
        with gateway_dir() as gw:
            env = {**base_env, **gw, "AIIPYTHON_LM_BACKEND": "auto"}
            samples["gateway cold"].append(kernel_first_token(server, env))
            time.sleep(1.0)  # the gateway warms litellm meanwhile (done long before a person types)
            samples["gateway running"].append(kernel_first_token(server, env, "aiipython"))
        start_to_ready("python3", base_env, "python3")
    return {name: statistics.median(values) for name, values in samples.items()}


# -- (g) per-request overhead ----------------------------------------------------------


def request_overhead(server: ScriptedModelServer, runs: int) -> dict[str, float]:
    from traitlets import Float, Int
    from traitlets.config import LoggingConfigurable

    from aiikernel.gateway.client import GatewayClient
    from aiikernel.lm.litellm_client import LiteLLMClient, ModelRequest

    class Settings(LoggingConfigurable):
        request_timeout = Float(60.0)
        max_retries = Int(0)

    os.environ["OPENAI_API_KEY"] = "sk-bench-key-0123456789"
    os.environ["OPENAI_BASE_URL"] = server.openai_base
    request = ModelRequest(
        "openai/scripted",
        [{"role": "system", "content": "s" * 2000}, {"role": "user", "content": "hello"}],
    )
    clients = {
        "litellm": LiteLLMClient(parent=Settings()),
        "gateway": GatewayClient(parent=Settings()),
    }
    times: dict[str, list[float]] = {name: [] for name in clients}
    server.responder = lambda _request: Reply(chunks=["one ", "two ", "three"])
    try:
        for i in range(runs + 5):
            order = list(clients) if i % 2 else list(reversed(clients))
            for name in order:
                started = time.perf_counter()
                chunks = list(clients[name].stream(request))
                elapsed = time.perf_counter() - started
                if len(chunks) != 4:
                    raise RuntimeError(f"{name}: {chunks}")
                if i >= 5:  # warm: imports, connections, the gateway's first request
                    times[name].append(elapsed)
    finally:
        server.responder = None
    diffs = [g - lite for g, lite in zip(times["gateway"], times["litellm"], strict=True)]
    return {
        "litellm": statistics.median(times["litellm"]),
        "gateway": statistics.median(times["gateway"]),
        "overhead": statistics.median(diffs),
    }


# -- (h) ten kernels ----------------------------------------------------------------


def many_kernels(
    server: ScriptedModelServer, base_env: dict[str, str], count: int
) -> dict[str, tuple[float, float]]:
    totals: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as cwd:
        for label in ("python3", *BACKENDS):
            name = "python3" if label == "python3" else "aiipython"
            with gateway_dir() as gw, ExitStack() as stack:
                env = {**base_env, **gw}
                if name == "aiipython":
                    env["AIIPYTHON_LM_BACKEND"] = label
                processes = []
                for _ in range(count):
                    kc, process = stack.enter_context(kernel(name, env, cwd))
                    if name == "python3":
                        execute(kc, PLAIN_CELL)
                    else:
                        ai_turn(kc, server)
                    processes.append(process)
                settle()
                gateway = gateway_process(env) if name == "aiipython" else None
                if gateway is not None:
                    processes.append(gateway)
                measured = [memory(p) for p in processes]
                totals[label] = (sum(m[0] for m in measured), sum(m[1] for m in measured))
    return totals


# -- report ----------------------------------------------------------------------------


def report(args: argparse.Namespace) -> None:
    only = set(args.only.split(",")) if args.only else {"e", "f", "g", "h"}
    spec_root = Path(tempfile.mkdtemp(prefix="aiik-bench-"))
    os.environ["AIIPYTHON_HOME"] = str(spec_root / "aiipython-home")  # never touch ~/.aiipython
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(write_private_kernelspecs(spec_root)), os.environ.get("JUPYTER_PATH", "")]
    )
    rows = []
    with ScriptedModelServer() as server:
        base_env = model_env(server)
        if "e" in only:
            m = one_kernel_memory(server, base_env)
            stock = m["python3"][0]
            for backend in BACKENDS:
                rss = m[backend][0]
                gateway = m[f"{backend} gateway"]
                extra = (
                    f"; the gateway {gateway[0]:.0f} MB (PSS {gateway[1]:.0f} MB), shared"
                    if gateway
                    else ""
                )
                rows.append(
                    f"| (e) kernel RSS after its first AI turn, {backend} | {rss:.0f} MB{extra} | python3 after the same plain cell {stock:.0f} MB | ratio **{rss / stock:.2f}** | ≤ 1.3 |"
                )
        if "f" in only:
            f = cold_first_tokens(server, base_env, args.runs_cold)
            raw = f["raw httpx"]
            ready = {k: statistics.median(v) for k, v in READY.items()}
            rows.append(
                f"| (f′) kernel start → ready, median of {args.runs_cold} | aiipython {ready['aiipython'] * 1000:.0f} ms | python3 {ready['python3'] * 1000:.0f} ms | **{(ready['aiipython'] - ready['python3']) * 1000:+.0f} ms** | — |"
            )
            for name in ("litellm", "gateway running", "gateway cold"):
                rows.append(
                    f"| (f) cold kernel, prompt at ready → first token, {name}, median of {args.runs_cold} | {f[name] * 1000:.0f} ms | raw httpx {raw * 1000:.1f} ms | ratio **{f[name] / raw:.1f}**, **{(f[name] - raw) * 1000:+.0f} ms** | ≤ 1.5× + 100 ms |"
                )
        if "g" in only:
            g = request_overhead(server, args.runs * 5)
            rows.append(
                f"| (g) one streamed request, warm, median of {args.runs * 5} interleaved pairs | gateway {g['gateway'] * 1000:.1f} ms | in-process litellm {g['litellm'] * 1000:.1f} ms | overhead **{g['overhead'] * 1000:+.1f} ms** | ≤ 3 ms |"
            )
        if "h" in only:
            h = many_kernels(server, base_env, args.kernels)
            stock_rss, stock_pss = h["python3"]
            for backend in BACKENDS:
                rss, pss = h[backend]
                rows.append(
                    f"| (h) {args.kernels} kernels, one AI turn each, total (with the gateway), {backend} | RSS {rss:.0f} MB, PSS {pss:.0f} MB | {args.kernels} python3: RSS {stock_rss:.0f} MB, PSS {stock_pss:.0f} MB | ratio **{rss / stock_rss:.2f}** (PSS {pss / stock_pss:.2f}) | — |"
                )
    shutil.rmtree(spec_root, ignore_errors=True)
    print(
        f"machine: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · {time.strftime('%Y-%m-%d')}"
    )
    print("| benchmark | measured | baseline (same run) | result | target |\n|---|---|---|---|---|")
    for row in rows:
        print(row)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10, help="(g) uses 5× this many pairs")
    p.add_argument("--runs-cold", type=int, default=3, help="cold starts per backend for (f)")
    p.add_argument("--kernels", type=int, default=10)
    p.add_argument("--only", default="", help="comma-separated subset of e,f,g,h")
    return p


if __name__ == "__main__":
    report(parser().parse_args())
