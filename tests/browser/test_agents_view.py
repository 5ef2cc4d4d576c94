"""The Agents view in a real JupyterLab + chromium, driving the fake agent in real tmux: create
from the dialog, the reply streams in, send, interrupt, approve a permission, stop, resume, the
terminal, reload mid-stream without duplicates, field errors, and untrusted transcript HTML."""

from __future__ import annotations

import shutil

import pytest

from tests.browser.agents_support import (
    REPLY_TIMEOUT_MS,
    agents_lab,
    check_section_heights,
    message,
    open_agents,
    open_lab,
    root_dir,
    send,
    seqs,
    session_tab,
    set_theme,
    shot,
    wait_badge,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with agents_lab(tmp_path_factory.mktemp("agents-lab")) as server:
        (root_dir(server) / "proj").mkdir()
        (root_dir(server) / "proj" / "sub").mkdir()
        yield server


def _create(page, agents, *, folder: str, prompt: str, name: str = "", model: str = ""):
    agents.get_by_role("button", name="New agent").click()
    dialog = page.locator(".jp-AiiCreate")
    dialog.wait_for(timeout=30_000)
    dialog.get_by_label("Folder", exact=True).fill(folder)
    dialog.get_by_label("Prompt").fill(prompt)
    if name:
        dialog.get_by_label("Display name").fill(name)
    if model:
        dialog.get_by_label("Model").fill(model)
    dialog.get_by_role("button", name="Start").click()
    return dialog


def test_the_whole_session_flow(chromium, lab):
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_lab(page, lab, "agents-flow")
    agents = open_agents(page)

    # Create from the dialog: the backend list comes from the server.
    agents.get_by_role("button", name="New agent").click()
    dialog = page.locator(".jp-AiiCreate")
    dialog.wait_for(timeout=30_000)
    dialog.locator("#jp-AiiCreate-backend option", has_text="Codex").wait_for(state="attached")
    options = dialog.locator("#jp-AiiCreate-backend option").all_text_contents()
    assert "Claude Code" in options and "Codex" in options
    dialog.get_by_role("button", name="Browse").click()
    dialog.locator(".jp-AiiCreate-folders button", has_text="proj/").click()
    assert dialog.get_by_label("Folder", exact=True).input_value() == "proj"
    dialog.get_by_label("Prompt").fill("Say hello\n[[think:1]] [[reply:FIRST **bold** REPLY]]")
    dialog.get_by_label("Display name").fill("Demo agent")
    dialog.get_by_role("button", name="Start").click()
    dialog.wait_for(state="detached", timeout=REPLY_TIMEOUT_MS)

    # The session's tab opens; the reply streams in and is rendered as Markdown.
    view = page.locator(".jp-AiiAgent").first
    view.wait_for(timeout=30_000)
    # The agent's message: the prompt contains FIRST too, and both may arrive in one frame.
    reply = view.locator(".jp-AiiAgent-assistant", has_text="FIRST")
    reply.wait_for(timeout=REPLY_TIMEOUT_MS)
    assert reply.locator("strong", has_text="bold").count() == 1
    item = agents.locator(".jp-AiiAgents-item", has_text="Demo agent")
    wait_badge(item, "idle")
    assert "proj" in item.text_content()
    assert "tok" in item.text_content()  # the fake transcript reports usage
    session_id = item.get_attribute("data-session-id")
    assert view.get_attribute("id") == f"aiikernel-agent-{session_id}"

    # Send (queued) and interrupt-and-send.
    send(view, "[[reply:SECOND-REPLY]]")
    message(view, "SECOND-REPLY").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    send(view, "long one [[think:30]] [[reply:NEVER-SHOWN]]")
    wait_badge(view, "working")
    send(view, "[[reply:AFTER-INTERRUPT]]", mode="interrupt")
    message(view, "AFTER-INTERRUPT").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    assert message(view, "NEVER-SHOWN").count() == 1  # the prompt only, never a reply

    # A permission question: banner with the question, a notification, approve.
    send(view, "[[tool:ls -la]] [[permission]] [[reply:APPROVED-REPLY]]")
    banner = view.locator(".jp-AiiAgent-permission")
    banner.wait_for(state="visible", timeout=REPLY_TIMEOUT_MS)
    assert "proceed" in banner.locator(".jp-AiiAgent-question").text_content()
    page.locator(".Toastify__toast", has_text="asks for permission").first.wait_for(timeout=30_000)
    tool = view.locator('.jp-AiiAgent-tool[data-tool="Bash"]').first
    assert "$ ls -la" in tool.locator("summary").text_content()
    shot(page, "agents-permission-light.png")
    banner.get_by_role("button", name="Approve").click()
    message(view, "APPROVED-REPLY").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    banner.wait_for(state="hidden", timeout=30_000)
    # Answered: its notification goes too (a stale "asks for permission" would mislead).
    page.locator(".Toastify__toast", has_text="asks for permission").first.wait_for(
        state="detached", timeout=30_000
    )
    tool.locator("summary").click()
    assert "(fake tool output)" in tool.locator(".jp-AiiAgent-output").text_content()

    # The terminal toggle shows the agent's screen, read-only.
    view.get_by_role("button", name="Terminal").click()
    terminal = view.locator(".jp-AiiAgent-terminal")
    page.wait_for_function(
        "el => el.textContent.includes('Fake Claude Code')",
        arg=terminal.element_handle(),
        timeout=30_000,
    )
    shot(page, "agents-terminal-light.png")
    view.get_by_role("button", name="Transcript").click()

    # Stop, then resume the same conversation and talk to it again.
    view.get_by_role("button", name="Stop").click()
    wait_badge(view, "stopped")
    wait_badge(item, "stopped")
    view.get_by_role("button", name="Resume").click()
    wait_badge(view, "idle", "working", "starting")
    send(view, "[[reply:AFTER-RESUME]]")
    message(view, "AFTER-RESUME").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)

    # Reload while a reply is being produced: the restored tab shows every event once.
    before = seqs(view)
    assert before == sorted(set(before))
    send(view, "[[think:2]] [[reply:AFTER-RELOAD]]")
    page.reload()
    view = session_tab(page, session_id)
    view.wait_for(timeout=LOAD_TIMEOUT)
    message(view, "AFTER-RELOAD").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    after = seqs(view)
    assert after == sorted(set(after)), "an event was shown twice"
    assert after[: len(before)] == before
    assert message(view, "FIRST").count() == 2  # the prompt and the reply, once each
    shot(page, "agents-session-light.png")
    set_theme(page, lab, dark=True)
    message(view, "AFTER-RELOAD").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    shot(page, "agents-session-dark.png")
    page.locator(".jp-AiiPanel-agents").get_by_role("button", name="New agent").click()
    dialog = page.locator(".jp-AiiCreate")
    dialog.wait_for(timeout=30_000)
    dialog.locator("option", has_text="Claude Code").wait_for(state="attached", timeout=30_000)
    shot(page, "agents-create-dark.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached", timeout=10_000)
    set_theme(page, lab, dark=False)
    assert errors == []
    page.close()


LOAD_TIMEOUT = 90_000


def test_every_open_section_of_the_panel_has_room(chromium, lab):
    """A fresh workspace: Chat, Checkpoints, Sub-agents and Agents are all open and visible
    (the Sub-agents section used to get zero height: it was added after the sizes were set),
    and the chat has the most room."""
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab, "panel-sizes")
    open_agents(page)
    check_section_heights(page)
    # The same after a reload that restores the panel open (it is laid out while hidden).
    page.reload()
    page.locator("#jp-main-dock-panel").wait_for(timeout=LOAD_TIMEOUT)
    open_agents(page)
    check_section_heights(page)
    page.close()


def test_server_validation_errors_show_on_the_fields(chromium, lab):
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab, "agents-errors")
    agents = open_agents(page)
    dialog = _create(page, agents, folder="../..", prompt="hi")
    error = dialog.locator("#jp-AiiCreate-cwd-error")
    error.wait_for(timeout=30_000)
    assert "outside" in error.text_content()
    assert dialog.get_by_label("Folder", exact=True).get_attribute("aria-invalid") == "true"
    dialog.get_by_label("Folder", exact=True).fill("proj")
    dialog.get_by_label("Model").fill("no spaces allowed")
    dialog.get_by_role("button", name="Start").click()
    model_error = dialog.locator("#jp-AiiCreate-model-error")
    model_error.wait_for(timeout=30_000)
    # In words, without the field name the label above already shows, never a regex.
    assert model_error.text_content().startswith("Use a model name"), model_error.text_content()
    assert "no spaces" in model_error.text_content()
    assert dialog.locator("#jp-AiiCreate-cwd-error").count() == 0
    # Like JupyterLab's own dialogs: a backdrop over the whole window, the form in its middle.
    backdrop = page.locator(".jp-AiiCreate-dialog").bounding_box()
    assert backdrop == {"x": 0, "y": 0, "width": 1400, "height": 900}, backdrop
    form = dialog.bounding_box()
    assert abs(form["y"] + form["height"] / 2 - 450) < 2, form
    assert abs(form["x"] + form["width"] / 2 - 700) < 2, form
    shot(page, "agents-create-errors-light.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached", timeout=10_000)
    page.close()


def test_transcript_html_does_not_execute(chromium, lab):
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab, "agents-xss")
    agents = open_agents(page)
    payload = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>'
    dialog = _create(page, agents, folder="proj", prompt=f"x [[reply:{payload} XSS-END]]")
    dialog.wait_for(state="detached", timeout=REPLY_TIMEOUT_MS)
    view = page.locator(".jp-AiiAgent").first
    message(view, "XSS-END").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    assert page.evaluate("window.__xss") is None
    assert view.locator("script").count() == 0
    assert view.locator("[onerror]").count() == 0
    page.close()


def _context_menu(page, target, label: str) -> None:
    """Right-click ``target`` and choose ``label`` from JupyterLab's context menu."""
    target.click(button="right")
    item = page.locator(".lm-Menu-item", has_text=label).first
    item.wait_for(timeout=30_000)
    item.click()


def test_from_a_notebook_and_from_the_chat(chromium, lab):
    from tests.browser.chat_support import wait_bound, write_notebook

    (root_dir(lab) / "nbdir").mkdir(exist_ok=True)
    write_notebook(lab, "nbdir/analysis.ipynb", kernel="aiipython", cells=["x = 1"])
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab, "agents-notebook", "nbdir/analysis.ipynb")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=90_000)
    cell = page.locator(".jp-NotebookPanel .jp-Cell").first
    cell.click()

    # The notebook's context menu opens the dialog on the notebook's folder.
    _context_menu(page, cell, "Start an Agent on This Notebook")
    dialog = page.locator(".jp-AiiCreate")
    dialog.wait_for(timeout=30_000)
    assert dialog.get_by_label("Folder", exact=True).input_value() == "nbdir"
    dialog.get_by_label("Prompt").fill("[[reply:NOTEBOOK-AGENT]]")
    dialog.get_by_label("Display name").fill("From notebook")
    dialog.get_by_role("button", name="Start").click()
    dialog.wait_for(state="detached", timeout=REPLY_TIMEOUT_MS)
    view = page.locator(".jp-AiiAgent").first
    message(view, "NOTEBOOK-AGENT").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    assert "nbdir" in view.locator(".jp-AiiAgent-meta").text_content()

    # The chat hands its prompt to that running session.
    agents = open_agents(page)
    # The chat follows the active notebook.
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="analysis.ipynb").click()
    wait_bound(page.locator(".jp-AiiChat"))
    chat_box = page.get_by_role("textbox", name="Chat prompt")
    chat_box.fill("Handed over [[reply:FROM-THE-CHAT]]")
    _context_menu(page, chat_box, "Hand the Chat Prompt to an Agent")
    picker = page.locator(".jp-Dialog").filter(has_text="Hand the prompt to")
    picker.wait_for(timeout=30_000)
    options = picker.locator("select option").all_text_contents()
    choice = next(o for o in options if o.startswith("From notebook"))
    picker.locator("select").select_option(label=choice)
    picker.locator(".jp-Dialog-button.jp-mod-accept").click()
    box = view.get_by_role("textbox", name="Message to the agent")
    page.wait_for_function(
        "el => el.value.includes('FROM-THE-CHAT')", arg=box.element_handle(), timeout=30_000
    )
    assert chat_box.input_value() == ""
    view.get_by_role("button", name="Send", exact=True).click()
    message(view, "FROM-THE-CHAT").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    assert agents.locator(".jp-AiiAgents-item", has_text="From notebook").count() == 1
    page.close()


def test_stream_reconnects_from_the_last_sentinel(chromium, lab):
    """A dropped stream shows "reconnecting…", reconnects with from=<last event shown>, and
    the transcript continues with no duplicate."""
    import re
    import time
    from urllib.parse import parse_qs, urlparse

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    routes, refused = [], []
    refuse = {"on": False}

    def handler(ws):
        if refuse["on"]:
            refused.append(ws.url)
            ws.close()  # the server is away: the view keeps trying
            return
        routes.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r".*/aimax/sessions/[^/]+/stream.*"), handler)
    open_lab(page, lab, "agents-reconnect")
    agents = open_agents(page)
    dialog = _create(page, agents, folder="proj", prompt="[[reply:BEFORE-DROP]]", name="Drop")
    dialog.wait_for(state="detached", timeout=REPLY_TIMEOUT_MS)
    view = page.locator(".jp-AiiAgent").first
    message(view, "BEFORE-DROP").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    wait_badge(view, "idle")
    assert parse_qs(urlparse(routes[0].url).query)["from"] == ["0"]
    shown = seqs(view)

    refuse["on"] = True
    routes[-1].close()
    page.wait_for_function(
        "el => el.dataset.stream === 'reconnecting'", arg=view.element_handle(), timeout=30_000
    )
    assert "reconnecting" in view.locator(".jp-AiiAgent-streamState").text_content()
    deadline = time.monotonic() + 30
    while not refused and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    refuse["on"] = False
    page.wait_for_function(
        "el => el.dataset.stream === 'live'", arg=view.element_handle(), timeout=30_000
    )
    resumed_from = int(parse_qs(urlparse(routes[-1].url).query)["from"][0])
    assert resumed_from >= max(shown)

    send(view, "[[reply:AFTER-DROP]]")
    message(view, "AFTER-DROP").nth(1).wait_for(timeout=REPLY_TIMEOUT_MS)
    after = seqs(view)
    assert after == sorted(set(after)) and after[: len(shown)] == shown
    assert message(view, "BEFORE-DROP").count() == 2
    page.close()
