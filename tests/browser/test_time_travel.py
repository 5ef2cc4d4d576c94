"""Time travel in the panel, in a real JupyterLab and chromium against the scripted model.

The state diff under a turn, the Checkpoints tree (click → diff → restore, live updates),
edit-and-replay making a new branch, the variables inspector, and the resume offer after a
kernel restart. Screenshots (light and dark) go to docs/screenshots/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.browser.chat_support import (
    PANEL,
    open_chat,
    open_notebook,
    screenshot,
    send,
    shutdown_kernels,
    start_chat_lab,
    wait_bound,
    wait_turn_done,
    widen_side_panel,
    write_notebook,
)
from tests.support.model_server import ScriptedModelServer
from tests.support.model_steps import Reply

pytestmark = pytest.mark.browser

MAKE = "```py\nimport pandas as pd\ndf = pd.DataFrame({'a': range(1000), 'b': range(1000)})\n```"
FILTER = "```py\ndf = df[df['a'] >= 20].assign(c=1)\n```"
SMALL = "```py\nimport pandas as pd\ndf = pd.DataFrame({'a': range(10)})\n```"


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
    server = start_chat_lab(tmp_path_factory.mktemp("ttlab"), model)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(chromium, chat_lab, model):
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    model.reset()
    try:
        yield page
    finally:
        context.close()
        shutdown_kernels(chat_lab)


def _prompts(chat) -> list[str]:
    return chat.locator(".jp-AiiChat-prompt").all_inner_texts()


def _conversation_sent(model) -> str:
    messages = model.model_requests()[-1].body_json["messages"]
    return json.dumps([m for m in messages if m["role"] != "system"])


def _checkpoints(page):
    """Show the Checkpoints section (its command's shortcut) and return it."""
    page.keyboard.press("Control+Alt+K")
    section = page.locator(f"{PANEL} .jp-AiiCheckpoints")
    section.locator(".jp-AiiCheckpoints-node").first.wait_for(timeout=30_000)
    return section


def _wait_head(page, checkpoint: str) -> None:
    page.wait_for_function(
        """id => document.querySelector('.jp-AiiCheckpoints-node[aria-current="true"]')
                 ?.dataset.checkpoint === id""",
        arg=checkpoint,
        timeout=30_000,
    )


def _dark(page) -> None:
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Use Theme: JupyterLab Dark")
    page.locator(".lm-CommandPalette-item", has_text="JupyterLab Dark").first.click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)


def test_tree_diff_restore_and_edit_and_replay(page, chat_lab, model):
    write_notebook(chat_lab, "travel.ipynb")
    open_notebook(page, chat_lab, "travel.ipynb", "travel")
    chat = open_chat(page)
    wait_bound(chat)
    model.script(Reply(MAKE), Reply("Made df."), Reply(FILTER), Reply("Filtered."))
    send(chat, "make a frame")
    wait_turn_done(chat, 1)
    send(chat, "filter it")
    wait_turn_done(chat, 2)
    diff_line = chat.locator(".jp-AiiChat-turn").nth(1).locator(".jp-AiiChat-stateDiff")
    diff_line.wait_for(timeout=30_000)
    assert "changed df: 1000×2 → 980×3" in diff_line.inner_text()

    tree = _checkpoints(page)
    _wait_head(page, "0003")
    ids = tree.locator(".jp-AiiCheckpoints-node").evaluate_all(
        "nodes => nodes.map(n => n.dataset.checkpoint)"
    )
    assert ids == ["0000", "0001", "0002", "0003"]
    widen_side_panel(page, 560)
    tree.locator('[data-checkpoint="0003"]').click()
    detail = tree.locator(".jp-AiiCheckpoints-diff")
    detail.wait_for(timeout=30_000)
    assert "df: DataFrame 1000×2 → DataFrame 980×3" in detail.inner_text()
    assert "c (" not in detail.inner_text()  # c is a column, not a name
    screenshot(page, "checkpoints-tree.png")

    # restore the state before the second turn: namespace and chat go back
    tree.locator('[data-checkpoint="0002"]').click()
    tree.get_by_role("button", name="Restore checkpoint 0002: variables and conversation").click()
    _wait_head(page, "0002")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-AiiChat-turn').length === 1", timeout=30_000
    )
    assert _prompts(chat) == ["make a frame"]

    # the variables inspector shows the restored frame
    page.keyboard.press("Control+Alt+I")
    row = page.locator('.jp-AiiInspector-table tr[data-name="df"]')
    row.wait_for(timeout=30_000)
    assert "DataFrame 1000×2" in row.inner_text()
    # No value is shown for a frame (only built-in scalars have one): a dash says so.
    assert row.locator("td").nth(3).inner_text() == "—"
    screenshot(page, "inspector-variables.png")
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="AI Variables").locator(
        ".lm-TabBar-tabCloseIcon"
    ).click()

    # edit the first prompt: it replays from the checkpoint before it, as a new branch
    chat.locator(".jp-AiiChat-turn").first.get_by_role(
        "button", name="Edit this prompt and replay"
    ).click()
    assert "Replaying from checkpoint 0000" in chat.locator(".jp-AiiChat-replay").inner_text()
    model.script(Reply(SMALL), Reply("A small one."))
    box = chat.get_by_role("textbox", name="Chat prompt")
    box.fill("make a small frame")
    box.press("Enter")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-AiiChat-prompt')].map(p => p.innerText)
                 .join('|') === 'make a small frame'""",
        timeout=60_000,
    )
    wait_turn_done(chat, 1)
    sent = _conversation_sent(model)
    assert "make a small frame" in sent and "make a frame" not in sent and "filter it" not in sent
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-AiiCheckpoints-node').length >= 6", timeout=30_000
    )
    rails = tree.locator(".jp-AiiCheckpoints-rail").all_inner_texts()
    assert any("├" in r for r in rails), rails  # the old branch stays in the tree
    assert tree.locator('[data-checkpoint="0003"]').count() == 1
    _dark(page)
    tree.locator(".jp-AiiCheckpoints-node[aria-current='true']").click()
    detail.wait_for(timeout=30_000)
    screenshot(page, "checkpoints-tree-dark.png")
    assert page.errors == []


def test_resume_after_a_kernel_restart(page, chat_lab, model):
    write_notebook(chat_lab, "resume.ipynb")
    open_notebook(page, chat_lab, "resume.ipynb", "resume")
    chat = open_chat(page)
    wait_bound(chat)
    model.script(Reply("```py\ntotal = 6\n```"), Reply("The total is 6."))
    send(chat, "compute the total")
    wait_turn_done(chat, 1)

    shutdown_kernels(chat_lab)
    page.reload()
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=90_000)
    chat = open_chat(page)
    wait_bound(chat)
    banner = chat.locator(".jp-AiiChat-resume")
    banner.wait_for(timeout=60_000)
    assert "Resume from checkpoint 0001 (after: compute the total" in banner.inner_text()
    assert chat.locator(".jp-AiiChat-turn").count() == 0  # nothing happened without the click
    widen_side_panel(page)
    screenshot(page, "chat-resume.png")
    banner.get_by_role("button", name="Restore the variables and the conversation").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-AiiChat-turn').length === 1", timeout=60_000
    )
    assert _prompts(chat) == ["compute the total"]
    assert not banner.is_visible()
    model.script(Reply("Still **6**."))
    send(chat, "what was the total?")
    wait_turn_done(chat, 2)
    assert "The total is 6." in _conversation_sent(model)

    # the inspectors: the raw Markdown of a reply, the wire log (the key never shows)
    chat.locator(".jp-AiiChat-turn").nth(1).get_by_role(
        "button", name="Show the model's raw Markdown of this turn"
    ).click()
    dialog = page.locator(".jp-Dialog .jp-AiiInspector-text")
    dialog.wait_for(timeout=10_000)
    assert "Still **6**." in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached", timeout=10_000)
    page.keyboard.press("Control+Alt+W")
    dialog.wait_for(timeout=10_000)
    wire = dialog.inner_text()
    assert "what was the total?" in wire and "sk-test-key" not in wire
    page.keyboard.press("Escape")
    assert page.errors == []
