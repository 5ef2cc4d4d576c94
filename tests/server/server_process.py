"""A real ``jupyter server`` subprocess on 127.0.0.1 with aimax on fake agents.

Used by the schemathesis run, the kill -9 restart test and ``benchmarks/server.py``. Everything
is private to one directory: Jupyter config/data/runtime dirs, HOME, the aimax data dir and the
tmux socket. :meth:`kill` stops the server by its pid; :meth:`close` also kills the private tmux
server by its socket (never anything by name).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fake_bin(bin_dir: Path, name: str, flavor: str) -> str:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m aiikernel.aimax.fake_agent --flavor {flavor} "$@"\n'
    )
    path.chmod(0o755)
    return str(path)


class ServerProcess:
    """Start, kill -9 and restart one Jupyter server sharing its data and tmux socket."""

    def __init__(
        self,
        base: Path,
        *,
        traits: dict[str, Any] | None = None,
        fake_script: str = '{"startup_delay": 0.2, "think": 0.3}',
        aimax_config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``aimax_config`` and ``env`` override the defaults (real agents: their bins, HOME)."""
        self.base = Path(base)
        self.root = self.base / "root"
        self.home = self.base / "home"
        for d in (self.root, self.home, self.base / "config", self.base / "runtime"):
            d.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        self.socket = f"aimax-sp-{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        bins = self.base / "bin"
        aimax_config = {
            "tmux_socket": self.socket,
            "data_dir": str(self.base / "aimax-data"),
            "claude_bin": _fake_bin(bins, "claude", "claude"),
            "codex_bin": _fake_bin(bins, "codex", "codex"),
            "ready_timeout": 15.0,
            "confirm_timeout": 10.0,
            **(aimax_config or {}),
        }
        config = {
            "ServerApp": {
                "ip": "127.0.0.1",
                "open_browser": False,
                "root_dir": str(self.root),
                "allow_root": True,
                "jpserver_extensions": {"aiikernel": True},
            },
            "IdentityProvider": {"token": self.token},
            "AimaxExtension": {"aimax_config": aimax_config, **(traits or {})},
        }
        (self.base / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "CODEX_HOME": str(self.home / ".codex"),
            "PYTHONPATH": str(REPO),
            "JUPYTER_CONFIG_DIR": str(self.base / "config"),
            "JUPYTER_DATA_DIR": str(self.base / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "AIMAX_FAKE_SCRIPT": fake_script,
        }
        # The model gateway the server starts goes under this test session's runtime
        # directory (stopped by pid when the session ends), never the machine's default one.
        for name in ("AIIPYTHON_RUNTIME_DIR", "AIIPYTHON_GATEWAY_IDLE_TIMEOUT"):
            if name in os.environ:
                self.env[name] = os.environ[name]
        self.env.update(env or {})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def local_path(self, shown: str) -> Path:
        """A path as the API shows it (``~/…`` under the server's HOME, or relative to the
        root) as a real path on this machine."""
        if shown.startswith("~/"):
            return self.home / shown[2:]
        path = Path(shown)
        return path if path.is_absolute() else self.root / path

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server and wait until it answers (bounded)."""
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={self.port}", "--port-retries=0"],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited: {self.log_tail()}")
            try:
                self.request("GET", "/aimax/sessions", timeout=5)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"jupyter server did not start in {timeout}s: {self.log_tail()}")

    def request(self, method: str, path: str, data: Any = None, timeout: float = 30) -> Any:
        """One blocking JSON request (for setup steps; tests use their own clients)."""
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(self.url + path, data=body, method=method)
        for k, v in self.headers.items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the server process by its pid (agents in tmux survive)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        """Kill the server, then the private tmux server (by its socket)."""
        self.kill(signal.SIGTERM)
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return (self.base / "server.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
