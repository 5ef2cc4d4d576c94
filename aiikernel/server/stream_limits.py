"""Caps on open websocket streams (``…/stream`` and ``/aimax/watch``): per user and in total.

Each stream holds an event-log subscription, a queue of up to ``stream_queue_limit`` events and
a ping loop; without a cap one client could open thousands and take the server's memory and
event loop (the probe opened 1,000: 116 → 397 MB, ``/api/status`` 3.5 s). A stream is counted
when its socket opens — synchronously on the event loop, so concurrent upgrades cannot overshoot
— and given back when it closes. A refused stream is closed at once with
:data:`CLOSE_TOO_MANY_STREAMS` and a reason naming the cap.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

CLOSE_TOO_MANY_STREAMS = 4429
"""Websocket close code (private-use range; mirrors HTTP 429) of a stream over a cap."""


class StreamLimits:
    """Counts open streams per user and in total; admits within both caps."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._open: Counter[str] = Counter()

    @property
    def open_total(self) -> int:
        return sum(self._open.values())

    def open_for(self, user: str) -> int:
        return self._open[user]

    def acquire(self, user: str) -> str | None:
        """Count a stream of ``user``: None when admitted, else the close reason (≤ 123 bytes)."""
        if self._open[user] >= self.per_user:
            return (
                f"too many streams: {self.per_user} open for this user "
                "(max_streams_per_user); close one first"
            )
        if self.open_total >= self.total:
            return f"too many streams: {self.total} open on this server (max_streams); retry later"
        self._open[user] += 1
        return None

    def release(self, user: str) -> None:
        """Give back one admitted stream of ``user``."""
        self._open[user] -= 1
        if self._open[user] <= 0:
            del self._open[user]


class CappedSocketMixin:
    """For the aimax websocket handlers: a place under the caps, taken when the socket opens
    and given back when it closes."""

    _release_place: Callable[[], None] | None = None

    def admit(self: Any, limits: StreamLimits) -> bool:
        """Take a place, or close the socket with :data:`CLOSE_TOO_MANY_STREAMS` (False)."""
        owner = self.stream_owner()
        refused = limits.acquire(owner)
        if refused is not None:
            self.close(CLOSE_TOO_MANY_STREAMS, refused)
            return False
        self._release_place = functools.partial(limits.release, owner)
        return True

    def release_place(self) -> None:
        """Give the place back (idempotent; from ``on_close``)."""
        if self._release_place is not None:
            release, self._release_place = self._release_place, None
            release()

    def stream_owner(self: Any) -> str:
        """Whom this socket counts against: the user, except for the server's shared token,
        which names nobody (jupyter_server makes up a new anonymous user for each token
        request without a cookie) — every client of that token counts as one."""
        provider = self.identity_provider
        shared = self.token
        if shared and provider.is_token_authenticated(self) and provider.get_token(self) == shared:
            return "\0shared token"
        return self.current_user.username
