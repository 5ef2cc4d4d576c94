"""AiiKernel: an IPython kernel whose shell has the `%%ai` turn loop built in.

Everything a normal IPython kernel does is inherited unchanged; this class only
loads the aiikernel extension into its shell and, a moment after start-up, warms
litellm in the background so the first turn does not pay for its import.
"""

from __future__ import annotations

import threading
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from traitlets import Bool, Float

from . import __version__


class AiiKernel(IPythonKernel):
    """The ``aiipython`` kernel."""

    implementation = "aiipython"
    implementation_version = __version__
    banner = f"aiipython {__version__} — IPython with an AI turn loop. Try: %%ai describe my data"

    warm_up_models = Bool(
        True, help="Import the model library in the background shortly after start-up."
    ).tag(config=True)
    warm_up_delay = Float(
        2.0, help="Seconds after start-up before the background warm-up begins."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from . import load_ipython_extension

        self.shell.extension_manager.loaded.add("aiikernel")
        load_ipython_extension(self.shell)
        if self.warm_up_models:
            timer = threading.Timer(self.warm_up_delay, self._warm_up)
            timer.daemon = True
            timer.start()

    def _warm_up(self) -> None:
        from .lm.litellm_client import import_litellm

        try:
            import_litellm()
        except Exception:  # a broken install shows up, clearly, at the first turn
            self.log.debug("litellm warm-up failed", exc_info=True)
