"""Two kernels share one store: a writer checkpoints while another session runs gc.

Chunks are shared between sessions and gc deletes unreferenced ones, so gc must never
delete a chunk whose manifest is still being written (the store's flock).
"""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

from aiikernel.checkpoints import CheckpointStore

from .crash_writer import SIZE

REPO = Path(__file__).parents[2]


def test_gc_in_one_session_while_another_writes(tmp_path):
    directory = tmp_path / ".aiipython_checkpoints"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.checkpoints.crash_writer", str(directory), "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    collector = None
    try:
        assert writer.stdout is not None
        while writer.stdout.readline().strip() != "ready":
            pass
        collector = CheckpointStore(directory=str(directory), session_name="collector")
        deadline = time.monotonic() + 4.0
        runs = 0
        while time.monotonic() < deadline:
            collector.gc()
            runs += 1
    finally:
        writer.kill()  # by pid
        writer.communicate(timeout=30)
    assert runs > 3

    store = CheckpointStore(directory=str(directory), session_name="crash")
    manifests = store.checkpoints()
    assert len(manifests) >= 3
    module = types.ModuleType("concurrency_reader")
    sys.modules[module.__name__] = module
    try:
        for manifest in manifests:
            store.restore(module.__dict__, manifest.id)
            step = int(manifest.label.split()[1])
            expected = np.random.default_rng(step).random(SIZE)
            assert np.array_equal(module.__dict__["arr"], expected)
    finally:
        sys.modules.pop(module.__name__, None)
