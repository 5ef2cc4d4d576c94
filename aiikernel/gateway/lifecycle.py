"""Finding, starting, replacing and stopping the user's gateway (the client side of its life).

:func:`ensure_gateway` is what a kernel calls before a request when it has no verified
gateway: it asks whoever listens on the socket who they are (:func:`probe`); if nobody
answers, or a gateway of another version does, it takes the start lock (``flock`` on
``gateway.lock``, so concurrent first starts elect one starter and the others find its
gateway when they get the lock), retires the other version (asked to finish its streams
and leave), removes a stale socket, and starts ``python -m aiikernel.gateway`` in a
session of its own, detached from the kernel, with an environment that holds no
credentials (:func:`gateway_environment`). It returns once the new gateway answers; litellm
then warms inside the gateway while the user types.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..lm.errors import ProviderUnavailable
from . import channel
from .paths import GatewayPaths, UnsafePath, check_socket, gateway_paths, open_private, prepare
from .protocol import GATEWAY_VERSION, HELLO_PATH, SHUTDOWN_PATH, VERSION_HEADER, Hello

#: Variables never passed to the gateway process: it gets each kernel's with each request.
PRIVATE_VARS = re.compile(
    r"(?i)(_API_KEY|_KEY|_TOKEN|_SECRET|_PASSWORD|_BASE_URL|_API_BASE)$|^TABMINION_|^AIIPYTHON_MODEL$"
)
LOG_LIMIT = 1024 * 1024


class GatewayUnavailable(ProviderUnavailable):
    """The gateway could not be reached or started; the message says why."""

    retryable = False


def probe(paths: GatewayPaths, timeout: float = 3.0) -> Hello | None:
    """Who answers on the socket: a :class:`Hello`, or None when nothing usable listens."""
    if not check_socket(paths.socket):
        return None
    try:
        status, body = channel.request(str(paths.socket), "GET", HELLO_PATH, timeout=timeout)
        return Hello.model_validate_json(body) if status == 200 else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def start_lock(paths: GatewayPaths, timeout: float) -> Iterator[None]:
    """Hold the gateway's start lock (waiting up to ``timeout`` seconds for it)."""
    fd = open_private(paths.lock, os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise GatewayUnavailable(
                        f"another process has been starting the model gateway for {timeout:g} s"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def gateway_environment(paths: GatewayPaths) -> dict[str, str]:
    """The gateway's environment: this one without credentials, base URLs or model choice,
    with this checkout of aiikernel first on the path (the gateway runs the kernel's code)."""
    env = {k: v for k, v in os.environ.items() if not PRIVATE_VARS.search(k)}
    env["AIIPYTHON_HOME"] = str(paths.home)
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    package_root = str(Path(__file__).resolve().parents[2])
    existing = env.get("PYTHONPATH", "")
    if package_root not in existing.split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, existing) if p)
    return env


def _spawn(paths: GatewayPaths, idle_timeout: float | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "aiikernel.gateway", "serve", "--dir", str(paths.directory)]
    command += ["--home", str(paths.home)]
    if idle_timeout is not None:
        command.append(f"--GatewayServer.idle_timeout={idle_timeout}")
    with contextlib.suppress(OSError):
        if paths.log.stat().st_size > LOG_LIMIT:
            os.unlink(paths.log)
    log_fd = open_private(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            env=gateway_environment(paths),
            cwd=str(paths.directory),
            start_new_session=True,  # not in the kernel's process group: it outlives kernels
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    threading.Thread(target=process.wait, name="aiikernel-gateway-reaper", daemon=True).start()
    return process


def _log_tail(paths: GatewayPaths, lines: int = 5) -> str:
    try:
        text = paths.log.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def retire(paths: GatewayPaths, hello: Hello) -> None:
    """Ask a gateway (of another version) to stop listening, finish its streams and leave."""
    try:
        channel.request(
            str(paths.socket), "POST", SHUTDOWN_PATH, headers={VERSION_HEADER: hello.version}
        )
        return
    except OSError:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(hello.pid, signal.SIGTERM)


def ensure_gateway(
    paths: GatewayPaths | None = None,
    *,
    timeout: float = 60.0,
    idle_timeout: float | None = None,
) -> Hello:
    """The running gateway of this version, started (or replaced) if needed.

    Raises :class:`GatewayUnavailable` when it cannot be: an unsafe directory, a gateway
    that exits at once (its log's last lines are in the message), or no answer in time.
    """
    try:
        paths = prepare(paths or gateway_paths())
        hello = probe(paths)
        if _usable(hello):
            assert hello is not None
            return hello
        if idle_timeout is None:
            idle_timeout = _idle_timeout_from_env()
        with start_lock(paths, timeout):
            hello = probe(paths)  # someone else may have started it while we waited
            if _usable(hello):
                assert hello is not None
                return hello
            if hello is not None:
                retire(paths, hello)
            if check_socket(paths.socket):
                os.unlink(paths.socket)
            process = _spawn(paths, idle_timeout)
            return _wait_until_serving(paths, process, timeout)
    except UnsafePath as exc:
        raise GatewayUnavailable(f"the model gateway's directory is not private: {exc}") from None
    except OSError as exc:
        raise GatewayUnavailable(f"the model gateway could not start: {exc}") from None


def _usable(hello: Hello | None) -> bool:
    return hello is not None and hello.version == GATEWAY_VERSION and not hello.draining


def _idle_timeout_from_env() -> float | None:
    value = os.environ.get("AIIPYTHON_GATEWAY_IDLE_TIMEOUT", "").strip()
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _wait_until_serving(
    paths: GatewayPaths, process: subprocess.Popen[bytes], timeout: float
) -> Hello:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _log_tail(paths)
            raise GatewayUnavailable(
                f"the model gateway exited at start (status {process.returncode})"
                + (f": {tail}" if tail else "")
            )
        hello = probe(paths, timeout=2.0)
        if hello is not None and hello.pid == process.pid:
            return hello
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    raise GatewayUnavailable(f"the model gateway did not answer within {timeout:g} s")


def read_state(paths: GatewayPaths) -> dict[str, object] | None:
    """What ``gateway.json`` says (pid, version, …), or None."""
    try:
        return json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return None


def stop_gateway(paths: GatewayPaths | None = None, *, wait: float = 10.0) -> int | None:
    """Stop the gateway of ``paths`` (SIGTERM, then SIGKILL after ``wait`` s); its pid or None."""
    paths = paths or gateway_paths()
    hello = None
    with contextlib.suppress(UnsafePath, OSError):
        hello = probe(paths)
    state = read_state(paths) or {}
    pid = hello.pid if hello is not None else state.get("pid")
    if not isinstance(pid, int) or not _is_gateway_process(pid):
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _is_gateway_process(pid: int) -> bool:
    """Whether ``pid`` runs ``aiikernel.gateway`` (never signal a recycled pid)."""
    if not os.path.isdir("/proc/self"):  # no procfs (macOS): trust the state file
        return _alive(pid)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"aiikernel.gateway" in fh.read()
    except OSError:
        return False
