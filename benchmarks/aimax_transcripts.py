"""Transcript line written → subscriber latency (issue 5 target: p99 <= 50 ms).

Prints p50/p99 of our pipeline (append → watchfiles hub → TranscriptTailer →
EventLog → aiter subscriber) and of a bare watchfiles ``awatch`` with the same
settings measured in the same run (the floor), plus the ratios; then the CPU the
shared watcher costs with 50 idle sessions.

    python benchmarks/aimax_transcripts.py [--lines 300] [--interval 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from aiikernel.aimax.transcripts.latency import (
    measure_idle_watch_cpu,
    measure_tail_latency,
    measure_watch_floor,
    percentile,
)


async def main(lines: int, interval: float) -> None:
    with tempfile.TemporaryDirectory(prefix="aimax-bench-") as tmp:
        floor = await measure_watch_floor(Path(tmp), lines, interval)
        ours = await measure_tail_latency(Path(tmp), lines, interval)
        idle = await measure_idle_watch_cpu(Path(tmp), sessions=50)
    f50, f99 = percentile(floor, 50) * 1e3, percentile(floor, 99) * 1e3
    o50, o99 = percentile(ours, 50) * 1e3, percentile(ours, 99) * 1e3
    print(f"lines={lines} interval={interval * 1e3:.0f}ms")
    print(f"baseline  bare watchfiles awatch : p50 {f50:6.1f} ms  p99 {f99:6.1f} ms")
    print(f"aimax     tailer -> log -> aiter : p50 {o50:6.1f} ms  p99 {o99:6.1f} ms")
    print(f"ratio     aimax / baseline       : p50 {o50 / f50:5.2f}x   p99 {o99 / f99:5.2f}x")
    print(f"target    p99 <= 50 ms           : {'met' if o99 <= 50 else 'NOT met'}")
    print(
        f"idle      50 watched sessions    : {idle:.2f} % of one core (watcher share of the 2 % budget)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between lines")
    args = parser.parse_args()
    asyncio.run(main(args.lines, args.interval))
