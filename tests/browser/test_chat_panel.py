"""The chat panel in a real JupyterLab and chromium, against a scripted model.

Each test opens its own notebook (so its own kernel) in its own workspace.
"""

from __future__ import annotations

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

PLOT_REPLY = """\
Let me plot the temperatures and show the table.

```py
import matplotlib.pyplot as plt
import pandas as pd
df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [3.5, 19.0, 27.2]})
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.bar(df.city, df.temp)
plt.show()
df
```
"""


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


def test_plot_and_dataframe_then_reload_shows_the_same_history(page, chat_lab, model):
    write_notebook(chat_lab, "plot.ipynb")
    open_notebook(page, chat_lab, "plot.ipynb", "plot")
    chat = open_chat(page)
    wait_bound(chat)

    model.script(Reply(PLOT_REPLY), Reply("The warmest city is **Pune** (27.2 °C)."))
    send(chat, "Which city is warmest? Plot it.")
    wait_turn_done(chat)

    turn = chat.locator(".jp-AiiChat-turn").first
    assert turn.locator(".jp-AiiChat-prompt").inner_text() == "Which city is warmest? Plot it."
    block = turn.locator(".jp-AiiChat-block").first
    assert block.get_attribute("data-status") == "ok"
    png = block.locator(".jp-OutputArea-output img[src^='data:image/png']")
    png.wait_for(timeout=30_000)
    table = block.locator(".jp-OutputArea-output table.dataframe")
    assert table.locator("td").all_inner_texts()[:2] == ["Oslo", "3.5"]
    turn.get_by_text("The warmest city is").wait_for(timeout=30_000)  # rendered async
    assert "Pune" in turn.locator("strong").all_inner_texts()
    status = turn.locator(".jp-AiiChat-turnStatus").inner_text()
    assert "2 steps" in status and "tokens" in status
    widen_side_panel(page)
    turn.locator(".jp-AiiChat-block").first.scroll_into_view_if_needed()
    screenshot(page, "chat-plot.png")

    page.reload()
    chat = open_chat(page)
    wait_bound(chat)
    turn = chat.locator(".jp-AiiChat-turn").first
    turn.locator(".jp-OutputArea-output img[src^='data:image/png']").wait_for(timeout=30_000)
    assert turn.locator(".jp-AiiChat-prompt").inner_text() == "Which city is warmest? Plot it."
    assert turn.locator("table.dataframe td").all_inner_texts()[:2] == ["Oslo", "3.5"]
    turn.get_by_text("The warmest city is").wait_for(timeout=30_000)  # rendered async
    assert page.locator(f"{PANEL} .jp-AiiChat-turn").count() == 1
    assert page.errors == []


def _prompts(chat) -> list[str]:
    return chat.locator(".jp-AiiChat-prompt").all_inner_texts()


def test_stop_a_slow_turn_and_queue_prompts(page, chat_lab, model):
    write_notebook(chat_lab, "queue.ipynb")
    open_notebook(page, chat_lab, "queue.ipynb", "queue")
    chat = open_chat(page)
    wait_bound(chat)
    model.script(
        Reply(chunks=[f"word{i} " for i in range(200)], delay=0.1),
        Reply("first queued answer"),
        Reply("second queued answer"),
    )
    send(chat, "talk slowly")
    chat.locator(".jp-AiiChat-turn").first.get_by_text("word3").wait_for(timeout=30_000)
    for text in ("queued one", "queued two", "queued three"):
        send(chat, text)
    queued = chat.locator(".jp-AiiChat-queued")
    assert queued.locator(".jp-AiiChat-queuedText").all_inner_texts() == [
        "queued one",
        "queued two",
        "queued three",
    ]
    widen_side_panel(page)
    screenshot(page, "chat-queue.png")
    chat.get_by_role("button", name="Remove queued prompt: queued three").click()
    assert queued.count() == 2
    chat.get_by_role("button", name="Edit queued prompt: queued two").click()
    editor = chat.get_by_role(
        "textbox", name="Edit the queued prompt (Enter saves, Escape cancels)"
    )
    editor.fill("queued two, edited")
    editor.press("Enter")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-AiiChat-queuedText')]
                .map(n => n.textContent).join('|') === 'queued one|queued two, edited'""",
        timeout=10_000,
    )

    chat.get_by_role("button", name="Stop the running turn (interrupt the kernel)").click()
    first = chat.locator(".jp-AiiChat-turn").first
    page.wait_for_function(
        "() => document.querySelector('.jp-AiiChat-turn').dataset.status === 'interrupted'",
        timeout=60_000,  # the stream would end in 20 s as 'answered', never 'interrupted',
    )
    assert "Stopped" in first.locator(".jp-AiiChat-turnStatus").inner_text()

    wait_turn_done(chat, 3)
    assert _prompts(chat) == ["talk slowly", "queued one", "queued two, edited"]
    chat.get_by_text("second queued answer").wait_for(timeout=30_000)
    assert queued.count() == 0
    assert len(model.model_requests()) == 3
    assert page.errors == []


def test_slash_command_completion_and_help(page, chat_lab, model):
    write_notebook(chat_lab, "slash.ipynb")
    open_notebook(page, chat_lab, "slash.ipynb", "slash")
    chat = open_chat(page)
    wait_bound(chat)
    box = chat.get_by_role("textbox", name="Chat prompt")
    box.fill("/he")
    options = chat.get_by_role("option")
    options.first.wait_for(timeout=10_000)
    assert options.first.locator("code").inner_text() == "/help"
    widen_side_panel(page)
    box.fill("/")
    options.nth(3).wait_for(timeout=10_000)
    # The whole list is inside the chat section (which clips it), never cut at its top.
    section = chat.bounding_box()
    listbox = chat.get_by_role("listbox", name="Completions").bounding_box()
    assert listbox["y"] >= section["y"], (listbox, section)
    assert listbox["y"] + listbox["height"] <= section["y"] + section["height"], (listbox, section)
    screenshot(page, "chat-slash.png")
    box.fill("/he")
    box.press("Tab")
    assert box.input_value() == "/help "
    assert "List the commands" in chat.locator(".jp-AiiChat-commandHelp").inner_text()
    box.press("Enter")
    note = chat.locator(".jp-AiiChat-note")
    note.locator("table").wait_for(timeout=30_000)
    assert "/undo" in note.inner_text()
    # ↑ brings the last prompt back
    box.press("ArrowUp")
    assert box.input_value() == "/help"
    assert page.errors == []


def test_model_html_is_sanitised(page, chat_lab, model):
    write_notebook(chat_lab, "xss.ipynb")
    open_notebook(page, chat_lab, "xss.ipynb", "xss")
    chat = open_chat(page)
    wait_bound(chat)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    model.script(
        Reply(
            'Look: <img src=x onerror="window.__xss = 1; alert(1)">\n\n'
            "<script>window.__xss2 = 2; alert(2)</script>\n\n"
            '<a href="javascript:window.__xss3 = 3">click</a> and safe **text**.'
        )
    )
    send(chat, "be evil")
    wait_turn_done(chat)
    turn = chat.locator(".jp-AiiChat-turn").first
    turn.get_by_text("safe").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    assert page.evaluate("[window.__xss, window.__xss2, window.__xss3]") == [None, None, None]
    assert dialogs == []
    assert turn.locator("script").count() == 0
    assert turn.locator("[onerror]").count() == 0
    link = turn.locator("a", has_text="click")
    if link.count():
        assert not (link.get_attribute("href") or "").startswith("javascript:")
        link.click()
        assert page.evaluate("window.__xss3") is None


def test_other_kernel_offers_the_switch(page, chat_lab, model):
    write_notebook(chat_lab, "other.ipynb", kernel="python3")
    open_notebook(page, chat_lab, "other.ipynb", "other")
    chat = open_chat(page)
    banner = chat.locator('.jp-AiiChat-banner[data-kind="other-kernel"]')
    banner.wait_for(timeout=90_000)
    assert "Python 3" in banner.inner_text()
    # nothing to type into until the kernel is aiipython
    assert chat.locator(".jp-AiiChat-textarea").is_hidden()
    widen_side_panel(page)
    screenshot(page, "chat-other-kernel.png")
    chat.get_by_role("button", name="Change kernel to aiipython").click()
    wait_bound(chat)
    assert not chat.get_by_role("textbox", name="Chat prompt").is_disabled()


def test_cell_turn_in_the_panel_dark_theme(page, chat_lab, model):
    write_notebook(chat_lab, "dark.ipynb", cells=["%%ai\nSay hello in Markdown."])
    open_notebook(page, chat_lab, "dark.ipynb", "dark")
    chat = open_chat(page)
    wait_bound(chat)
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill("Use Theme: JupyterLab Dark")
    page.locator(".lm-CommandPalette-item", has_text="JupyterLab Dark").first.click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    model.script(
        Reply(
            "Hello! Here is a **table** and some code:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "```py\nprint('hi from the model')\n```\n"
        ),
        Reply("Done — `hi` was printed."),
    )
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    wait_turn_done(chat)
    turn = chat.locator(".jp-AiiChat-turn").first
    assert turn.locator(".jp-AiiChat-prompt").get_attribute("data-source") == "cell"
    assert "hi from the model" in turn.locator(".jp-OutputArea-output").inner_text()
    # the cell shows the streamed reply once: its live display is emptied when it is final
    cell_output = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea")
    cell_output.get_by_text("Done").wait_for(timeout=30_000)
    assert cell_output.inner_text().count("Hello! Here is a") == 1, cell_output.inner_text()
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.jp-AiiChat')).backgroundColor"
    )
    red, green, blue = (int(v) for v in background[background.index("(") + 1 : -1].split(",")[:3])
    assert red + green + blue < 200, background
    # A code block's code sits on the block's own background (no band behind the text).
    code = turn.locator(".jp-AiiChat-block pre > code").first
    assert code.evaluate("el => getComputedStyle(el).backgroundColor") == "rgba(0, 0, 0, 0)"
    widen_side_panel(page)
    screenshot(page, "chat-dark.png")
    assert page.errors == []


def _banner(chat) -> str:
    return chat.locator('.jp-AiiChat-banner[data-kind="ready"]').inner_text()


# Keeps every kernel websocket the page opens, counting the chat history answers each carried.
_RECORD_KERNEL_SOCKETS = r"""
(() => {
  const Native = window.WebSocket;
  window.__kernelSockets = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes('/api/kernels/')) return;
      this.__historyAnswers = 0;
      window.__kernelSockets.push(this);
      const decoder = new TextDecoder();
      this.addEventListener('message', (event) => {
        const text = typeof event.data === 'string' ? event.data : decoder.decode(event.data);
        if (/"type":\s*"history"/.test(text) && text.includes('"turns"')) {
          this.__historyAnswers += 1;
        }
      });
    }
  };
})();
"""


def test_follows_notebooks_restart_reconnect_and_escape(page, chat_lab, model):
    write_notebook(chat_lab, "left.ipynb", cells=["x = 1"])
    write_notebook(chat_lab, "right.ipynb")
    page.add_init_script(_RECORD_KERNEL_SOCKETS)
    open_notebook(page, chat_lab, "left.ipynb", "follow")
    chat = open_chat(page)
    wait_bound(chat)
    assert "left.ipynb" in _banner(chat)
    model.script(Reply("answer for left"))
    send(chat, "question in left")
    wait_turn_done(chat)

    # Escape goes back to the notebook the chat follows
    box = chat.get_by_role("textbox", name="Chat prompt")
    box.focus()
    box.press("Escape")
    page.wait_for_function(
        "() => !!document.activeElement?.closest('.jp-NotebookPanel')", timeout=10_000
    )

    # open the other notebook: the chat follows it (its own kernel, its own conversation)
    page.keyboard.press("Control+Shift+F")
    page.locator(".jp-DirListing-item", has_text="right.ipynb").dblclick()
    page.locator(
        ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text="right.ipynb"
    ).wait_for(timeout=30_000)
    page.keyboard.press("Control+Shift+Y")
    page.locator(PANEL).wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        """() => document.querySelector('.jp-AiiChat-banner')?.textContent.includes('right.ipynb')
              && document.querySelector('.jp-AiiChat-banner').dataset.kind === 'ready'""",
        timeout=90_000,
    )
    assert chat.locator(".jp-AiiChat-turn").count() == 0
    # and back: the first conversation is drawn again from its kernel
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="left.ipynb").click()
    page.wait_for_function(
        """() => document.querySelector('.jp-AiiChat-banner')?.textContent.includes('left.ipynb')
              && document.querySelectorAll('.jp-AiiChat-turn').length === 1""",
        timeout=30_000,
    )
    assert _prompts(chat) == ["question in left"]

    # the websocket drops and comes back: the panel asks for the history again
    # (closed from the page: the kernel connection sees a dropped socket and reconnects)
    dropped = page.evaluate(
        """() => {
            const open = window.__kernelSockets.filter(s => s.readyState === WebSocket.OPEN);
            open.forEach(s => s.close());
            return open.length;
        }"""
    )
    assert dropped >= 1
    page.wait_for_function(
        """(dropped) => window.__kernelSockets.slice(dropped).some(
               s => s.readyState === WebSocket.OPEN && s.__historyAnswers > 0)""",
        arg=dropped,
        timeout=60_000,
    )
    wait_bound(chat)
    model.script(Reply("after the reconnect"))
    send(chat, "still there?")
    wait_turn_done(chat, 2)
    assert _prompts(chat) == ["question in left", "still there?"]

    # restart the kernel: a new, empty conversation that works
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").first.click()
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Restart Kernel…")
    page.locator(".lm-CommandPalette-item", has_text="Restart Kernel…").first.click()
    page.get_by_role("button", name="Confirm Kernel Restart").click()
    page.wait_for_function(
        """() => document.querySelector('.jp-AiiChat-banner')?.dataset.kind === 'ready'
              && document.querySelectorAll('.jp-AiiChat-turn').length === 0""",
        timeout=90_000,
    )
    model.script(Reply("fresh kernel answer"))
    send(chat, "after restart")
    wait_turn_done(chat)
    assert _prompts(chat) == ["after restart"]
    assert page.errors == []
