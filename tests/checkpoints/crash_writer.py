"""A checkpoint writer for the fault-injection test: checkpoints forever until killed.

Step ``i`` always holds the same data (seeded by ``i``), so a reader can check any
checkpoint it finds against what that step must contain.
"""

from __future__ import annotations

import sys
import types

import numpy as np

from aiikernel.checkpoints import CheckpointStore

SIZE = 300_000


def namespace_for(step: int, module: types.ModuleType) -> dict:
    ns = module.__dict__
    ns["step"] = step
    ns["arr"] = np.random.default_rng(step).random(SIZE)
    ns["items"] = list(range(step % 50))
    ns["alias"] = ns["items"]
    return ns


def main() -> None:
    directory, start = sys.argv[1], int(sys.argv[2])
    module = types.ModuleType("crash_nb")
    sys.modules["crash_nb"] = module
    store = CheckpointStore(directory=directory, session_name="crash", chunk_size=128 * 1024)
    step = start
    while True:
        ns = namespace_for(step, module)
        info = store.checkpoint(ns, label=f"step {step}", touched=None)
        print(f"done {info.id} {step}", flush=True)
        if step == start:
            print("ready", flush=True)  # warmed up: imports done, the kill can land anywhere
        step += 1


if __name__ == "__main__":
    main()
