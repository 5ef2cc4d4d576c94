"""How fast Stop (a kernel interrupt) ends an AI turn, against a plain python3 kernel's interrupt.

Three cases, each timed from the interrupt request to the kernel's reply, ``REPEATS`` times:
an aiipython turn interrupted while the model streams, one interrupted while its code sleeps,
and — the baseline, measured in the same run — a python3 kernel interrupted in ``time.sleep``.
The target (issue 10: "Stop ends a turn within a second") is checked here, not in the tests,
which only check that the interrupt ended the turn long before it would have ended alone.

    python benchmarks/interrupt.py [--repeats 5] [--backend gateway|litellm]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.interrupts import Interrupter  # noqa: E402
from tests.support.kernels import execute, model_env, running_kernel  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

SLEEPING = "Sleeping.\n```py\nimport time\nprint('sleeping', flush=True)\ntime.sleep(60)\n```"


def _stopped_after(km, kc, code: str, trigger) -> float:
    interrupter = Interrupter(km, trigger)
    execute(kc, code, timeout=300, on_output=interrupter)
    assert interrupter.sent_at is not None, "the trigger output never came"
    return (time.monotonic() - interrupter.sent_at) * 1000


def _is_stream(text: str):
    return lambda o: o["msg_type"] == "stream" and text in o["content"].get("text", "")


def measure(repeats: int, backend: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"python3 sleep": [], "AI streaming": [], "AI code": []}
    with (
        tempfile.TemporaryDirectory(prefix="aii-interrupt-") as tmp,
        ScriptedModelServer() as model,
    ):
        env = model_env(model, AIIPYTHON_HOME=str(Path(tmp) / "home"), AIIPYTHON_LM_BACKEND=backend)
        with running_kernel("python3", env=env, cwd=tmp) as (km, kc):
            for _ in range(repeats):
                code = "import time\nprint('sleeping', flush=True)\ntime.sleep(60)"
                times["python3 sleep"].append(_stopped_after(km, kc, code, _is_stream("sleeping")))
        with running_kernel("aiipython", env=env, cwd=tmp) as (km, kc):
            model.script(Reply("warm"))
            execute(kc, "%%ai\nwarm up", timeout=300)  # the first turn starts the model client
            for _ in range(repeats):
                model.script(Reply(chunks=[f"word{i} " for i in range(600)], delay=0.1))
                streaming = _stopped_after(
                    km,
                    kc,
                    "%%ai\ntalk",
                    lambda o: o["msg_type"] in ("display_data", "update_display_data"),
                )
                times["AI streaming"].append(streaming)
                model.script(Reply(SLEEPING))
                times["AI code"].append(
                    _stopped_after(km, kc, "%%ai\nsleep", _is_stream("sleeping"))
                )
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=["gateway", "litellm"], default="gateway")
    args = parser.parse_args(argv)
    times = measure(args.repeats, args.backend)
    base = statistics.median(times["python3 sleep"])
    for case, values in times.items():
        median = statistics.median(values)
        print(
            f"{case:14} interrupt → idle: median {median:6.0f} ms, max {max(values):6.0f} ms "
            f"({median / base:.2f}× python3; target: under 1000 ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
