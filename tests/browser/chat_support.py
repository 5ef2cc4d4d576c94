"""Helpers for the chat panel's browser tests: a lab whose kernels talk to a scripted model.

The lab server is started with the scripted model server's address and a test key in its
environment, so every `aiipython` kernel it starts reaches the scripted model through litellm,
exactly as with a real provider.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

from tests.browser.lab_server import LabServer, start_lab
from tests.support.kernels import model_env

LOAD_TIMEOUT_MS = 90_000
PANEL = "#aiikernel-panel"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@contextmanager
def _environ(values: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_chat_lab(root: Path, model_server) -> LabServer:
    """A lab server whose kernels use ``model_server`` (model ``openai/scripted``)."""
    env = model_env(model_server, AIIPYTHON_HOME=str(root / "aiipython-home"))
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with _environ(env):
        return start_lab(root)


def write_notebook(lab: LabServer, name: str, kernel: str = "aiipython", cells=()) -> None:
    """Write ``name`` into the lab's root directory with the given kernelspec."""
    display = {"aiipython": "aiipython", "python3": "Python 3 (ipykernel)"}[kernel]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": src,
                "outputs": [],
                "execution_count": None,
            }
            for src in cells
        ],
        "metadata": {"kernelspec": {"name": kernel, "display_name": display, "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    root_dir = lab.log_path.parent / "notebooks"
    (root_dir / name).write_text(json.dumps(notebook))


def open_notebook(page, lab: LabServer, name: str, workspace: str) -> None:
    """Open ``name`` in a workspace of its own."""
    page.goto(lab.url(f"lab/workspaces/{workspace}/tree/{name}"), timeout=LOAD_TIMEOUT_MS)
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=LOAD_TIMEOUT_MS)


def open_chat(page):
    """Show the aiikernel panel with the focus-chat shortcut (Ctrl+Shift+Y); returns the chat.

    The shortcut only ever opens the panel (clicking its tab would toggle a panel the layout
    restorer may just have opened)."""
    page.locator(".jp-NotebookPanel, .jp-LauncherCard").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    panel = page.locator(PANEL)
    for _ in range(30):
        page.keyboard.press("Control+Shift+Y")
        try:
            panel.wait_for(state="visible", timeout=1_000)
            break
        except Exception:
            continue
    panel.wait_for(state="visible", timeout=10_000)
    return panel.locator(".jp-AiiChat")


def wait_bound(chat) -> None:
    chat.locator('.jp-AiiChat-banner[data-kind="ready"]').wait_for(timeout=LOAD_TIMEOUT_MS)


def send(chat, text: str) -> None:
    box = chat.get_by_role("textbox", name="Chat prompt")
    box.fill(text)
    box.press("Enter")


def wait_turn_done(chat, count: int = 1, timeout: float = 60_000) -> None:
    """Wait until ``count`` turns are shown and none is running."""
    chat.locator(".jp-AiiChat-turn").nth(count - 1).wait_for(timeout=timeout)
    chat.page.wait_for_function(
        """([sel, n]) => {
            const turns = document.querySelectorAll(sel + ' .jp-AiiChat-turn');
            return turns.length >= n && [...turns].every(t => t.dataset.status !== 'running');
        }""",
        arg=[PANEL, count],
        timeout=timeout,
    )


def shutdown_kernels(lab: LabServer) -> None:
    """Shut every kernel of the lab down (each test starts its own)."""
    import urllib.request

    with urllib.request.urlopen(lab.url("api/kernels"), timeout=10) as r:
        kernels = json.loads(r.read())
    for kernel in kernels:
        request = urllib.request.Request(lab.url(f"api/kernels/{kernel['id']}"), method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def widen_side_panel(page, width: int = 460) -> None:
    """Drag the left area's splitter so the chat has room (for screenshots)."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(width, box["y"] + 200, steps=5)
        page.mouse.up()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path
