"""Caps on open websocket streams: per user and for the whole server.

Each stream holds an event-log subscription, a queue of up to ``stream_queue_limit`` events and
a ping loop; without a cap one client could open thousands and take the server's memory and
event loop (the probe opened 1,000: 116 → 397 MB, ``/api/status`` 3.5 s). A stream is counted
when its socket opens — synchronously on the event loop, so concurrent upgrades cannot overshoot
— and given back when it closes. A refused stream is closed at once with
:data:`CLOSE_TOO_MANY_STREAMS` and a reason naming the cap.
"""

from __future__ import annotations

from collections import Counter

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
