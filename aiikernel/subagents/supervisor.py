"""The parent side's machinery: one event-loop thread that owns every child kernel.

Cells run on the kernel's main thread and block it; children must keep streaming while a cell
runs (or after it finished), so their kernel managers and clients live on a thread of their
own. :class:`ChildKernel` starts one child through jupyter_client's ``AsyncKernelManager``
(the interpreter of this kernel, so pickled notebook code loads; ``ipc`` sockets in a private
directory), sends it requests and routes what comes back; a watcher notices when its process
ends. Children are launched from this thread, which lives as long as the kernel, so the
child's ``PR_SET_PDEATHSIG`` fires only when the kernel itself dies.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .protocol import MSG_TYPE, SERVE_NAME, ChildNote, ReplyNote, child_note

log = logging.getLogger(__name__)


class AgentError(RuntimeError):
    """A sub-agent could not do what was asked; the message says why."""


class AgentCrashed(AgentError):
    """The sub-agent's kernel process ended without being asked to."""


class Supervisor:
    """The loop thread and the private directory of this kernel's children."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        _remove_stale_directories()
        self.directory = tempfile.mkdtemp(prefix=f"aiik-agents-{os.getpid()}-")  # 0700
        self.children: list[ChildKernel] = []
        #: The warm template that forks children (started at the first spawn that wants it).
        self.template: Any = None
        self._retired: list[Any] = []
        self._templates = 0
        self._thread = threading.Thread(target=self._run, name="aiikernel-subagents", daemon=True)
        self._thread.start()
        atexit.register(self.shutdown)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run ``coro`` on the loop thread; the future is usable from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(callback, *args)

    async def warm_template(self, modules: list[str], timeout: float) -> Any:
        """The template, started and ready (on the loop); None (logged) if it cannot be."""
        from .warm_start import Template, TemplateUnavailable

        if self.template is not None and self.template.modules != modules:
            # SubAgents.template_modules changed: a new template imports them; the old one
            # lives on for the children it forked (they die with it) until the kernel stops.
            self._retired.append(self.template)
            self.template = None
        if self.template is None:
            self._templates += 1
            socket_name = f"template-{self._templates}.sock"
            self.template = Template(os.path.join(self.directory, socket_name), modules)
        try:
            await self.template.ready(timeout)
        except TemplateUnavailable as exc:
            log.warning("sub-agent template unavailable (%s); children start normally", exc)
            return None
        return self.template

    def stop_template(self) -> None:
        """Kill the template (the next spawn starts a new one); its children die with it."""
        template, self.template = self.template, None
        if template is not None:
            self.call_soon(template.stop)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every child (clean shutdown, then kill), then the template, and remove the
        socket directory."""
        if self.loop.is_closed():
            return
        children = [c for c in self.children if c.alive]
        if children:
            future = self.submit(_stop_all(children))
            try:
                future.result(timeout)
            except Exception:
                log.warning("stopping sub-agents failed", exc_info=True)
                for child in children:
                    child.kill_now()
        for template in (*self._retired, self.template):
            if template is not None:
                template.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(2.0)
        if not self._thread.is_alive():
            self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _remove_stale_directories() -> None:
    """Remove the socket directories of kernels of this user that died without cleaning up."""
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) < 4 or parts[:2] != ["aiik", "agents"] or not parts[2].isdigit():
            continue
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
            os.kill(int(parts[2]), 0)
        except ProcessLookupError:
            if st.st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


async def _stop_all(children: list[ChildKernel]) -> None:
    await asyncio.gather(*(c.stop() for c in children), return_exceptions=True)


class _Call:
    """One request in flight: done when both its reply and its IOPub idle arrived."""

    def __init__(self, on_note: Callable[[Any], None] | None, on_output: Any) -> None:
        self.on_note = on_note
        self.on_output = on_output
        self.reply: dict[str, Any] | None = None
        self.shell_reply: dict[str, Any] | None = None
        self.idle = False
        self.future: asyncio.Future = asyncio.get_running_loop().create_future()

    def check(self) -> None:
        if self.future.done() or self.shell_reply is None or not self.idle:
            return
        content = self.shell_reply.get("content", {})
        if content.get("status") == "error":
            trace = "\n".join(content.get("traceback", [])[-3:])
            self.future.set_exception(
                AgentError(f"{content.get('ename')}: {content.get('evalue')}\n{trace}".strip())
            )
        elif self.reply is None:
            self.future.set_exception(AgentError("the sub-agent did not answer the request"))
        else:
            self.future.set_result(self.reply)


class ChildKernel:
    """One child kernel process, its client, and the requests in flight to it."""

    def __init__(self, supervisor: Supervisor, name: str, env: dict[str, str], cwd: str) -> None:
        self.supervisor = supervisor
        self.name = name
        self.env = env
        self.cwd = cwd
        self.km: Any = None
        self.kc: Any = None
        self.pid: int | None = None
        self.alive = False
        self.stopping = False
        self.exit_code: int | None = None
        #: Whether the process was forked from the warm template.
        self.forked = False
        self._calls: dict[str, _Call] = {}
        self._tasks: list[asyncio.Task] = []
        #: Called (on the loop) with notes no request asked for (the child's own agents).
        self.on_unsolicited: Callable[[Any], None] | None = None
        #: Called (on the loop) once when the process ended without stop().
        self.on_crash: Callable[[str], None] | None = None

    async def start(self, transport: str, timeout: float, template: Any = None) -> None:
        """Start the child kernel: forked from ``template`` when given, else (or when that
        fails before the kernel answers) the ordinary way."""
        self.supervisor.children.append(self)
        if template is not None:
            try:
                await self._launch(transport, timeout, template)
                return
            except AgentError as exc:
                if not self.forked:
                    raise
                log.warning(
                    "%s forked from the template failed (%s); starting it normally", self.name, exc
                )
        await self._launch(transport, timeout, None)

    async def _launch(self, transport: str, timeout: float, template: Any) -> None:
        from jupyter_client.manager import AsyncKernelManager

        directory = self.supervisor.directory
        kwargs: dict[str, Any] = {"transport": transport}
        if transport == "ipc":
            kwargs["ip"] = os.path.join(directory, self.name)
        self.km = AsyncKernelManager(
            kernel_name="aiipython-agent",
            kernel_spec_manager=_SameInterpreter(),
            connection_file=os.path.join(directory, f"{self.name}.json"),
            shutdown_wait_time=2.0,
            **kwargs,
        )
        if template is not None:
            from .warm_start import TemplateProvisioner

            provisioner = TemplateProvisioner(
                kernel_id=self.name, kernel_spec=self.km.kernel_spec, parent=self.km
            )
            provisioner.template = template
            self.km.provisioner = provisioner
        self.stopping = False
        await self.km.start_kernel(env=self.env, cwd=self.cwd)
        self.forked = bool(getattr(self.km.provisioner, "forked", False))
        self.alive = True
        self.pid = getattr(self.km.provisioner, "pid", None)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            await self.kc.wait_for_ready(timeout=timeout)
        except RuntimeError as exc:
            await self.stop()
            raise AgentError(f"the sub-agent's kernel did not start: {exc}") from None
        # The readers start only now: wait_for_ready reads the same channels.
        self._tasks = [
            asyncio.create_task(self._read_iopub()),
            asyncio.create_task(self._read_shell()),
            asyncio.create_task(self._watch()),
        ]

    async def call(
        self,
        request: Any,
        on_note: Callable[[Any], None] | None = None,
        on_output: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send ``request`` (a ``*Request`` model) and return the child's reply data."""
        if not self.alive:
            raise AgentCrashed(self.exit_reason())
        payload = json.dumps(request.model_dump_json())
        # A hidden name, not __import__: the checkpoint tracker reads __import__ as "the
        # cell may have changed anything", which would make the child re-hash its namespace.
        code = f"{SERVE_NAME}({payload})"
        call = _Call(on_note, on_output)
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=False)
        self._calls[msg_id] = call
        try:
            return await call.future
        finally:
            self._calls.pop(msg_id, None)

    async def interrupt(self) -> None:
        if self.alive:
            await self.km.interrupt_kernel()

    async def stop(self) -> None:
        """Shut the child down (cleanly if it answers, else killed) and forget it."""
        if self.km is None:
            return
        self.stopping = True
        try:
            if self.alive or await self.km.is_alive():
                await self.km.shutdown_kernel(now=False)
        except Exception:
            log.debug("clean shutdown of %s failed; killing it", self.name, exc_info=True)
            self.kill_now()
        finally:
            self.alive = False
            if self.kc is not None:
                self.kc.stop_channels()
            for task in self._tasks:
                task.cancel()
            self._fail_calls(AgentError(f"{self.name} was stopped"))
            try:
                await self.km.cleanup_resources()  # also tells the template to let go
            except Exception:
                log.debug("cleanup of %s failed", self.name, exc_info=True)

    def kill_now(self) -> None:
        """SIGKILL the child process (last resort; also from another thread)."""
        import signal

        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def exit_reason(self) -> str:
        code = self.exit_code
        if code is None:
            return f"{self.name}'s kernel is not running"
        if code < 0:
            import signal

            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return (
            f"{self.name}'s kernel died ({how}); its namespace is lost. "
            "Start another one with spawn_agent()."
        )

    def _fail_calls(self, error: Exception) -> None:
        for call in list(self._calls.values()):
            if not call.future.done():
                call.future.set_exception(error)

    # -- readers -----------------------------------------------------------------------

    async def _read_iopub(self) -> None:
        while True:
            try:
                msg = await self.kc.get_iopub_msg()
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self.alive:
                    return
                log.debug("iopub read failed", exc_info=True)
                continue
            kind = msg.get("msg_type")
            call = self._calls.get(msg.get("parent_header", {}).get("msg_id", ""))
            if kind == MSG_TYPE:
                note = _parse_note(msg.get("content"))
                if note is None:
                    continue
                if call is not None and isinstance(note, ReplyNote):
                    call.reply = note.data
                elif call is not None and call.on_note is not None and note.kind == "event":
                    call.on_note(note)
                elif self.on_unsolicited is not None:
                    self.on_unsolicited(note)
            elif call is None:
                continue
            elif kind == "status":
                if msg["content"].get("execution_state") == "idle":
                    call.idle = True
                    call.check()
            elif call.on_output is not None and kind in _OUTPUTS:
                call.on_output(msg)

    async def _read_shell(self) -> None:
        while True:
            try:
                msg = await self.kc.get_shell_msg()
            except asyncio.CancelledError:
                raise
            except Exception:
                if not self.alive:
                    return
                continue
            call = self._calls.get(msg.get("parent_header", {}).get("msg_id", ""))
            if call is not None:
                call.shell_reply = msg
                call.check()

    async def _watch(self) -> None:
        provisioner = self.km.provisioner
        while True:
            await asyncio.sleep(0.2)
            if provisioner is None or self.stopping:
                return
            code = await provisioner.poll()
            if code is not None:
                self.exit_code = code
                self.alive = False
                if not self.stopping:
                    error = AgentCrashed(self.exit_reason())
                    self._fail_calls(error)
                    if self.on_crash is not None:
                        self.on_crash(str(error))
                    self.kc.stop_channels()
                    for task in self._tasks[:2]:
                        task.cancel()
                return


_OUTPUTS = frozenset(
    {"stream", "display_data", "update_display_data", "execute_result", "error", "clear_output"}
)


def _parse_note(content: Any) -> ChildNote | None:
    try:
        return child_note.validate_python(content)
    except ValueError:
        log.warning("ignoring a malformed note from a sub-agent")
        return None


def _spec_manager_class() -> type:
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class SameInterpreter(KernelSpecManager):
        """The aiipython kernel on this very interpreter (pickled code needs the same Python)."""

        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=[sys.executable, "-m", "aiikernel", "-f", "{connection_file}"],
                display_name="aiipython sub-agent",
                language="python",
                interrupt_mode="signal",
                env={},
                metadata={},
            )

    return SameInterpreter


def _SameInterpreter() -> Any:  # noqa: N802 - reads like the class it makes
    return _spec_manager_class()()
