"""Sub-agent benchmarks (issue 13), each against a baseline measured in the same run.

(a) spawn → ready: ``spawn_agent()`` in a parent kernel holding a namespace of ``--gb`` GiB
    (numpy array + numeric pandas DataFrame) until the child kernel runs with the namespace
    restored (``Agent.wait_ready()``), against a cold start of an empty aiipython kernel (the
    same command, ipc transport, started by an AsyncKernelManager until kernel_info answers).
    The namespace was checkpointed before (by the first spawn, shown apart), as it is after any
    AI turn. Targets ≤ 1.0 s and ≤ 1.3× the cold start. Three ways, in the same run: with the
    warm template (SubAgents.template, on by default) already running, as every spawn after a
    kernel's first gets it; the first spawn, which starts the template (it was stopped before);
    and with the template off (every child a new interpreter).
(b) memory of an idle child before it writes: its unique set size (USS: pages only it holds)
    minus that of a child spawned with ``names=[]`` (nothing restored), and its RSS (which also
    counts the mapped store pages it shares with the page cache and other children), with the
    template and without. Target ≤ 5 % of the namespace.
(c) ``child.get("big")`` of a 500 MB array the child made in its turn (its turn's closing
    checkpoint stored it), against nothing: the time is absolute. Target ≤ 50 ms.

Run: python benchmarks/subagents.py [--gb 1.0] [--runs 5] [--pull-mb 500]
Memory: the parent holds --gb, the store as much again (page cache), the pulled array is
mapped from the store. Everything is stopped and deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

from tests.support.gateways import gateway_backend_env  # noqa: E402
from tests.support.kernels import execute, model_env, write_private_kernelspecs  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

MB = 1024 * 1024


#: The code block of the "prewarm" case: the model spawns a sub-agent in the kernel's first turn.
SPAWN_IN_TURN = (
    "```py\nt = time.perf_counter()\nc = spawn_agent('say ok')\nc.wait_ready()\n"
    "spawn_s = time.perf_counter() - t\n```"
)


def responder(pull_mb: int, model_delay: float):
    def respond(request):
        text = json.dumps(request.body_json.get("messages", [])[-1:])
        if "Output of block" in text:
            return Reply("ok")
        if "make big" in text:
            count = pull_mb * MB // 8
            return Reply(f"```py\nbig = np.ones({count}, dtype=np.float64)\n```")
        if "spawn in turn" in text:  # the model takes model_delay to its code block
            return Reply(chunks=["Starting one.\n", SPAWN_IN_TURN], delay=model_delay / 2)
        return Reply("ok")

    return respond


def cold_start() -> float:
    """Seconds to start an empty aiipython kernel the way a child is started."""
    from jupyter_client.manager import AsyncKernelManager

    from aiikernel.subagents.supervisor import _SameInterpreter

    async def run() -> float:
        directory = tempfile.mkdtemp(prefix="aiik-bench-")
        km = AsyncKernelManager(
            kernel_name="aiipython-agent",
            kernel_spec_manager=_SameInterpreter(),
            transport="ipc",
            ip=os.path.join(directory, "k"),
            connection_file=os.path.join(directory, "k.json"),
        )
        started = time.perf_counter()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=120)
        seconds = time.perf_counter() - started
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        shutil.rmtree(directory, ignore_errors=True)
        return seconds

    return asyncio.run(run())


def value(kc, code: str, timeout: float = 600) -> str:
    result = execute(kc, code, timeout=timeout)
    if result.status != "ok":
        raise RuntimeError(result.all_text())
    return result.stream_text().strip()


def memory(pid: int) -> tuple[int, int]:
    info = psutil.Process(pid).memory_full_info()
    return info.uss, info.rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pull-mb", type=int, default=500)
    parser.add_argument(
        "--model-delay",
        type=float,
        default=1.0,
        help="seconds the scripted model takes to the code block that spawns (prewarm case)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aiik-bench-subagents-"))
    os.environ["JUPYTER_PATH"] = str(write_private_kernelspecs(work / "spec"))
    os.environ["AIIPYTHON_HOME"] = str(work / "home")
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    half = int(args.gb * 1024 * MB / 2)
    setup = (
        "import numpy as np, pandas as pd, time\n"
        f"arr = np.random.default_rng(0).random({half // 8})\n"
        f"df = pd.DataFrame(np.random.default_rng(1).random(({half // 64}, 8)), "
        "columns=list('abcdefgh'))\n"
        "print(round((arr.nbytes + df.memory_usage().sum()) / 2**30, 3))"
    )
    spawn = (
        "t = time.perf_counter()\nc = spawn_agent('say ok'{names})\nc.wait_ready()\n"
        "print(time.perf_counter() - t)\nc.result\nprint(c.pid)"
    )
    template = "%config SubAgents.template = {on}\n"
    stop_template = "get_ipython()._aiikernel_agents.supervisor.stop_template()"
    rows: dict[str, list[float]] = {
        key: []
        for key in (
            *("off", "first", "later", "prewarm", "cold"),
            *("uss", "rss", "uss_off", "rss_off", "pull"),
        )
    }
    with ScriptedModelServer() as server, gateway_backend_env() as backend:
        server.responder = responder(args.pull_mb, args.model_delay)
        km = KernelManager(kernel_name="aiipython")
        km.start_kernel(env=model_env(server, **backend), cwd=str(work))
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            gib = float(value(kc, setup))
            first = value(kc, template.format(on=False) + spawn.format(names="")).split()
            print(
                f"namespace: {gib} GiB; first spawn (writes it to the store): {float(first[0]):.2f} s"
            )
            value(kc, "c.stop()")
            for _ in range(args.runs):
                # no template: every child is a new interpreter
                rows["off"].append(spawn_seconds(kc, spawn, template.format(on=False)))
                uss, rss = extra_memory(kc, spawn)
                rows["uss_off"].append(uss)
                rows["rss_off"].append(rss)
                # template on: the first spawn starts it (it was stopped), later ones fork
                value(kc, stop_template)
                rows["first"].append(spawn_seconds(kc, spawn, template.format(on=True)))
                rows["later"].append(spawn_seconds(kc, spawn, ""))
                uss, rss = extra_memory(kc, spawn)
                rows["uss"].append(uss)
                rows["rss"].append(rss)
                # prewarm: the first AI turn starts the template while the model answers
                value(kc, stop_template)
                rows["prewarm"].append(spawn_in_turn(kc))
                rows["cold"].append(cold_start())
            value(kc, "p = spawn_agent('make big')\np.result")
            for _ in range(args.runs):
                out = value(
                    kc,
                    "t = time.perf_counter()\nv = p.get('big')\nprint(time.perf_counter() - t)\n"
                    "print(v.nbytes)\ndel v",
                )
                seconds, nbytes = out.split()
                rows["pull"].append(float(seconds))
            value(kc, "p.stop()")
            template_start, template_pid = value(
                kc,
                "tp = get_ipython()._aiikernel_agents.supervisor.template\n"
                "print(tp.ready_seconds)\nprint(tp.pid)",
            ).split()
            template_uss, template_rss = memory(int(template_pid))
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            shutil.rmtree(work, ignore_errors=True)
    median = {key: statistics.median(v) for key, v in rows.items() if v}
    cold_s = median["cold"]
    namespace_mb = gib * 1024
    print(
        "The template is started by the first spawn_agent() of a kernel (and after it was "
        f"stopped); the template itself took {float(template_start):.2f} s to start (last run) "
        f"and holds {template_uss / MB:.0f} MB USS, {template_rss / MB:.0f} MB RSS when idle."
    )
    print(f"| measure (median of {args.runs}) | value | baseline | ratio / share | target |")
    print("|---|---|---|---|---|")
    for key, label in (
        ("later", "template warm (every spawn after the first)"),
        ("first", "first spawn, starts the template"),
        ("off", "no template (SubAgents.template = False)"),
        (
            "prewarm",
            f"SubAgents.prewarm, first spawn, in the kernel's first AI turn (model "
            f"{args.model_delay:.1f} s to the code block)",
        ),
    ):
        print(
            f"| (a) spawn → ready, {gib} GiB namespace, {label} | {median[key]:.2f} s | cold "
            f"empty kernel {cold_s:.2f} s | {median[key] / cold_s:.2f}× | ≤ 1.0 s, ≤ 1.3× |"
        )
    for suffix, label in (("", "template"), ("_off", "no template")):
        uss = median["uss" + suffix]
        print(
            f"| (b) extra memory of an idle child (USS), {label} | {uss:.0f} MB | child with "
            f"names=[] | {100 * uss / namespace_mb:.1f} % of the namespace | ≤ 5 % |"
        )
        print(
            f"| (b) extra RSS (shared store pages included), {label} | "
            f"{median['rss' + suffix]:.0f} MB | child with names=[] | | |"
        )
    print(
        f"| (c) get() of a {args.pull_mb} MB array | {1000 * median['pull']:.1f} ms | | | ≤ 50 ms |"
    )
    print("raw:", {k: [round(x, 3) for x in v] for k, v in rows.items()})


def spawn_in_turn(kc) -> float:
    """Seconds from the model's spawn_agent() to the child ready, in a kernel whose template
    is not running when the turn starts (``SubAgents.prewarm`` starts it as the turn does)."""
    result = execute(kc, "%config SubAgents.prewarm = True\n")
    assert result.status == "ok", result.all_text()
    result = execute(kc, "%%ai\nspawn in turn", timeout=600)
    assert result.status == "ok", result.all_text()
    seconds = float(value(kc, "print(spawn_s)"))
    value(kc, "c.stop()")
    return seconds


def spawn_seconds(kc, spawn: str, prefix: str) -> float:
    """Seconds from spawn_agent() to the child ready with the namespace; the child stops."""
    seconds, _ = value(kc, prefix + spawn.format(names="")).split()
    value(kc, "c.stop()")
    return float(seconds)


def extra_memory(kc, spawn: str) -> tuple[float, float]:
    """MB of USS and RSS an idle full clone holds over a child with nothing restored."""
    _, pid = value(kc, spawn.format(names="")).split()
    full = memory(int(pid))
    _, empty_pid = value(
        kc, "e = spawn_agent('say ok', names=[])\ne.wait_ready()\nprint(0)\ne.result\nprint(e.pid)"
    ).split()
    empty = memory(int(empty_pid))
    value(kc, "c.stop()\ne.stop()")
    return (full[0] - empty[0]) / MB, (full[1] - empty[1]) / MB


if __name__ == "__main__":
    main()
