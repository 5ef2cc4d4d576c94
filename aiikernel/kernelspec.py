"""Install the ``aiipython`` kernelspec (the wheel also ships it as shared data)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

KERNEL_NAME = "aiipython"


def write_kernel_spec(directory: Path, python: str = sys.executable) -> Path:
    """Write kernel.json and the logos into ``directory``; argv uses ``python``."""
    directory.mkdir(parents=True, exist_ok=True)
    source = resources.files("aiikernel") / "resources" / KERNEL_NAME
    for entry in source.iterdir():
        if entry.name != "kernel.json":
            (directory / entry.name).write_bytes(entry.read_bytes())
    spec = json.loads((source / "kernel.json").read_text())
    spec["argv"][0] = python
    (directory / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
    return directory


def install(user: bool = False, prefix: str | None = None) -> str:
    """Install the kernelspec; returns where it went."""
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        path = write_kernel_spec(Path(tmp) / KERNEL_NAME)
        return KernelSpecManager().install_kernel_spec(
            str(path), kernel_name=KERNEL_NAME, user=user, prefix=prefix
        )


def uninstall(destination: str) -> None:
    shutil.rmtree(destination, ignore_errors=True)
