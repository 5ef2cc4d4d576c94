"""JupyterLab loads with the aiikernel extension: side panel, launcher entry, server extension."""

from __future__ import annotations

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
    assert [t.strip() for t in titles] == ["Chat", "Agents"]

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


def test_agents_section_lists_sessions_and_reports_bad_replies(lab_page, lab_server):
    """The browser-side client of GET /aimax/sessions: list, refresh, garbled reply, 500.

    Replies are scripted at the network layer so the test chooses them (real sessions
    need tmux and an agent CLI; tests/server covers the server side); the panel code
    under test runs unmodified.
    """
    replies = {"status": 200, "body": '{"sessions": []}'}

    def scripted(route):
        route.fulfill(
            status=replies["status"], content_type="application/json", body=replies["body"]
        )

    lab_page.route(re.compile(r".*/aimax/sessions(\?.*)?$"), scripted)
    agents = _open_agents(lab_page, lab_server, "agents")
    refresh = agents.get_by_role("button", name="Refresh")

    agents.get_by_text("No agent sessions.").wait_for(timeout=30_000)

    replies["body"] = (
        '{"sessions": [{"sessionId": "s1", "backend": "claude_code", "state": "idle"},'
        ' {"sessionId": "s2", "backend": "codex", "state": "working", "displayName": "fixer"}]}'
    )
    refresh.click()
    agents.locator('li[data-session-id="s2"]').wait_for(timeout=30_000)
    assert agents.locator("li").all_text_contents() == ["claude_code idle", "fixer working"]

    replies["body"] = '{"sessions": [{"sessionId": 7}]}'
    refresh.click()
    agents.get_by_text("unexpected reply from the server").wait_for(timeout=30_000)
    assert agents.locator("li").count() == 0

    replies.update(status=500, body='{"message": "tmux is not installed"}')
    refresh.click()
    agents.get_by_text(re.compile(r"500 tmux is not installed")).wait_for(timeout=30_000)
