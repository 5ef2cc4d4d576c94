"""Importing the transcripts package stays light: no pydantic, no watchfiles until needed."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_package_and_locate_import_nothing_heavy() -> None:
    loaded = _loaded_after("import aiikernel.aimax.transcripts, aiikernel.aimax.transcripts.locate")
    assert "pydantic" not in loaded
    assert "watchfiles" not in loaded


def test_tailer_imports_watchfiles_only_when_watching() -> None:
    loaded = _loaded_after("import aiikernel.aimax.transcripts.tail")
    assert "watchfiles" not in loaded
