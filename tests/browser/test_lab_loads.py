"""JupyterLab loads with the aiikernel extension: side panel, launcher entry, server extension."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/aiikernel-lab.png"
LOAD_TIMEOUT_MS = 90_000


def _open_lab(page, lab_server, workspace: str) -> None:
    """Open lab in a workspace of its own, so layouts saved by other tests do not leak in."""
    page.goto(lab_server.url(f"lab/workspaces/{workspace}"), timeout=LOAD_TIMEOUT_MS)
    page.locator("#jp-main-dock-panel").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator(".jp-LauncherCard").first.wait_for(timeout=LOAD_TIMEOUT_MS)


def test_side_panel_icon_opens_the_panel(lab_page, lab_server):
    _open_lab(lab_page, lab_server, "panel")

    tab = lab_page.locator('.jp-SideBar .lm-TabBar-tab[data-id="aiikernel-panel"]')
    tab.wait_for(timeout=LOAD_TIMEOUT_MS)
    assert tab.locator("svg").count() == 1, "the side panel tab has no icon"

    panel = lab_page.locator("#aiikernel-panel")
    tab.click()
    panel.wait_for(state="visible", timeout=30_000)
    assert panel.locator(".jp-AiiPanel-title").text_content().strip() == "aiikernel"
    titles = panel.locator(".jp-AccordionPanel-title").all_text_contents()
    assert [t.strip() for t in titles] == ["Chat", "Checkpoints", "Sub-agents", "Agents"]

    # No notebook yet: the chat says what to do and shows no prompt box to type into.
    chat = panel.locator(".jp-AiiChat")
    chat.locator(".jp-AiiChat-banner", has_text="Open a notebook").wait_for(timeout=30_000)
    assert chat.locator(".jp-AiiChat-input").is_hidden()
    assert chat.locator(".jp-AiiChat-runMode").is_hidden()

    # The Agents section settles on the server's (empty) list, or says the API is missing.
    agents = panel.locator(".jp-AiiPanel-agents")
    agents.get_by_text(re.compile("not installed|No agent sessions")).wait_for(timeout=30_000)

    lab_page.screenshot(path=SCREENSHOT)
    assert lab_page.errors == [], "uncaught errors in the page"

    # Clicking the active tab collapses the sidebar; the palette command brings it back.
    tab.click()
    panel.wait_for(state="hidden", timeout=30_000)
    lab_page.keyboard.press("Control+Shift+C")
    palette_input = lab_page.locator(".lm-CommandPalette-input")
    palette_input.wait_for(state="visible", timeout=30_000)
    palette_input.fill("Open aiikernel Panel")
    lab_page.locator(".lm-CommandPalette-item", has_text="Open aiikernel Panel").first.click()
    panel.wait_for(state="visible", timeout=30_000)


def _saves_panel_open(response) -> bool:
    """A workspace save whose layout has the aiikernel panel as the current left widget."""
    request = response.request
    return (
        request.method == "PUT"
        and "/lab/api/workspaces" in response.url
        and '"current":"aiikernel-panel"' in (request.post_data or "")
    )


def test_layout_restorer_reopens_the_panel(lab_page, lab_server):
    _open_lab(lab_page, lab_server, "restore")
    panel = lab_page.locator("#aiikernel-panel")
    with lab_page.expect_response(_saves_panel_open, timeout=30_000):
        lab_page.locator('.jp-SideBar .lm-TabBar-tab[data-id="aiikernel-panel"]').click()
        panel.wait_for(state="visible", timeout=30_000)
    lab_page.reload()
    panel.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
    # Restored open, the panel is active: the Agents section finishes loading.
    panel.locator(".jp-AiiPanel-agents").get_by_text(
        re.compile("not installed|No agent sessions")
    ).wait_for(timeout=30_000)


def test_launcher_offers_the_aiipython_kernel(lab_page, lab_server):
    _open_lab(lab_page, lab_server, "launcher")
    notebook_cards = lab_page.locator('.jp-LauncherCard[data-category="Notebook"]')
    labels = [t.strip() for t in notebook_cards.all_inner_texts()]
    assert "aiipython" in labels, labels


def test_server_extension_is_loaded(lab_server):
    log = lab_server.log()
    assert re.search(r"aiikernel \| extension was successfully loaded", log), log[-3000:]


def _open_agents(lab_page, lab_server, workspace: str):
    _open_lab(lab_page, lab_server, workspace)
    lab_page.locator('.jp-SideBar .lm-TabBar-tab[data-id="aiikernel-panel"]').click()
    agents = lab_page.locator("#aiikernel-panel .jp-AiiPanel-agents")
    agents.wait_for(state="visible", timeout=30_000)
    return agents


def _session(sid: str, state: str, **extra) -> dict:
    base = {
        "sessionId": sid,
        "backend": "tmux-claude-code",
        "state": state,
        "status": "running",
        "alive": True,
        "working": state == "working",
        "jobAccomplished": False,
        "failed": False,
        "cwd": "proj",
        "createdAt": 1_700_000_000,
        "lastActivity": 1_700_000_000,
    }
    return {**base, **extra}


def test_agents_section_follows_the_watch_socket(lab_page, lab_server):
    """The Agents list is drawn from `/aimax/watch` frames: empty, two sessions with badges,
    filter and sort, a garbled frame ignored, a lost connection shown as reconnecting.

    Frames are scripted at the network layer so the test chooses them (tests/server and
    tests/browser/test_agents_view.py cover real sessions); the panel code runs unmodified.
    """
    sockets = []
    refuse = {"on": False}

    def handler(ws):
        if refuse["on"]:
            ws.close()  # the server is away: the client keeps trying
            return
        sockets.append(ws)

    lab_page.route_web_socket(re.compile(r".*/aimax/watch.*"), handler)
    agents = _open_agents(lab_page, lab_server, "agents")
    for _ in range(300):
        if sockets:
            break
        lab_page.wait_for_timeout(100)
    ws = sockets[-1]
    ws.send(json.dumps({"type": "sessions", "sessions": []}))
    agents.get_by_text("No agent sessions yet").wait_for(timeout=30_000)

    two = [
        _session("s1", "idle", lastActivity=1_700_000_100),
        _session("s2", "waiting_permission", displayName="fixer", backend="tmux-codex"),
    ]
    ws.send(json.dumps({"type": "sessions", "sessions": two}))
    agents.locator('li[data-session-id="s2"]').wait_for(timeout=30_000)
    names = agents.locator(".jp-AiiAgents-name").all_text_contents()
    assert names == ["s1", "fixer"]  # most recent activity first
    assert agents.locator('li[data-session-id="s2"] .jp-AiiAgents-badge').text_content() == (
        "needs permission"
    )
    agents.get_by_label("Sort agent sessions").select_option("state")
    lab_page.wait_for_function(
        "document.querySelector('.jp-AiiAgents-name').textContent === 'fixer'"
    )
    agents.get_by_label("Filter agent sessions").fill("codex")
    lab_page.wait_for_function("document.querySelectorAll('.jp-AiiAgents-item').length === 1")

    ws.send("not json")
    ws.send(json.dumps({"type": "sessions", "sessions": "nope"}))
    assert agents.locator(".jp-AiiAgents-item").count() == 1

    refuse["on"] = True
    ws.close()
    agents.get_by_text("Reconnecting to the server").wait_for(timeout=30_000)
    refuse["on"] = False
    for _ in range(300):  # it reconnects by itself
        if len(sockets) > 1:
            break
        lab_page.wait_for_timeout(100)
    sockets[-1].send(json.dumps({"type": "sessions", "sessions": two}))
    agents.get_by_text("Reconnecting to the server").wait_for(state="hidden", timeout=30_000)
