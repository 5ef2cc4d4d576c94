"""The sub-agents of one kernel: spawning them, limits, and what they share with it.

A spawn checkpoints the namespace (incremental: usually nothing new is written) and hands the
child that checkpoint's ``SESSION/ID``; the child adopts it by mapping the chunk files
(:mod:`aiikernel.checkpoints.mapping`). Pulls come back the same way, from a checkpoint the
child takes of itself; pushes go through a checkpoint of the pushed values in a session of
their own (``<session>-push``), so arrays never travel through a socket.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .child import agent_env, publish
from .config import config_of
from .protocol import ENV_VAR, AgentEnv, AgentInfo, AgentsNote, StartRequest
from .proxy import Agent
from .supervisor import AgentError, Supervisor
from .view import TurnView, current_parent

_ATTR = "_aiikernel_agents"
log = logging.getLogger(__name__)


class AgentRegistry:
    """Every sub-agent this kernel spawned, and the machinery they share."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.config = config_of(shell)  # `%config SubAgents.max_children = 8`
        self.env = agent_env()
        self.depth = self.env.depth if self.env else 0
        if self.env is not None:
            self.config.max_depth = self.env.max_depth
            self.config.max_children = self.env.max_children
        self.agents: list[Agent] = []
        self._count = 0
        self._lock = threading.Lock()
        self._supervisor: Supervisor | None = None
        self._push_store: Any = None
        #: Called with the rows of ``agents()`` whenever one changes (the chat panel).
        self.listeners: list[Callable[[list[AgentInfo]], None]] = []

    @classmethod
    def for_shell(cls, shell: Any) -> AgentRegistry:
        registry = getattr(shell, _ATTR, None)
        if registry is None:
            registry = cls(shell)
            setattr(shell, _ATTR, registry)
        return registry

    @property
    def agent_id(self) -> str | None:
        """This kernel's own id when it is a sub-agent."""
        return self.env.id if self.env else None

    @property
    def supervisor(self) -> Supervisor:
        with self._lock:
            if self._supervisor is None:
                self._supervisor = Supervisor()
            return self._supervisor

    def prewarm(self) -> None:
        """Start the warm template in the background unless it runs (``SubAgents.prewarm``)."""
        config = self.config
        if not config.template or self.depth > 0:  # a sub-agent starts one only if it spawns
            return
        supervisor = self.supervisor
        if supervisor.template is not None:
            return
        supervisor.submit(self.warm_template()).add_done_callback(_log_failure)

    async def warm_template(self) -> Any:
        """The template children fork from, as configured; None when off or unavailable
        (on the supervisor's loop)."""
        config = self.config
        if not config.template:
            return None
        return await self.supervisor.warm_template(
            list(config.template_modules), config.template_timeout
        )

    @property
    def session(self) -> Any:
        from ..session import AiSession

        return AiSession.for_shell(self.shell)

    # -- spawning ------------------------------------------------------------------------

    def spawn(
        self,
        task: str,
        names: list[str] | None = None,
        model: str | None = None,
        max_steps: int | None = None,
    ) -> Agent:
        if not isinstance(task, str) or not task.strip():
            raise ValueError("spawn_agent() needs a task: a non-empty string")
        if isinstance(names, str):
            names = [names]
        if names is not None and not all(isinstance(n, str) for n in names):
            raise ValueError("names must be a list of variable names")
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError("max_steps must be a positive whole number")
        config = self.config
        if self.depth + 1 > config.max_depth:
            raise AgentError(
                f"sub-agents may nest {config.max_depth} deep (SubAgents.max_depth) and this "
                f"kernel is at depth {self.depth}: do the work here instead"
            )
        alive = [a for a in self.agents if a.alive]
        if len(alive) >= config.max_children:
            raise AgentError(
                f"{len(alive)} sub-agents are running (SubAgents.max_children = "
                f"{config.max_children}); stop one first (agent.stop()) or raise the cap"
            )
        session = self.session
        source, skipped = self._checkpoint(session, task, names)
        with self._lock:
            self._count += 1
            agent_id = f"{self.agent_id}.{self._count}" if self.agent_id else f"agent-{self._count}"
        agent = Agent(
            self,
            agent_id,
            task,
            depth=self.depth + 1,
            names=names,
            model=model or session.resolve_model(),
            max_steps=max_steps,
        )
        agent.skipped.update(skipped)
        self.agents.append(agent)
        store = session.checkpoints
        request = StartRequest(
            store=str(store.root),
            session=f"{store.session_name}.{agent_id}"[:120],
            source=source,
            names=names,
            model=agent.model,
        )
        view = self.view(agent_id, task)
        agent._begin(request, self._child_env(agent_id), os.getcwd(), view)
        self.changed()
        return agent

    def _checkpoint(
        self, session: Any, task: str, names: list[str] | None
    ) -> tuple[str, dict[str, str]]:
        if not session.checkpoints_enabled:
            raise AgentError(
                "sub-agents start from a checkpoint of the namespace; turn checkpoints on "
                "(AiSession.checkpoints_enabled = True)"
            )
        if names is not None:
            unknown = [n for n in names if n not in session.namespace]
            if unknown:
                raise AgentError("no variable called " + ", ".join(map(repr, unknown)))
        tracker = session.tracker
        touched = tracker.take() if tracker is not None else None
        store = session.checkpoints
        try:
            source = store.checkpoint_for_clone(
                session.namespace,
                label="spawn: " + " ".join(task.split())[:70],
                touched=touched,
                hidden=session.hidden_names,
            )
        except Exception as exc:
            if tracker is not None:
                tracker.mark_everything()
            raise AgentError(f"could not checkpoint the namespace for the clone: {exc}") from exc
        unpicklable = store.manifest(source).unpicklable()
        wanted = set(names) if names is not None else set(unpicklable)
        skipped = {n: f"{t} cannot be stored" for n, t in unpicklable.items() if n in wanted}
        return source, skipped

    def _child_env(self, agent_id: str) -> dict[str, str]:
        env = dict(os.environ)
        env[ENV_VAR] = AgentEnv(
            id=agent_id,
            depth=self.depth + 1,
            max_depth=self.config.max_depth,
            max_children=self.config.max_children,
            parent_pid=os.getpid(),
        ).model_dump_json()
        return env

    def view(self, agent_id: str, prompt: str) -> TurnView:
        return TurnView(
            self.shell,
            current_parent(self.shell),
            agent_id,
            prompt,
            interval=self.config.update_interval,
        )

    # -- values --------------------------------------------------------------------------

    def load(self, source: str, names: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
        """Values of ``names`` at a child's checkpoint, mapped from the shared store."""
        return self.session.checkpoints.load(
            source, names, namespace=self.shell.user_ns, verify=self.config.verify_clone
        )

    def assign(self, values: dict[str, Any]) -> None:
        """Put pulled values into this namespace (and tell the checkpoint tracker)."""
        self.shell.user_ns.update(values)
        self.session.mark_changed(*values)

    def stage(self, values: dict[str, Any]) -> tuple[str, list[str]]:
        """Store pushed values as a checkpoint of their own; its ``SESSION/ID`` and names."""
        if not values:
            raise ValueError("push(name=value, …) needs at least one value")
        session = self.session
        if self._push_store is None:
            from traitlets.utils.importstring import import_item

            store = session.checkpoints
            self._push_store = import_item(session.checkpoint_store_class)(
                parent=session,
                directory=str(store.root),
                session_name=f"{store.session_name}-push"[:120],
            )
        staged = {"__name__": self.shell.user_ns.get("__name__", "__main__"), **values}
        info = self._push_store.checkpoint(staged, label="push: " + ", ".join(values)[:70])
        if info.unpicklable:
            raise AgentError(
                "cannot push "
                + ", ".join(f"{n} ({t})" for n, t in info.unpicklable.items())
                + ": they cannot be stored"
            )
        return f"{self._push_store.session_name}/{info.id}", list(values)

    # -- listing -------------------------------------------------------------------------

    def rows(self) -> list[AgentInfo]:
        """This kernel's sub-agents and theirs, parents before children."""
        found: list[AgentInfo] = []
        for agent in self.agents:
            found.append(agent.info())
            found.extend(agent.descendants)
        return found

    def changed(self) -> None:
        """An agent started, changed state or ended: tell the parent kernel and the panels."""
        rows = self.rows()
        for listener in list(self.listeners):
            try:
                listener(rows)
            except Exception:
                pass
        if self.env is not None and getattr(self.shell, "kernel", None) is not None:
            try:
                publish(self.shell, AgentsNote(agents=rows))
            except Exception:
                pass

    def shutdown(self) -> None:
        """Stop every child (the kernel is shutting down)."""
        if self._supervisor is not None:
            self._supervisor.shutdown()


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("sub-agent template: prewarm failed", exc_info=future.exception())
