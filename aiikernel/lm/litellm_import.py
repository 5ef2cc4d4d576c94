"""Importing litellm: once, quietly, without network access; and warming up what its first
request would load.

Kept apart from :mod:`.litellm_client` because the provider table (:mod:`.providers`) needs
litellm too, and the client needs the provider table.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def import_litellm() -> Any:
    """Import litellm once, quietly and offline, leaving the user's environment alone."""
    from .litellm_env import import_litellm_quietly

    litellm = import_litellm_quietly()
    litellm.suppress_debug_info = True
    litellm.drop_params = True
    return litellm


#: What litellm imports or builds lazily on its first request (measured: ~0.55 s on the
#: first call after import, ~0.14 s after this warm-up). Missing names are skipped.
_WARM_MODULES = (
    "openai.resources",
    "litellm.litellm_core_utils.streaming_handler",
    "litellm.llms.openai.openai",
    "litellm.llms.anthropic.chat",
)


def warm_litellm() -> None:
    """Import litellm and what its first request would load (modules, a tokenizer), off the turn's path."""
    import importlib

    from .litellm_env import preload_encodings

    litellm = import_litellm()
    for name in _WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a renamed module in another litellm version is not worth failing for
            log.debug("warm-up could not import %s", name)
    preload_encodings()  # before counting: the encoding must come from litellm's copies
    try:  # the cost path counts tokens; this loads the default encoding once
        litellm.token_counter(model="gpt-4o", messages=[{"role": "user", "content": "warm up"}])
    except Exception:
        log.debug("warm-up token count failed", exc_info=True)
