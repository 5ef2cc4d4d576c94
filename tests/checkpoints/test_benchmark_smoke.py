"""The checkpoint benchmark still runs (tiny size): it must not rot between releases.

No timing is asserted here; the figures belong to `benchmarks/checkpoints.py` itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_benchmark_runs_small():
    out = subprocess.run(
        [
            sys.executable,
            "benchmarks/checkpoints.py",
            "--scale",
            "0.002",
            "--turns",
            "3",
            "--undo",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| checkpoint of a small turn, median |" in out.stdout
    assert "| state diff of a small turn, median" in out.stdout
    assert "| /resume after a kernel restart vs re-running the cells |" in out.stdout
    assert "WRONG STATE" not in out.stdout
