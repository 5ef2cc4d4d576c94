"""Helpers for the Agents view's browser tests: a lab whose aimax drives the fake agent (or a
real CLI) in a private tmux server, and page helpers for the panel, the dialog and a session tab.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from tests.browser.chat_support import LOAD_TIMEOUT_MS, PANEL, SCREENSHOTS, _environ
from tests.browser.lab_server import LabServer, start_lab

REPLY_TIMEOUT_MS = 60_000


def fake_bin(bin_dir: Path, name: str, flavor: str) -> str:
    """An executable named like the real CLI that runs aimax's fake agent TUI."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m aiikernel.aimax.fake_agent --flavor {flavor} "$@"\n'
    )
    path.chmod(0o755)
    return str(path)


@contextmanager
def agents_lab(root: Path, extra_env: dict[str, str] | None = None):
    """A lab server whose aimax uses a private tmux socket and data dir under ``root`` and the
    fake agents (unless ``extra_env`` names other binaries); the tmux server is killed after."""
    socket = f"aimax-br-{uuid.uuid4().hex[:10]}"
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        CODEX_HOME=str(home / ".codex"),
        AIMAX_TMUX_SOCKET=socket,
        AIMAX_DATA_DIR=str(root / "aimax-data"),
        AIMAX_CLAUDE_BIN=fake_bin(root / "bin", "claude", "claude"),
        AIMAX_CODEX_BIN=fake_bin(root / "bin", "codex", "codex"),
        AIMAX_FAKE_SCRIPT='{"startup_delay": 0.2, "think": 0.3}',
        AIMAX_POLL_INTERVAL="0.3",
        AIMAX_READY_TIMEOUT="20",
        TERM="xterm-256color",
        LANG="C.UTF-8",
    )
    env.update(extra_env or {})
    with _environ(env):
        lab = start_lab(root)
    try:
        yield lab
    finally:
        lab.stop()
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


def root_dir(lab: LabServer) -> Path:
    return lab.log_path.parent / "notebooks"


def open_lab(page, lab: LabServer, workspace: str, path: str = "") -> None:
    page.goto(lab.url(f"lab/workspaces/{workspace}" + (f"/tree/{path}" if path else "")))
    page.locator("#jp-main-dock-panel").wait_for(timeout=LOAD_TIMEOUT_MS)


def open_agents(page):
    """Show the aiikernel panel; returns its Agents section once the list has loaded."""
    panel = page.locator(PANEL)
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="aiikernel-panel"]')
    tab.wait_for(timeout=LOAD_TIMEOUT_MS)
    if not panel.is_visible():
        tab.click()
    panel.wait_for(state="visible", timeout=30_000)
    agents = panel.locator(".jp-AiiPanel-agents")
    agents.locator(".jp-AiiAgents-toolbar").wait_for(timeout=30_000)
    agents.locator(".jp-AiiAgents-list, .jp-AiiPanel-hint").first.wait_for(timeout=30_000)
    return agents


def session_tab(page, session_id: str):
    return page.locator(f"#aiikernel-agent-{session_id}")


def message(view, text: str):
    """The transcript message (user or agent) containing ``text``."""
    return view.locator(".jp-AiiAgent-message", has_text=text)


def send(view, text: str, mode: str = "queue") -> None:
    box = view.get_by_role("textbox", name="Message to the agent")
    box.fill(text)
    name = "Send" if mode == "queue" else "Interrupt & send"
    view.get_by_role("button", name=name, exact=True).click()
    view.page.wait_for_function(
        "el => el.value === ''", arg=box.element_handle(), timeout=REPLY_TIMEOUT_MS
    )


def wait_badge(locator, *badges: str, timeout: float = REPLY_TIMEOUT_MS) -> None:
    locator.page.wait_for_function(
        "([el, badges]) => badges.includes(el.dataset.badge)",
        arg=[locator.element_handle(), list(badges)],
        timeout=timeout,
    )


def seqs(view) -> list[int]:
    return [
        int(s) for s in view.locator("[data-seq]").evaluate_all("ns => ns.map(n => n.dataset.seq)")
    ]


def shot(page, name: str) -> Path:
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path


def set_theme(page, lab: LabServer, dark: bool) -> None:
    """Switch JupyterLab's theme (user setting, then a reload) and wait for it to apply."""
    import json
    import urllib.request

    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    request = urllib.request.Request(
        lab.url("lab/api/settings/@jupyterlab/apputils-extension:themes"),
        data=json.dumps({"raw": json.dumps({"theme": theme})}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).close()
    page.reload()
    want = "false" if dark else "true"
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{want}'", timeout=60_000)


def check_section_heights(page) -> None:
    """Every open section of the panel has room, and the chat the most."""
    heights = {}
    for name in ("jp-AiiChat", "jp-AiiCheckpoints", "jp-AiiSubAgents", "jp-AiiPanel-agents"):
        section = page.locator(f"{PANEL} .{name}")
        section.wait_for(state="visible", timeout=30_000)
        heights[name] = section.bounding_box()["height"]
    assert all(h >= 60 for h in heights.values()), heights
    assert heights["jp-AiiChat"] > 1.4 * heights["jp-AiiCheckpoints"], heights
    assert heights["jp-AiiChat"] == max(heights.values()), heights
