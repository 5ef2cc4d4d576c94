"""A kernel's first AI turn pays no imports after ready, and its first words do not wait for
the checkpoint of the turn (the turn's code does)."""

from __future__ import annotations

import json

from tests.support.gateways import gateway_backend_env
from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Reply

TURN_PATH = (
    "aiikernel.cell_output",
    "aiikernel.turn.engine",
    "aiikernel.turn.events",
    "aiikernel.chat.history",
    "aiikernel.gateway.client",
    "aiikernel.checkpoints.store",
)


def test_a_kernel_is_ready_with_its_turn_path_imported(model_server, tmp_path):
    with running_kernel("aiipython", env=model_env(model_server), cwd=tmp_path) as (km, kc):
        probe = execute(
            kc, f"import sys; print([m for m in {TURN_PATH!r} if m not in sys.modules])"
        )
        assert probe.stream_text().strip() == "[]"


def test_the_first_words_do_not_wait_for_the_checkpoint_but_the_code_does(model_server, tmp_path):
    gate = tmp_path / "gate"
    with gateway_backend_env() as backend:
        env = model_env(model_server, AIIK_TEST_GATE=str(gate), **backend)
        with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
            execute(
                kc,
                "from aiikernel.session import AiSession\n"
                "AiSession.for_shell(get_ipython()).checkpoint_store_class = "
                "'tests.gateway.gated_store.GatedStore'",
            )
            model_server.script(Reply("Setting it.\n```py\nx = 42\n```"), Reply("x is set"))
            opened: list[str] = []

            def open_gate_on_first_words(output):
                if not opened and "Setting it" in json.dumps(output["content"]):
                    opened.append("yes")
                    gate.write_text("open")  # the checkpoint has been held until now

            result = execute(kc, "%%ai\nset x", timeout=180, on_output=open_gate_on_first_words)
            assert opened, result.all_text()
            assert any("x is set" in m for m in result.markdown()), result.all_text()
            seen = json.loads((tmp_path / "gate.seen").read_text())
            assert seen["gate_opened"]  # the words came while the checkpoint was held
            assert "x" not in seen["names"]  # the code ran after the checkpoint
            assert "AiSession" in seen["names"]
            listing = execute(kc, "%ai /checkpoints").all_text()
            assert "1 checkpoints" in listing, listing
