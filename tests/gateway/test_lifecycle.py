"""The gateway's life: started once by concurrent starters, replaced when stale or of another
version, gone after its idle timeout, private to its user. Real gateway processes throughout."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap

import pytest

from aiikernel.gateway.lifecycle import GatewayUnavailable, ensure_gateway, probe, read_state
from aiikernel.gateway.paths import GatewayPaths
from aiikernel.gateway.protocol import GATEWAY_VERSION
from tests.support.kernels import REPO

from .helpers import alive, gateway_pids, wait_for

STARTER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from aiikernel.gateway.lifecycle import ensure_gateway
    from aiikernel.gateway.paths import GatewayPaths
    print("READY", flush=True)
    sys.stdin.readline()  # all starters go at once
    hello = ensure_gateway(GatewayPaths(Path(sys.argv[1]), Path(sys.argv[2])))
    print(json.dumps({"pid": hello.pid, "version": hello.version}), flush=True)
    """
)


def test_concurrent_first_starts_elect_one_gateway(gw_paths: GatewayPaths):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(gw_paths.directory), str(gw_paths.home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    for starter in starters:
        assert starter.stdout.readline().strip() == "READY"
    for starter in starters:  # release them together
        starter.stdin.write("go\n")
        starter.stdin.flush()
    answers = []
    for starter in starters:
        out, _ = starter.communicate(timeout=120)
        assert starter.returncode == 0
        answers.append(json.loads(out.strip().splitlines()[-1]))
    pids = {answer["pid"] for answer in answers}
    assert len(pids) == 1, answers
    assert answers[0]["version"] == GATEWAY_VERSION
    assert gateway_pids(gw_paths.directory) == [pids.pop()]


def test_the_channel_is_private(gw_paths: GatewayPaths):
    hello = ensure_gateway(gw_paths)
    assert alive(hello.pid)
    assert stat.S_IMODE(os.stat(gw_paths.directory).st_mode) == 0o700
    socket_mode = os.lstat(gw_paths.socket)
    assert stat.S_ISSOCK(socket_mode.st_mode)
    assert stat.S_IMODE(socket_mode.st_mode) == 0o600
    for path in (gw_paths.lock, gw_paths.state, gw_paths.log):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert read_state(gw_paths)["pid"] == hello.pid
    # no port of its own: none of its sockets is a listening TCP socket
    assert not listening_tcp_inodes() & socket_inodes(hello.pid)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_tcp_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    return inodes


def test_a_directory_others_can_write_is_refused(gw_paths: GatewayPaths):
    gw_paths.directory.mkdir(mode=0o700)
    os.chmod(gw_paths.directory, 0o777)
    with pytest.raises(GatewayUnavailable, match="writable by other users"):
        ensure_gateway(gw_paths)
    assert gateway_pids(gw_paths.directory) == []


def test_a_symlinked_directory_is_refused(gw_paths: GatewayPaths, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    gw_paths.directory.symlink_to(target)
    with pytest.raises(GatewayUnavailable, match="not a directory"):
        ensure_gateway(gw_paths)


def test_a_readable_directory_is_tightened(gw_paths: GatewayPaths):
    gw_paths.directory.mkdir(mode=0o700)
    os.chmod(gw_paths.directory, 0o755)
    ensure_gateway(gw_paths)
    assert stat.S_IMODE(os.stat(gw_paths.directory).st_mode) == 0o700


def test_a_stale_socket_is_replaced(gw_paths: GatewayPaths):
    gw_paths.directory.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(gw_paths.socket))  # a socket file nobody listens on (a crashed gateway)
    dead.close()
    assert probe(gw_paths) is None
    hello = ensure_gateway(gw_paths)
    assert probe(gw_paths).pid == hello.pid


def test_something_else_at_the_socket_path_is_refused(gw_paths: GatewayPaths):
    gw_paths.directory.mkdir(mode=0o700)
    gw_paths.socket.write_text("not a socket")
    with pytest.raises(GatewayUnavailable, match="not a socket"):
        ensure_gateway(gw_paths)


def test_a_gateway_that_was_killed_is_started_again(gw_paths: GatewayPaths):
    first = ensure_gateway(gw_paths)
    os.kill(first.pid, 9)
    wait_for(lambda: not alive(first.pid), what="the gateway to die")
    second = ensure_gateway(gw_paths)
    assert second.pid != first.pid
    assert gateway_pids(gw_paths.directory) == [second.pid]


def test_idle_gateway_exits_and_cleans_up(gw_paths: GatewayPaths):
    hello = ensure_gateway(gw_paths, idle_timeout=1.0)
    wait_for(lambda: not alive(hello.pid), timeout=60, what="the idle gateway to exit")
    assert not gw_paths.socket.exists()
    assert not gw_paths.state.exists()
    again = ensure_gateway(gw_paths)  # the next client simply starts a new one
    assert again.pid != hello.pid


OLD_GATEWAY = textwrap.dedent(
    """
    import json, os, socketserver, sys
    from http.server import BaseHTTPRequestHandler
    path = sys.argv[2]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self):
            body = json.dumps({"service": "aiikernel-gateway", "version": "0.0.1+gw0",
                "protocol": 0, "pid": os.getpid(), "home": "?", "started": 0,
                "ready": True}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply()

        def do_POST(self):
            self.reply()
            if self.path.endswith("/shutdown"):
                print("ASKED TO LEAVE", flush=True)
                os._exit(0)

    server = socketserver.UnixStreamServer(path, Handler)
    print("SERVING", flush=True)
    server.serve_forever()
    """
)


def test_a_gateway_of_another_version_is_replaced(gw_paths: GatewayPaths):
    gw_paths.directory.mkdir(mode=0o700)
    old = subprocess.Popen(
        [sys.executable, "-c", OLD_GATEWAY, "aiikernel.gateway-old", str(gw_paths.socket)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert old.stdout.readline().strip() == "SERVING"
        assert probe(gw_paths).version == "0.0.1+gw0"
        hello = ensure_gateway(gw_paths)
        assert hello.version == GATEWAY_VERSION
        assert hello.pid != old.pid
        assert old.wait(timeout=30) == 0
        assert "ASKED TO LEAVE" in old.stdout.read()
        assert probe(gw_paths).pid == hello.pid
    finally:
        if old.poll() is None:
            old.kill()
            old.wait()


def test_a_gateway_that_cannot_start_says_why(gw_paths: GatewayPaths, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(GatewayUnavailable, match="exited at start"):
        ensure_gateway(gw_paths, timeout=30)
