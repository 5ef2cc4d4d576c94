"""``Agent``: the handle ``spawn_agent()`` returns, to talk to one sub-agent.

Every method is safe from the kernel's main thread: the work happens on the supervisor's loop
(:mod:`.supervisor`) and blocking methods wait in short slices, so the kernel's interrupt still
stops the wait. Each has an awaitable twin (``ask_async``, ``pull_async``, …; ``await agent``
waits for the current turn) so several children run in parallel from one cell.
Nothing here changes the parent's namespace unless asked: ``pull`` assigns the names it is
given, ``get`` only returns a value.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import sys
import threading
import time
from collections import deque
from typing import Any, Protocol

from .protocol import AgentInfo, PullRequest, PushRequest, StartRequest, TurnRequest
from .supervisor import AgentError, ChildKernel, Supervisor
from .view import TurnView


class AgentHost(Protocol):
    """What an agent uses of the registry that spawned it (:class:`.registry.AgentRegistry`)."""

    config: Any

    @property
    def agent_id(self) -> str | None: ...

    @property
    def supervisor(self) -> Supervisor: ...

    def view(self, agent_id: str, prompt: str) -> TurnView: ...

    def load(self, source: str, names: list[str]) -> tuple[dict[str, Any], dict[str, str]]: ...

    def assign(self, values: dict[str, Any]) -> None: ...

    def stage(self, values: dict[str, Any]) -> tuple[str, list[str]]: ...

    def changed(self) -> None: ...


CONTINUE_PROMPT = (
    "Continue with your task from where you are now: look at the current state of your "
    "namespace, do what is left, and say when you are done."
)


def wait(future: concurrent.futures.Future, timeout: float | None = None) -> Any:
    """The future's result, waited for in slices so a kernel interrupt gets through."""

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        slice_ = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
        try:
            return future.result(timeout=slice_)
        except concurrent.futures.TimeoutError:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("the sub-agent did not finish in time") from None


class Agent:
    """A sub-agent: a child kernel that started from a clone of this namespace."""

    def __init__(
        self,
        registry: AgentHost,
        agent_id: str,
        task: str,
        *,
        depth: int,
        names: list[str] | None,
        model: str | None,
        max_steps: int | None,
    ) -> None:
        self._registry = registry
        self.id = agent_id
        self.task = task
        self.depth = depth
        self.names = names
        self.model = model
        self.max_steps = max_steps
        self.status = "starting"
        #: Why the agent failed or crashed (None while all is well).
        self.error: str | None = None
        #: Every turn event of every turn, as JSON (the newest 5000).
        self._events: deque[dict[str, Any]] = deque(maxlen=5000)
        #: One record per finished turn: prompt, text, reason, error.
        self.turns: list[dict[str, Any]] = []
        #: Names the clone brought, and the ones it could not (name → why).
        self.restored: list[str] = []
        self.skipped: dict[str, str] = {}
        #: Sub-agents of this one (reported by its kernel).
        self.descendants: list[AgentInfo] = []
        self._child: ChildKernel | None = None
        self._lock = threading.Lock()
        self._ops: asyncio.Lock | None = None
        self._started: concurrent.futures.Future | None = None
        self._current: concurrent.futures.Future | None = None
        self._spawned_at = time.perf_counter()
        #: Seconds from spawn_agent() to the child's namespace being restored.
        self.ready_seconds: float | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """The turn events so far (``kind``: turn_started, text_delta, code_started, …)."""
        with self._lock:
            return list(self._events)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        return self.status in ("starting", "running", "idle")

    @property
    def done(self) -> bool:
        """Whether the latest turn (if any) has finished."""
        return self._current is None or self._current.done()

    @property
    def result(self) -> str | None:
        """The final reply text of the latest turn, waiting for it if it still runs.

        Raises :class:`AgentError` when that turn failed (model error, crash, stop).
        """
        if self._current is None:
            return None
        return wait(self._current)

    def info(self) -> AgentInfo:
        last = ""
        if self.turns:
            last = " ".join(str(self.turns[-1].get("text", "")).split())[:120]
        return AgentInfo(
            id=self.id,
            parent=self._registry.agent_id,
            depth=self.depth,
            status=self.status,  # type: ignore[arg-type]
            task=" ".join(self.task.split())[:200],
            pid=self.pid,
            turns=len(self.turns),
            last=last,
        )

    # -- turns ---------------------------------------------------------------------------

    def ask(
        self,
        prompt: str,
        *,
        model: str | None = None,
        max_steps: int | None = None,
        wait_for_it: bool = True,
    ) -> Any:
        """Another turn in the same child and conversation; returns its final reply text.

        ``wait_for_it=False`` returns at once (the agent itself; ``result`` or ``gather``
        wait later).
        """
        future = self._submit_turn(prompt, model, max_steps)
        return wait(future) if wait_for_it else self

    async def ask_async(
        self, prompt: str, *, model: str | None = None, max_steps: int | None = None
    ) -> str:
        return await asyncio.wrap_future(self._submit_turn(prompt, model, max_steps))

    def react(self, *, max_steps: int | None = None, wait_for_it: bool = True) -> Any:
        """Continue from the child's current state (its namespace and conversation)."""
        return self.ask(CONTINUE_PROMPT, max_steps=max_steps, wait_for_it=wait_for_it)

    async def react_async(self, *, max_steps: int | None = None) -> str:
        return await self.ask_async(CONTINUE_PROMPT, max_steps=max_steps)

    def wait_ready(self, timeout: float | None = None) -> Agent:
        """Wait until the child runs with its clone of the namespace (its task may still run)."""
        if self._started is not None:
            wait(self._started, timeout)
        return self

    def wait(self, timeout: float | None = None) -> str | None:
        """Wait for the latest turn; its final reply text."""
        if self._current is None:
            return None
        return wait(self._current, timeout)

    def __await__(self) -> Any:
        async def latest() -> str | None:
            if self._current is None:
                return None
            return await asyncio.wrap_future(self._current)

        return latest().__await__()

    def _submit_turn(self, prompt: str, model: str | None, max_steps: int | None) -> Any:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("a turn needs a prompt (a non-empty string)")
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError("max_steps must be a positive whole number")
        if not self.alive:
            raise AgentError(
                f"{self.id} is {self.status}" + (f": {self.error}" if self.error else "")
            )
        view = self._registry.view(self.id, prompt)
        future = self._registry.supervisor.submit(
            self._turn(prompt, model or self.model, max_steps or self.max_steps, view)
        )
        self._current = future
        return future

    async def _turn(
        self, prompt: str, model: str | None, max_steps: int | None, view: TurnView
    ) -> str:
        try:
            await self._ready()
            async with self._operations():
                return await self._run_turn(prompt, model, max_steps, view)
        except AgentError as exc:
            status = self.status if self.status in ("crashed", "stopped") else "failed"
            # A stop the user asked for needs no reason ("agent-1 was stopped" said it twice).
            view.finish(status, "" if status == "stopped" else str(exc)[:200])
            raise

    async def _run_turn(
        self, prompt: str, model: str | None, max_steps: int | None, view: TurnView
    ) -> str:
        assert self._child is not None
        self._set_status("running")

        def on_note(note: Any) -> None:
            with self._lock:
                self._events.append(note.event)
            view.event(note.event)

        try:
            data = await self._child.call(
                TurnRequest(prompt=prompt, model=model, max_steps=max_steps),
                on_note=on_note,
                on_output=view.output,
            )
        finally:
            if self.status == "running":
                self._set_status("idle")
        record = {
            "prompt": prompt,
            "text": data.get("text", ""),
            "reason": data.get("reason"),
            "error": data.get("error"),
        }
        self.turns.append(record)
        self._registry.changed()
        error = data.get("error")
        if error:
            view.finish("failed", str(error.get("category", "")))
            raise AgentError(f"{self.id}'s turn failed ({error['category']}): {error['message']}")
        reason = str(data.get("reason"))
        view.finish("interrupted" if reason == "interrupted" else "answered", reason)
        return str(data.get("text", ""))

    # -- start ---------------------------------------------------------------------------

    def _begin(self, request: StartRequest, env: dict[str, str], cwd: str, task_view: Any) -> None:
        """Start the child (and then the first turn) on the supervisor's loop."""
        supervisor = self._registry.supervisor
        self._started = supervisor.submit(self._start(request, env, cwd, task_view))
        self._current = supervisor.submit(
            self._turn(self.task, self.model, self.max_steps, task_view)
        )

    async def _start(self, request: StartRequest, env: dict[str, str], cwd: str, view: Any) -> None:
        config = self._registry.config
        child = ChildKernel(self._registry.supervisor, self.id, env, cwd)
        child.on_crash = self._crashed
        child.on_unsolicited = self._unsolicited
        self._child = child
        try:
            template = await self._registry.warm_template()
            await child.start(config.transport, config.ready_timeout, template)
            data = await child.call(request)
        except Exception as exc:
            self.error = str(exc)
            self._set_status("failed")
            await child.stop()
            raise AgentError(f"{self.id} could not start: {exc}") from None
        python = sys.version.split()[0]
        if data.get("python") != python:  # notebook functions are marshalled code
            await child.stop()
            self.error = f"the child runs Python {data.get('python')}, this kernel {python}"
            self._set_status("failed")
            raise AgentError(f"{self.id} could not start: {self.error}")
        self.ready_seconds = time.perf_counter() - self._spawned_at
        self.restored = list(data.get("restored", []))
        self.skipped.update(data.get("skipped", {}))
        if self.skipped:
            view.note(
                "Not cloned (could not be stored): "
                + ", ".join(f"{n} ({why.split(':')[0]})" for n, why in sorted(self.skipped.items()))
            )
        if self.status == "starting":
            self._set_status("idle")

    async def _ready(self) -> None:
        if self._started is None:
            raise AgentError(f"{self.id} was never started")
        await asyncio.wrap_future(self._started)
        if not self.alive:
            raise AgentError(self.error or f"{self.id} is {self.status}")

    def _operations(self) -> asyncio.Lock:
        if self._ops is None:
            self._ops = asyncio.Lock()
        return self._ops

    # -- values --------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The value of ``name`` in the child (the parent's namespace is not changed)."""
        return wait(self._registry.supervisor.submit(self._fetch([name])))[name]

    async def get_async(self, name: str) -> Any:
        values = await asyncio.wrap_future(self._registry.supervisor.submit(self._fetch([name])))
        return values[name]

    def pull(self, *names: str) -> dict[str, Any]:
        """Bring ``names`` from the child into this namespace (assigned here) and return them.

        Array data is mapped from the store copy-on-write, not copied.
        """
        values = wait(self._registry.supervisor.submit(self._fetch(list(names))))
        self._registry.assign(values)
        return values

    async def pull_async(self, *names: str) -> dict[str, Any]:
        values = await asyncio.wrap_future(
            self._registry.supervisor.submit(self._fetch(list(names)))
        )
        self._registry.assign(values)
        return values

    async def _fetch(self, names: list[str]) -> dict[str, Any]:
        if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise ValueError("name the variables to bring back, e.g. pull('df', 'model')")
        await self._ready()
        async with self._operations():
            assert self._child is not None
            data = await self._child.call(PullRequest(names=names))
        missing = data.get("missing") or []
        if missing:
            raise AgentError(f"{self.id} has no variable called {', '.join(map(repr, missing))}")
        values, problems = self._registry.load(str(data["source"]), names)
        wanted = {n: values[n] for n in names if n in values}
        failed = {n: problems[n] for n in names if n not in values}
        if failed:
            raise AgentError(
                f"{self.id} could not hand over "
                + "; ".join(f"{n}: {why}" for n, why in failed.items())
            )
        return wanted

    def push(self, **values: Any) -> list[str]:
        """Put ``values`` into the child's namespace (``push(df=df, k=3)``); returns the names."""
        return wait(self._registry.supervisor.submit(self._push(self._registry.stage(values))))

    async def push_async(self, **values: Any) -> list[str]:
        staged = self._registry.stage(values)
        return await asyncio.wrap_future(self._registry.supervisor.submit(self._push(staged)))

    async def _push(self, staged: tuple[str, list[str]]) -> list[str]:
        source, names = staged
        await self._ready()
        async with self._operations():
            assert self._child is not None
            data = await self._child.call(PushRequest(source=source, names=names))
        problems = data.get("problems") or {}
        if problems:
            raise AgentError(
                "could not push " + "; ".join(f"{n}: {why}" for n, why in problems.items())
            )
        self._registry.changed()
        return list(data.get("pushed", []))

    # -- control -------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Interrupt the child's running turn (it ends as ``interrupted``; the child lives)."""
        if self._child is not None:
            wait(self._registry.supervisor.submit(self._child.interrupt()), 10)

    def stop(self) -> None:
        """Shut the child's kernel down; its namespace is gone afterwards."""
        wait(self._registry.supervisor.submit(self._stop()), 30)

    async def stop_async(self) -> None:
        await asyncio.wrap_future(self._registry.supervisor.submit(self._stop()))

    async def _stop(self) -> None:
        if self.status in ("stopped", "crashed", "failed") and (
            self._child is None or not self._child.alive
        ):
            return
        self._set_status("stopped")
        if self._started is not None and not self._started.done():
            try:
                await asyncio.wrap_future(self._started)
            except Exception:
                pass
        if self._child is not None:
            await self._child.stop()

    def _crashed(self, reason: str) -> None:
        self.error = reason
        self._set_status("crashed")

    def _unsolicited(self, note: Any) -> None:
        if note.kind == "agents":
            self.descendants = list(note.agents)
            self._registry.changed()

    def _set_status(self, status: str) -> None:
        if self.status == status or self.status in ("stopped", "crashed"):
            return
        self.status = status
        self._registry.changed()

    # -- display -------------------------------------------------------------------------

    def __repr__(self) -> str:
        task = " ".join(self.task.split())
        task = task if len(task) <= 60 else task[:59] + "…"
        text = f"<Agent {self.id} {self.status} · {len(self.turns)} turn"
        text += "s" if len(self.turns) != 1 else ""
        text += f" · task: {task!r}"
        if self.error:
            text += f" · error: {self.error[:100]}"
        elif self.turns:
            last = " ".join(str(self.turns[-1].get("text", "")).split())
            text += f" · last: {last[:60] + ('…' if len(last) > 60 else '')!r}"
        return text + ">"

    def _repr_html_(self) -> str:
        info = self.info()
        rows = [
            ("status", info.status),
            ("task", info.task),
            ("turns", str(info.turns)),
            ("pid", str(info.pid or "")),
        ]
        if self.error:
            rows.append(("error", self.error))
        elif info.last:
            rows.append(("last reply", info.last))
        if self.skipped:
            rows.append(("not cloned", ", ".join(sorted(self.skipped))))
        cells = "".join(
            f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<b>Agent {html.escape(self.id)}</b><table>{cells}</table>"
