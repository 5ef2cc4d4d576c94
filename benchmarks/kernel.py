"""Kernel benchmarks for issue 2, each a ratio or difference against a baseline from the same run.

(a) start-up: kernel process start → kernel_info_reply, `aiipython` vs the stock `python3`
    ipykernel, interleaved runs; target median ratio ≤ 1.10.
(b) turn overhead: a `%%ai` turn with one fence against the scripted model, minus a plain cell
    in the same warm kernel that makes the same two streamed HTTP calls with httpx and runs the
    same code; target ≤ 15 ms (median of interleaved pairs).
(c) cold first token: kernel start → first streamed token of a `%%ai` reply shown on iopub.
(d) per-cell overhead (issue 9): benchmarks/kernel_cells.py (round trip and kernel CPU of small,
    printing and 5,000-line cells, paired against `python3`; the hooks' own CPU); target ≤ 1.05.

(a)–(c) run the kernel with litellm inside it (AIIPYTHON_LM_BACKEND=litellm); the model gateway's
figures (memory, cold first token per backend, per-request overhead, ten kernels) are
benchmarks/kernel_gateway.py, also run by `--only gateway`.

Run: python benchmarks/kernel.py [--runs N] [--only cells|gateway] (further options go to those;
prints a Markdown table; paste into docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_client.manager import KernelManager  # noqa: E402

from tests.support.kernels import execute, model_env, write_private_kernelspecs  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402


def time_to_kernel_info(name: str, env: dict[str, str]) -> float:
    km = KernelManager(kernel_name=name)
    started = time.perf_counter()
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)  # sends kernel_info_request, returns on its reply
        return time.perf_counter() - started
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def startup(runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    ours, stock = [], []
    for _ in range(runs):
        ours.append(time_to_kernel_info("aiipython", env))
        stock.append(time_to_kernel_info("python3", env))
    return (
        statistics.median(ours),
        statistics.median(stock),
        statistics.median(ours) / statistics.median(stock),
    )


TIME_MODEL_CALLS = """
import time as _bt
_bs = get_ipython()._aiikernel_session
_borig = type(_bs.client).astream
_bs.bench_model_time = 0.0
async def _btimed(request, _self=_bs.client):
    started = _bt.perf_counter()
    try:
        async for chunk in _borig(_self, request):
            yield chunk
    finally:
        _bs.bench_model_time += _bt.perf_counter() - started
_bs.client.astream = _btimed
"""

RAW_CELL = """
import httpx as _bh, json as _bj
_bclient = globals().get('_bclient') or _bh.Client(base_url={base!r}, headers={{'Authorization': 'Bearer sk-bench'}})
for _msgs in ({first!r}, {second!r}):
    with _bclient.stream('POST', '/chat/completions', json={{'model': 'scripted', 'stream': True, 'messages': _msgs, 'stream_options': {{'include_usage': True}}}}) as _r:
        _text = ''.join(_bj.loads(_l[6:])['choices'][0]['delta'].get('content') or '' for _l in _r.iter_lines() if _l.startswith('data: {{') and _bj.loads(_l[6:])['choices'])
    if '```py' in _text:
        exec('bench_x = 1')
"""


def turn_overhead(
    runs: int, server: ScriptedModelServer, env: dict[str, str]
) -> tuple[float, float, float, float]:
    fence_reply = "Setting it.\n```py\nbench_x = 1\n```"
    km = KernelManager(kernel_name="aiipython")
    with tempfile.TemporaryDirectory() as cwd:
        km.start_kernel(env=env, cwd=cwd)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            execute(
                kc, "%config AiSession.checkpoints_enabled = False"
            )  # checkpoints have their own benchmark
            first = [
                {"role": "system", "content": "s" * 2000},
                {"role": "user", "content": "set bench_x"},
            ]
            second = [
                *first,
                {"role": "assistant", "content": fence_reply},
                {"role": "user", "content": "block 1: (no output)"},
            ]
            raw_cell = RAW_CELL.format(base=server.openai_base, first=first, second=second)
            # warm both paths (imports, connection pools)
            for _ in range(3):
                server.script(Reply(fence_reply), Reply("Done."))
                execute(kc, "%%ai\nset bench_x")
                server.script(Reply(fence_reply), Reply("Done."))
                execute(kc, raw_cell)
            execute(kc, TIME_MODEL_CALLS)
            ai_times, raw_times, engine_only = [], [], []
            for _ in range(runs):
                server.script(Reply(fence_reply), Reply("Done."))
                execute(kc, "_bs.bench_model_time = 0.0")
                t = time.perf_counter()
                execute(kc, "%%ai\nset bench_x")
                ai_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                model_time = float(execute(kc, "print(_bs.bench_model_time)").stream_text())
                empty_cell = time.perf_counter() - t  # one execute round trip, printing a float
                engine_only.append(ai_times[-1] - model_time - empty_cell)
                server.script(Reply(fence_reply), Reply("Done."))
                t = time.perf_counter()
                execute(kc, raw_cell)
                raw_times.append(time.perf_counter() - t)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    diffs = [a - r for a, r in zip(ai_times, raw_times, strict=True)]
    return (
        statistics.median(ai_times),
        statistics.median(raw_times),
        statistics.median(diffs),
        statistics.median(engine_only),
    )


def cold_first_token(
    server: ScriptedModelServer, env: dict[str, str], idle: float = 0.0
) -> tuple[float, float]:
    """Kernel start → first streamed token shown; ``idle`` seconds pass between ready and the prompt."""
    server.script(Reply(chunks=["First ", "token ", "arrives."], delay=0.0))
    km = KernelManager(kernel_name="aiipython")
    with tempfile.TemporaryDirectory() as cwd:
        started = time.perf_counter()
        km.start_kernel(env=env, cwd=cwd)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            ready = time.perf_counter() - started
            time.sleep(idle)
            asked = time.perf_counter()
            msg_id = kc.execute("%%ai\nsay something")
            while True:
                msg = kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] in ("display_data", "update_display_data") and "First" in str(
                    msg["content"]
                ):
                    return time.perf_counter() - asked, ready
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    raise RuntimeError("turn ended without showing the token")
        except queue.Empty as exc:
            raise RuntimeError("no output within 60 s") from exc
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--only",
        choices=["cells", "gateway"],
        help="run only (d), the per-cell overhead, or the model gateway's benchmarks",
    )
    args, rest = parser.parse_known_args()
    if args.only == "gateway":
        import kernel_gateway

        kernel_gateway.report(kernel_gateway.parser().parse_args(["--runs", str(args.runs), *rest]))
        return
    if args.only == "cells":
        import kernel_cells

        kernel_cells.main(["--runs", str(args.runs), *rest])
        return
    spec_root = Path(tempfile.mkdtemp(prefix="aiik-bench-"))
    os.environ["AIIPYTHON_HOME"] = str(spec_root / "aiipython-home")  # never touch ~/.aiipython
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(write_private_kernelspecs(spec_root)), os.environ.get("JUPYTER_PATH", "")]
    )
    machine = f"machine: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · {time.strftime('%Y-%m-%d')}"
    header = (
        "| benchmark | measured | baseline (same run) | result | target |\n|---|---|---|---|---|"
    )
    with ScriptedModelServer() as server:
        env = model_env(server, AIIPYTHON_LM_BACKEND="litellm")
        a_ours, a_stock, a_ratio = startup(args.runs, env)
        b_ai, b_raw, b_diff, b_engine = turn_overhead(args.runs, server, env)
        c_token, c_ready = cold_first_token(server, env)
        w_token, _ = cold_first_token(server, env, idle=6.0)
    print(machine)
    print(header)
    print(
        f"| (a) start → kernel_info_reply, median of {args.runs} | aiipython {a_ours * 1000:.0f} ms | python3 {a_stock * 1000:.0f} ms | ratio **{a_ratio:.2f}** | ≤ 1.10 |"
    )
    print(
        f"| (b) `%%ai` turn, one fence, two model calls, median of {args.runs} | {b_ai * 1000:.1f} ms | raw httpx cell {b_raw * 1000:.1f} ms | overhead **{b_diff * 1000:.1f} ms** | ≤ 15 ms |"
    )
    print(
        f"| (b′) the same turn minus the time inside the two litellm calls and one execute round trip | | | engine + rendering **{b_engine * 1000:.1f} ms** | ≤ 15 ms |"
    )
    print(
        f"| (c) cold start, prompt sent as soon as the kernel is ready (at {c_ready * 1000:.0f} ms) | | | first token **{c_token * 1000:.0f} ms** after the prompt (litellm's import on the critical path) | — |"
    )
    print(
        f"| (c′) same, prompt sent 6 s after ready (someone typing; background warm-up done) | | | first token **{w_token * 1000:.0f} ms** after the prompt | — |"
    )
    print("\n(d) per-cell overhead:")
    import kernel_cells

    kernel_cells.main(["--runs", str(args.runs)])


if __name__ == "__main__":
    main()
