"""The parent side of the warm template: start it, ask it to fork, provision children with it.

:class:`Template` runs ``python -m aiikernel.subagents.template`` once per parent kernel (it
must share the parent's interpreter, environment and lifetime) from the supervisor's loop
thread, so its ``PR_SET_PDEATHSIG`` fires only when the kernel dies. :class:`TemplateProvisioner`
is the jupyter_client kernel provisioner of each child: it asks the template for a fork and
manages the forked pid (signals, exit code reported by the template, which reaps it). When
the template is unavailable, refuses or fails, it starts the child the ordinary way
(``LocalProvisioner``) and logs why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from .protocol import ENV_VAR, ExitedReply, ForkedReply, ForkRequest, template_reply

log = logging.getLogger(__name__)

#: Environment of the template: libraries that would start threads at import start none (BLAS
#: pools; the jemalloc background thread of pyarrow, which pandas imports).
FORK_SAFE_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
    # not a thread: pydevd (ipykernel's debugger) would warn on the template's stderr at import
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}

#: The command a child kernel is started with (see ``supervisor._spec_manager_class``).
KERNEL_PREFIX = [sys.executable, "-m", "aiikernel", "-f"]


class TemplateUnavailable(RuntimeError):
    """The template could not start or fork; the child starts the ordinary way."""


class Template:
    """One warm template process of this kernel (used from the supervisor's loop only)."""

    def __init__(self, socket_path: str, modules: list[str]) -> None:
        self.socket_path = socket_path
        self.modules = list(modules)
        self.process: subprocess.Popen | None = None
        self.failure: str | None = None
        self.ready_seconds: float | None = None
        self._ready: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def ready(self, timeout: float) -> None:
        """Start the template (once) and wait until it accepts requests."""
        if self.failure is not None:
            raise TemplateUnavailable(self.failure)
        if self.process is not None and self.process.poll() is not None:
            self._forget(f"the template exited with code {self.process.returncode}")
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._start(timeout))
        try:
            await asyncio.shield(self._ready)
        except TemplateUnavailable as exc:
            self.failure = str(exc)
            raise

    async def _start(self, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        env.update(FORK_SAFE_ENV)
        started = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aiikernel.subagents.template",
                    self.socket_path,
                    str(os.getpid()),
                    *self.modules,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise TemplateUnavailable(f"could not start the template: {exc}") from None
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise TemplateUnavailable(f"the template exited with code {code} at start")
            try:
                _, writer = await asyncio.open_unix_connection(self.socket_path)
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TemplateUnavailable(
                        f"the template did not start in {timeout:.0f} s"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            self.ready_seconds = time.perf_counter() - started
            return

    async def fork(self, request: ForkRequest) -> tuple[int, asyncio.StreamReader, Any]:
        """Fork a child; its pid and the connection its exit will be reported on."""
        if self._ready is None or not self._ready.done() or self._ready.exception():
            raise TemplateUnavailable("the template is not ready")
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=1 << 20)
            writer.write(request.model_dump_json().encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        except OSError as exc:
            self._forget(f"the template does not answer: {exc}")
            raise TemplateUnavailable(f"the template does not answer: {exc}") from None
        if not line:
            self._forget("the template closed the connection")
            raise TemplateUnavailable("the template closed the connection")
        reply = template_reply.validate_json(line)
        if not isinstance(reply, ForkedReply):
            writer.close()
            raise TemplateUnavailable(getattr(reply, "reason", "unexpected reply"))
        return reply.pid, reader, writer

    def _forget(self, why: str) -> None:
        """The template died: start a new one on the next spawn."""
        log.warning("sub-agent template: %s; a new one starts at the next spawn", why)
        self.stop()
        self._ready = None

    def stop(self) -> None:
        """Kill the template (its children die with it) and reap it."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)
        try:
            os.unlink(self.socket_path)
        except OSError:
            pass


class TemplateProvisioner(LocalProvisioner):
    """Provision a child kernel by forking it from the template (else the ordinary way)."""

    template: Template | None = None
    forked = False
    _exit_code: int | None = None
    _exited: asyncio.Event | None = None
    _writer: Any = None
    _reader_task: asyncio.Task | None = None

    @property
    def has_process(self) -> bool:
        return self.forked or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        if self.template is not None:
            try:
                return await self._fork(cmd, kwargs)
            except TemplateUnavailable as exc:
                log.warning(
                    "sub-agent template unavailable (%s); starting the kernel normally", exc
                )
        return await super().launch_kernel(cmd, **kwargs)

    async def _fork(self, cmd: list[str], kwargs: dict[str, Any]) -> Any:
        assert self.template is not None
        if cmd[:-1] != KERNEL_PREFIX:
            raise TemplateUnavailable(f"not the sub-agent command: {cmd}")
        env = kwargs.get("env") or dict(os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        request = ForkRequest(connection_file=cmd[-1], env=dict(env), cwd=cwd)
        pid, reader, self._writer = await self.template.fork(request)
        self.forked = True
        self.pid = self.pgid = pid
        self.cwd = cwd
        self._exited = asyncio.Event()
        self._reader_task = asyncio.ensure_future(self._await_exit(reader))
        return self.connection_info

    async def _await_exit(self, reader: asyncio.StreamReader) -> None:
        code = -int(signal.SIGKILL)  # the template died: the child was killed with it
        try:
            while line := await reader.readline():
                reply = template_reply.validate_json(line)
                if isinstance(reply, ExitedReply) and reply.pid == self.pid:
                    code = reply.code
                    break
        except (OSError, ValueError):
            log.debug("template connection failed", exc_info=True)
        self._exit_code = code
        assert self._exited is not None
        self._exited.set()

    async def poll(self) -> int | None:
        if self.forked:
            return self._exit_code
        return await super().poll()

    async def wait(self) -> int | None:
        if self.forked:
            assert self._exited is not None
            await self._exited.wait()
            self.forked = False
            return self._exit_code
        return await super().wait()

    async def send_signal(self, signum: int) -> None:
        if not self.forked:
            return await super().send_signal(signum)
        if self._exit_code is not None:
            return
        try:
            os.killpg(self.pid, signum)  # its own session: the kernel and what it started
        except OSError:
            os.kill(self.pid, signum)  # it may not have left the template's group yet

    async def kill(self, restart: bool = False) -> None:
        if not self.forked:
            return await super().kill(restart)
        await self._signal_if_alive(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if not self.forked:
            return await super().terminate(restart)
        await self._signal_if_alive(signal.SIGTERM)

    async def _signal_if_alive(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone: nothing to end
            await self.send_signal(signum)

    async def cleanup(self, restart: bool = False) -> None:
        if self._writer is not None:
            self._writer.close()  # the template kills the child if it is still there
            self._writer = None
        if self._reader_task is not None:
            self._reader_task.cancel()
        await super().cleanup(restart)
