"""The latency hook used by the benchmarks measures every line (no timing asserts here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiikernel.aimax.transcripts.latency import (
    measure_tail_latency,
    measure_watch_floor,
    percentile,
)


@pytest.mark.asyncio
async def test_measure_tail_latency_reports_each_line(tmp_path: Path) -> None:
    latencies = await measure_tail_latency(tmp_path, lines=20, interval=0.002)
    assert len(latencies) == 20
    assert all(v > 0 for v in latencies)


@pytest.mark.asyncio
async def test_measure_watch_floor_reports_each_line(tmp_path: Path) -> None:
    latencies = await measure_watch_floor(tmp_path, lines=10, interval=0.005)
    assert len(latencies) == 10
    assert all(v >= 0 for v in latencies)


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([3.0], 99) == 3.0
