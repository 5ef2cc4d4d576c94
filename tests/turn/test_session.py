"""AiSession wiring in a plain IPython shell (no kernel needed)."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

import aiikernel
from aiikernel.session import AiSession


def test_session_is_per_shell_configurable_and_tracks_command_changes():
    shell = InteractiveShell.instance()
    aiikernel.load_ipython_extension(shell)
    session = AiSession.for_shell(shell)
    assert AiSession.for_shell(shell) is session
    shell.run_line_magic("config", "AiSession.max_steps = 3")
    assert session.max_steps == 3
    session.tracker.take()
    session.mark_changed("images")
    assert session.tracker.take() == {"images"}
    shell.run_cell("fresh_name = 1")
    assert "fresh_name" in session.tracker.take()
