"""`SessionView`: what model access uses of the AI session it serves.

lm sits below :mod:`aiikernel.session` (the session imports lm, never the reverse), so
lm names the few members it needs instead of importing ``AiSession``, which has them.
lm keeps its per-session objects (``AiModels``, the usage tracker, the wire log, the model
catalog) as attributes of this object, and ``AiModels`` takes it as its traitlets parent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class SessionView(Protocol):
    """The AI session as lm and its commands see it."""

    #: The IPython shell (None outside one): ``%config`` registration, history scrubbing.
    shell: Any
    #: The model chosen in this kernel (``/model NAME``), if any.
    model_override: str | None
    #: Called with every event of every turn (the usage tracker is one).
    observers: list[Callable[[Any], None]]
    #: Content parts (``/image``) attached to the next prompt.
    pending_attachments: list[dict[str, Any]]

    @property
    def namespace(self) -> dict[str, Any]: ...

    def mark_changed(self, *names: str) -> None: ...
