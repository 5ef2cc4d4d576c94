"""A client opening many websocket streams (issue 14.5): server memory and ``/api/status``
latency while they are opened (50 at a time) and held, with the stream caps (the defaults) against the same server with
the caps lifted (the behaviour before them), measured in one run.

    python benchmarks/stream_flood.py [--streams 1000] [--status-requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiikernel.aimax.transcripts.latency import percentile  # noqa: E402
from tests.server.server_process import ServerProcess  # noqa: E402

UNCAPPED = {"max_streams_per_user": 1_000_000, "max_streams": 1_000_000}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def status_ms(server: ServerProcess, n: int) -> list[float]:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await client.fetch(f"{server.url}/api/status", headers=server.headers)
        out.append((time.perf_counter() - t) * 1e3)
    return out


async def flood(server: ServerProcess, streams: int, status_requests: int) -> dict:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    server.request(
        "POST", "/aimax/sessions", {"backend": "tmux-claude-code", "cwd": "w", "sessionId": "f"}
    )
    assert server.proc is not None
    pid = server.proc.pid
    idle_status = await status_ms(server, status_requests)
    before = rss_mb(pid)
    url = f"ws://127.0.0.1:{server.port}/aimax/sessions/f/stream"
    held, refused = [], 0
    gate = asyncio.Semaphore(50)  # a client opening 50 at a time

    async def one() -> None:
        nonlocal refused
        async with gate:
            ws = await websocket_connect(HTTPRequest(url, headers=server.headers))
            first = await asyncio.wait_for(ws.read_message(), 120)
        if first is None:
            refused += 1
        else:
            held.append(ws)

    during: list[float] = []

    async def poll_status(done: asyncio.Event) -> None:
        while not done.is_set():
            during.extend(await status_ms(server, 1))

    done = asyncio.Event()
    poller = asyncio.ensure_future(poll_status(done))
    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(streams)))
    open_s = time.perf_counter() - t
    done.set()
    await poller
    await asyncio.sleep(1.0)  # let ping loops and buffers settle
    after = rss_mb(pid)
    held_status = await status_ms(server, status_requests)
    for ws in held:
        ws.close()
    return {
        "admitted": len(held),
        "refused": refused,
        "open_all_s": round(open_s, 1),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "status_idle_p50_ms": round(percentile(idle_status, 50), 2),
        "status_during_p50_ms": round(percentile(during, 50), 2),
        "status_during_max_ms": round(max(during), 2),
        "status_held_p50_ms": round(percentile(held_status, 50), 2),
    }


def run(traits: dict, streams: int, status_requests: int) -> dict:
    base = Path(tempfile.mkdtemp(prefix="aimax-flood-"))
    try:
        with ServerProcess(base, traits=traits) as server:
            (server.root / "w").mkdir()
            return asyncio.run(flood(server, streams, status_requests))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--status-requests", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    capped = run({}, args.streams, args.status_requests)
    uncapped = run(UNCAPPED, args.streams, args.status_requests)
    grow = {
        name: r["rss_after_mb"] - r["rss_before_mb"]
        for name, r in (("capped", capped), ("uncapped", uncapped))
    }
    result = {
        "streams_attempted": args.streams,
        "capped": capped,
        "uncapped (baseline)": uncapped,
        "memory_growth_ratio": round(grow["capped"] / grow["uncapped"], 3)
        if grow["uncapped"] > 0
        else None,
        "status_during_p50_ratio": round(
            capped["status_during_p50_ms"] / uncapped["status_during_p50_ms"], 3
        ),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.streams} websocket streams opened by one client (shared token = one user)")
    print(f"{'':22}{'capped (defaults)':>20}{'uncapped (baseline)':>22}")
    for key in capped:
        print(f"{key:22}{capped[key]!s:>20}{uncapped[key]!s:>22}")
    print(f"memory growth capped/uncapped: {result['memory_growth_ratio']}")
    print(f"/api/status p50 during the flood, capped/uncapped: {result['status_during_p50_ratio']}")


if __name__ == "__main__":
    main()
