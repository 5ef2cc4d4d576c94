"""The chat and the notebook: Fix with AI on error outputs, code into cells, @-mentions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.chat_support import (
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
    prompt = turn.locator(".jp-AiiChat-prompt")
    assert prompt.inner_text().startswith("Fix the error in cell [1]")
    # The fenced cell and traceback show in the code font (columns line up), the rest does not,
    # and the prompt still reads exactly as sent.
    code = prompt.locator(".jp-AiiChat-promptCode")
    assert code.count() >= 2, code.count()
    assert "values[5]" in code.first.inner_text()
    assert any("list index out of range" in c for c in code.all_inner_texts())
    font = "el => getComputedStyle(el).fontFamily"
    assert code.first.evaluate(font) != prompt.evaluate(font)
    assert "Fix the error" not in " ".join(code.all_inner_texts())
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


def _wait_cell_ran(page, index: int = 0) -> None:
    page.wait_for_function(
        """i => {
            const p = document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')[i];
            return p && /\\[\\d+\\]/.test(p.textContent);
        }""",
        arg=index,
        timeout=60_000,
    )


def test_mention_a_variable_reaches_the_model(page, chat_lab, model):
    write_notebook(chat_lab, "mention.ipynb", cells=["scores = {'ann': 3, 'bob': 5}"])
    (chat_lab.log_path.parent / "notebooks" / "notes.txt").write_text("bob cheated at cards\n")
    open_notebook(page, chat_lab, "mention.ipynb", "mention")
    chat = open_chat(page)
    wait_bound(chat)
    _run_first_cell(page)
    _wait_cell_ran(page)
    box = chat.get_by_role("textbox", name="Chat prompt")
    box.fill("who wins in @sc")
    chat.get_by_role("option").filter(has_text="@scores").wait_for(timeout=30_000)
    assert "dict" in chat.get_by_role("option").first.inner_text()
    box.press("Tab")
    assert box.input_value() == "who wins in @scores "
    box.press_sequentially("and @file:no")
    chat.get_by_role("option").filter(has_text="@file:notes.txt").wait_for(timeout=30_000)
    box.press("Tab")
    box.press_sequentially("?")
    chips = chat.locator(".jp-AiiChat-input .jp-AiiChat-chip")
    labels = chips.evaluate_all("els => els.map(e => e.firstChild.textContent)")
    assert labels == ["@scores", "@file:notes.txt"]
    widen_side_panel(page)
    screenshot(page, "chat-mentions.png")
    model.script(Reply("**bob** has 5, but he cheated."))
    box.press("Enter")
    wait_turn_done(chat)
    text = _last_user_text(model)
    assert text.startswith("who wins in @scores and @file:notes.txt ?")
    assert "Attached @scores:\nscores: dict len=2" in text and "'bob': 5" in text
    assert "Attached @file:notes.txt:\nbob cheated at cards" in text
    turn = chat.locator(".jp-AiiChat-turn").first
    assert turn.locator(".jp-AiiChat-chip").all_inner_texts() == ["@scores", "@file:notes.txt"]
    assert chips.count() == 0
    assert page.errors == []


_PUT_IMAGE = """([kind, name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: 'image/png' }));
    const box = document.querySelector('.jp-AiiChat-textarea');
    if (kind === 'paste') {
        box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    } else {
        box.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
}"""


def test_pasted_and_dropped_images_go_with_the_prompt(page, chat_lab, model):
    import base64

    from tests.lm.images import png_bytes

    # the second cell puts the lab's remembered model back for the tests after this one
    write_notebook(
        chat_lab, "paste.ipynb", cells=["%model openai/gpt-4o", "%model openai/scripted"]
    )
    open_notebook(page, chat_lab, "paste.ipynb", "paste")
    chat = open_chat(page)
    wait_bound(chat)
    _run_first_cell(page)
    _wait_cell_ran(page)
    footer = chat.locator(".jp-AiiChat-footer")
    footer.get_by_text("openai/gpt-4o").wait_for(timeout=30_000)  # %model in a cell shows
    pasted, dropped = png_bytes(5, 4, (0, 128, 255)), png_bytes(2, 2)
    page.evaluate(_PUT_IMAGE, ["paste", "shot.png", base64.b64encode(pasted).decode()])
    page.evaluate(_PUT_IMAGE, ["drop", "dropped.png", base64.b64encode(dropped).decode()])
    chips = chat.locator(".jp-AiiChat-input .jp-AiiChat-chip")
    chips.nth(1).wait_for(timeout=30_000)
    names = chips.evaluate_all("els => els.map(e => e.firstChild.textContent)")
    assert names == ["shot.png (1 KB)", "dropped.png (1 KB)"], names
    chat.get_by_role("button", name="Remove attachment dropped.png (1 KB)").click()
    assert chips.count() == 1
    box = chat.get_by_role("textbox", name="Chat prompt")
    box.fill("what colour is this?")
    widen_side_panel(page)
    screenshot(page, "chat-image-paste.png")
    model.script(Reply("Mostly **blue**."))
    box.press("Enter")
    wait_turn_done(chat)
    user = [m for m in model.model_requests()[-1].body_json["messages"] if m["role"] == "user"]
    parts = user[-1]["content"]
    assert parts[0] == {"type": "text", "text": "what colour is this?"}
    sent = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(sent) == 1 and base64.b64decode(sent[0].split(",", 1)[1]) == pasted
    turn = chat.locator(".jp-AiiChat-turn").last
    assert turn.locator(".jp-AiiChat-chip").all_inner_texts() == ["images['shot.png']"]
    assert chips.count() == 0
    page.locator(".jp-Notebook .jp-Cell").nth(1).click()
    page.keyboard.press("Shift+Enter")
    _wait_cell_ran(page, 1)
    assert page.errors == []


def test_insert_turn_code_as_cells_copy_and_edit(page, chat_lab, model):
    write_notebook(chat_lab, "insert.ipynb", cells=["# my cell"])
    open_notebook(page, chat_lab, "insert.ipynb", "insert")
    chat = open_chat(page)
    wait_bound(chat)
    model.script(
        Reply("First:\n```py\nbase = 20\n```\nthen:\n```py\ntotal = base + 22\ntotal\n```"),
        Reply("Now a check:\n```py\nassert total == 42\n```"),
        Reply("All done."),
    )
    send(chat, "compute the total")
    wait_turn_done(chat)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    turn = chat.locator(".jp-AiiChat-turn").first
    turn.get_by_role(
        "button", name="Insert this turn's code as cells below the active cell"
    ).click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === 4", timeout=10_000
    )
    sources = page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell .cm-content')]
                .map(n => n.innerText.trim())"""
    )
    assert sources == ["# my cell", "base = 20", "total = base + 22\ntotal", "assert total == 42"]

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    turn.get_by_role("button", name="Copy this turn as Markdown").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("> compute the total\n\nFirst:\n```py\nbase = 20")
    assert "All done." in copied

    turn.get_by_role("button", name="Edit this prompt and replay").click()
    box = chat.get_by_role("textbox", name="Chat prompt")
    assert box.input_value() == "compute the total"
    assert box.evaluate("el => el === document.activeElement")
    widen_side_panel(page)
    screenshot(page, "chat-turn-actions.png")
    assert page.errors == []


def test_run_mode_ask_waits_for_run_edit_skip(page, chat_lab, model):
    write_notebook(chat_lab, "ask.ipynb")
    open_notebook(page, chat_lab, "ask.ipynb", "ask")
    chat = open_chat(page)
    wait_bound(chat)
    chat.get_by_label("Ask before running code").check()
    model.script(
        Reply(
            "Three steps:\n```py\nx = 1\nprint('x is', x)\n```\n"
            "```py\ny = 2\n```\n```py\nz = 3\n```\n"
        ),
        Reply("Noted what you chose."),
    )
    send(chat, "set some names")
    run = chat.get_by_role("button", name="Run this code block")
    run.wait_for(timeout=60_000)
    blocks = chat.locator(".jp-AiiChat-block")
    assert blocks.first.get_attribute("data-status") == "pending"
    # The footer counts finished turns and says one is running (the kernel is idle meanwhile).
    count = chat.locator(".jp-AiiChat-turnCount")
    assert count.inner_text() == "0 turns · one running", count.inner_text()
    widen_side_panel(page)
    screenshot(page, "chat-ask.png")
    run.click()
    blocks.nth(1).locator("[data-status], .jp-AiiChat-decision").first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-AiiChat-block')[1]?.dataset.status === 'pending'",
        timeout=60_000,
    )
    assert "x is 1" in blocks.first.locator(".jp-OutputArea-output").inner_text()
    blocks.nth(1).get_by_role("button", name="Edit this code block before it runs").click()
    editor = blocks.nth(1).get_by_role("textbox", name="Code to run instead")
    editor.fill("y = 'edited'")
    blocks.nth(1).get_by_role("button", name="Run the edited code").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-AiiChat-block')[2]?.dataset.status === 'pending'",
        timeout=60_000,
    )
    blocks.nth(2).get_by_role("button", name="Skip this code block (it does not run)").click()
    wait_turn_done(chat)
    page.wait_for_function(
        "() => document.querySelector('.jp-AiiChat-turnCount')?.textContent === '1 turn'",
        timeout=30_000,
    )
    assert [blocks.nth(i).get_attribute("data-status") for i in range(3)] == [
        "ok",
        "ok",
        "skipped",
    ]
    assert "y = 'edited'" in blocks.nth(1).inner_text()
    feedback = model.model_requests()[-1].body_json["messages"][-1]["content"]
    assert "The user edited this block" in feedback and "y = 'edited'" in feedback
    assert "did not run" in feedback
    assert page.errors == []


def _put_settings(lab, values: dict) -> None:
    import json
    import urllib.request

    body = json.dumps({"raw": json.dumps(values)}).encode()
    request = urllib.request.Request(
        f"{lab.base_url}lab/api/settings/aiikernel:panel?token={lab.token}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).close()


def test_bang_code_settings_footer_and_model_picker(page, chat_lab, model):
    write_notebook(chat_lab, "bang.ipynb")
    _put_settings(chat_lab, {"sendKey": "Ctrl+Enter", "runMode": "ask", "outputMaxHeight": 200})
    try:
        open_notebook(page, chat_lab, "bang.ipynb", "bang")
        chat = open_chat(page)
        wait_bound(chat)
        assert chat.get_by_label("Ask before running code").is_checked()
        box = chat.get_by_role("textbox", name="Chat prompt")
        box.fill("!answer = 6 * 7")
        box.press("Enter")  # with Ctrl+Enter to send, Enter is a new line
        assert box.input_value() == "!answer = 6 * 7\n"
        box.press_sequentially("print('answer is', answer)")
        box.press("Control+Enter")
        run = chat.locator(".jp-AiiChat-cellRun")
        run.locator(".jp-OutputArea-output", has_text="answer is 42").wait_for(timeout=60_000)
        # the output arrives before the execute reply that marks the run done
        chat.locator(".jp-AiiChat-cellRun[data-status='ok']").wait_for(timeout=60_000)
        assert box.input_value() == ""
        max_height = page.evaluate(
            "getComputedStyle(document.querySelector('.jp-AiiChat-outputs')).maxHeight"
        )
        assert max_height == "200px"
        auth = chat.locator(".jp-AiiChat-authSource")
        auth.wait_for(timeout=30_000)
        assert auth.inner_text() == "env:OPENAI_API_KEY"

        box.fill("/model scri")
        option = chat.get_by_role("option").filter(has_text="openai/scripted")
        option.wait_for(timeout=60_000)
        widen_side_panel(page)
        screenshot(page, "chat-model-picker.png")
        box.press("Tab")
        assert box.input_value() == "/model openai/scripted"
    finally:
        _put_settings(chat_lab, {})
    # the model knows the cell the chat ran: it is among the recent cells
    chat.get_by_label("Ask before running code").uncheck()
    model.script(Reply("It is 42."))
    box.fill("what is answer?")
    box.press("Control+Enter")
    wait_turn_done(chat)
    system = model.model_requests()[-1].body_json["messages"][0]["content"]
    assert "answer = 6 * 7" in system.split("most recently")[1]
    assert page.errors == []
