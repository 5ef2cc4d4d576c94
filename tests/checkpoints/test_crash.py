"""Fault injection: SIGKILL a checkpoint writer at random instants, then read the store.

Whatever instant the kill lands on, the store must open at the last complete
checkpoint, every manifest on disk must be whole, and every checkpoint must restore
to exactly the data its step wrote.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

from aiikernel.checkpoints import CheckpointStore

from .crash_writer import SIZE

KILLS = 24
WRITER = Path(__file__).with_name("crash_writer.py")


def _start_writer(directory: Path, start: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.checkpoints.crash_writer", str(directory), str(start)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )


def test_sigkill_at_random_instants_leaves_a_readable_store(tmp_path):
    directory = tmp_path / ".aiipython_checkpoints"
    rng = random.Random(1234)
    completed: dict[str, int] = {}
    step = 0
    for _ in range(KILLS):
        proc = _start_writer(directory, step)
        try:
            assert proc.stdout is not None
            lines = []
            while not lines or lines[-1] != "ready":
                line = proc.stdout.readline()
                assert line, "the writer died before it was ready"
                lines.append(line.strip())
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            proc.kill()  # SIGKILL, by pid
            out, _ = proc.communicate(timeout=30)
        for line in lines + out.splitlines():
            if line.startswith("done "):
                _, cid, done_step = line.split()
                completed[cid] = int(done_step)
                step = max(step, int(done_step) + 1)
        step += 1  # a step the killed writer may have half-written gets a fresh number

    assert len(completed) >= KILLS

    manifests = sorted((directory / "sessions" / "crash" / "checkpoints").glob("*.json"))
    for path in manifests:
        json.loads(path.read_text())  # never torn
    store = CheckpointStore(directory=str(directory), session_name="crash")
    newest = max(completed)
    assert store.head is not None and store.head >= newest

    module = types.ModuleType("crash_reader")
    sys.modules["crash_reader"] = module
    try:
        ns = module.__dict__
        for path in manifests:
            cid = path.stem
            report = store.restore(ns, cid)
            manifest_step = int(store._manifest(cid).label.split()[1])
            assert completed.get(cid, manifest_step) == manifest_step
            assert ns["step"] == manifest_step, report.message
            assert np.array_equal(ns["arr"], np.random.default_rng(manifest_step).random(SIZE))
            assert ns["items"] == list(range(manifest_step % 50))
            assert ns["alias"] is ns["items"]
    finally:
        sys.modules.pop("crash_reader", None)

    interrupted_writes = list((directory / "tmp").iterdir())
    print(f"{len(completed)} checkpoints completed, {len(interrupted_writes)} temp files left")
    store.gc()
    assert not any((directory / "tmp").iterdir())
    ns = {}
    store.restore(ns, store.resolve_id(newest), touched=set())
