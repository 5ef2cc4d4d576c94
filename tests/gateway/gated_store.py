"""A checkpoint store (imported by a test kernel) whose checkpoint waits for a file to appear.

It lets a test hold the checkpoint of a turn as long as it likes and see what the turn did
meanwhile; ``AIIK_TEST_GATE`` names the file, and the store writes what it saw to
``<gate>.seen`` before going on: whether the gate was opened (or it gave up after a
minute) and the names in the namespace when it snapshotted.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aiikernel.checkpoints import CheckpointStore


class GatedStore(CheckpointStore):
    def checkpoint(self, namespace: Any, *args: Any, **kwargs: Any) -> Any:
        gate = os.environ["AIIK_TEST_GATE"]
        deadline = time.monotonic() + 60  # the test opens the gate long before this
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen = {
            "gate_opened": os.path.exists(gate),
            "names": sorted(k for k in namespace if not k.startswith("_")),
        }
        with open(f"{gate}.seen", "w") as fh:
            json.dump(seen, fh)
        return super().checkpoint(namespace, *args, **kwargs)
