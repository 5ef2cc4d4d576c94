"""`%load_ext aiikernel` gives the same magics in a plain IPython shell and a stock ipykernel."""

from __future__ import annotations

import subprocess
import sys

from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Reply


def test_plain_ipython_shell(model_server, tmp_path):
    model_server.script(
        Reply("Sure.\n```py\nanswer = 40 + 2\nprint('answer', answer)\n```"), Reply("It is 42.")
    )
    typed = "%load_ext aiikernel\n%ai what is forty plus two?\nprint('after:', answer)\nexit\n"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            "--quick",
            "--no-banner",
            "--colors=NoColor",
            "--simple-prompt",
        ],
        input=typed,
        env=model_env(model_server),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Sure." in proc.stdout
    assert "answer 42" in proc.stdout
    assert "It is 42." in proc.stdout
    assert "after: 42" in proc.stdout
    assert len(model_server.model_requests()) == 2


def test_stock_ipykernel(model_server, tmp_path):
    with running_kernel("python3", env=model_env(model_server), cwd=tmp_path) as (km, kc):
        assert execute(kc, "%load_ext aiikernel").status == "ok"
        model_server.script(Reply("```py\nz = 'from the model'\n```"), Reply("Set z."))
        result = execute(kc, "%%ai\nset z")
        assert any("Set z." in m for m in result.markdown())
        assert execute(kc, "print(z)").stream_text().strip() == "from the model"
        magics = execute(
            kc, "print(sorted(get_ipython().magics_manager.magics['line']))"
        ).stream_text()
        assert "'ai'" in magics
