"""A real `jupyter lab` for browser tests, isolated from the user's Jupyter setup.

Everything it reads or writes lives under one temporary directory: config (with the
repository's own `jupyter-config/server-config` file, so the auto-enable of the server
extension is tested as shipped), data (the `aiipython` kernelspec installed with
`python -m aiikernel install --prefix`, and the lab extension built in this checkout),
runtime files, user settings and workspaces. The server listens on an ephemeral
127.0.0.1 port with a random token and is stopped by its pid.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILT_EXTENSION = REPO / "aiikernel" / "labextension"
SERVER_CONFIG = REPO / "jupyter-config" / "server-config"

# Keep the lab quiet and offline: no news, no update checks.
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
}


class LabStartError(RuntimeError):
    """The lab server did not come up; the message carries its log tail."""


@dataclass
class LabServer:
    """A running lab server: where to reach it and how to read its log."""

    process: subprocess.Popen[bytes]
    base_url: str
    token: str
    log_path: Path

    def url(self, path: str = "lab") -> str:
        """An authenticated URL below the server's base URL."""
        return f"{self.base_url}{path}?token={self.token}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM by pid (jupyter-server shuts its kernels down), then SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


def check_extension_built() -> str | None:
    """Why the lab extension cannot be served from this checkout, or None if it can."""
    if not (BUILT_EXTENSION / "package.json").is_file():
        return (
            f"the lab extension is not built ({BUILT_EXTENSION} is missing); run "
            "`jlpm install && jlpm build` or `pip install -e .` at the repository root"
        )
    return None


def _prepare_home(root: Path) -> dict[str, str]:
    """Lay out config/data/runtime dirs under ``root``; returns the environment for lab."""
    config_dir = root / "config"
    data_dir = root / "data"
    prefix = root / "prefix"
    runtime_dir = root / "runtime"
    for d in (config_dir, data_dir, runtime_dir, root / "notebooks", root / "app-settings"):
        d.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)

    shutil.copytree(SERVER_CONFIG, config_dir / "jupyter_server_config.d")
    (root / "app-settings" / "overrides.json").write_text(json.dumps(OVERRIDES, indent=2))

    env = dict(os.environ)
    pythonpath = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(PYTHONPATH=pythonpath, PYTHONUNBUFFERED="1")
    subprocess.run(
        [sys.executable, "-m", "aiikernel", "install", "--prefix", str(prefix)],
        check=True,
        env=env,
        capture_output=True,
    )
    prefix_data = prefix / "share" / "jupyter"
    (prefix_data / "labextensions").mkdir(parents=True, exist_ok=True)
    (prefix_data / "labextensions" / "aiikernel").symlink_to(BUILT_EXTENSION)

    jupyter_path = os.pathsep.join(p for p in (str(prefix_data), env.get("JUPYTER_PATH", "")) if p)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_RUNTIME_DIR=str(runtime_dir),
        JUPYTER_PATH=jupyter_path,
        JUPYTERLAB_SETTINGS_DIR=str(root / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def _wait_for_server_info(runtime_dir: Path, proc: subprocess.Popen[bytes], deadline: float):
    """The `jpserver-<pid>.json` the server writes once it listens (it knows the real port)."""
    info_file = runtime_dir / f"jpserver-{proc.pid}.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        if info_file.is_file():
            try:
                return json.loads(info_file.read_text())
            except json.JSONDecodeError:
                pass  # being written
        time.sleep(0.2)
    return None


def _wait_until_ready(base_url: str, token: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def start_lab(root: Path, startup_timeout: float = 90.0) -> LabServer:
    """Start `jupyter lab` with everything under ``root``; raises LabStartError on failure."""
    env = _prepare_home(root)
    token = secrets.token_hex(24)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        f"--IdentityProvider.token={token}",
        f"--LabApp.app_settings_dir={root / 'app-settings'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    log_path = root / "lab.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + startup_timeout
    info = _wait_for_server_info(Path(env["JUPYTER_RUNTIME_DIR"]), proc, deadline)
    server = LabServer(proc, info["url"] if info else "", token, log_path)
    if info is None or not _wait_until_ready(server.base_url, token, deadline):
        server.stop()
        tail = "\n".join(server.log().splitlines()[-40:])
        raise LabStartError(f"jupyter lab did not start; log tail:\n{tail}")
    return server
