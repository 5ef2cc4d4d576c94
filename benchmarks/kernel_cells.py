"""Per-cell overhead of the `aiipython` kernel against the stock `python3` kernel (issue 9).

(d) execute round trip of three cells — a small one, a small one that prints (its output goes
    through the chat hub's IOPub tap into the recent-cells log), a 5,000-line one — in warm
    kernels taking turns: `aiipython` (checkpoint tracking on, no background warm-up),
    `aiipython` with its tracker unregistered, `python3`, and optionally `aiipython` from another
    checkout (``--before DIR``: the same run measures before and after). Reported: the median of
    the ratios of runs made moments apart (paired), not a ratio of medians.
(d′) the kernel's CPU time per cell, measured inside each kernel around its execute_request
    handler (``time.process_time``: every thread of the kernel, ns resolution), paired the same
    way. On a loaded machine this is the steadier figure: waiting for a core is not in it.
(d‴) the same cells in one `aiipython` kernel with everything aiikernel does per cell (cell
    hooks, input transformer, parse hook, the chat hub's IOPub tap) in place and taken out,
    alternating request by request: round trip and kernel CPU, paired. One process, so the
    ±20 % between kernel processes is out of it: the steadiest figure of aiikernel's own cost.
(d″) the hooks' own CPU: inside one `aiipython` kernel, ``run_cell`` of the same small cell many
    times with that work in place and taken out, in alternating blocks (thread CPU, GC off).

One kernel process runs the same code up to ±20 % faster or slower than another of the same kind
(string hashes are seeded per process and dict layouts follow), so ``--sets`` sets of kernels are
measured, each set sharing one PYTHONHASHSEED. Target: ≤ 1.05 for every cell.

Run: python benchmarks/kernel_cells.py [--runs N] [--sets 3] [--before DIR]
(`python benchmarks/kernel.py --only cells` runs the same; prints Markdown rows.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_client.manager import KernelManager  # noqa: E402

from tests.support.kernels import execute, model_env, write_private_kernelspecs  # noqa: E402

SMALL_CELL = "bench_a = 1\nbench_b = bench_a + 2"
PRINT_CELL = "bench_a = 1\nprint('bench', bench_a + 2)"

#: Installed in every kernel: CPU and wall time of each execute_request, by msg_id.
TIMER = """
import time as _bt
_bk = get_ipython().kernel
_bk._bench_samples = {}
async def _btimed(stream, ident, parent, _orig=_bk.shell_handlers["execute_request"], _k=_bk):
    cpu, wall = _bt.process_time(), _bt.perf_counter()
    try:
        return await _orig(stream, ident, parent)
    finally:
        _k._bench_samples[parent["header"]["msg_id"]] = _bt.process_time() - cpu
_bk.shell_handlers["execute_request"] = _btimed
"""

READ_TIMER = "import json as _bj; print(_bj.dumps(get_ipython().kernel._bench_samples))"

#: Run inside an aiipython kernel: ``_bench_off()`` takes out everything aiikernel does per
#: cell (cell hooks, input transformer, parse hook, the chat hub's IOPub tap), ``_bench_on()``
#: puts it back; ``_hooks_cost`` times run_cell both ways in alternating blocks.
SWITCH = """
import gc as _hg, statistics as _hs, time as _ht
def _bench_switch():
    sh = get_ipython()
    ours = {event: [cb for cb in cbs if type(getattr(cb, "__self__", None)).__module__.startswith("aiikernel")]
            for event, cbs in sh.events.callbacks.items()}
    transformers = [t for t in sh.input_transformers_cleanup if t.__module__.startswith("aiikernel")]
    parse_hook = sh.compile.__dict__.get("ast_parse")
    session = sh.kernel.session
    tap = session.__dict__.get("send")
    def off():
        for event, cbs in ours.items():
            for cb in cbs:
                sh.events.callbacks[event].remove(cb)
        for t in transformers:
            sh.input_transformers_cleanup.remove(t)
        if parse_hook is not None:
            del sh.compile.ast_parse
        if tap is not None:
            del session.send
    def on():
        for event, cbs in ours.items():
            sh.events.callbacks[event].extend(cbs)
        sh.input_transformers_cleanup.extend(transformers)
        if parse_hook is not None:
            sh.compile.ast_parse = parse_hook
        if tap is not None:
            session.send = tap
    count = sum(len(cbs) for cbs in ours.values()) + len(transformers) + (parse_hook is not None) + (tap is not None)
    return off, on, count
_bench_off, _bench_on, _bench_count = _bench_switch()
def _hooks_cost(cell, blocks, per_block):
    sh = get_ipython()
    times = {True: [], False: []}
    _hg.disable()
    try:
        for block in range(blocks):
            for hooked in ((True, False) if block % 2 else (False, True)):
                if not hooked:
                    _bench_off()
                try:
                    started = _ht.thread_time()
                    for _ in range(per_block):
                        sh.run_cell(cell, store_history=True)
                    times[hooked].append((_ht.thread_time() - started) / per_block)
                finally:
                    if not hooked:
                        _bench_on()
    finally:
        _hg.enable()
    return {"with": _hs.median(times[True]), "without": _hs.median(times[False]), "hooks": _bench_count}
"""

CELLS = {"small": SMALL_CELL, "printing": PRINT_CELL}


def big_cell(lines: int = 5000) -> str:
    """Plain statements a notebook might hold: assignments, lists, dicts, f-strings, ifs."""
    shapes = (
        "v{i} = {i} * 2 + len('abc')",
        "lst = [v{p1}, {i}]",
        "if v{p2} > 3: w = v{p2}",
        "d = {{'k': {i}, 'w': v{p3}}}",
        "s = f'{{v{p4}}} items'",
    )
    return "\n".join(
        shapes[i % 5].format(i=i, p1=i - 1, p2=i - 2, p3=i - 3, p4=i - 4) for i in range(lines)
    )


def runs_for(cell_name: str, runs: int) -> int:
    return runs if cell_name == "5,000-line" else runs * 10


def write_before_spec(spec_data_dir: Path, before: Path) -> None:
    """A kernelspec ``aiipython-before`` running aiikernel from another checkout."""
    source = spec_data_dir / "kernels" / "aiipython" / "kernel.json"
    spec = json.loads(source.read_text())
    spec["display_name"] = "aiipython (before)"
    spec["env"] = {"PYTHONPATH": str(before.resolve())}
    target = spec_data_dir / "kernels" / "aiipython-before"
    target.mkdir(parents=True, exist_ok=True)
    (target / "kernel.json").write_text(json.dumps(spec, indent=2))


def cell_overhead(
    runs: int, env: dict[str, str], sets: int = 3, before: bool = False
) -> dict[str, dict[str, Any]]:
    """Samples per cell and kernel: wall and kernel CPU of each run, in run order."""
    cells = {**CELLS, "5,000-line": big_cell()}
    names = ["aiipython", "untracked", "python3"] + (["before"] if before else [])
    samples: dict[str, dict[str, Any]] = {
        cell: {n: {"wall": [], "cpu": []} for n in names} for cell in cells
    }
    hooks: list[dict[str, float]] = []
    for seed in range(sets):
        measure_set(runs, {**env, "PYTHONHASHSEED": str(seed)}, cells, names, samples, hooks)
    return {"cells": samples, "hooks": hooks}


def start(spec: str, env: dict[str, str], cwd: str, extra: list[str]) -> tuple[Any, Any]:
    km = KernelManager(kernel_name=spec)
    km.start_kernel(env=env, cwd=cwd, extra_arguments=extra)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def measure_set(
    runs: int,
    env: dict[str, str],
    cells: dict[str, str],
    names: list[str],
    samples: dict[str, dict[str, Any]],
    hooks: list[dict[str, float]],
) -> None:
    """One set of warm kernels taking turns on every cell (the order rotates every round)."""
    quiet = ["--AiiKernel.warm_up_models=False"]
    specs = {
        "aiipython": ("aiipython", quiet),
        "untracked": ("aiipython", quiet),
        "python3": ("python3", []),
        "before": ("aiipython-before", quiet),
    }
    kernels: dict[str, tuple[Any, Any]] = {}
    with tempfile.TemporaryDirectory() as cwd:
        try:
            for name in names:
                spec, extra = specs[name]
                kernels[name] = start(spec, env, cwd, extra)
                execute(kernels[name][1], TIMER)
            tracking = execute(
                kernels["aiipython"][1],
                "print(get_ipython()._aiikernel_session.tracker is not None)",
            )
            if tracking.stream_text().strip() != "True":
                raise RuntimeError(f"checkpoint tracking is off: {tracking.all_text()}")
            execute(
                kernels["untracked"][1], "get_ipython()._aiikernel_session.tracker.unregister()"
            )
            ids: dict[str, dict[str, list[str]]] = {c: {n: [] for n in names} for c in cells}
            for cell_name, code in cells.items():
                for i in range(runs_for(cell_name, runs) + 2):
                    order = names[i % len(names) :] + names[: i % len(names)]
                    if i % 2:
                        order.reverse()
                    for name in order:
                        started = time.perf_counter()
                        result = execute(kernels[name][1], code, timeout=300)
                        elapsed = time.perf_counter() - started
                        if result.status != "ok":
                            raise RuntimeError(f"{name}: {result.all_text()}")
                        if i >= 2:  # the first two rounds warm caches (history, compile)
                            samples[cell_name][name]["wall"].append(elapsed)
                            ids[cell_name][name].append(result.reply["parent_header"]["msg_id"])
            for name in names:
                cpu = json.loads(execute(kernels[name][1], READ_TIMER).stream_text())
                for cell_name in cells:
                    samples[cell_name][name]["cpu"] += [cpu[m] for m in ids[cell_name][name]]
            kc = kernels["aiipython"][1]
            execute(kc, SWITCH)
            same_process(runs, kc, cells, samples)
            hooks.append(hooks_cost(kc, runs))
        finally:
            for km, kc in kernels.values():
                kc.stop_channels()
                km.shutdown_kernel(now=True)


def silent(kc: Any, code: str) -> None:
    """Run ``code`` unseen by cell hooks (a silent request triggers no pre/post_run_cell)."""
    msg_id = kc.execute(code, silent=True, store_history=False)
    while kc.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != msg_id:
        pass


def same_process(
    runs: int, kc: Any, cells: dict[str, str], samples: dict[str, dict[str, Any]]
) -> None:
    """Each cell in one aiipython kernel with aiikernel's per-cell work in place ("on") and
    taken out ("off"), alternating request by request: no difference between processes."""
    ids: dict[str, dict[str, list[str]]] = {c: {"on": [], "off": []} for c in cells}
    for cell_name, code in cells.items():
        for i in range(runs_for(cell_name, runs) + 2):
            for mode in ("on", "off") if i % 2 else ("off", "on"):
                silent(kc, "_bench_off()" if mode == "off" else "_bench_on()")
                started = time.perf_counter()
                result = execute(kc, code, timeout=300)
                elapsed = time.perf_counter() - started
                if result.status != "ok":
                    raise RuntimeError(f"{mode}: {result.all_text()}")
                if i >= 2:
                    samples[cell_name].setdefault(mode, {"wall": [], "cpu": []})
                    samples[cell_name][mode]["wall"].append(elapsed)
                    ids[cell_name][mode].append(result.reply["parent_header"]["msg_id"])
    silent(kc, "_bench_on()")
    cpu = json.loads(execute(kc, READ_TIMER).stream_text())
    for cell_name in cells:
        for mode in ("on", "off"):
            samples[cell_name][mode]["cpu"] += [cpu[m] for m in ids[cell_name][mode]]


def hooks_cost(kc: Any, runs: int) -> dict[str, float]:
    code = f"import json; print(json.dumps(_hooks_cost({SMALL_CELL!r}, {max(runs * 4, 20)}, 25)))"
    result = execute(kc, code, timeout=600)
    return json.loads(result.stream_text())


def paired(samples: dict[str, Any], measure: str, ours: str, base: str = "python3") -> float:
    pairs = zip(samples[ours][measure], samples[base][measure], strict=True)
    return statistics.median(a / b for a, b in pairs)


def report(results: dict[str, Any], sets: int) -> None:
    rows = []
    for cell, s in results["cells"].items():
        n = len(s["python3"]["wall"])

        def ms(name: str, measure: str, s: dict[str, Any] = s) -> str:
            return f"{statistics.median(s[name][measure]) * 1000:.2f} ms"

        others = [("aiipython", "aiipython")]
        if "before" in s:
            others.append(("before", "aiipython before"))
        for name, label in others:
            rows.append(
                f"| (d) {cell} cell, round trip, {label}, median of {n} paired ratios ({sets} kernel sets) "
                f"| {ms(name, 'wall')} | python3 {ms('python3', 'wall')} | **{paired(s, 'wall', name):.3f}** | ≤ 1.05 |"
            )
            rows.append(
                f"| (d′) {cell} cell, kernel CPU per cell (process_time around execute_request), {label} "
                f"| {ms(name, 'cpu')} | python3 {ms('python3', 'cpu')} | **{paired(s, 'cpu', name):.3f}** | ≤ 1.05 |"
            )
        rows.append(
            f"| (d‴) {cell} cell, one aiipython kernel, aiikernel's per-cell work in place / taken out, "
            f"requests alternating | on: {ms('on', 'wall')}, CPU {ms('on', 'cpu')} | off: {ms('off', 'wall')}, CPU {ms('off', 'cpu')} "
            f"| wall **{paired(s, 'wall', 'on', 'off'):.3f}**, CPU **{paired(s, 'cpu', 'on', 'off'):.3f}** | ≤ 1.05 |"
        )
        rows.append(
            f"| (d) {cell} cell, the tracker's share: aiipython / aiipython untracked | | "
            f"untracked / python3: wall {paired(s, 'wall', 'untracked'):.3f}, CPU {paired(s, 'cpu', 'untracked'):.3f} "
            f"| wall {paired(s, 'wall', 'aiipython', 'untracked'):.3f}, CPU {paired(s, 'cpu', 'aiipython', 'untracked'):.3f} | — |"
        )
    hooks = results["hooks"]
    with_ = statistics.median(h["with"] for h in hooks)
    without = statistics.median(h["without"] for h in hooks)
    rows.append(
        f"| (d″) small cell, `run_cell` in one aiipython kernel with its {int(hooks[0]['hooks'])} hooks / without "
        f"| {with_ * 1e6:.0f} µs | {without * 1e6:.0f} µs | **+{(with_ - without) * 1e6:.0f} µs** ({with_ / without:.3f}) | — |"
    )
    print("| benchmark | measured | baseline (same run) | result | target |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10, help="runs per set (×10 for the small cells)")
    p.add_argument("--sets", type=int, default=3, help="kernel sets, one hash seed each")
    p.add_argument("--before", type=Path, help="another checkout's root, measured beside this one")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    spec_root = Path(tempfile.mkdtemp(prefix="aiik-bench-"))
    os.environ["AIIPYTHON_HOME"] = str(spec_root / "aiipython-home")  # never touch ~/.aiipython
    data_dir = write_private_kernelspecs(spec_root)
    if args.before:
        write_before_spec(data_dir, args.before)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(data_dir), os.environ.get("JUPYTER_PATH", "")]
    )
    load = os.getloadavg()[0]
    results = cell_overhead(args.runs, model_env(), args.sets, before=args.before is not None)
    print(
        f"machine: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} "
        f"· {time.strftime('%Y-%m-%d %H:%M')} · load average {load:.1f} → {os.getloadavg()[0]:.1f}"
    )
    report(results, args.sets)


if __name__ == "__main__":
    main()
