"""`jupyter console --kernel aiipython`: a terminal frontend shows each reply once, in order."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support.kernels import model_env
from tests.support.model_steps import Reply


def test_ai_turn_in_jupyter_console(model_server, tmp_path):
    if shutil.which("jupyter-console") is None and shutil.which("jupyter") is None:
        pytest.skip("jupyter console is not installed")
    model_server.script(
        Reply(
            chunks=["Sure.", "\n```py\nq = 40 + 2\n", "print('q is', q)\n```\n", "After."],
            delay=0.05,
        ),
        Reply("Final answer: 42."),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_console",
            "--kernel",
            "aiipython",
            "--simple-prompt",
            "-y",
            "--ZMQTerminalInteractiveShell.include_other_output=False",
        ],
        input="%ai compute q\nprint('done', q)\nexit\n",
        env=model_env(model_server),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert out.count("Sure.") == 1, out
    assert out.count("Final answer: 42.") == 1, out
    assert (
        out.index("Sure.") < out.index("q is 42") < out.index("After.") < out.index("Final answer")
    )
    assert "done 42" in out
