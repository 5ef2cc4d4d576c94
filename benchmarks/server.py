"""Load on the aimax server extension: N fake-agent sessions, M websocket clients, REST under
concurrency — against a real ``jupyter server`` subprocess on 127.0.0.1.

Measures, in one run:

- end-to-end event latency: agent transcript line written → event frame received by a
  websocket client (p50/p99), with the floor of a bare watchfiles watcher on the same files
  (baseline) and the ratio;
- events lost or repeated per client (must be 0);
- REST ``GET /aimax/sessions`` and ``GET /aimax/sessions/{id}`` p50/p99 with C concurrent
  clients, against Jupyter's own ``GET /api/status`` under the same load (baseline);
- the server's event-loop lag (how late a 5 ms sleep wakes up, sampled in the server by
  ``AimaxExtension.loop_lag_file``) during the event phase, next to the same probe while the
  sessions and clients sit idle (baseline).

    python benchmarks/server.py [--sessions 50] [--clients 100] [--events 40] [--rest-clients 50]
                                [--client-procs 1]

``--client-procs N`` spreads the websocket clients over N processes of their own: with one, a
single event loop receives every frame while the producer and floor-watcher threads share its
GIL, so the clients' own delays are part of the measured tail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiikernel.aimax.transcripts.latency import percentile  # noqa: E402
from tests.server.agent_output import TranscriptWriter, parse_mark  # noqa: E402
from tests.server.server_process import ServerProcess  # noqa: E402


def ms(values: list[float], p: float) -> float:
    return percentile(values, p) * 1e3 if values else float("nan")


def session_cwd(i: int, shared: bool) -> str:
    return "w" if shared else f"w/p{i:03d}"


async def create_sessions(server: ServerProcess, n: int, shared: bool) -> list[dict]:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(max_clients=10)
    for i in range(n):
        (server.root / session_cwd(i, shared)).mkdir(parents=True, exist_ok=True)
    gate = asyncio.Semaphore(4)  # the fake agents start in ~0.5 s each; 2 cores

    async def one(i: int) -> dict:
        async with gate:
            body = {
                "backend": "tmux-claude-code",
                "cwd": session_cwd(i, shared),
                "sessionId": f"b{i:03d}",
            }
            r = await client.fetch(
                f"{server.url}/aimax/sessions",
                method="POST",
                body=json.dumps(body),
                headers=server.headers,
                request_timeout=120,
            )
            return json.loads(r.body)

    return await asyncio.gather(*(one(i) for i in range(n)))


class Client:
    """One websocket client following one session, recording indices and latencies."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.indices: list[int] = []
        self.latencies: list[float] = []
        self.ready = asyncio.Event()
        self.ws = None

    async def run(self, port: int, headers: dict, expected: int, deadline: float) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = f"ws://127.0.0.1:{port}/aimax/sessions/{self.session_id}/stream"
        self.ws = await websocket_connect(HTTPRequest(url, headers=headers))
        while len(self.indices) < expected and time.time() < deadline:
            try:
                msg = await asyncio.wait_for(self.ws.read_message(), deadline - time.time())
            except TimeoutError:
                break
            if msg is None:
                break
            now = time.time()
            frame = json.loads(msg)
            if frame["type"] == "caughtUp":
                self.ready.set()
            elif frame["type"] == "event":
                mark = parse_mark(frame["event"]["text"])
                if mark:
                    self.indices.append(mark[0])
                    self.latencies.append(now - mark[1])
        self.ws.close()


def client_process(port: int, headers: dict, ids: list[str], expected: int, deadline: float, conn):
    """One process of ``--client-procs``: its clients' results go back through ``conn``."""

    async def run() -> None:
        clients = [Client(i) for i in ids]
        tasks = [asyncio.ensure_future(c.run(port, headers, expected, deadline)) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
        conn.send("ready")
        await asyncio.gather(*tasks)
        conn.send([(c.indices, c.latencies) for c in clients])

    asyncio.run(run())


class ClientProcesses:
    """The websocket clients, spread over processes; results as ``(indices, latencies)``."""

    def __init__(self, server: ServerProcess, ids: list[str], procs: int, expected: int, deadline):
        context = multiprocessing.get_context("spawn")
        self.conns, self.procs = [], []
        for k in range(procs):
            mine = ids[k::procs]
            if not mine:
                continue
            here, there = context.Pipe()
            proc = context.Process(
                target=client_process,
                args=(server.port, dict(server.headers), mine, expected, deadline, there),
                daemon=True,
            )
            proc.start()
            self.conns.append(here)
            self.procs.append(proc)

    async def ready(self) -> None:
        for conn in self.conns:
            assert await asyncio.to_thread(conn.recv) == "ready"

    async def results(self) -> list[tuple[list[int], list[float]]]:
        out = []
        for conn in self.conns:
            out.extend(await asyncio.to_thread(conn.recv))
        for proc in self.procs:
            proc.join(10)
        return out

    def close(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def hub_settings() -> tuple[int, int]:
    """aimax's watcher settings (debounce, step in ms), so the floor pays what it pays."""
    import inspect

    from aiikernel.aimax.transcripts.watch import DirectoryWatchHub

    params = inspect.signature(DirectoryWatchHub.__init__).parameters
    return params["debounce_ms"].default, params["step_ms"].default


def watch_floor(paths: list[Path], stop: threading.Event, pending: dict, out: list[float]):
    """Bare watchfiles on the transcripts' directories, aimax's settings: write → noticed."""
    from watchfiles import watch

    debounce, step = hub_settings()
    dirs = sorted({str(p.parent) for p in paths})
    for changes in watch(*dirs, stop_event=stop, debounce=debounce, step=step, rust_timeout=200):
        now = time.time()
        for _, path in changes:
            written = pending.pop(path, None)
            if written is not None:
                out.append(now - written)


async def rest_load(server: ServerProcess, ids: list[str], clients: int, per_client: int):
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(max_clients=clients)
    timings: dict[str, list[float]] = {"list": [], "status": [], "api_status": []}

    async def worker(k: int) -> None:
        for j in range(per_client):
            kind = ("list", "status", "api_status")[(k + j) % 3]
            path = {
                "list": "/aimax/sessions",
                "status": f"/aimax/sessions/{ids[(k + j) % len(ids)]}",
                "api_status": "/api/status",
            }[kind]
            t = time.perf_counter()
            await client.fetch(server.url + path, headers=server.headers, request_timeout=120)
            timings[kind].append(time.perf_counter() - t)

    await asyncio.gather(*(worker(k) for k in range(clients)))
    return timings


async def main(args: argparse.Namespace) -> dict:
    base = Path(tempfile.mkdtemp(prefix="aimax-server-bench-"))
    lag_file = base / "loop-lag.jsonl"
    server = ServerProcess(
        base,
        traits={
            "max_sessions": args.sessions + 5,
            # Every benchmark client uses the one token (one user): room for all of them.
            "max_streams_per_user": args.clients + 5,
            "max_streams": args.clients + 5,
            "loop_lag_file": str(lag_file),
        },
        aimax_config={"poll_interval": args.poll_interval} if args.poll_interval else None,
    )
    try:
        server.start()
        t = time.perf_counter()
        sessions = await create_sessions(server, args.sessions, args.shared_cwd)
        create_s = time.perf_counter() - t
        ids = [s["sessionId"] for s in sessions]

        deadline = time.time() + args.timeout
        client_ids = [ids[i % len(ids)] for i in range(args.clients)]
        if args.client_procs > 1:
            spread = ClientProcesses(server, client_ids, args.client_procs, args.events, deadline)
            await spread.ready()
        else:
            clients = [Client(i) for i in client_ids]
            tasks = [
                asyncio.ensure_future(c.run(server.port, server.headers, args.events, deadline))
                for c in clients
            ]
            await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)

        writers = [
            TranscriptWriter(
                str(server.local_path(s["jsonlPath"])),
                str(server.root / session_cwd(i, args.shared_cwd)),
                s["agentSessionId"],
            )
            for i, s in enumerate(sessions)
        ]
        floor: list[float] = []
        pending: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(
            target=watch_floor,
            args=([server.local_path(s["jsonlPath"]) for s in sessions], stop, pending, floor),
            daemon=True,
        )
        watcher.start()
        idle_from = time.time()
        await asyncio.sleep(args.idle_window)  # the idle baseline of the loop-lag probe
        idle_to = events_from = time.time()
        own_gc = GcPauses()  # this process's (the clients') collections delay receipts too

        # The watcher reports real paths; the API shows them relative to the root or as ~/….
        paths = [str(server.local_path(s["jsonlPath"])) for s in sessions]

        def produce() -> None:
            for i in range(args.events):
                for w, path in zip(writers, paths, strict=True):
                    pending.setdefault(path, time.time())
                    w.write(i)
                    time.sleep(args.interval)

        await asyncio.to_thread(produce)
        if args.client_procs > 1:
            received = await spread.results()
            spread.close()
        else:
            await asyncio.gather(*tasks)
            received = [(c.indices, c.latencies) for c in clients]
        events_to = time.time()
        own_gc.stop()
        stop.set()

        rest = await rest_load(server, ids, args.rest_clients, args.rest_requests)
    finally:
        server.close()

    idle_lag = lag_samples(lag_file, idle_from, idle_to)
    event_lag = lag_samples(lag_file, events_from, events_to)
    event_gc = lag_samples(lag_file, events_from, events_to, "gc_ms")
    latencies = [x for _, lat in received for x in lat]
    # Where the tail sits: the first events of every session arrive together with the server's
    # first writes and syncs of their event logs.
    if args.receipts:
        Path(args.receipts).write_text(json.dumps(received))
    early = [x for idx, lat in received for i, x in zip(idx, lat, strict=True) if i < 2]
    later = [x for idx, lat in received for i, x in zip(idx, lat, strict=True) if i >= 2]
    lost = sum(len(set(range(args.events)) - set(idx)) for idx, _ in received)
    repeated = sum(len(idx) - len(set(idx)) for idx, _ in received)
    out_of_order = sum(idx != sorted(idx) for idx, _ in received)
    result = {
        "sessions": args.sessions,
        "client_procs": args.client_procs,
        "shared_cwd": args.shared_cwd,
        "clients": args.clients,
        "events_per_session": args.events,
        "create_all_s": round(create_s, 1),
        "event_p50_ms": round(ms(latencies, 50), 1),
        "event_p99_ms": round(ms(latencies, 99), 1),
        "event_p99_first2_ms": round(ms(early, 99), 1),
        "event_p99_later_ms": round(ms(later, 99), 1),
        "floor_p50_ms": round(ms(floor, 50), 1),
        "floor_p99_ms": round(ms(floor, 99), 1),
        "received": len(latencies),
        "lost": lost,
        "repeated": repeated,
        "out_of_order_clients": out_of_order,
        "rest_clients": args.rest_clients,
        "lag_idle_p99_ms": round(_pct(idle_lag, 99), 1),
        "lag_idle_max_ms": round(max(idle_lag, default=float("nan")), 1),
        "lag_events_p50_ms": round(_pct(event_lag, 50), 1),
        "lag_events_p99_ms": round(_pct(event_lag, 99), 1),
        "lag_events_max_ms": round(max(event_lag, default=float("nan")), 1),
        "lag_events_over_20ms": sum(x > 20 for x in event_lag),
        "lag_events_samples": len(event_lag),
        "gc_events_count": len(event_gc),
        "gc_events_max_ms": round(max((ms_ for _, ms_ in event_gc), default=0.0), 1),
        "gc_events_full": sum(gen == 2 for gen, _ in event_gc),
        "client_gc_max_ms": round(max((ms_ for _, ms_ in own_gc.pauses), default=0.0), 1),
        "client_gc_full": sum(gen == 2 for gen, _ in own_gc.pauses),
    }
    for kind, values in rest.items():
        result[f"{kind}_p50_ms"] = round(ms(values, 50), 1)
        result[f"{kind}_p99_ms"] = round(ms(values, 99), 1)
    return result


def _pct(values: list[float], p: float) -> float:
    return percentile(values, p) if values else float("nan")


class GcPauses:
    """Garbage-collector pauses of this process while it lives: ``[generation, ms]`` each."""

    def __init__(self) -> None:
        import gc

        self.pauses: list[list[float]] = []
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append([info["generation"], (time.perf_counter() - self._started) * 1e3])

    def stop(self) -> None:
        import gc

        gc.callbacks.remove(self._on_gc)


def lag_samples(path: Path, start: float, end: float, key: str = "lags_ms") -> list:
    """Samples the server's loop-lag probe wrote for the seconds inside ``[start, end]``:
    ``lags_ms`` (ms) or ``gc_ms`` (``[generation, ms]`` per garbage collection)."""
    out: list = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        row = json.loads(line)
        if start + 1.0 <= row["t"] <= end:  # a row covers the second before its time
            out.extend(row.get(key, []))
    return out


def report(r: dict) -> None:
    print(
        f"{r['sessions']} fake-agent sessions, {r['clients']} websocket clients, "
        f"{r['events_per_session']} events per session (created in {r['create_all_s']} s), "
        + ("all in one cwd" if r["shared_cwd"] else "one cwd each")
    )
    print(
        f"event latency  transcript -> websocket : p50 {r['event_p50_ms']:7.1f} ms  "
        f"p99 {r['event_p99_ms']:7.1f} ms  ({r['received']} receipts)"
    )
    print(
        f"  by event     each session's first two : p99 {r['event_p99_first2_ms']:7.1f} ms  "
        f"the others: p99 {r['event_p99_later_ms']:7.1f} ms"
    )
    print(
        f"baseline       bare watchfiles, same    : p50 {r['floor_p50_ms']:7.1f} ms  "
        f"p99 {r['floor_p99_ms']:7.1f} ms"
    )
    print(
        f"ratio          e2e / baseline           : p50 {r['event_p50_ms'] / r['floor_p50_ms']:6.2f}x "
        f"  p99 {r['event_p99_ms'] / r['floor_p99_ms']:6.2f}x"
    )
    print(
        f"lost {r['lost']}  repeated {r['repeated']}  clients out of order "
        f"{r['out_of_order_clients']}"
    )
    print(f"REST under {r['rest_clients']} concurrent clients:")
    for kind, label in (
        ("list", "GET /aimax/sessions     "),
        ("status", "GET /aimax/sessions/{id}"),
        ("api_status", "GET /api/status (base)  "),
    ):
        print(f"  {label}: p50 {r[f'{kind}_p50_ms']:7.1f} ms  p99 {r[f'{kind}_p99_ms']:7.1f} ms")
    base = r["api_status_p99_ms"]
    print(
        f"  ratio p99 vs /api/status: list {r['list_p99_ms'] / base:.2f}x  "
        f"status {r['status_p99_ms'] / base:.2f}x"
    )
    print(
        f"event-loop lag (5 ms probe) during events: p50 {r['lag_events_p50_ms']:.1f} ms  "
        f"p99 {r['lag_events_p99_ms']:.1f} ms  max {r['lag_events_max_ms']:.1f} ms  "
        f"({r['lag_events_over_20ms']} of {r['lag_events_samples']} samples over 20 ms)"
    )
    print(
        f"  of which GC  garbage collections       : {r['gc_events_count']} "
        f"({r['gc_events_full']} full), longest {r['gc_events_max_ms']:.1f} ms"
        f"; in the benchmark's own process {r['client_gc_full']} full, "
        f"longest {r['client_gc_max_ms']:.1f} ms"
    )
    print(
        f"baseline       same probe, idle        : p99 {r['lag_idle_p99_ms']:.1f} ms  "
        f"max {r['lag_idle_max_ms']:.1f} ms"
    )
    print(json.dumps(r))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=40, help="events per session")
    parser.add_argument("--interval", type=float, default=0.002, help="seconds between writes")
    parser.add_argument(
        "--client-procs", type=int, default=1, help="processes the websocket clients run in"
    )
    parser.add_argument("--rest-clients", type=int, default=50)
    parser.add_argument("--rest-requests", type=int, default=30, help="requests per client")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--idle-window", type=float, default=3.0, help="seconds of idle loop-lag baseline"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="aimax's monitor tick (default: aimax's own, 0.5 s)",
    )
    parser.add_argument(
        "--receipts",
        default=None,
        help="write every client's [event indices, latencies (s)] to this JSON file",
    )
    parser.add_argument(
        "--shared-cwd",
        action="store_true",
        help="start every session in the same directory (their transcripts share a folder)",
    )
    report(asyncio.run(main(parser.parse_args())))
