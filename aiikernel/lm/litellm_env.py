"""Import litellm configured by environment variables without leaving them in the user's.

litellm reads some settings only from ``os.environ`` and only while it is imported:
``LITELLM_LOCAL_MODEL_COST_MAP`` (use the bundled cost map; otherwise it downloads one, and
offline waits for the timeout) and ``LITELLM_LOG`` (the level of its log handler). Its
tokenizer module sets ``TIKTOKEN_CACHE_DIR`` itself, to its bundled encodings, and tiktoken
reads it whenever it loads an encoding. The kernel's ``os.environ`` is the user's: every
``!command`` and subprocess inherits it. So the variables are lent for the import alone, under
a lock, and everything is put back as it was. The import also loads litellm's tokenizer module
(a first request would, outside the window); the gpt-4o family's encoding is loaded afterwards
on a background thread, in a window of its own, so that it stays off the first request's path
and later token counts never look for it elsewhere (or online).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: What litellm reads at import. A value the user set already is left alone.
IMPORT_ENVIRON = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
#: What litellm writes into the environment on its own.
LITELLM_WRITES = ("TIKTOKEN_CACHE_DIR",)
#: The tiktoken encodings litellm counts with besides its default (cl100k_base, loaded with
#: its tokenizer module): the gpt-4o family's.
ENCODINGS = ("o200k_base",)

_lock = threading.Lock()
_litellm: Any = None


@contextmanager
def lent_environ(
    values: Mapping[str, str], also_restore: Iterable[str] = (), *, override: bool = False
) -> Iterator[None]:
    """Set ``values`` (only those not set already, unless ``override``); afterwards put those
    and ``also_restore`` back as they were."""
    keys = [*values, *also_restore]
    before = {key: os.environ.get(key) for key in keys}
    os.environ.update(
        {key: value for key, value in values.items() if override or before[key] is None}
    )
    try:
        yield
    finally:
        for key in keys:
            if os.environ.get(key) == before[key]:
                continue
            if before[key] is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = before[key]  # type: ignore[assignment]


@contextmanager
def import_window() -> Iterator[None]:
    """Lend litellm's import-time settings to another import that may load it (mlflow's)."""
    with _lock, lent_environ(IMPORT_ENVIRON, LITELLM_WRITES):
        yield


def import_litellm_quietly() -> Any:
    """The litellm module, imported once offline and quietly, the environment untouched."""
    global _litellm
    with _lock:
        if _litellm is None:
            with lent_environ(IMPORT_ENVIRON, LITELLM_WRITES):
                import litellm

                _import_tokenizer_module()
            _litellm = litellm
            threading.Thread(
                target=preload_encodings, name="aiikernel-tokenizers", daemon=True
            ).start()
        return _litellm


def _import_tokenizer_module() -> None:
    try:  # sets TIKTOKEN_CACHE_DIR and loads cl100k_base
        import litellm.litellm_core_utils.default_encoding  # noqa: F401
    except Exception:  # another litellm layout: counting tokens may then need the network
        log.debug("could not import litellm's tokenizer module", exc_info=True)


def preload_encodings() -> None:
    """Load :data:`ENCODINGS` from litellm's bundled copies (idempotent; after the import)."""
    try:
        import tiktoken
        from litellm.litellm_core_utils.default_encoding import cache_dir
        from tiktoken.registry import ENCODINGS as loaded

        if all(name in loaded for name in ENCODINGS):
            return  # lend nothing when there is nothing to load
        # litellm points tiktoken at its copies even over the user's own TIKTOKEN_CACHE_DIR
        with _lock, lent_environ({"TIKTOKEN_CACHE_DIR": cache_dir}, override=True):
            for name in ENCODINGS:
                if name not in loaded:
                    tiktoken.get_encoding(name)
    except Exception:
        log.debug("could not preload litellm's tokenizers", exc_info=True)
