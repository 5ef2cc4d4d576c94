"""The backend contract (the seed's ``AgentBackend``): what callers may ask of any agent kind.

:class:`~.backend_base.TmuxAgentBackend` implements it once for the agents that run as TUIs
in aimax's tmux server; a package can register its own implementation
(see :mod:`.backends`).
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any

from .options import CreateOptions, SendOptions, StreamOptions
from .state import SessionStatus


class AgentBackend(abc.ABC):
    """One kind of agent session (the seed's contract). Async methods are safe to call from
    many tasks: each session has its own lock."""

    name: str

    @abc.abstractmethod
    async def create_new_session(self, opts: CreateOptions | dict) -> dict[str, Any]:
        """Start an agent (and submit ``initialPrompt``). Called by ``aimax create`` / POST."""

    @abc.abstractmethod
    async def no_pause_current_and_queue_query_at_session(self, opts: SendOptions | dict) -> None:
        """Send a prompt without interrupting the running turn (the agent queues it)."""

    @abc.abstractmethod
    async def pause_current_and_resume_from_session(self, opts: SendOptions | dict) -> None:
        """Interrupt the running turn (Escape), then send the prompt."""

    @abc.abstractmethod
    async def terminate_session(self, session_id: str) -> dict[str, Any]:
        """Stop the agent and archive the session. ``aimax stop`` / DELETE."""

    @abc.abstractmethod
    async def status(self, session_id: str) -> SessionStatus:
        """Fresh state of one session (the async form behind the ``is_*`` checks)."""

    @abc.abstractmethod
    def list_sessions(self) -> list[dict[str, Any]]:
        """Known sessions of this backend (live and archived)."""

    @abc.abstractmethod
    def get_history(
        self, session_id: str, after: int = 0, limit: int | None = None
    ) -> dict[str, Any]:
        """``{entries, total, truncated, sentinel}`` from our event log."""

    @abc.abstractmethod
    def get_agent_raw_thought_stream(
        self,
        session_id: str,
        listener: Callable[[Any], None],
        opts: StreamOptions | dict | None = None,
    ) -> Callable[[], None]:
        """Subscribe to events (after ``fromSentinel`` if given); returns unsubscribe."""

    # Sync checks of the seed. They run the async status on a helper thread when called
    # from inside an event loop, so prefer ``await status()`` in async code.
    def is_alive(self, session_id: str) -> bool:
        return self._status_sync(session_id).alive

    def is_working(self, session_id: str) -> bool:
        return self._status_sync(session_id).working

    @abc.abstractmethod
    def is_job_goal_accomplished(self, session_id: str) -> bool:
        """True once ``running.flag`` is gone."""

    @abc.abstractmethod
    def is_failed(self, session_id: str) -> bool:
        """True if ``failed.flag`` exists."""

    def _status_sync(self, session_id: str) -> SessionStatus:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.status(session_id))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.status(session_id)).result()
