"""The first commands a new user types look right, in a real kernel: /help, /auth, /usage, Recent."""

from __future__ import annotations

import json
import re

from tests.support.model_steps import Reply


def _cells(row: str) -> list[str]:
    """A GFM table row's cells: split on pipes that are not escaped as ``\\|``."""
    inner = row.strip().removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def test_help_table_keeps_every_usage_in_its_cell_and_auth_shows_the_key_prefix(lm_kernel):
    k = lm_kernel
    rows = k.ok("%ai /help").all_text().strip().splitlines()
    assert _cells(rows[0]) == ["command", "what it does"]
    assert re.fullmatch(r"\|(-+\|){2}", rows[1])
    bad = [row for row in rows[2:] if len(_cells(row)) != 2]
    assert not bad, f"rows whose `|` split the table: {bad}"
    assert any(r"refresh \| PROVIDER/NAME" in row for row in rows[2:])

    k.ok("%ai /login openai sk-proj-first0commands0test0wxyz")
    auth = k.ok("%ai /auth").all_text()
    assert "| openai | auth.json | sk-…wxyz |" in auth


def test_a_turn_that_failed_for_lack_of_a_key_gets_no_number_and_is_not_recent(
    lm_kernel, model_server
):
    k = lm_kernel
    failed = k.ok("%%ai -m anthropic/claude-no-key\nhello").all_text()
    assert "ANTHROPIC_API_KEY" in failed, failed
    assert "No model requests" in k.ok("%ai /usage").all_text()
    assert "claude-no-key" not in k.ok("%ai /model").all_text(), "a failed model is not Recent"

    k.ok("%ai /login openai sk-first-commands-0123456789")
    model_server.script(Reply("one", usage=(10, 5)), Reply("two", usage=(20, 6)))
    k.ok("%%ai -m openai/scripted\nfirst real turn")
    assert "| last turn (#1, `openai/scripted`) | 1 | 10 | 5 |" in k.ok("%usage").all_text()
    k.ok("%%ai -m anthropic/claude-no-key\nfails again")
    k.ok("%%ai -m openai/scripted\nsecond real turn")
    usage = k.ok("%usage").all_text()
    assert "| last turn (#2, `openai/scripted`) | 1 | 20 | 6 |" in usage
    assert "| **this session** | 2 | 30 | 11 |" in usage

    # /model NAME without a key: chosen and remembered, but not offered as "Recent"
    switched = k.ok("%model anthropic/claude-chosen-no-key").all_text()
    assert "Switched to `anthropic/claude-chosen-no-key`" in switched and "⚠" in switched
    settings = json.loads((k.aiipython_home / "settings.json").read_text())
    assert settings["last_model"] == "anthropic/claude-chosen-no-key"
    assert settings["recent_models"] == []
    listing = k.ok("%ai /model").all_text()
    recent = next(line for line in listing.splitlines() if line.startswith("**Recent:**"))
    assert recent == "**Recent:** `openai/scripted`"
