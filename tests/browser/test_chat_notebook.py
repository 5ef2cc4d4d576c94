"""The chat and the notebook: Fix with AI on error outputs, code into cells, @-mentions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.chat_support import (
    open_chat,
    open_notebook,
    screenshot,
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
    server = start_chat_lab(tmp_path_factory.mktemp("chatlab"), model)
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


def _last_user_text(model) -> str:
    content = model.model_requests()[-1].body_json["messages"]
    user = [m for m in content if m["role"] == "user"][-1]["content"]
    if isinstance(user, list):
        return "\n".join(part.get("text", "") for part in user)
    return user


def _run_first_cell(page) -> None:
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")


def test_fix_with_ai_sends_the_cell_and_its_traceback(page, chat_lab, model):
    write_notebook(chat_lab, "fix.ipynb", cells=["values = [1, 2]\nvalues[5]"])
    open_notebook(page, chat_lab, "fix.ipynb", "fix")
    chat = open_chat(page)
    wait_bound(chat)
    _run_first_cell(page)
    button = page.get_by_role(
        "button", name="Fix with AI: send this cell and its traceback to the chat"
    )
    button.wait_for(timeout=60_000)
    model.script(Reply("The list has two items: use `values[1]`."))
    widen_side_panel(page)
    button.click()
    wait_turn_done(chat)
    text = _last_user_text(model)
    assert "values = [1, 2]\nvalues[5]" in text
    assert "IndexError" in text and "list index out of range" in text
    assert "\x1b[" not in text
    turn = chat.locator(".jp-AiiChat-turn").first
    assert turn.locator(".jp-AiiChat-prompt").inner_text().startswith("Fix the error in cell [1]")
    screenshot(page, "chat-fix-with-ai.png")
    assert page.errors == []


def test_no_fix_button_for_other_kernels(page, chat_lab, model):
    write_notebook(chat_lab, "plain.ipynb", kernel="python3", cells=["1/0"])
    open_notebook(page, chat_lab, "plain.ipynb", "plain")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    _run_first_cell(page)
    page.locator(".jp-OutputArea-output", has_text="ZeroDivisionError").wait_for(timeout=60_000)
    page.wait_for_timeout(300)  # the decoration runs on the next animation frame
    assert page.locator(".jp-AiiFixWithAi").count() == 0
