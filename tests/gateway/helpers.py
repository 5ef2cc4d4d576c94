"""Helpers for gateway tests: finding gateway processes, waiting for conditions, raw requests."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def gateway_pids(directory: Path) -> list[int]:
    """Pids of live processes whose command line names ``directory`` (gateways and fakes)."""
    found = []
    needle = os.fsencode(str(directory))
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                state = fh.read().split(") ", 1)[1][:1]
        except (OSError, IndexError):
            continue
        if needle in cmdline and b"aiikernel.gateway" in cmdline and state not in "ZX":
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] not in "ZX"
    except (OSError, IndexError):
        return False


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def raw_exchange(path: Path, data: bytes, timeout: float = 30.0) -> bytes:
    """Send ``data`` on the Unix socket and return everything the other end says until it
    closes. (No half-close: the gateway takes a closed write side for a client gone.)"""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


def http_request(path: Path, method: str, target: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: gateway", "Connection: close"]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Content-Type: application/json")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return raw_exchange(path, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)
