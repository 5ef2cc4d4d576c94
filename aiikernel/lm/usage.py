"""Tokens and cost per turn and per session, from the turns' ``Usage`` events.

The client prices each request with litellm's local cost map (no network); a model
missing from the map has ``cost=None``, and its totals show tokens only instead of a
made-up price.  A :class:`UsageTracker` is a turn observer: it adds up the events
every front already receives, so the chat panel and ``/usage`` agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session_view import SessionView


@dataclass
class Tally:
    """Requests, tokens and cost; ``cost_known`` is false once any request had no price."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    unpriced_requests: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if cost is None:
            self.unpriced_requests += 1
        else:
            self.cost += cost

    @property
    def cost_known(self) -> bool:
        return self.requests > 0 and self.unpriced_requests == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost if self.unpriced_requests < self.requests else None,
            "cost_complete": self.cost_known,
        }


#: Events that show the model answered, i.e. the turn really ran.
ANSWERED = frozenset({"text_delta", "reply_done", "usage"})


@dataclass
class TurnUsage:
    number: int
    model: str
    tally: Tally = field(default_factory=Tally)


class UsageTracker:
    """Adds up ``Usage`` events into per-turn and per-session totals (a session observer)."""

    def __init__(self) -> None:
        self.session_total = Tally()
        self.by_model: dict[str, Tally] = {}
        self.turns: list[TurnUsage] = []
        self._current: TurnUsage | None = None
        self._starting: str | None = None  # model of a turn that has not answered yet

    def __call__(self, event: Any) -> None:
        kind = getattr(event, "kind", None)
        if kind == "turn_started":
            self._current, self._starting = None, event.model
        elif kind in ANSWERED and self._current is None:
            # Numbered only once the model answers: a turn that failed (no key, bad
            # model) gets no number, leaves no gap and does not count as "used".
            model = getattr(event, "model", None) or self._starting or "?"
            self._current = TurnUsage(len(self.turns) + 1, model)
            self.turns.append(self._current)
        if kind == "usage":
            for tally in (
                self._current.tally,
                self.session_total,
                self.by_model.setdefault(event.model, Tally()),
            ):
                tally.add(event.prompt_tokens, event.completion_tokens, event.cost)
        elif kind == "done":
            self._current = self._starting = None

    @property
    def last_turn(self) -> TurnUsage | None:
        return self.turns[-1] if self.turns else None

    def summary(self) -> dict[str, Any]:
        """JSON-safe totals for the UI (``/usage`` data)."""
        last = self.last_turn
        return {
            "session": self.session_total.as_dict(),
            "last_turn": None
            if last is None
            else {"turn": last.number, "model": last.model, **last.tally.as_dict()},
            "by_model": {m: t.as_dict() for m, t in self.by_model.items()},
        }


def format_cost(tally: Tally) -> str:
    if tally.requests == 0:
        return "—"
    if tally.unpriced_requests == tally.requests:
        return "unknown (model not in litellm's price map)"
    text = f"${tally.cost:.6f}"
    if tally.unpriced_requests:
        text += f" (+{tally.unpriced_requests} unpriced request(s))"
    return text


def format_usage(tracker: UsageTracker, gateway: Any = None) -> str:
    """Markdown for ``/usage``; ``gateway`` is the model gateway's ledger, when there is one
    (a :class:`aiikernel.gateway.protocol.UsageLedger`: every kernel of this user)."""
    total = tracker.session_total
    if total.requests == 0 and (gateway is None or gateway.total.requests == 0):
        return "No model requests in this session yet."
    rows = ["| | requests | tokens in | tokens out | cost |", "|---|---:|---:|---:|---|"]

    def row(label: str, tally: Tally) -> str:
        return (
            f"| {label} | {tally.requests} | {tally.prompt_tokens:,} | "
            f"{tally.completion_tokens:,} | {format_cost(tally)} |"
        )

    last = tracker.last_turn
    if last is not None:
        rows.append(row(f"last turn (#{last.number}, `{last.model}`)", last.tally))
    rows.append(row("**this session**", total))
    for model, tally in sorted(tracker.by_model.items()):
        rows.append(row(f"`{model}`", tally))
    if gateway is not None and gateway.total.requests:
        import time

        since = time.strftime("%H:%M", time.localtime(gateway.since))
        label = f"**all kernels**, through the model gateway since {since}"
        rows.append(row(label, Tally(**gateway.total.model_dump())))
    return "\n".join(rows)


_ATTR = "_aiikernel_usage"


def usage_tracker(session: SessionView) -> UsageTracker:
    """The session's tracker, registered as a turn observer on first use."""
    tracker = getattr(session, _ATTR, None)
    if tracker is None:
        tracker = UsageTracker()
        setattr(session, _ATTR, tracker)
        session.observers.append(tracker)
    return tracker
