"""/model through a real kernel: live listing, switching, remembering across kernels."""

from __future__ import annotations

import json

from tests.support.model_steps import Reply

from .helpers import start_lm_kernel


def test_model_lists_switches_and_is_remembered(lm_kernel, model_server, tmp_path):
    k = lm_kernel
    k.ok("%ai /login openai sk-model-test-0123456789")
    listing = k.ok("%ai /model").all_text()
    assert "**Current model:** `openai/scripted` (from AIIPYTHON_MODEL)" in listing
    assert "**openai** (1): `openai/scripted`" in listing
    assert "anthropic: no credentials" in listing
    assert "tabminion" not in listing  # not running and not configured: not worth a line
    forgot = k.ok("%ai /login sk-proj-forgot-the-provider-0123456789").all_text()
    assert "looks like a key, not a provider" in forgot and "forgot-the" not in forgot

    switched = k.ok("%model openai/gpt-4o-mini").all_text()  # the magic and /model are one command
    assert "Switched to `openai/gpt-4o-mini`" in switched and "remembered" in switched
    settings = json.loads((k.aiipython_home / "settings.json").read_text())
    assert settings["last_model"] == "openai/gpt-4o-mini"

    model_server.script(Reply("one"), Reply("two"))
    k.ok("%%ai\nhello")
    assert model_server.model_requests()[-1].body_json["model"] == "gpt-4o-mini"
    k.ok("%ai -m openai/scripted an explicit model wins for this turn")
    assert model_server.model_requests()[-1].body_json["model"] == "scripted"

    again = k.ok("%ai /model").all_text()
    assert "(cached, " in again
    assert "**Recent:** `openai/scripted`, `openai/gpt-4o-mini`" in again
    assert "`openai/gpt-4o-mini` (chosen in this kernel)" in again
    bad = k.ok("%ai /model gpt-4o").all_text()
    assert "not a model name: use PROVIDER/NAME" in bad
    k.stop()

    # a new kernel starts with the remembered model, ahead of AIIPYTHON_MODEL
    second = start_lm_kernel(tmp_path, model_server, home=k.home)
    try:
        shown = second.ok("%ai /model refresh").all_text()
        assert "**Current model:** `openai/gpt-4o-mini` (remembered in settings.json)" in shown
        model_server.script(Reply("three"))
        second.ok("%%ai\nwhich model?")
        assert model_server.model_requests()[-1].body_json["model"] == "gpt-4o-mini"
    finally:
        second.stop()
