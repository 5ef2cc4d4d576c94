"""Optional MLflow tracing of every model call (``pip install 'aiikernel[mlflow]'``).

Tracing is a sink of the session's wire log, so it records exactly what ``/wire``
shows — already redacted — as one MLflow trace (an ``LLM`` span) per model call.
Enable with ``AIIPYTHON_MLFLOW=1`` before the kernel starts or ``/mlflow on``.
Defaults follow aiipython: tracking URI ``sqlite:///$AIIPYTHON_HOME/mlflow.db``,
experiment ``aiipython``; ``AIIPYTHON_MLFLOW_TRACKING_URI`` and
``AIIPYTHON_MLFLOW_EXPERIMENT`` override them.  mlflow is imported only when enabled.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .settings import aiipython_home, ensure_private_dir

if TYPE_CHECKING:
    from .wire import WireEntry, WireLog

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'aiikernel[mlflow]'"
TRUE = ("1", "true", "yes", "on")


class MlflowUnavailable(RuntimeError):
    """mlflow is not installed; the message says how to install it."""


def mlflow_installed() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def enabled_by_env() -> bool:
    return os.environ.get("AIIPYTHON_MLFLOW", "").strip().lower() in TRUE


def tracking_uri() -> str:
    override = os.environ.get("AIIPYTHON_MLFLOW_TRACKING_URI", "").strip()
    if override:
        return override
    return f"sqlite:///{aiipython_home() / 'mlflow.db'}"


def experiment_name() -> str:
    return os.environ.get("AIIPYTHON_MLFLOW_EXPERIMENT", "").strip() or "aiipython"


class MlflowSink:
    """Writes each finished wire-log exchange to MLflow as a trace."""

    def __init__(self) -> None:
        if not mlflow_installed():
            raise MlflowUnavailable(f"MLflow is not installed. Install it with `{INSTALL_HINT}`.")
        if os.environ.get("AIIPYTHON_MLFLOW_SILENT", "").strip().lower() in TRUE:
            logging.getLogger("mlflow").setLevel(logging.ERROR)
        from .litellm_env import import_window

        # mlflow may import litellm; offline, litellm's price-map download at import can hang
        with import_window():
            import mlflow

        self.uri = tracking_uri()
        self.experiment = experiment_name()
        ensure_private_dir(aiipython_home())
        mlflow.set_tracking_uri(self.uri)
        if mlflow.get_experiment_by_name(self.experiment) is None:
            # artifacts beside the database, not in ./mlruns of whatever directory the kernel is in
            artifacts = ensure_private_dir(aiipython_home()) / "mlflow-artifacts"
            mlflow.create_experiment(self.experiment, artifact_location=artifacts.as_uri())
        mlflow.set_experiment(self.experiment)
        self._mlflow = mlflow
        self.traced = 0

    def __call__(self, entry: WireEntry) -> None:
        mlflow = self._mlflow
        start_ns = int(entry.started * 1e9)
        end_ns = start_ns + int((entry.duration or 0.0) * 1e9)
        outputs: dict[str, Any] = {"text": entry.text, "usage": entry.usage}
        if entry.error:
            outputs["error"] = entry.error
        attributes = {"model": entry.model, "status": entry.status, "wire_seq": entry.seq}
        span = mlflow.start_span_no_context(
            name=f"model call {entry.model}",
            span_type="LLM",
            inputs=entry.request,
            attributes=attributes,
            start_time_ns=start_ns,
        )
        span.end(
            outputs=outputs,
            status="OK" if entry.status == "ok" else "ERROR",
            end_time_ns=max(end_ns, start_ns + 1),
        )
        self.traced += 1


def tracing_sink(wire: WireLog) -> MlflowSink | None:
    return next((s for s in wire.sinks if isinstance(s, MlflowSink)), None)


def enable_tracing(wire: WireLog) -> MlflowSink:
    """Start tracing ``wire``'s exchanges (idempotent)."""
    sink = tracing_sink(wire)
    if sink is None:
        sink = MlflowSink()
        wire.sinks.append(sink)
    return sink


def disable_tracing(wire: WireLog) -> bool:
    sink = tracing_sink(wire)
    if sink is None:
        return False
    wire.sinks.remove(sink)
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MlflowUi:
    """An ``mlflow ui`` server started from the kernel, stopped by its pid."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.log_path: Path | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, port: int = 0) -> str:
        """Start ``mlflow ui`` on 127.0.0.1 (a free port unless one is given); returns its URL."""
        if self.running:
            assert self.url is not None
            return self.url
        if not mlflow_installed():
            raise MlflowUnavailable(f"MLflow is not installed. Install it with `{INSTALL_HINT}`.")
        port = port or _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = ensure_private_dir(aiipython_home()) / "mlflow-ui.log"
        # mlflow's server imports litellm, which without this tries (and, offline, hangs) to
        # download a price map at import
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "ui",
                "--backend-store-uri",
                tracking_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log_file.close()
        atexit.register(self.stop)  # never leave a UI server behind the kernel
        return self.url

    def stop(self) -> bool:
        """Stop the UI and every process it started (its own process group)."""
        if self.process is None:
            return False
        import signal

        group = self.process.pid
        was_running = self.running
        _signal_group(group, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            self.process.wait(5)
        deadline = time.monotonic() + 10
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(group):
            _signal_group(group, signal.SIGKILL)
        self.process = None
        return was_running


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
