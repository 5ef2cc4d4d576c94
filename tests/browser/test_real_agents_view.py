"""The Agents view with the real Claude Code CLI (pinned, offline against the scripted model
server): start it from the dialog, see its reply stream into the session tab, send again.

Skipped when ``tests/support/install_agents.sh`` has not installed the CLI.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.browser.agents_support import (
    REPLY_TIMEOUT_MS,
    agents_lab,
    message,
    open_agents,
    open_lab,
    send,
    shot,
    wait_badge,
)

support = pytest.importorskip("tests.support.agents_env")
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

BINS = support.find_agent_binaries()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.real_agent,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
    pytest.mark.skipif(BINS.claude is None, reason="run tests/support/install_agents.sh"),
    pytest.mark.timeout(600),
]


def respond(request):
    """Reply with the newest ``[[reply:TEXT]]`` directive found in the request."""
    said = re.findall(r"\[\[reply:([^\]]*)\]\]", json.dumps(request.body_json))
    return Reply(said[-1] if said else "(no directive)")


def test_real_claude_code_from_the_dialog(chromium, tmp_path):
    with ScriptedModelServer() as model:
        model.responder = respond
        root = tmp_path / "lab"
        project = root / "notebooks" / "project"
        project.mkdir(parents=True)
        prepared = support.claude_code_env(model, root / "home", project)
        env = dict(prepared.env)
        env["AIMAX_CLAUDE_BIN"] = str(BINS.claude)
        env["AIMAX_READY_TIMEOUT"] = "40"
        env["AIMAX_CONFIRM_TIMEOUT"] = "15"
        with agents_lab(root, extra_env=env) as lab:
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            open_lab(page, lab, "real-agents")
            agents = open_agents(page)
            agents.get_by_role("button", name="New agent").click()
            dialog = page.locator(".jp-AiiCreate")
            dialog.get_by_label("Folder", exact=True).fill("project")
            dialog.get_by_label("Prompt").fill("Say hello [[reply:REAL **CLAUDE** REPLY]]")
            dialog.get_by_label("Display name").fill("Real Claude")
            dialog.get_by_role("button", name="Start").click()
            dialog.wait_for(state="detached", timeout=120_000)
            view = page.locator(".jp-AiiAgent").first
            reply = view.locator(".jp-AiiAgent-agent, .jp-AiiAgent-assistant", has_text="REAL")
            reply.first.wait_for(timeout=REPLY_TIMEOUT_MS)
            assert reply.first.locator("strong", has_text="CLAUDE").count() == 1
            wait_badge(view, "idle")
            send(view, "Again [[reply:SECOND-REAL]]")
            view.locator(".jp-AiiAgent-assistant", has_text="SECOND-REAL").wait_for(
                timeout=REPLY_TIMEOUT_MS
            )
            assert message(view, "SECOND-REAL").count() == 2  # the prompt and the reply
            shot(page, "agents-real-claude-light.png")
            view.get_by_role("button", name="Stop").click()
            wait_badge(view, "stopped")
            page.close()
