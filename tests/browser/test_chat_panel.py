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
    start_chat_lab,
    wait_bound,
    wait_turn_done,
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
    screenshot(page, "debug.png")
    png = block.locator(".jp-OutputArea-output img[src^='data:image/png']")
    png.wait_for(timeout=30_000)
    table = block.locator(".jp-OutputArea-output table.dataframe")
    assert table.locator("td").all_inner_texts()[:2] == ["Oslo", "3.5"]
    assert turn.get_by_text("The warmest city is").is_visible()
    assert "Pune" in turn.locator("strong").all_inner_texts()
    status = turn.locator(".jp-AiiChat-turnStatus").inner_text()
    assert "2 steps" in status and "tokens" in status
    screenshot(page, "chat-plot.png")

    page.reload()
    chat = open_chat(page)
    wait_bound(chat)
    turn = chat.locator(".jp-AiiChat-turn").first
    turn.locator(".jp-OutputArea-output img[src^='data:image/png']").wait_for(timeout=30_000)
    assert turn.locator(".jp-AiiChat-prompt").inner_text() == "Which city is warmest? Plot it."
    assert turn.locator("table.dataframe td").all_inner_texts()[:2] == ["Oslo", "3.5"]
    assert turn.get_by_text("The warmest city is").is_visible()
    assert page.locator(f"{PANEL} .jp-AiiChat-turn").count() == 1
    assert page.errors == []
