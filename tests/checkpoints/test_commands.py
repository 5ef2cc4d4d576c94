"""The checkpoint commands through a real IPython shell: magics, tracker and store together."""

from __future__ import annotations

import os

import pytest
from IPython.core.interactiveshell import InteractiveShell

from aiikernel.checkpoints import CheckpointStore
from aiikernel.commands import run_command
from aiikernel.session import AiSession


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "aiikernel")
    yield shell
    shell.reset(new_session=False)


@pytest.fixture
def session(shell, tmp_path):
    session = AiSession.for_shell(shell)
    session._checkpoints = CheckpointStore(
        directory=str(tmp_path / ".aiipython_checkpoints"), session_name="cmd"
    )
    if session.tracker is not None:
        session.tracker.take()
    return session


def cell(shell, code: str) -> None:
    result = shell.run_cell(code)
    assert result.success, result.error_in_exec or result.error_before_exec


def test_undo_magic_after_a_turn(shell, session):
    cell(shell, "import numpy as np\nx = 1\nlst = [1]\narr = np.zeros(10)\nalias = lst")
    assert session.before_turn("change everything") is None
    cell(shell, "x = 2\nlst.append(2)\narr[0] = 5\ny = 3\ndel alias")  # what the AI ran
    cell(shell, "%undo")
    ns = shell.user_ns
    assert ns["x"] == 1
    assert ns["lst"] == [1]
    assert ns["arr"][0] == 0
    assert "y" not in ns
    assert ns["alias"] is ns["lst"]
    assert "In" in ns and "Out" in ns and "get_ipython" in ns


def test_tree_restore_fork_and_status(shell, session):
    cell(shell, "v = 'first'")
    session.before_turn("analyze the data")
    cell(shell, "v = 'second'")
    session.before_turn("make a bar chart")
    cell(shell, "v = 'third'")

    tree = run_command(session, "/tree")
    assert tree.ok
    assert "[0000] ○ pre: analyze the data" in tree.markdown
    assert "[0001] ● pre: make a bar chart" in tree.markdown
    assert tree.data["head"] == "0001"
    assert run_command(session, "/tree all").markdown == tree.markdown

    restored = run_command(session, "/restore 0")
    assert restored.ok, restored.markdown
    assert shell.user_ns["v"] == "first"
    assert "Restored [0000]" in restored.markdown

    forked = run_command(session, "/fork scatter idea")
    assert forked.ok and "scatter idea" in forked.markdown
    cell(shell, "v = 'changed'")
    assert run_command(session, "/restore scatter idea").ok
    assert shell.user_ns["v"] == "first"

    status = run_command(session, "/checkpoints")
    assert status.ok and "checkpoints, current" in status.markdown
    assert "names examined" in status.markdown
    gc = run_command(session, "/checkpoints gc")
    assert gc.ok and "Removed" in gc.markdown
    sessions = run_command(session, "/checkpoints sessions")
    assert sessions.ok and "`cmd` (this kernel)" in sessions.markdown


def test_user_mistakes_are_messages_not_tracebacks(shell, session):
    empty = run_command(session, "/tree")
    assert empty.ok and "empty" in empty.markdown
    for line, expected in [
        ("/undo", "nothing to undo"),
        ("/restore", "which checkpoint"),
        ("/restore 0003", "no checkpoints yet"),
        ("/fork", "needs a label"),
        ("/checkpoints frobnicate", "unknown action"),
        ("/undo now", "takes no arguments"),
        ("/tree everything", "no argument but `all`"),
    ]:
        result = run_command(session, line)
        assert not result.ok, line
        assert expected in result.markdown, (line, result.markdown)
        assert "Traceback" not in result.markdown
    cell(shell, "z = 1")
    session.before_turn("one")
    bad = run_command(session, "/restore 0042")
    assert not bad.ok and "[0042] does not exist" in bad.markdown


def test_unsafe_store_is_reported_clearly(shell, session, tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, 0o777)
    session._checkpoints = CheckpointStore(directory=str(directory))
    result = run_command(session, "/tree")
    assert not result.ok
    assert "writable by group or others" in result.markdown


def test_status_before_the_first_checkpoint(shell, session):
    result = run_command(session, "/checkpoints status")
    assert result.ok and "No checkpoint store yet" in result.markdown


def test_the_state_undo_left_behind_is_drawn_as_a_branch(shell, session):
    cell(shell, "v = 'first'")
    session.before_turn("analyze the data")
    cell(shell, "v = 'second'")
    session.before_turn("make a bar chart")
    cell(shell, "v = 'third'")
    assert run_command(session, "/undo").ok

    assert _tree_lines(session) == [
        "Checkpoint tree:",
        "└── [0000] ○ pre: analyze the data",
        "    [0001] ● pre: make a bar chart",
        "    └── [0002] ○ before undo",
    ], "the left-behind state hangs off [0001]; it is not the next step in its column"

    session.before_turn("try a scatter plot instead")
    assert _tree_lines(session)[3:] == [
        "    ├── [0002] ○ before undo",
        "    └── [0003] ● pre: try a scatter plot instead",
    ], "the left-behind state and the new turn are siblings"


def _tree_lines(session) -> list[str]:
    """/tree's lines without the ``(HH:MM:SS)`` clocks."""
    text = run_command(session, "/tree").markdown.strip("`\n")
    return [line.split("  (")[0] for line in text.splitlines()]
