"""A kernel's first AI turn pays no imports after ready."""

from __future__ import annotations

from tests.support.kernels import execute, model_env, running_kernel

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
