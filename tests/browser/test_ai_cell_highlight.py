"""A `%%ai` cell's body is highlighted as Markdown in JupyterLab; other cells stay Python."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/aiikernel-ai-cell.png"
LOAD_TIMEOUT_MS = 90_000

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "%%ai -m openai/gpt-4o\n# Plot the temperatures\nWhich city's warmest?",
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "# a comment\nx = 'it'",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "aiipython", "display_name": "aiipython", "language": "python"},
        "language_info": {"name": "python", "codemirror_mode": {"name": "ipython", "version": 3}},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

# The style of the innermost token holding `text` in cell `index`; null if no token does.
TOKEN_STYLE = """([index, text]) => {
    const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[index];
    const spans = cell ? [...cell.querySelectorAll('.cm-line span')] : [];
    const holding = spans.filter(s => s.textContent.includes(text));
    const token = holding.find(s => !holding.some(o => o !== s && s.contains(o)));
    if (!token) return null;
    const style = getComputedStyle(token);
    return {text: token.textContent, color: style.color, weight: style.fontWeight};
}"""

# What a CSS color variable of the theme resolves to.
THEME_COLOR = """(name) => {
    const probe = document.createElement('span');
    probe.style.color = `var(${name})`;
    document.body.appendChild(probe);
    const color = getComputedStyle(probe).color;
    probe.remove();
    return color;
}"""


def _put_notebook(lab_server, name: str) -> None:
    """Save the notebook through the server's contents API (what the file browser does)."""
    body = json.dumps({"type": "notebook", "format": "json", "content": NOTEBOOK}).encode()
    request = urllib.request.Request(
        lab_server.url(f"api/contents/{name}"), data=body, method="PUT"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status in (200, 201)


def test_ai_cell_body_is_markdown_and_other_cells_stay_python(lab_page, lab_server):
    page = lab_page
    _put_notebook(lab_server, "highlight.ipynb")
    page.goto(lab_server.url("lab/workspaces/highlight/tree/highlight.ipynb"))
    page.locator(".jp-NotebookPanel .jp-Cell .cm-line").first.wait_for(timeout=LOAD_TIMEOUT_MS)

    # Wait until both editors are highlighted, then read the tokens.
    page.wait_for_function(
        f"() => ({TOKEN_STYLE})([0, 'Plot the']) && ({TOKEN_STYLE})([1, 'a comment'])",
        timeout=30_000,
    )
    heading = page.evaluate(TOKEN_STYLE, [0, "Plot the"])
    prose = page.evaluate(TOKEN_STYLE, [0, "warmest"])
    comment = page.evaluate(TOKEN_STYLE, [1, "a comment"])
    string = page.evaluate(TOKEN_STYLE, [1, "'it'"])
    page.screenshot(path=SCREENSHOT)

    header_color = page.evaluate(THEME_COLOR, "--jp-mirror-editor-header-color")
    comment_color = page.evaluate(THEME_COLOR, "--jp-mirror-editor-comment-color")
    string_color = page.evaluate(THEME_COLOR, "--jp-mirror-editor-string-color")
    assert len({header_color, comment_color, string_color}) == 3

    # `# Plot the temperatures` in the %%ai cell is a Markdown heading, not a Python comment,
    assert (heading["color"], heading["weight"]) == (header_color, "700"), heading
    # and the apostrophe in `city's` opens no Python string: the prose is plain text.
    assert prose is None, prose
    # The plain Python cell: `#` starts a comment, quotes a string.
    assert comment == {"text": "# a comment", "color": comment_color, "weight": "400"}
    assert string is not None and string["color"] == string_color, string
    assert page.errors == [], "uncaught errors in the page"
