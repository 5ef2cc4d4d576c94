"""AiiKernel: an IPython kernel whose shell has the `%%ai` turn loop built in.

Everything a normal IPython kernel does is inherited unchanged; this class only
loads the aiikernel extension into its shell, imports the turn path while it starts (so a
prompt sent the moment it is ready pays no import), and, a moment after start-up, starts
(or finds) the user's model gateway in the background, or warms litellm when models run in
the kernel, so the first turn does not pay for either.
"""

from __future__ import annotations

import threading
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from traitlets import Bool, Float

from .version import __version__


class AiiKernel(IPythonKernel):
    """The ``aiipython`` kernel."""

    implementation = "aiipython"
    implementation_version = __version__
    banner = f"aiipython {__version__} — IPython with an AI turn loop. Try: %%ai describe my data"

    warm_up_models = Bool(
        True,
        help="Once a frontend has connected (after the first kernel_info reply), start the "
        "user's model gateway in the background, or import the model library when models run "
        "in this kernel (AiSession.lm_backend), so the first AI turn does not wait for it.",
    ).tag(config=True)
    load_turn_path = Bool(
        True,
        help="Import what the first AI turn runs (the turn engine, its events and renderer, "
        "the model client, the checkpoint store: ~70 ms, ~10 MB, mostly pydantic) while the "
        "kernel starts, before it reports ready, so a prompt sent at once does not wait for "
        "the imports nor compete with them for the interpreter.",
    ).tag(config=True)
    warm_up_delay = Float(
        0.2, help="Seconds after the first kernel_info reply before the background warm-up begins."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from . import load_ipython_extension

        self.shell.extension_manager.loaded.add("aiikernel")
        load_ipython_extension(self.shell)
        self._warm_up_started = False
        if self.load_turn_path:
            self._load_turn_path()

    def _load_turn_path(self) -> None:
        from traitlets.utils.importstring import import_item

        from . import cell_output  # noqa: F401
        from .chat import history  # noqa: F401 - the chat hub records every turn
        from .session import AiSession
        from .turn import engine, runner  # noqa: F401

        session = AiSession.for_shell(self.shell)
        try:
            import_item(session.turn_engine_class)
            import_item(session.model_client_class)
            if session.checkpoints_enabled:
                import_item(session.checkpoint_store_class)
        except Exception:  # a broken configuration is reported, clearly, by the first turn
            self.log.debug("could not import the turn path", exc_info=True)

    async def kernel_info_request(self, stream: Any, ident: Any, parent: Any) -> None:
        """Answer as usual; the first answer also schedules the model-library warm-up.

        Waiting for it keeps the import (seconds of CPU, the GIL) out of the kernel's own
        start-up, while a person is still typing the first prompt.
        """
        await super().kernel_info_request(stream, ident, parent)
        if self.warm_up_models and not self._warm_up_started:
            self._warm_up_started = True
            timer = threading.Timer(self.warm_up_delay, self._warm_up)
            timer.daemon = True
            timer.start()

    def do_shutdown(self, restart: bool) -> Any:
        """Stop this kernel's sub-agents first (clean shutdown, then kill), then as usual."""
        registry = getattr(self.shell, "_aiikernel_agents", None)
        if registry is not None:
            try:
                registry.shutdown()
            except Exception:
                self.log.warning("stopping sub-agents failed", exc_info=True)
        return super().do_shutdown(restart)

    def _warm_up(self) -> None:
        from .lm.litellm_client import LiteLLMClient
        from .lm.litellm_import import warm_litellm
        from .session import AiSession

        try:
            client = AiSession.for_shell(self.shell).client
            if isinstance(client, LiteLLMClient):
                warm_litellm()
            elif hasattr(client, "warm_up"):
                client.warm_up()  # the model gateway: started (or found) in the background
        except Exception:  # a broken install shows up, clearly, at the first turn
            self.log.debug("model warm-up failed", exc_info=True)
