"""Wire-log redaction, MLflow tracing (optional extra) and the /tabminion probe."""

from __future__ import annotations

import json

import pytest

from aiikernel.lm import mlflow_tracing
from aiikernel.lm.providers import tabminion_status
from aiikernel.lm.wire import WireLog, format_entry, scrub

from .endpoints import Endpoint, closed_port_url


def test_scrub_removes_known_secrets_key_fields_and_image_payloads():
    secret = "plainsecretvalue42"  # not key-shaped: only the exact match can catch it
    request = {
        "model": "openai/x",
        "api_key": "anything",
        "headers": {"Authorization": "Bearer abc", "X-Trace": f"id {secret}"},
        "messages": [
            {"role": "user", "content": f"my key is {secret} and sk-proj-abcdefgh12345678"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + "A" * 4000},
                    }
                ],
            },
        ],
    }
    clean = json.dumps(scrub(request, [secret]))
    assert secret not in clean and "sk-proj-abcdefgh" not in clean and "Bearer abc" not in clean
    assert "data:image/png;base64,<3000 bytes>" in clean
    assert request["api_key"] == "anything"  # the original is not touched


def test_wire_log_keeps_the_last_entries_and_persists_only_when_asked(tmp_path):
    log = WireLog(size=2)
    for i in range(3):
        exchange = log.begin(f"m/{i}", {"messages": [{"role": "user", "content": str(i)}]}, [])
        exchange.add_text(f"reply {i}")
        exchange.finish()
    assert [e.seq for e in log.last(10)] == [2, 3]
    assert "reply 2" in format_entry(log.last(1)[0]) or "reply 2" in format_entry(log.last(2)[0])
    assert list(tmp_path.iterdir()) == []
    log.path = str(tmp_path / "wire.jsonl")
    log.begin("m/x", {}, []).finish("error", "boom")
    (line,) = (tmp_path / "wire.jsonl").read_text().splitlines()
    assert json.loads(line)["error"] == "boom"


def test_mlflow_traces_every_exchange_redacted(tmp_path, monkeypatch, home):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("AIIPYTHON_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("AIIPYTHON_MLFLOW_EXPERIMENT", "aiikernel-test")
    monkeypatch.setenv("AIIPYTHON_MLFLOW_SILENT", "1")
    log = WireLog()
    sink = mlflow_tracing.enable_tracing(log)
    assert mlflow_tracing.enable_tracing(log) is sink  # idempotent
    secret = "sk-mlflow-secret-0123456789"
    exchange = log.begin(
        "openai/gpt-4o", {"messages": [{"role": "user", "content": secret}]}, [secret]
    )
    exchange.add_text("traced reply")
    exchange.finish()
    assert sink.traced == 1
    mlflow.flush_trace_async_logging()
    experiment = mlflow.get_experiment_by_name("aiikernel-test")
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    assert len(traces) == 1
    text = json.dumps(traces[0].to_dict(), default=str)
    assert "traced reply" in text and secret not in text
    assert mlflow_tracing.disable_tracing(log) and not log.sinks
    assert experiment.artifact_location.startswith((home / ".aiipython").as_uri())


def test_mlflow_command_without_the_extra_says_how_to_install(home, monkeypatch):
    from aiikernel.lm.commands import mlflow_command
    from aiikernel.session import AiSession

    monkeypatch.setattr(mlflow_tracing, "mlflow_installed", lambda: False)
    result = mlflow_command(AiSession(), "on")
    assert not result.ok and "pip install 'aiikernel[mlflow]'" in result.markdown
    status = mlflow_command(AiSession(), "status")
    assert "MLflow installed: no" in status.markdown
    assert f"sqlite:///{home / '.aiipython' / 'mlflow.db'}" in status.markdown


def test_tabminion_status_reports_tabs_models_and_absence(monkeypatch):
    routes = {
        "/api/v1/health": {"status": "ok"},
        "/api/v1/tabs": [
            {"id": 1, "url": "https://claude.ai/new"},
            {"id": 2, "url": "https://example.org"},
        ],
        "/v1/models": {"data": [{"id": "claude"}, {"id": "chatgpt"}]},
    }
    with Endpoint(routes) as fake:
        monkeypatch.setenv("TABMINION_URL", fake.url)
        status = tabminion_status(timeout=2.0)
    assert status.running and status.services == ["claude"]
    assert status.models == ["chatgpt", "claude"]
    assert "`tabminion/claude` (Claude)" in status.markdown()
    monkeypatch.setenv("TABMINION_URL", closed_port_url())
    down = tabminion_status(timeout=1.0)
    assert not down.running and "not reachable" in down.markdown()


def test_mlflow_on_in_a_kernel_traces_each_model_call(model_server, tmp_path):
    pytest.importorskip("mlflow")
    import sqlite3

    from tests.support.model_steps import Reply

    from .helpers import start_lm_kernel

    db = tmp_path / "traces.db"
    k = start_lm_kernel(
        tmp_path,
        model_server,
        AIIPYTHON_MLFLOW="1",
        AIIPYTHON_MLFLOW_TRACKING_URI=f"sqlite:///{db}",
        AIIPYTHON_MLFLOW_SILENT="1",
    )
    try:
        k.ok("%ai /login openai sk-mlflow-kernel-0123456789")
        model_server.script(Reply("traced one"), Reply("traced two"))
        k.ok("%%ai\nfirst")
        status = k.ok("%ai /mlflow status").all_text()
        assert "Tracing: on" in status and "1 call(s) traced" in status
        k.ok("%ai /mlflow off")
        k.ok("%%ai\nsecond (not traced)")
        assert "Tracing: off" in k.ok("%ai /mlflow status").all_text()
    finally:
        k.stop()  # flushes MLflow's async queue at exit
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM trace_info").fetchone()
    assert count == 1
    assert not (tmp_path / "mlruns").exists()


def test_mlflow_ui_starts_on_a_free_loopback_port_and_stops_by_pid(tmp_path, monkeypatch, home):
    pytest.importorskip("mlflow")
    import time

    import httpx

    monkeypatch.setenv("AIIPYTHON_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'ui.db'}")
    ui = mlflow_tracing.MlflowUi()
    url = ui.start()
    try:
        assert url.startswith("http://127.0.0.1:") and ui.running
        deadline = time.monotonic() + 240  # its server is slow to start on a busy machine
        status = None
        while time.monotonic() < deadline and ui.running:
            try:
                status = httpx.get(url + "/health", timeout=2).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert status == 200, ui.log_path.read_text()[-2000:]
        pid = ui.process.pid
    finally:
        stopped = ui.stop()
    assert stopped and not ui.running
    assert not mlflow_tracing._group_alive(pid)  # the server's workers are gone too
