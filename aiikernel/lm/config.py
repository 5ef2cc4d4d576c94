"""`AiModels`: the `%config`-able model-access settings of one AI session.

Kept apart from :mod:`aiikernel.lm.settings` (which validates settings.json with pydantic)
so that creating a session at kernel start-up imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from traitlets import Bool, Float, Int, Unicode
from traitlets.config import LoggingConfigurable

if TYPE_CHECKING:
    from .session_view import SessionView


class AiModels(LoggingConfigurable):
    """Model-access behaviour that is a deployment choice (one instance per AI session)."""

    wire_log_file = Unicode(
        "",
        help="Append every model request/response (secrets redacted) to this JSONL file. "
        "Empty (the default) keeps the wire log in memory only.",
    ).tag(config=True)
    wire_log_size = Int(
        200, help="How many request/response exchanges the in-memory wire log keeps."
    ).tag(config=True)
    send_displayed_images = Bool(
        False,
        help="Send images displayed by AI-run code (e.g. matplotlib figures) back to the model "
        "with the code's output, when the model accepts images.",
    ).tag(config=True)
    discovery_timeout = Float(
        3.0, help="Seconds each provider's model list may take before it is listed as unavailable."
    ).tag(config=True)
    discovery_cache_seconds = Float(
        60.0, help="How long /model reuses a discovery result before asking the providers again."
    ).tag(config=True)
    max_image_bytes = Int(
        20 * 1024 * 1024, help="Largest image file /image accepts, in bytes."
    ).tag(config=True)


_CONFIG_ATTR = "_aiikernel_models_config"


def models_config(session: SessionView) -> AiModels:
    """The :class:`AiModels` of ``session``, created on first use and known to ``%config``."""
    config = getattr(session, _CONFIG_ATTR, None)
    if config is None:
        config = AiModels(parent=session)
        setattr(session, _CONFIG_ATTR, config)
        shell = getattr(session, "shell", None)
        configurables = getattr(shell, "configurables", None)
        if isinstance(configurables, list):
            configurables.append(config)
    return config
