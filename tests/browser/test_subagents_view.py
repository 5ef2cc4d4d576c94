"""Sub-agents in the browser: the child's block in the cell, the panel's list, Stop by keyboard."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.browser.agents_support import check_section_heights, set_theme
from tests.browser.chat_support import (
    PANEL,
    open_chat,
    open_notebook,
    screenshot,
    shutdown_kernels,
    start_chat_lab,
    wait_bound,
    widen_side_panel,
    write_notebook,
)
from tests.support.model_server import ScriptedModelServer
from tests.support.model_steps import Reply

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def chat_lab(tmp_path_factory, model):
    from tests.browser.lab_server import check_extension_built

    problem = check_extension_built()
    if problem:
        pytest.fail(problem)
    server = start_chat_lab(tmp_path_factory.mktemp("sublab"), model)
    try:
        yield server
    finally:
        server.stop()


def test_child_block_panel_list_and_stop(chromium, chat_lab, model):
    def respond(request):
        text = json.dumps(request.body_json.get("messages", []))
        if "Output of block" in text:
            return Reply("still waiting")
        if "<b>evil</b>" in text:
            return Reply(
                "Looking at <b>evil</b> markup first.\n"
                "```py\nprint('rows:', len(rows))\nimport time\ntime.sleep(120)\n```"
            )
        return None

    model.responder = respond
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        write_notebook(
            chat_lab,
            "sub.ipynb",
            cells=["rows = list(range(5))\nc = spawn_agent('count the rows of <b>evil</b>')"],
        )
        open_notebook(page, chat_lab, "sub.ipynb", "sub")
        chat = open_chat(page)
        wait_bound(chat)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        block = page.locator(".jp-OutputArea-output details.aiikernel-agent")
        block.filter(has_text="rows: 5").wait_for(timeout=120_000)
        assert block.locator("b", has_text="evil").count() == 0  # no markup from the model
        assert "<b>evil</b>" in block.inner_text()  # the model's markup shown as text
        row = page.locator(f"{PANEL} .jp-AiiSubAgents-row").first
        row.wait_for(timeout=60_000)
        page.locator(f'{PANEL} .jp-AiiSubAgents-row[data-status="running"]').wait_for(
            timeout=60_000
        )
        assert row.locator(".jp-AiiSubAgents-id").inner_text() == "agent-1"
        widen_side_panel(page)
        screenshot(page, "subagents-running.png")
        stop = page.get_by_role("button", name="Stop agent-1")
        stop.focus()
        page.keyboard.press("Enter")
        page.locator(f'{PANEL} .jp-AiiSubAgents-row[data-status="stopped"]').wait_for(
            timeout=60_000
        )
        block.filter(has_text="stopped").first.wait_for(timeout=60_000)
        summary = block.filter(has_text="stopped").first.locator("summary").inner_text()
        assert summary.startswith("agent-1 · stopped —"), summary  # said once, not twice
        screenshot(page, "subagents-stopped.png")
        set_theme(page, chat_lab, dark=True)  # a reload: the list comes back from the kernel
        page.locator(f'{PANEL} .jp-AiiSubAgents-row[data-status="stopped"]').wait_for(
            timeout=60_000
        )
        screenshot(page, "subagents-dark.png")
        check_section_heights(page)  # after a reload with a notebook open, too
        assert errors == []
    finally:
        set_theme(page, chat_lab, dark=False)
        context.close()
        shutdown_kernels(chat_lab)
