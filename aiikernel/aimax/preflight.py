"""Checks run before the first session: tmux present, agent binary present, data dir writable.

Each failure is a :class:`PreflightError` whose message says what to do. ``AIMAX_RUN_PREFLIGHT=0``
(``run_preflight=False``) skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import PreflightError


def check_tmux(tmux_bin: str) -> str:
    """The tmux version string; raise if tmux is missing."""
    exe = shutil.which(tmux_bin)
    if exe is None:
        raise PreflightError(
            f"tmux not found ({tmux_bin!r}). Install it (e.g. `apt-get install tmux` or "
            "`brew install tmux`) or point AIMAX_TMUX_BIN at it."
        )
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10, check=False)
    return out.stdout.strip() or out.stderr.strip()


def check_binary(
    binary: str, env_var: str, install_hint: str, cache_dir: Path | None = None
) -> str:
    """The agent's ``--version`` output; raise if the binary is missing or broken.

    A node CLI takes about a second to print its version, so a success is remembered in
    ``cache_dir`` for that exact file (path, size, mtime): ``aimax create`` stays quick.
    """
    exe = shutil.which(binary)
    if exe is None:
        raise PreflightError(
            f"agent binary {binary!r} not found on PATH. {install_hint} "
            f"or set {env_var} to its full path."
        )
    real = os.path.realpath(exe)
    st = os.stat(real)
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    cache = _load_cache(cache_dir)
    if key in cache:
        return cache[key]
    version = _run_version(exe)
    if cache_dir is not None:
        cache[key] = version
        _save_cache(cache_dir, cache)
    return version


def _load_cache(cache_dir: Path | None) -> dict[str, str]:
    if cache_dir is None:
        return {}
    try:
        data = json.loads((cache_dir / "preflight.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(cache_dir: Path, cache: dict[str, str]) -> None:
    from .registry import atomic_write_json

    try:
        atomic_write_json(cache_dir / "preflight.json", dict(list(cache.items())[-20:]))
    except OSError:
        pass


def _run_version(exe: str) -> str:
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError(f"{exe} --version failed: {exc}") from exc
    if out.returncode != 0:
        raise PreflightError(
            f"{exe} --version exited with {out.returncode}: {(out.stderr or out.stdout).strip()}"
        )
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def check_data_dir(data_dir: Path) -> None:
    """Create the data dir (0700) and prove it is writable."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".probe-"):
            pass
    except OSError as exc:
        raise PreflightError(
            f"aimax data dir {data_dir} is not writable ({exc.strerror}); "
            "set AIMAX_DATA_DIR to a writable directory."
        ) from exc
    if os.stat(data_dir).st_mode & 0o022:
        raise PreflightError(
            f"aimax data dir {data_dir} is writable by others; run `chmod 700 {data_dir}`."
        )
