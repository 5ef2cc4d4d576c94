"""The template's request loop: accept fork requests, fork, report children's exits.

Single-threaded on purpose (a fork copies only the calling thread): a selector over the
listening socket, one connection per child and a wake-up pipe for ``SIGCHLD``. A connection
that closes takes its child with it (the supervisor let go of it), and when the parent kernel
is gone the template kills its children and exits.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import threading

from pydantic import BaseModel

from .protocol import ExitedReply, ForkedReply, ForkRequest, RefusedReply

#: Seconds between checks that the parent kernel is alive (PR_SET_PDEATHSIG is the fast path).
PARENT_POLL = 1.0


def thread_count() -> int:
    """Threads of this process, native ones included where the OS tells (Linux)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def fork_hazard() -> str | None:
    """Why forking now would be unsafe, or None."""
    if threading.active_count() != 1:
        return f"{threading.active_count()} Python threads are running"
    native = thread_count()
    if native != 1:
        return f"{native} threads are running (a module started them at import)"
    zmq = sys.modules.get("zmq")
    if zmq is not None and getattr(zmq.Context, "_instance", None) is not None:
        return "a ZMQ context exists"
    return None


class TemplateLoop:
    def __init__(self, socket_path: str, parent_pid: int) -> None:
        self.parent_pid = parent_pid
        self.selector = selectors.DefaultSelector()
        old = os.umask(0o077)
        try:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(socket_path)
        finally:
            os.umask(old)
        self.listener.listen(16)
        self.wake_read, self.wake_write = socket.socketpair()
        for end in (self.wake_read, self.wake_write):
            end.setblocking(False)
        signal.set_wakeup_fd(self.wake_write.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self.quit())
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")
        self.buffers: dict[socket.socket, bytes] = {}
        self.children: dict[int, socket.socket | None] = {}

    def run(self) -> None:
        while True:
            for key, _ in self.selector.select(PARENT_POLL):
                if key.data == "accept":
                    conn, _ = self.listener.accept()
                    self.buffers[conn] = b""
                    self.selector.register(conn, selectors.EVENT_READ, "conn")
                elif key.data == "wake":
                    try:
                        self.wake_read.recv(4096)
                    except BlockingIOError:
                        pass
                else:
                    self._read(key.fileobj)  # type: ignore[arg-type]
            self._reap()
            if os.getppid() != self.parent_pid:
                self.quit()

    def quit(self) -> None:
        for pid in list(self.children):
            _kill(pid)
        os._exit(0)

    def _read(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._closed(conn)
            return
        buffer = self.buffers[conn] + data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            self._handle(conn, line)
        self.buffers[conn] = buffer

    def _handle(self, conn: socket.socket, line: bytes) -> None:
        try:
            request = ForkRequest.model_validate_json(line)
        except ValueError as exc:
            _send(conn, RefusedReply(reason=f"malformed request: {exc}"[:500]))
            return
        hazard = fork_hazard()
        if hazard is not None:
            _send(conn, RefusedReply(reason=f"not safe to fork: {hazard}"))
            return
        template_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._drop_everything()
            from .forked import become_kernel

            become_kernel(request, template_pid)  # never returns
        self.children[pid] = conn
        _send(conn, ForkedReply(pid=pid))

    def _drop_everything(self) -> None:
        """In the child: let go of the template's sockets and signal handling."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        for sock in (self.listener, self.wake_read, self.wake_write, *self.buffers):
            sock.close()

    def _closed(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        self.buffers.pop(conn, None)
        conn.close()
        for pid, owner in list(self.children.items()):
            if owner is conn:
                self.children[pid] = None
                _kill(pid)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is not None:
                _send(conn, ExitedReply(pid=pid, code=os.waitstatus_to_exitcode(status)))


def _send(conn: socket.socket, reply: BaseModel) -> None:
    try:
        conn.sendall(reply.model_dump_json().encode() + b"\n")
    except OSError:
        sys.stderr.write("aiikernel template: a supervisor went away\n")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
