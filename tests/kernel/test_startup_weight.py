"""Loading the extension (what the kernel does at start-up) must not import heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.kernels import REPO

HEAVY = ("litellm", "pydantic", "httpx", "numpy", "pandas", "dill", "xxhash", "openai", "aiohttp")

PROBE = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
before = set(sys.modules)
import aiikernel
aiikernel.load_ipython_extension(InteractiveShell.instance())
print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))
"""


def test_load_ext_imports_nothing_heavy():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": "/tmp"},
    )
    assert proc.returncode == 0, proc.stderr
    new_top_level = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert not new_top_level & set(HEAVY), new_top_level & set(HEAVY)
